"""_compat/otel.py: the one place that knows OpenTelemetry's private context internals.

When an opentelemetry-api release moves them, these fail first and name what moved."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace

from noveum_trace._compat import otel


def test_span_key_is_the_one_the_api_uses() -> None:
    from opentelemetry.trace.propagation import _SPAN_KEY

    assert otel.SPAN_KEY == _SPAN_KEY
    span = otel_trace.NonRecordingSpan(otel_trace.INVALID_SPAN_CONTEXT)
    assert otel_trace.set_span_in_context(span).get(otel.SPAN_KEY) is span


def test_context_var_is_the_default_runtime_context() -> None:
    var = otel.CONTEXT_VAR
    assert var is not None, "the contextvars fast path is off: _RUNTIME_CONTEXT moved"
    token = otel_context.attach(otel_context.set_value("k", "v"))
    try:
        assert var.get().get("k") == "v"
    finally:
        otel_context.detach(token)
