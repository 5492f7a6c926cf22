"""Auto-instrumentation and the ``@trace_llm_call`` decorator.

    from noveum_trace.instrumentation import openai, anthropic, trace_llm_call
    openai.instrument_openai()          # openai.uninstrument_openai() undoes it
    anthropic.instrument_anthropic()    # anthropic.uninstrument_anthropic()

The public surface is exactly ``__all__``; the ``_``-prefixed modules are the implementation.
Nothing here imports a client package until its ``instrument_*`` function runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typed for users and mypy; imported lazily at run time
    from noveum_trace.instrumentation import anthropic, openai
    from noveum_trace.instrumentation._decorator import trace_llm_call

__all__ = ["anthropic", "openai", "trace_llm_call"]


def __getattr__(name: str) -> Any:
    if name == "trace_llm_call":
        from noveum_trace.instrumentation._decorator import trace_llm_call

        return trace_llm_call
    if name in ("anthropic", "openai"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'noveum_trace.instrumentation' has no attribute {name!r}")
