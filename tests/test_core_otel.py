"""OpenTelemetry citizenship: our spans and any other OpenTelemetry tracer's nest both ways."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import noveum_trace
from noveum_trace._core.span import NonRecordingSpan, Span

from .conftest import Traces


def test_interfaces_are_the_opentelemetry_ones(traced: Traces) -> None:
    provider = noveum_trace.get_tracer_provider()
    tracer = noveum_trace.get_tracer()
    assert isinstance(provider, otel_trace.TracerProvider)
    assert isinstance(tracer, otel_trace.Tracer)
    with tracer.start_span("s") as span:
        assert isinstance(span, otel_trace.Span)
    assert isinstance(NonRecordingSpan(1, 1), otel_trace.Span)
    assert issubclass(Span, otel_trace.Span)


def test_global_provider_is_ours_so_api_tracers_record_into_our_files(traced: Traces) -> None:
    api_tracer = otel_trace.get_tracer("some.library")
    with api_tracer.start_as_current_span("from-the-api") as span:
        assert isinstance(span, Span)
    (record,) = traced.spans()
    assert record["name"] == "from-the-api"
    assert record["scope"]["name"] == "some.library"


def _sdk_tracer() -> tuple[otel_trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = SdkTracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("third.party"), exporter


def test_third_party_span_nests_under_ours_and_ours_under_theirs(traced: Traces) -> None:
    third_party, exported = _sdk_tracer()
    ours = noveum_trace.get_tracer()
    with (
        ours.start_span("our-outer") as outer,
        third_party.start_as_current_span("their-middle") as middle,
    ):
        assert otel_trace.get_current_span() is middle
        with ours.start_span("our-inner"):
            pass
    (theirs,) = exported.get_finished_spans()
    spans = traced.by_name()
    assert theirs.parent is not None and theirs.parent.span_id == outer.span_id
    assert theirs.context.trace_id == outer.trace_id
    assert spans["our-inner"]["parent_span_id"] == f"{middle.get_span_context().span_id:016x}"
    assert spans["our-inner"]["trace_id"] == spans["our-outer"]["trace_id"]


def test_w3c_traceparent_round_trip(traced: Traces) -> None:
    propagator = TraceContextTextMapPropagator()
    tracer = noveum_trace.get_tracer()
    carrier: dict[str, str] = {}
    with tracer.start_span("client") as client:
        propagator.inject(carrier)
    assert carrier["traceparent"] == f"00-{client.trace_id_hex}-{client.span_id_hex}-01"
    remote = propagator.extract(carrier)
    token = otel_context.attach(remote)
    try:
        with tracer.start_span("server"):
            pass
    finally:
        otel_context.detach(token)
    spans = traced.by_name()
    assert spans["server"]["trace_id"] == client.trace_id_hex
    assert spans["server"]["parent_span_id"] == client.span_id_hex


def test_explicit_context_argument_and_links(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("a") as a:
        context = otel_trace.set_span_in_context(a)
    with tracer.start_span("unrelated"):
        linked = tracer.start_span(
            "b", context=context, links=[otel_trace.Link(a.get_span_context())]
        )
        linked.end()
    spans = traced.by_name()
    assert spans["b"]["parent_span_id"] == spans["a"]["span_id"]
    assert spans["b"]["links"][0]["span_id"] == spans["a"]["span_id"]


def test_use_span_from_the_api_ends_and_records(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    span = tracer.start_span("used")
    try:
        with otel_trace.use_span(span, end_on_exit=True):
            assert otel_trace.get_current_span() is span
            raise RuntimeError("inside use_span")
    except RuntimeError:
        pass
    (record,) = traced.spans()
    assert record["status"]["code"] == "ERROR"
    assert record["events"][0]["name"] == "exception"


def test_pre_registered_sdk_provider_is_kept_and_traces_join(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """An application that set its own SDK provider first keeps it; one trace, both ways."""
    exporter = InMemorySpanExporter()
    theirs = SdkTracerProvider()
    theirs.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", theirs)  # as set_tracer_provider would
    noveum_trace.init(service_name="coexist", log_directory=str(tmp_path))
    try:
        assert otel_trace.get_tracer_provider() is theirs  # not silently replaced
        ours = noveum_trace.get_tracer()
        app = otel_trace.get_tracer("app")
        with (
            app.start_as_current_span("app-request") as request,
            ours.start_span("llm") as llm,
            app.start_as_current_span("app-db"),
        ):
            pass
        noveum_trace.flush()
        (ours_record,) = noveum_trace.read_traces(tmp_path)
        their_spans = {s.name: s for s in exporter.get_finished_spans()}
        assert ours_record["parent_span_id"] == f"{request.get_span_context().span_id:016x}"
        assert ours_record["trace_id"] == f"{request.get_span_context().trace_id:032x}"
        assert their_spans["app-db"].parent.span_id == llm.span_id
    finally:
        noveum_trace.shutdown()


def test_tracer_provider_option_sends_our_spans_through_theirs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    theirs = SdkTracerProvider()
    theirs.add_span_processor(SimpleSpanProcessor(exporter))
    noveum_trace.init(
        service_name="one-pipeline", log_directory=str(tmp_path), tracer_provider=theirs
    )
    try:
        tracer = noveum_trace.get_tracer()
        with tracer.start_span("outer") as outer:
            outer.set_attribute("payload", {"a": 1})
            with tracer.start_span("inner") as inner:
                inner.set_status("error", "bad")
        (inner_span, outer_span) = exporter.get_finished_spans()
        assert inner_span.parent.span_id == outer_span.context.span_id
        assert outer_span.attributes["payload"] == '{"a":1}'
        assert inner_span.status.status_code == StatusCode.ERROR
        assert inner_span.status.description == "bad"
    finally:
        noveum_trace.shutdown()


def test_delegated_spans_keep_masking_cost_and_our_span_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Through the application's SDK our encoder is bypassed: masking and cost still apply."""
    exporter = InMemorySpanExporter()
    theirs = SdkTracerProvider()
    theirs.add_span_processor(SimpleSpanProcessor(exporter))
    noveum_trace.init(
        service_name="one-pipeline", log_directory=str(tmp_path), tracer_provider=theirs
    )
    key = "sk-proj-" + "A1b2C3d4" * 4
    try:
        tracer = noveum_trace.get_tracer()
        try:
            with tracer.start_span("llm") as span:
                assert len(span.trace_id_hex) == 32 and len(span.span_id_hex) == 16
                span.set_attributes(
                    {
                        "note": f"key is {key}",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.usage.input_tokens": 1000,
                        "gen_ai.usage.output_tokens": 100,
                    }
                )
                raise RuntimeError(f"failed with {key}")
        except RuntimeError:
            pass
        (record,) = exporter.get_finished_spans()
        text = repr(dict(record.attributes)) + repr(record.events) + str(record.status.description)
        assert key not in text and "[REDACTED_SECRET]" in text
        assert record.attributes["gen_ai.usage.cost"] > 0
        assert record.events[0].name == "exception"
    finally:
        noveum_trace.shutdown()
