"""The public surface: what ``noveum_trace`` exports is exactly the documented API."""

from __future__ import annotations

import typing

from opentelemetry import trace as otel_trace

import noveum_trace
from noveum_trace import _config

DOCUMENTED = {
    # README, "API"
    "init",
    "get_tracer",
    "get_tracer_provider",
    "get_current_span",
    "flush",
    "shutdown",
    "get_stats",
    "read_traces",
    # OpenTelemetry's enums and Status, re-exported for span.set_status(...) and kind=...
    "SpanKind",
    "Status",
    "StatusCode",
}


def test_all_is_the_documented_api() -> None:
    assert set(noveum_trace.__all__) == DOCUMENTED
    for name in noveum_trace.__all__:
        assert getattr(noveum_trace, name) is not None
    assert noveum_trace.SpanKind is otel_trace.SpanKind
    assert noveum_trace.StatusCode is otel_trace.StatusCode


def test_init_options_are_typed_for_every_option() -> None:
    typed = set(noveum_trace.InitOptions.__annotations__) | {"service_name", "log_directory"}
    assert typed == set(_config.OPTION_NAMES)


def test_the_seams_are_typed() -> None:
    hints = typing.get_type_hints(noveum_trace.get_current_span)
    assert hints["return"] is otel_trace.Span
    tracer = noveum_trace.get_tracer()
    assert "Any" not in str(typing.get_type_hints(type(tracer).start_span)["return"])
    assert "Any" not in str(typing.get_type_hints(_config.Config)["exporters"])
