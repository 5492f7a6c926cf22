"""One LLM span per call, whatever the anthropic client's own OpenTelemetry settings.

anthropic 2.x starts a span of its own per call once a global tracer provider is registered,
and sends its ``traceparent``. While we trace a call, it does neither (see the docstring of
``noveum_trace.instrumentation.anthropic``). The control tests show that, without us, the
client really does emit its span through the same registered provider.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry import trace as otel_trace
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import noveum_trace
from noveum_trace.instrumentation.anthropic import instrument_anthropic, uninstrument_anthropic
from noveum_trace.testing import FakeProvider

from .conftest import Traces

pytestmark = pytest.mark.skipif(
    not hasattr(anthropic, "OpenTelemetryOptions"), reason="anthropic 1.x has no spans of its own"
)
MODEL = "claude-3-haiku-20240307"
HI = [{"role": "user", "content": "Hello there"}]
OTEL_SETTINGS: list[tuple[dict[str, str], Any]] = [
    ({}, None),  # the defaults: spans on, propagation on
    ({"ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE": "content"}, None),
    ({}, {"traces": {"enabled": True, "content_mode": "content"}, "propagation": True}),
    ({"ANTHROPIC_OPEN_TELEMETRY": "false"}, None),
]


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    with FakeProvider() as provider:
        yield provider


def calls(fake: Any, option: Any) -> None:
    """A plain call, a stream and the stream helper, with the client's option."""
    client = anthropic.Anthropic(
        base_url=fake.anthropic_base_url, api_key="test", max_retries=0, open_telemetry=option
    )
    client.messages.create(model=MODEL, max_tokens=16, messages=HI)
    for _ in client.messages.create(model=MODEL, max_tokens=16, messages=HI, stream=True):
        pass
    with client.messages.stream(model=MODEL, max_tokens=16, messages=HI) as stream:
        stream.get_final_message()


@pytest.mark.parametrize(("env", "option"), OTEL_SETTINGS)
def test_our_provider_global_one_span_per_call(
    traced: Traces, fake: Any, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], option: Any
) -> None:
    assert otel_trace.get_tracer_provider() is noveum_trace.get_tracer_provider()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    instrument_anthropic()
    try:
        calls(fake, option)
    finally:
        uninstrument_anthropic()
    spans = traced.spans()
    assert [s["name"] for s in spans] == [f"chat {MODEL}"] * 3
    assert all(s["parent_span_id"] is None for s in spans)
    assert not any("traceparent" in r.headers for r in fake.requests[-3:])


def test_control_the_client_spans_without_us(traced: Traces, fake: Any) -> None:
    calls(fake, None)
    spans = traced.spans()
    assert [s["name"] for s in spans] == ["anthropic.messages.create"] * 3
    assert all("traceparent" in r.headers for r in fake.requests[-3:])


@pytest.fixture
def their_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An application that registered its own SDK provider before ``init()``."""
    exporter = InMemorySpanExporter()
    theirs = SdkTracerProvider()
    theirs.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", theirs)  # as set_tracer_provider would
    noveum_trace.init(service_name="coexist", log_directory=str(tmp_path))
    yield exporter
    noveum_trace.shutdown()


def test_their_provider_global_one_span_per_call(
    their_provider: Any, fake: Any, tmp_path: Path
) -> None:
    instrument_anthropic()
    try:
        calls(fake, None)
    finally:
        uninstrument_anthropic()
    noveum_trace.flush()
    ours = list(noveum_trace.read_traces(tmp_path))
    assert [s["name"] for s in ours] == [f"chat {MODEL}"] * 3
    assert their_provider.get_finished_spans() == ()


def test_control_their_provider_gets_the_client_spans_without_us(
    their_provider: Any, fake: Any
) -> None:
    calls(fake, None)
    names = [s.name for s in their_provider.get_finished_spans()]
    assert names == ["anthropic.messages.create"] * 3


def test_calls_we_do_not_trace_keep_the_client_span(traced: Traces, fake: Any) -> None:
    client = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="test", max_retries=0)
    instrument_anthropic()
    try:
        with pytest.raises(anthropic.APIStatusError):
            client.models.retrieve("claude-x")  # the fake has no models endpoint: a 404
    finally:
        uninstrument_anthropic()
    names = [s["name"] for s in traced.spans()]
    assert len(names) == 1 and names[0].startswith("anthropic.models")


ROUNDS = 20  # x3 calls; sampled out with p=1/2 each, so a stray client span is certain


@pytest.mark.parametrize("rate", [0.0, 0.5])
def test_sampled_out_calls_leave_no_span_at_all(traces: Traces, fake: Any, rate: float) -> None:
    # Before: a sampled-out call let the client start its own root span, which our sampler
    # then kept at `rate`. Now our unsampled span stays current and the client's is unsampled.
    traces.init(sample_rate=rate)
    assert otel_trace.get_tracer_provider() is noveum_trace.get_tracer_provider()
    instrument_anthropic()
    try:
        for _ in range(ROUNDS):
            calls(fake, None)
    finally:
        uninstrument_anthropic()
    names = [s["name"] for s in traces.spans()]
    assert set(names) <= {f"chat {MODEL}"}, set(names)
    if rate:
        assert 0 < len(names) < 3 * ROUNDS
    else:
        assert names == []


def test_fully_sampled_still_one_span_per_call(traces: Traces, fake: Any) -> None:
    traces.init(sample_rate=1.0)
    instrument_anthropic()
    try:
        for _ in range(3):
            calls(fake, None)
    finally:
        uninstrument_anthropic()
    spans = traces.spans()
    assert [s["name"] for s in spans] == [f"chat {MODEL}"] * 9
    assert all(s["parent_span_id"] is None for s in spans)


def test_before_init_their_provider_is_untouched(
    fake: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    exporter = InMemorySpanExporter()
    theirs = SdkTracerProvider()
    theirs.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(otel_trace, "_TRACER_PROVIDER", theirs)
    instrument_anthropic()  # never initialised: our spans are not recorded, nor made current
    try:
        calls(fake, None)
    finally:
        uninstrument_anthropic()
    finished = exporter.get_finished_spans()
    assert [s.name for s in finished] == ["anthropic.messages.create"] * 3
    assert all(s.parent is None for s in finished)
