"""An application exception whose ``__str__`` raises: the application gets it back unchanged,
and its span is still written, with error status (issue 11, item 1)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import noveum_trace

from .conftest import Traces


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be printed")


def _with_start_span(error: BaseException) -> None:
    with noveum_trace.get_tracer().start_span("failing"):
        raise error


def _with_start_as_current_span(error: BaseException) -> None:
    with noveum_trace.get_tracer().start_as_current_span("failing"):
        raise error


def _decorated(error: BaseException) -> None:
    @noveum_trace.get_tracer().start_as_current_span("failing")
    def work() -> None:
        raise error

    work()


def _decorated_async(error: BaseException) -> None:
    @noveum_trace.get_tracer().start_as_current_span("failing")
    async def work() -> None:
        raise error

    asyncio.run(work())


WAYS = [_with_start_span, _with_start_as_current_span, _decorated, _decorated_async]


@pytest.mark.parametrize("way", WAYS)
def test_the_application_gets_its_own_exception_and_the_span_is_written(
    traced: Traces, way: Callable[[BaseException], None]
) -> None:
    error = Unprintable()
    with pytest.raises(Unprintable) as caught:
        way(error)
    assert caught.value is error
    (span,) = traced.spans()
    assert span["status"] == {"code": "ERROR", "message": "Unprintable: <unprintable Unprintable>"}
    (event,) = span["events"]
    assert event["attributes"]["exception.type"].endswith("Unprintable")
    assert event["attributes"]["exception.message"] == "<unprintable Unprintable>"
    assert noveum_trace.get_stats().get("internal_errors", 0) == 0


@pytest.mark.parametrize("way", WAYS)
def test_through_the_applications_sdk_provider_too(
    traces: Traces, way: Callable[[BaseException], None]
) -> None:
    exporter = InMemorySpanExporter()
    theirs = SdkTracerProvider()
    theirs.add_span_processor(SimpleSpanProcessor(exporter))
    traces.init(tracer_provider=theirs)
    error = Unprintable()
    with pytest.raises(Unprintable) as caught:
        way(error)
    assert caught.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "Unprintable: <unprintable Unprintable>"
    assert span.events[0].name == "exception"
    assert noveum_trace.get_stats().get("internal_errors", 0) == 0
