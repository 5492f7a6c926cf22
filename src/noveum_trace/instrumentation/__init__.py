"""Auto-instrumentation and decorators.

    from noveum_trace.instrumentation import openai, anthropic, trace_llm_call
    openai.instrument_openai()
    anthropic.instrument_anthropic()

Submodules import their client package only when used, so the core stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typed for users and mypy; imported lazily at run time
    from noveum_trace.instrumentation.decorators import trace_llm_call

__all__ = ["trace_llm_call"]


def __getattr__(name: str) -> Any:
    if name == "trace_llm_call":
        from noveum_trace.instrumentation.decorators import trace_llm_call

        return trace_llm_call
    raise AttributeError(f"module 'noveum_trace.instrumentation' has no attribute {name!r}")
