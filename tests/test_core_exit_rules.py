"""An exception leaving ``with span`` follows the same rules whichever span kind records it:
ours, or the application's SDK span (``init(tracer_provider=...)``) wrapped in ours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import noveum_trace

from .conftest import Traces

# (status code, status description, event names) of the span written
Outcome = tuple[str, str, list[str]]


@pytest.fixture(params=["ours", "app_sdk"])
def written(request: pytest.FixtureRequest, traces: Traces) -> Iterator[Callable[[], Outcome]]:
    """Initialises tracing one way or the other; returns how to read the one span back."""
    if request.param == "ours":
        traces.init()

        def read() -> Outcome:
            (span,) = traces.spans()
            status = span.get("status") or {}
            events = [event["name"] for event in span.get("events", [])]
            return status.get("code", "UNSET"), status.get("message", ""), events

        yield read
        return
    exporter = InMemorySpanExporter()
    theirs = SdkTracerProvider()
    theirs.add_span_processor(SimpleSpanProcessor(exporter))
    traces.init(tracer_provider=theirs)

    def read_theirs() -> Outcome:
        (span,) = exporter.get_finished_spans()
        events = [event.name for event in span.events]
        return span.status.status_code.name, span.status.description or "", events

    yield read_theirs


def _raise_in(span_options: dict[str, Any], before: Callable[[Any, Exception], None]) -> None:
    error = ValueError("broken")
    tracer = noveum_trace.get_tracer()
    with pytest.raises(ValueError), tracer.start_span("work", **span_options) as span:
        before(span, error)
        raise error


def test_no_event_and_no_status_when_told_so(written: Callable[[], Outcome]) -> None:
    _raise_in(
        {"record_exception": False, "set_status_on_exception": False}, lambda span, error: None
    )
    assert written() == ("UNSET", "", [])


def test_the_applications_error_status_and_description_stay(
    written: Callable[[], Outcome],
) -> None:
    _raise_in({}, lambda span, error: span.set_status("error", "mine"))
    assert written() == ("ERROR", "mine", ["exception"])


def test_an_exception_the_application_recorded_is_recorded_once(
    written: Callable[[], Outcome],
) -> None:
    _raise_in({}, lambda span, error: span.record_exception(error))
    assert written() == ("ERROR", "ValueError: broken", ["exception"])


def test_ok_is_final(written: Callable[[], Outcome]) -> None:
    _raise_in({}, lambda span, error: span.set_status("ok"))
    assert written() == ("OK", "", ["exception"])


def test_an_exception_otherwise_is_recorded_with_error_status(
    written: Callable[[], Outcome],
) -> None:
    _raise_in({}, lambda span, error: None)
    assert written() == ("ERROR", "ValueError: broken", ["exception"])
