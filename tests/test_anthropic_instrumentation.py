"""The real ``anthropic`` client, traced, against the fake provider: every call shape.

Spans are read back from the trace files; attributes are checked against the body the fake
provider received and the body it sent.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from noveum_trace.instrumentation.anthropic import instrument_anthropic, uninstrument_anthropic
from noveum_trace.testing import FakeProvider

from .conftest import Traces

MODEL = "claude-3-haiku-20240307"
HI = [{"role": "user", "content": "Hello there"}]


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def on(traced: Traces) -> Iterator[Traces]:
    instrument_anthropic()
    yield traced
    uninstrument_anthropic()


def client(fake: Any, **options: Any) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        base_url=fake.anthropic_base_url, api_key="test", max_retries=0, **options
    )


def aclient(fake: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=fake.anthropic_base_url, api_key="test", max_retries=0)


def only_span(traces: Traces) -> dict[str, Any]:
    spans = traces.spans()
    assert len(spans) == 1, [s["name"] for s in spans]
    return spans[0]


def event_attr(span: dict[str, Any], name: str, key: str) -> Any:
    (event,) = [e for e in span["events"] if e["name"] == name]
    return event["attributes"][key]


def assert_message(span: dict[str, Any], message: Any, fake: Any) -> None:
    """The span says what was sent (as received) and what came back (as parsed)."""
    sent = fake.requests[-1].json
    attrs = span["attributes"]
    assert span["name"] == f"chat {sent['model']}" and span["kind"] == 3
    assert attrs["gen_ai.system"] == attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == sent["model"]
    assert attrs["gen_ai.request.max_tokens"] == sent["max_tokens"]
    assert attrs["gen_ai.response.id"] == message.id
    assert attrs["gen_ai.response.model"] == message.model
    assert attrs["gen_ai.response.finish_reasons"] == [message.stop_reason]
    usage = message.usage
    inputs = (
        usage.input_tokens
        + (usage.cache_read_input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
    )
    assert attrs["gen_ai.usage.input_tokens"] == inputs
    assert attrs["gen_ai.usage.output_tokens"] == usage.output_tokens
    assert attrs["gen_ai.usage.total_tokens"] == inputs + usage.output_tokens
    assert span["status"]["code"] != "ERROR"
    text = "".join(b.text for b in message.content if b.type == "text")
    assert event_attr(span, "gen_ai.content.completion", "gen_ai.completion") == text
    prompt = json.loads(event_attr(span, "gen_ai.content.prompt", "gen_ai.prompt"))
    assert prompt == sent["messages"]


# ---- plain calls ----------------------------------------------------------------------------


def test_create_records_request_response_and_content(on: Traces, fake: Any) -> None:
    message = client(fake).messages.create(
        model=MODEL,
        max_tokens=64,
        extra_body={"temperature": 0.2, "top_p": 0.8, "top_k": 5},  # kwargs on anthropic 1.x
        stop_sequences=["###"],
        system="You are terse.",
        messages=HI,
        extra_headers={"x-fake-scenario": "cached=7,cache-write=3"},
    )
    span = only_span(on)
    assert_message(span, message, fake)
    attrs = span["attributes"]
    assert fake.requests[-1].json["temperature"] == 0.2
    assert attrs["gen_ai.request.temperature"] == 0.2
    assert attrs["gen_ai.request.top_p"] == 0.8
    assert attrs["gen_ai.request.top_k"] == 5
    assert attrs["gen_ai.request.stop_sequences"] == ["###"]
    assert attrs["gen_ai.system_prompt"] == "You are terse."
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 7
    assert attrs["gen_ai.usage.cache_creation.input_tokens"] == 3
    assert attrs["gen_ai.usage.input_tokens"] == message.usage.input_tokens + 10
    assert attrs["llm.streaming"] is False and attrs["llm.latency_ms"] > 0


async def test_async_create(on: Traces, fake: Any) -> None:
    message = await aclient(fake).messages.create(model=MODEL, max_tokens=64, messages=HI)
    assert_message(only_span(on), message, fake)


def test_tool_definitions_and_tool_use(on: Traces, fake: Any) -> None:
    tools = [
        {
            "name": "get_weather",
            "description": "Weather for a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ]
    message = client(fake).messages.create(
        model=MODEL,
        max_tokens=64,
        tools=tools,
        messages=[{"role": "user", "content": "Hi [fake:tool]"}],
    )
    attrs = only_span(on)["attributes"]
    assert json.loads(attrs["gen_ai.tool.definitions"]) == tools
    assert attrs["gen_ai.response.finish_reasons"] == ["tool_use"]
    span = only_span(on)
    (call,) = json.loads(
        event_attr(span, "gen_ai.content.completion", "gen_ai.completion.tool_calls")
    )
    (block,) = [b for b in message.content if b.type == "tool_use"]
    assert (call["id"], call["name"], call["input"]) == (block.id, block.name, block.input)


def test_capture_off_records_no_content(traces: Traces, fake: Any) -> None:
    traces.init(capture_content=False)
    instrument_anthropic()
    try:
        client(fake).messages.create(model=MODEL, max_tokens=64, system="secret sys", messages=HI)
    finally:
        uninstrument_anthropic()
    span = only_span(traces)
    assert span["events"] == []
    assert "gen_ai.system_prompt" not in span["attributes"]
    assert "secret sys" not in traces.raw_text() and "Hello there" not in traces.raw_text()


def test_capture_off_stream_still_counts_chunks(traces: Traces, fake: Any) -> None:
    traces.init(capture_content=False)
    instrument_anthropic()
    try:
        events = list(stream(fake))
    finally:
        uninstrument_anthropic()
    span = only_span(traces)
    deltas = sum(e.type == "content_block_delta" for e in events)
    assert deltas > 0 and span["attributes"]["llm.chunks_count"] == deltas
    assert "Hello there" not in traces.raw_text()


SECRET_DESCRIPTION = "Internal-only: routes to the billing backend"


@pytest.mark.parametrize("capture", [False, True])
def test_tool_definitions_keep_only_names_when_capture_is_off(
    traces: Traces, fake: Any, capture: bool
) -> None:
    traces.init(capture_content=capture)
    tools = [
        {
            "name": "bill",
            "description": SECRET_DESCRIPTION,
            "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}},
        },
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    instrument_anthropic()
    try:
        client(fake).messages.create(model=MODEL, max_tokens=64, tools=tools, messages=HI)
    finally:
        uninstrument_anthropic()
    recorded = json.loads(only_span(traces)["attributes"]["gen_ai.tool.definitions"])
    if capture:
        assert recorded == tools
        assert SECRET_DESCRIPTION in traces.raw_text()
    else:
        assert recorded == [{"name": "bill"}, {"type": "web_search_20250305", "name": "web_search"}]
        assert SECRET_DESCRIPTION not in traces.raw_text()


def test_instrument_and_uninstrument_say_whether_they_changed_anything(traced: Traces) -> None:
    assert uninstrument_anthropic() is False  # not instrumented yet
    assert instrument_anthropic() is True
    try:
        assert instrument_anthropic() is False  # already instrumented
    finally:
        assert uninstrument_anthropic() is True
    assert uninstrument_anthropic() is False


def test_count_tokens_and_parse(on: Traces, fake: Any) -> None:
    c = client(fake)
    counted = c.messages.count_tokens(model=MODEL, messages=HI)
    parsed = c.messages.parse(model=MODEL, max_tokens=64, messages=HI)
    count_span, parse_span = sorted(on.spans(), key=lambda s: s["start_time_unix_nano"])
    assert count_span["name"] == f"count_tokens {MODEL}"
    attrs = count_span["attributes"]
    assert attrs["gen_ai.operation.name"] == "count_tokens"
    assert attrs["anthropic.message.count_tokens.input_tokens"] == counted.input_tokens
    assert "gen_ai.usage.input_tokens" not in attrs  # nothing generated: no usage, no cost
    assert parse_span["attributes"]["gen_ai.response.id"] == parsed.id


def test_beta_namespace(on: Traces, fake: Any) -> None:
    message = client(fake).beta.messages.create(model=MODEL, max_tokens=64, messages=HI)
    assert_message(only_span(on), message, fake)


def test_client_built_before_instrumenting_and_idempotence(traced: Traces, fake: Any) -> None:
    early = client(fake)
    instrument_anthropic()
    instrument_anthropic()  # twice: still one span per call
    try:
        early.messages.create(model=MODEL, max_tokens=64, messages=HI)
        client(fake).messages.create(model=MODEL, max_tokens=64, messages=HI)
    finally:
        uninstrument_anthropic()
    early.messages.create(model=MODEL, max_tokens=64, messages=HI)  # ours no longer
    names = [s["name"] for s in sorted(traced.spans(), key=lambda s: s["start_time_unix_nano"])]
    # The last is the client's own OpenTelemetry span, back once we are uninstrumented (2.x).
    assert names[:2] == [f"chat {MODEL}", f"chat {MODEL}"] and len(names) in (2, 3)
    assert names[2:] in ([], ["anthropic.messages.create"])


def test_http_error_is_recorded_and_reaches_the_caller(on: Traces, fake: Any) -> None:
    with pytest.raises(anthropic.NotFoundError) as raised:
        client(fake).messages.create(model="claude-does-not-exist", max_tokens=8, messages=HI)
    span = only_span(on)
    assert span["status"]["code"] == "ERROR"
    error = raised.value
    assert error.status_code == 404
    assert span["attributes"]["error.type"] == f"{type(error).__module__}.NotFoundError"
    assert any(e["name"] == "exception" for e in span["events"])


def test_api_key_never_reaches_the_files(on: Traces, fake: Any) -> None:
    key = "sk-ant-api03-" + "Zx9" * 12
    c = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key=key, max_retries=0)
    c.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": key}])
    sent = fake.requests[-1].headers
    assert key in (sent.get("x-api-key"), sent.get("authorization", "").removeprefix("Bearer "))
    assert key not in on.raw_text()


def test_many_client_keys_are_masked_and_not_all_kept(on: Traces, fake: Any) -> None:
    # An app building a client per user key: each key is masked, and the seam's cache of keys
    # it already registered stays bounded (it held every key for good).
    from noveum_trace.instrumentation import _stainless

    keys = [f"user-key-{i:03d}-" + "Qw7" * 6 for i in range(100)]
    for key in keys:
        c = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key=key, max_retries=0)
        c.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": key}])
    assert len(_stainless._seen_keys) <= 64
    text = on.raw_text()
    assert not [key for key in keys if key in text]


def test_a_finished_call_leaves_no_span_alive(on: Traces, fake: Any) -> None:
    # The span of the last call (with its prompt and completion) must not outlive it in the
    # caller's context.
    from noveum_trace._core.span import Span

    client(fake).messages.create(
        model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "kept-alive?"}]
    )
    on.spans()  # flushed: the export queue no longer holds it
    gc.collect()
    alive = [o for o in gc.get_objects() if isinstance(o, Span) and o.name == f"chat {MODEL}"]
    assert alive == []


# ---- with_raw_response / with_streaming_response --------------------------------------------


def test_with_raw_response(on: Traces, fake: Any) -> None:
    raw = client(fake).messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=HI)
    assert raw.headers["request-id"]
    message = raw.parse()
    assert isinstance(message, anthropic.types.Message)
    assert_message(only_span(on), message, fake)


def test_with_raw_response_stream(on: Traces, fake: Any) -> None:
    raw = client(fake).messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=HI, stream=True
    )
    stream = raw.parse()
    assert isinstance(stream, anthropic.Stream)
    events = list(stream)
    attrs = only_span(on)["attributes"]
    assert attrs["llm.streaming"] is True
    deltas = [e for e in events if e.type == "content_block_delta"]
    assert attrs["llm.chunks_count"] == len(deltas)
    assert attrs["gen_ai.usage.output_tokens"] == events[-2].usage.output_tokens


def test_with_streaming_response(on: Traces, fake: Any) -> None:
    c = client(fake)
    with c.messages.with_streaming_response.create(model=MODEL, max_tokens=64, messages=HI) as r:
        message = r.parse()
    assert_message(only_span(on), message, fake)


async def test_async_with_streaming_response_read_as_json(on: Traces, fake: Any) -> None:
    c = aclient(fake)
    async with c.messages.with_streaming_response.create(
        model=MODEL, max_tokens=64, messages=HI
    ) as r:
        body = await r.json()
    attrs = only_span(on)["attributes"]
    assert attrs["gen_ai.response.id"] == body["id"]  # type: ignore[index]
    assert attrs["gen_ai.usage.output_tokens"] == body["usage"]["output_tokens"]  # type: ignore[index]


# ---- streams: every exit path ends the span exactly once ------------------------------------


def stream(fake: Any, scenario: str = "") -> Any:
    headers = {"x-fake-scenario": scenario} if scenario else None
    return client(fake).messages.create(
        model=MODEL, max_tokens=64, messages=HI, stream=True, extra_headers=headers
    )


def test_stream_exhausted(on: Traces, fake: Any) -> None:
    events = list(stream(fake, "cached=4"))
    span = only_span(on)
    attrs = span["attributes"]
    start = events[0].message
    final = [e for e in events if e.type == "message_delta"][-1]
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 4
    assert attrs["gen_ai.usage.input_tokens"] == start.usage.input_tokens + 4  # message_start
    assert attrs["gen_ai.usage.output_tokens"] == final.usage.output_tokens  # message_delta
    assert attrs["gen_ai.response.id"] == start.id
    assert attrs["gen_ai.response.finish_reasons"] == [final.delta.stop_reason]
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert event_attr(span, "gen_ai.content.completion", "gen_ai.completion") == text
    deltas = sum(e.type == "content_block_delta" for e in events)
    assert attrs["llm.chunks_count"] == deltas
    assert 0 < attrs["llm.time_to_first_token_ms"] <= attrs["llm.latency_ms"]
    assert attrs["llm.tokens_per_second"] > 0
    assert span["status"]["code"] != "ERROR"


def test_stream_break_then_dropped(on: Traces, fake: Any) -> None:
    s = stream(fake)
    for event in s:
        if event.type == "content_block_delta":
            break
    del s, event
    gc.collect()
    attrs = only_span(on)["attributes"]
    assert attrs["llm.chunks_count"] == 1
    assert "gen_ai.response.finish_reasons" not in attrs  # the stream never got that far


def test_stream_close(on: Traces, fake: Any) -> None:
    s = stream(fake)
    next(iter(s))
    s.close()
    span = only_span(on)
    assert span["attributes"]["llm.chunks_count"] == 0  # message_start is not output
    assert "llm.time_to_first_token_ms" not in span["attributes"]


def test_stream_with_block_exit_and_error_in_the_loop(on: Traces, fake: Any) -> None:
    with pytest.raises(KeyError), stream(fake) as s:
        for event in s:
            if event.type == "content_block_delta":
                raise KeyError("user bug")
    span = only_span(on)
    assert span["attributes"]["llm.chunks_count"] == 1
    assert span["status"]["code"] != "ERROR"  # the user's error, not the call's


def test_stream_error_event_mid_stream(on: Traces, fake: Any) -> None:
    received = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        for event in stream(fake, "stream-error"):
            received.append(event)
    span = only_span(on)
    error = raised.value
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"]["error.type"] == f"{type(error).__module__}.{type(error).__name__}"
    deltas = sum(e.type == "content_block_delta" for e in received)
    assert deltas and span["attributes"]["llm.chunks_count"] == deltas


def test_stream_never_consumed_is_collected(on: Traces, fake: Any) -> None:
    s = stream(fake)
    del s
    gc.collect()
    span = only_span(on)
    assert span["attributes"]["llm.streaming"] is True
    assert span["attributes"]["llm.chunks_count"] == 0


async def test_async_stream(on: Traces, fake: Any) -> None:
    s = await aclient(fake).messages.create(model=MODEL, max_tokens=64, messages=HI, stream=True)
    assert isinstance(s, anthropic.AsyncStream)
    events = [e async for e in s]
    attrs = only_span(on)["attributes"]
    assert attrs["llm.chunks_count"] == sum(e.type == "content_block_delta" for e in events)
    assert attrs["gen_ai.usage.output_tokens"] > 0


# ---- messages.stream(): the helper managers ------------------------------------------------


def test_stream_helper_text_and_final_message(on: Traces, fake: Any) -> None:
    manager = client(fake).messages.stream(model=MODEL, max_tokens=64, messages=HI)
    assert type(manager).__name__ == "MessageStreamManager"
    with manager as s:
        text = "".join(s.text_stream)
        message = s.get_final_message()
    assert text == s.get_final_text()
    assert_message(only_span(on), message, fake)


async def test_async_stream_helper_stays_an_async_context_manager(on: Traces, fake: Any) -> None:
    manager = aclient(fake).messages.stream(model=MODEL, max_tokens=64, messages=HI)
    assert type(manager).__name__ == "AsyncMessageStreamManager"
    async with manager as s:
        message = await s.get_final_message()
    assert_message(only_span(on), message, fake)


def test_stream_helper_tool_arguments_accumulated(on: Traces, fake: Any) -> None:
    tools = [
        {
            "name": "lookup",
            "description": "d",
            "input_schema": {
                "type": "object",
                "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                "required": ["q", "n"],
            },
        }
    ]
    with client(fake).beta.messages.stream(
        model=MODEL,
        max_tokens=64,
        tools=tools,
        messages=[{"role": "user", "content": "x [fake:tool]"}],
    ) as s:
        message = s.get_final_message()
    span = only_span(on)
    (block,) = [b for b in message.content if b.type == "tool_use"]
    (call,) = json.loads(
        event_attr(span, "gen_ai.content.completion", "gen_ai.completion.tool_calls")
    )
    assert call["input"] == block.input and call["name"] == "lookup"


def test_thinking_blocks(on: Traces, fake: Any) -> None:
    with client(fake).messages.stream(
        model=MODEL,
        max_tokens=256,
        thinking={"type": "enabled", "budget_tokens": 100},
        messages=HI,
    ) as s:
        message = s.get_final_message()
    (thinking,) = [b.thinking for b in message.content if b.type == "thinking"]
    span = only_span(on)
    assert event_attr(span, "gen_ai.content.completion", "gen_ai.completion.reasoning") == thinking


# ---- more error paths ------------------------------------------------------------------------


def test_stream_helper_http_error(on: Traces, fake: Any) -> None:
    manager = client(fake).messages.stream(
        model=MODEL, max_tokens=8, messages=HI, extra_headers={"x-fake-scenario": "error=529"}
    )
    with pytest.raises(anthropic.APIStatusError) as raised, manager:
        pass
    span = only_span(on)
    assert raised.value.status_code == 529
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"]["error.type"].endswith(type(raised.value).__name__)


async def test_async_stream_helper_error_event_mid_stream(on: Traces, fake: Any) -> None:
    manager = aclient(fake).messages.stream(
        model=MODEL, max_tokens=64, messages=HI, extra_headers={"x-fake-scenario": "stream-error"}
    )
    with pytest.raises(anthropic.APIStatusError):
        async with manager as s:
            async for _ in s.text_stream:
                pass
    span = only_span(on)
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"]["llm.chunks_count"] >= 1


def test_decorated_function_does_not_count_the_client_tokens_twice(on: Traces, fake: Any) -> None:
    from noveum_trace.instrumentation import trace_llm_call

    @trace_llm_call(system="anthropic", model=MODEL)
    def ask() -> Any:
        return client(fake).messages.create(model=MODEL, max_tokens=16, messages=HI)

    ask()
    spans = on.spans()
    (child,) = [s for s in spans if s["parent_span_id"]]
    (parent,) = [s for s in spans if not s["parent_span_id"]]
    assert child["parent_span_id"] == parent["span_id"]
    assert child["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert "gen_ai.usage.output_tokens" not in parent["attributes"]


def test_with_streaming_response_stream_parsed_and_read_by_hand(on: Traces, fake: Any) -> None:
    c = client(fake)
    kwargs: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": HI, "stream": True}
    with c.messages.with_streaming_response.create(**kwargs) as r:
        events = list(r.parse())
    with c.messages.with_streaming_response.create(**kwargs) as r:
        lines = list(r.iter_lines())
    parsed, by_hand = sorted(on.spans(), key=lambda s: s["start_time_unix_nano"])
    deltas = sum(e.type == "content_block_delta" for e in events)
    assert parsed["attributes"]["llm.chunks_count"] == deltas
    assert parsed["attributes"]["gen_ai.usage.output_tokens"] > 0
    assert any("message_stop" in line for line in lines)
    assert by_hand["attributes"]["llm.streaming"] is True  # ended once, with what the request said
    assert "gen_ai.usage.output_tokens" not in by_hand["attributes"]


async def test_async_with_raw_response_stream(on: Traces, fake: Any) -> None:
    raw = await aclient(fake).messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=HI, stream=True
    )
    stream = await raw.parse()
    assert isinstance(stream, anthropic.AsyncStream)
    events = [e async for e in stream]
    attrs = only_span(on)["attributes"]
    assert attrs["llm.chunks_count"] == sum(e.type == "content_block_delta" for e in events)
    assert attrs["gen_ai.usage.output_tokens"] > 0


def test_semconv_latest_content_attributes(traces: Traces, fake: Any) -> None:
    traces.init(semconv_latest=True)
    instrument_anthropic()
    try:
        message = client(fake).messages.create(
            model=MODEL, max_tokens=64, system="Be brief.", messages=HI
        )
    finally:
        uninstrument_anthropic()
    attrs = only_span(traces)["attributes"]
    assert json.loads(attrs["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "Be brief."}
    ]
    assert json.loads(attrs["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hello there"}]}
    ]
    (out,) = json.loads(attrs["gen_ai.output.messages"])
    assert out["finish_reason"] == message.stop_reason
    assert out["parts"] == [{"type": "text", "content": message.content[0].text}]  # type: ignore[union-attr]


async def test_concurrent_async_streams_keep_their_own_spans(on: Traces, fake: Any) -> None:
    import asyncio

    c = aclient(fake)

    async def one(words: int) -> tuple[str, int]:
        s = await c.messages.create(
            model=MODEL,
            max_tokens=256,
            messages=HI,
            stream=True,
            extra_headers={"x-fake-scenario": f"words={words},delay=0.001"},
        )
        count = 0
        message_id = ""
        async for event in s:
            if event.type == "message_start":
                message_id = event.message.id
            count += event.type == "content_block_delta"
        return message_id, count

    results = await asyncio.gather(*(one(n) for n in (3, 7, 12, 20)))
    spans = {s["attributes"]["gen_ai.response.id"]: s for s in on.spans()}
    assert len(spans) == 4
    for message_id, count in results:
        attrs = spans[message_id]["attributes"]
        assert attrs["llm.chunks_count"] == count
        assert spans[message_id]["parent_span_id"] is None  # no leaking into each other


def test_threads_keep_their_own_spans(on: Traces, fake: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    c = client(fake)

    def one(words: int) -> tuple[str, int]:
        m = c.messages.create(
            model=MODEL,
            max_tokens=256,
            messages=HI,
            extra_headers={"x-fake-scenario": f"words={words}"},
        )
        return m.id, m.usage.output_tokens

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, (2, 5, 9, 14, 3, 6)))
    spans = {s["attributes"]["gen_ai.response.id"]: s for s in on.spans()}
    assert len(spans) == 6
    for message_id, tokens in results:
        assert spans[message_id]["attributes"]["gen_ai.usage.output_tokens"] == tokens


def test_raw_stream_never_parsed_is_collected(on: Traces, fake: Any) -> None:
    raw = client(fake).messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=HI, stream=True
    )
    del raw
    gc.collect()
    span = only_span(on)
    assert span["attributes"]["llm.streaming"] is True
    assert span["status"]["code"] != "ERROR"


def test_stream_error_event_status_says_why(on: Traces, fake: Any) -> None:
    # anthropic's SSE `error` event: the client raises; the span ends with that error and
    # the event's message (error.type stays the exception's class, as for any raised error).
    with pytest.raises(anthropic.APIStatusError) as raised:
        for _ in stream(fake, "stream-error"):
            pass
    span = only_span(on)
    message = span["status"]["message"]
    assert message.startswith("APIStatusError: ") and str(raised.value) in message
    assert "overloaded" in message.lower()
