"""The span API, as it lands in the trace files."""

from __future__ import annotations

import asyncio
import contextvars
import math
import threading

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as otel_trace

import noveum_trace
from noveum_trace import SpanKind, StatusCode
from noveum_trace.export.otlp_json import Encoder, encode_span

from .conftest import Traces


def test_nested_with_blocks_nest_and_become_current(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("outer") as outer:
        assert noveum_trace.get_current_span() is outer
        assert otel_trace.get_current_span() is outer
        with tracer.start_as_current_span("inner") as inner:
            assert otel_trace.get_current_span() is inner
        assert otel_trace.get_current_span() is outer
    assert not otel_trace.get_current_span().get_span_context().is_valid
    spans = traced.by_name()
    assert spans["inner"]["parent_span_id"] == spans["outer"]["span_id"]
    assert spans["inner"]["trace_id"] == spans["outer"]["trace_id"]
    assert spans["outer"]["parent_span_id"] is None
    assert spans["outer"]["kind"] == 1  # OTLP SPAN_KIND_INTERNAL


def test_start_span_without_with_is_not_current_and_ends_manually(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    span = tracer.start_span("manual", kind=SpanKind.CLIENT, attributes={"a": 1})
    assert otel_trace.get_current_span() is not span
    assert span.is_recording()
    span.set_attribute("b", "two")
    span.end()
    assert not span.is_recording()
    span.set_attribute("late", True)  # ignored after end
    span.end()  # idempotent
    (record,) = traced.spans()
    assert record["kind"] == 3  # OTLP SPAN_KIND_CLIENT
    assert record["attributes"] == {"a": 1, "b": "two"}


def test_span_context_update_name_and_ids(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("first") as span:
        span.update_name("renamed")
        context = span.get_span_context()
        assert context.is_valid and context.trace_flags.sampled
        assert span.span_context == context
        assert len(span.trace_id_hex) == 32 and len(span.span_id_hex) == 16
    (record,) = traced.spans()
    assert record["name"] == "renamed"
    assert record["trace_id"] == span.trace_id_hex == f"{context.trace_id:032x}"
    assert record["span_id"] == span.span_id_hex


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        ([("error", "boom")], {"code": "ERROR", "message": "boom"}),
        ([("ok", None)], {"code": "OK", "message": ""}),
        ([(StatusCode.ERROR, "x")], {"code": "ERROR", "message": "x"}),
        ([("OK", None), ("error", "after ok")], {"code": "OK", "message": ""}),  # OK is final
        ([("error", "e"), ("unset", None)], {"code": "UNSET", "message": ""}),
        ([("nonsense", "?")], {"code": "UNSET", "message": ""}),  # ignored, never raised
    ],
)
def test_set_status(traced: Traces, calls: list[tuple[object, str | None]], expected: dict) -> None:
    with noveum_trace.get_tracer().start_span("s") as span:
        for status, message in calls:
            span.set_status(status, message)  # type: ignore[arg-type]
    assert traced.spans()[0]["status"] == expected


def test_status_object_from_the_otel_api(traced: Traces) -> None:
    with noveum_trace.get_tracer().start_span("s") as span:
        span.set_status(otel_trace.Status(StatusCode.ERROR, "described"))
    assert traced.spans()[0]["status"] == {"code": "ERROR", "message": "described"}


def test_escaping_exception_is_recorded_and_propagates_unchanged(traced: Traces) -> None:
    class Custom(Exception):
        pass

    error = Custom("bad thing")
    with pytest.raises(Custom) as caught, noveum_trace.get_tracer().start_span("failing"):
        raise error
    assert caught.value is error
    (span,) = traced.spans()
    assert span["status"] == {"code": "ERROR", "message": "Custom: bad thing"}
    (event,) = span["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"].endswith("Custom")
    assert event["attributes"]["exception.message"] == "bad thing"
    assert "raise error" in event["attributes"]["exception.stacktrace"]
    assert event["attributes"]["exception.escaped"] is True


def test_record_exception_with_attributes_and_event_timestamps(traced: Traces) -> None:
    with noveum_trace.get_tracer().start_span("s") as span:
        span.record_exception(KeyError("k"), attributes={"extra": 1})
        span.add_event("at", {"n": 1}, timestamp=1_700_000_000_000_000_000)
        span.add_event("seconds", timestamp=1_700_000_000.5)
    events = {e["name"]: e for e in traced.spans()[0]["events"]}
    assert events["exception"]["attributes"]["exception.type"] == "KeyError"
    assert events["exception"]["attributes"]["extra"] == 1
    assert events["at"]["time_unix_nano"] == 1_700_000_000_000_000_000
    assert events["seconds"]["time_unix_nano"] == 1_700_000_000_500_000_000


def test_values_are_kept_coerced_or_dropped(traced: Traces) -> None:
    class Weird:
        def __str__(self) -> str:
            return "weird"

    with noveum_trace.get_tracer().start_span("s") as span:
        span.set_attributes(
            {
                "str": "s",
                "int": 7,
                "float": 1.5,
                "bool": False,
                "ints": [1, 2, 3],
                "strs": ["a", "b"],
                "mixed_numbers": [1, 2.5],
                "dict": {"k": [1, {"n": None}]},
                "mixed": [1, "a"],
                "tuple": ("x", "y"),
                "none": None,
                "object": Weird(),
                "huge": 2**70,
                "bytes": b"caf\xc3\xa9",
                "nan": math.nan,
                "inf": -math.inf,
            }
        )
    attrs = traced.spans()[0]["attributes"]
    assert attrs["str"] == "s" and attrs["int"] == 7 and attrs["float"] == 1.5
    assert attrs["bool"] is False
    assert attrs["ints"] == [1, 2, 3] and attrs["strs"] == ["a", "b"]
    assert attrs["mixed_numbers"] == [1.0, 2.5]
    assert orjson.loads(attrs["dict"]) == {"k": [1, {"n": None}]}
    assert orjson.loads(attrs["mixed"]) == [1, "a"]
    assert attrs["tuple"] == ["x", "y"]
    assert "none" not in attrs
    assert attrs["object"] == '"weird"'
    assert attrs["huge"] == str(2**70)
    assert attrs["bytes"] == "café"
    assert math.isnan(attrs["nan"]) and attrs["inf"] == -math.inf


def test_long_strings_are_truncated_at_the_configured_limit(traces: Traces) -> None:
    traces.init(max_attribute_length=100)
    with noveum_trace.get_tracer().start_span("s") as span:
        span.set_attribute("long", "x" * 1000)
        span.set_attribute("list", ["y" * 500])
    attrs = traces.spans()[0]["attributes"]
    assert attrs["long"] == "x" * 100
    assert attrs["list"] == ["y" * 100]


def test_attribute_count_limit_drops_and_counts(traces: Traces) -> None:
    traces.init(max_attributes=3)
    with noveum_trace.get_tracer().start_span("s") as span:
        for index in range(5):
            span.set_attribute(f"k{index}", index)
        span.set_attribute("k0", 100)  # replacing an existing key is always allowed
    noveum_trace.flush()
    line = traces.raw_text()
    assert '"droppedAttributesCount":2' in line
    assert traces.spans()[0]["attributes"] == {"k0": 100, "k1": 1, "k2": 2}


hostile = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
    | st.binary(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=5) | st.integers(), children, max_size=4)
        | st.tuples(children, children)
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(key=st.text(max_size=20) | st.integers(), value=hostile)
def test_hostile_values_never_raise_and_stay_valid_json(
    traced: Traces, key: object, value: object
) -> None:
    with noveum_trace.get_tracer().start_span("hostile") as span:
        span.set_attribute(key, value)  # type: ignore[arg-type]
        span.set_attributes({key: value})  # type: ignore[dict-item]
        span.add_event("e", {key: value})  # type: ignore[dict-item]
        span.set_status("error", value)  # type: ignore[arg-type]
        span.update_name(value)  # type: ignore[arg-type]
    assert noveum_trace.flush(10)
    assert noveum_trace.get_stats().get("internal_errors", 0) == 0


