"""Who records token usage when LLM spans nest.

A ``@trace_llm_call`` function that calls an instrumented client yields two spans: the
client's span (child) carries the tokens; the decorator's span (parent) must not count them
again. The decorator opens a scope; the instrumentation engine marks it whenever a client
span records usage, and the decorator then skips its own automatic usage pickup.
"""

from __future__ import annotations

from contextvars import ContextVar


class LLMScope:
    __slots__ = ("child_recorded_usage",)

    def __init__(self) -> None:
        self.child_recorded_usage = False


_CURRENT: ContextVar[LLMScope | None] = ContextVar("noveum_trace_llm_scope", default=None)


def open_scope() -> tuple[LLMScope, object]:
    """Start a scope for a decorated call; returns it and the token for ``close_scope``."""
    scope = LLMScope()
    return scope, _CURRENT.set(scope)


def close_scope(token: object) -> None:
    try:
        _CURRENT.reset(token)  # type: ignore[arg-type]
    except ValueError:  # reset from another context (generator finished elsewhere)
        _CURRENT.set(None)


def note_child_usage() -> None:
    """Called by the instrumentation engine when a client span records token usage."""
    scope = _CURRENT.get()
    if scope is not None:
        scope.child_recorded_usage = True
