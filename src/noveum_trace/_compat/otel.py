"""OpenTelemetry internals the span engine relies on: the only module that touches them.

* ``SPAN_KEY``: the context key under which ``opentelemetry.trace`` stores the current span.
  Learnt through the public API (``set_span_in_context``); the private
  ``opentelemetry.trace.propagation._SPAN_KEY`` only if that ever stops telling us.
* ``CONTEXT_VAR``: the ``ContextVar`` behind OpenTelemetry's default contextvars runtime
  context (``opentelemetry.context._RUNTIME_CONTEXT._current_context``). Setting it directly
  costs a third of ``context.attach``. None when another runtime context is configured, or
  when a release moves it: callers then go through the public API.
"""

from __future__ import annotations

from contextvars import ContextVar

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.context import Context


def _span_key() -> str:
    keys = list(otel_trace.set_span_in_context(otel_trace.INVALID_SPAN, Context()))
    if len(keys) == 1 and isinstance(keys[0], str):
        return keys[0]
    from opentelemetry.trace.propagation import _SPAN_KEY  # what set_span_in_context uses

    return _SPAN_KEY


def _context_var() -> ContextVar[Context] | None:
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    return var if isinstance(var, ContextVar) else None


SPAN_KEY: str = _span_key()
CONTEXT_VAR: ContextVar[Context] | None = _context_var()

__all__ = ["CONTEXT_VAR", "SPAN_KEY"]