def test_fast_encoder_matches_the_reference_encoder(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer("scope", "1.2")
    with (
        tracer.start_span("parent"),
        tracer.start_span("child", attributes={"a": [1.5, 2.0]}) as span,
    ):
        span.set_attributes({"s": 'q"uote\n', "b": True, "i": -3, "u": "ünï", "n": math.inf})
        span.add_event("ev", {"k": "v"})
        span.add_link(span.get_span_context(), {"l": 1})
        span.set_status("error", "m")
    encoder = Encoder({"service.name": "x"})
    line = encoder([span]).line
    fast = orjson.loads(line)["resourceSpans"][0]["scopeSpans"][0]
    assert fast["scope"] == {"name": "scope", "version": "1.2"}
    assert fast["spans"][0] == orjson.loads(orjson.dumps(encode_span(span)))


def test_context_handed_to_threads_explicitly(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("request"):
        context = contextvars.copy_context()
        workers = [
            threading.Thread(target=context.copy().run, args=(lambda i=i: _child(tracer, i),))
            for i in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    spans = traced.by_name()
    for index in range(4):
        assert spans[f"child-{index}"]["parent_span_id"] == spans["request"]["span_id"]


def _child(tracer: noveum_trace.Tracer, index: int) -> None:
    with tracer.start_span(f"child-{index}"):
        pass


def test_asyncio_gather_tasks_nest_under_the_caller(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()

    async def call(index: int) -> None:
        with tracer.start_span(f"call-{index}"):
            await asyncio.sleep(0)
            with tracer.start_span(f"inner-{index}"):
                await asyncio.sleep(0)

    async def main() -> None:
        with tracer.start_span("gather"):
            await asyncio.gather(*(call(i) for i in range(5)))

    asyncio.run(main())
    spans = traced.by_name()
    for index in range(5):
        assert spans[f"call-{index}"]["parent_span_id"] == spans["gather"]["span_id"]
        assert spans[f"inner-{index}"]["parent_span_id"] == spans[f"call-{index}"]["span_id"]


def test_start_as_current_span_as_decorator_sync_and_async(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()

    @tracer.start_as_current_span("decorated")
    def work(x: int) -> int:
        return x * 2

    @tracer.start_as_current_span("decorated-async")
    async def awork(x: int) -> int:
        return x + 1

    assert work(2) == 4 and work(3) == 6
    assert asyncio.run(awork(1)) == 2
    names = sorted(s["name"] for s in traced.spans())
    assert names == ["decorated", "decorated", "decorated-async"]


def test_end_on_exit_false_leaves_the_span_open(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    with tracer.start_as_current_span("kept", end_on_exit=False) as span:
        pass
    assert span.is_recording()
    span.end()
    assert [s["name"] for s in traced.spans()] == ["kept"]


def test_mock_values_are_stringified_not_walked(traced: Traces) -> None:
    """Mocks answer every attribute; walking their model_dump() used to cost ~0.5 s each."""
    from unittest.mock import MagicMock

    mock = MagicMock()
    with noveum_trace.get_tracer().start_span("s") as span:
        span.set_attribute("client", mock)
    assert not mock.model_dump.called
    assert orjson.loads(traced.spans()[0]["attributes"]["client"]).startswith("<MagicMock")


def test_attributes_passed_positionally_keep_the_parent(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("parent"), tracer.start_span("child", {"user.id": "u1"}):  # type: ignore[arg-type]
        pass
    spans = traced.by_name()
    assert spans["child"]["attributes"] == {"user.id": "u1"}
    assert spans["child"]["parent_span_id"] == spans["parent"]["span_id"]


def test_events_beyond_the_limit_are_counted_as_dropped_events(traces: Traces) -> None:
    traces.init(max_events=2)
    with noveum_trace.get_tracer().start_span("s") as span:
        for index in range(5):
            span.add_event(f"e{index}")
    assert [e["name"] for e in traces.spans()[0]["events"]] == ["e0", "e1"]
    line = traces.raw_text()
    assert '"droppedEventsCount":3' in line and "droppedAttributesCount" not in line
