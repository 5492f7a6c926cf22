"""A streamed call's span ends exactly once on every exit path, and says what was consumed.

Paths: exhausted, ``break``, ``close()``, ``with`` exit, an exception in the loop body, the
provider's error mid-stream, never iterated then collected. Sync and async. The user sees the
very chunks, types and attributes they would see without instrumentation.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import openai
import pytest

from noveum_trace import semconv
from noveum_trace.testing import FakeProvider

from .conftest import Traces
from .openai_support import (
    async_client,
    client,
    events,
    fake_fixture,
    instrumented_fixture,
    llm_spans,
    one,
    output_chunks,
)
from .test_openai_calls import WEATHER_TOOL

pytestmark = [
    pytest.mark.usefixtures("instrumented"),
    # a finaliser failing while a dropped stream is collected must fail the test
    pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning"),
]
__all__ = ["fake_fixture", "instrumented_fixture"]  # fixtures, used by name

WORDS = 12  # the fake replies one word per chunk, after a first role-only chunk


def _stream(fake: FakeProvider, tag: str = "", **kwargs: Any) -> Any:
    content = f"Count for me [fake:words={WORDS}{',' + tag if tag else ''}]"
    return client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}], stream=True, **kwargs
    )


async def _astream(fake: FakeProvider, tag: str = "", **kwargs: Any) -> Any:
    content = f"Count for me [fake:words={WORDS}{',' + tag if tag else ''}]"
    return await async_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}], stream=True, **kwargs
    )


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _ok_span(traces: Traces, consumed: list[Any]) -> dict[str, Any]:
    span = one(traces.spans())
    attrs = span["attributes"]
    assert span["status"]["code"] == "UNSET"
    assert attrs[semconv.LLM_STREAMING] is True
    assert attrs[semconv.LLM_CHUNKS_COUNT] == len(output_chunks(consumed))
    if consumed:
        assert attrs[semconv.GEN_AI_RESPONSE_ID] == consumed[0].id
    if output_chunks(consumed):
        ttft_ms = attrs[semconv.LLM_TIME_TO_FIRST_TOKEN_MS]
        assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == pytest.approx(ttft_ms / 1e3)
        assert 0 < ttft_ms <= attrs[semconv.LLM_LATENCY_MS]
    else:
        assert semconv.LLM_TIME_TO_FIRST_TOKEN_MS not in attrs
    if _text(consumed):
        completion = events(span, semconv.EVENT_CONTENT_COMPLETION)[0]
        assert completion[semconv.GEN_AI_COMPLETION] == _text(consumed)
    return span


# ---- sync paths ---------------------------------------------------------------------------


def test_exhausted(traced: Traces, fake: FakeProvider) -> None:
    stream = _stream(fake)
    assert isinstance(stream, openai.Stream)
    assert stream.response.status_code == 200
    chunks = list(stream)
    span = _ok_span(traced, chunks)
    assert len(chunks) == WORDS + 2  # role chunk, words, finish chunk
    assert span["attributes"][semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    # no include_usage: the tokens are unknown, so absent (never 0)
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in span["attributes"]
    assert semconv.LLM_TOKENS_PER_SECOND not in span["attributes"]


def test_exhausted_with_usage(traced: Traces, fake: FakeProvider) -> None:
    chunks = list(_stream(fake, stream_options={"include_usage": True}))
    span = _ok_span(traced, chunks)
    usage = chunks[-1].usage
    assert chunks[-1].choices == []  # the user asked for the usage chunk: they get it
    attrs = span["attributes"]
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == usage.prompt_tokens
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == usage.completion_tokens == WORDS
    assert attrs[semconv.LLM_TOKENS_PER_SECOND] > 0


def test_break_then_collected(traced: Traces, fake: FakeProvider) -> None:
    stream = _stream(fake)
    consumed = []
    for chunk in stream:
        consumed.append(chunk)
        if len(consumed) == 3:
            break
    assert llm_spans(traced.spans()) == []  # still open: the user may read on
    del stream, chunk
    gc.collect()
    _ok_span(traced, consumed)


def test_close(traced: Traces, fake: FakeProvider) -> None:
    stream = _stream(fake)
    consumed = [next(stream), next(stream)]
    stream.close()
    span = _ok_span(traced, consumed)
    stream.close()  # again: still one span
    del stream
    gc.collect()
    assert llm_spans(traced.spans()) == [span]


def test_with_block_exit(traced: Traces, fake: FakeProvider) -> None:
    consumed = []
    with _stream(fake) as stream:
        assert isinstance(stream, openai.Stream)
        for chunk in stream:
            consumed.append(chunk)
            if len(consumed) == 4:
                break
    _ok_span(traced, consumed)


def test_exception_in_loop_body(traced: Traces, fake: FakeProvider) -> None:
    consumed = []
    with pytest.raises(ZeroDivisionError), _stream(fake) as stream:
        for chunk in stream:
            consumed.append(chunk)
            if len(consumed) == 2:
                1 / 0  # noqa: B018
    _ok_span(traced, consumed)  # the user's error, not the call's


def test_exception_in_loop_body_without_with(traced: Traces, fake: FakeProvider) -> None:
    def consume() -> list[Any]:
        consumed: list[Any] = []
        try:
            for chunk in _stream(fake):
                consumed.append(chunk)
                if len(consumed) == 2:
                    raise KeyError("user bug")
        except KeyError:
            pass
        return consumed

    consumed = consume()
    gc.collect()
    _ok_span(traced, consumed)


def test_provider_error_mid_stream(traced: Traces, fake: FakeProvider) -> None:
    consumed = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in _stream(fake, "stream-error"):
            consumed.append(chunk)
    assert consumed  # it failed part way
    span = one(traced.spans())
    attrs = span["attributes"]
    kind = type(caught.value)
    assert span["status"]["code"] == "ERROR"
    assert attrs[semconv.ERROR_TYPE] == f"{kind.__module__}.{kind.__qualname__}"
    assert attrs[semconv.LLM_CHUNKS_COUNT] == len(output_chunks(consumed))
    assert events(span, semconv.EVENT_EXCEPTION)
    partial = events(span, semconv.EVENT_CONTENT_COMPLETION)[0][semconv.GEN_AI_COMPLETION]
    assert partial == _text(consumed)


def test_never_iterated_then_collected(traced: Traces, fake: FakeProvider) -> None:
    stream = _stream(fake)
    assert llm_spans(traced.spans()) == []
    del stream
    gc.collect()
    span = _ok_span(traced, [])
    assert semconv.LLM_TIME_TO_FIRST_TOKEN_MS not in span["attributes"]


# ---- async paths --------------------------------------------------------------------------


async def test_async_exhausted(traced: Traces, fake: FakeProvider) -> None:
    stream = await _astream(fake)
    assert isinstance(stream, openai.AsyncStream)
    chunks = [chunk async for chunk in stream]
    assert len(chunks) == WORDS + 2
    _ok_span(traced, chunks)


async def test_async_with_exit_after_break(traced: Traces, fake: FakeProvider) -> None:
    consumed = []
    async with await _astream(fake) as stream:
        async for chunk in stream:
            consumed.append(chunk)
            if len(consumed) == 3:
                break
    _ok_span(traced, consumed)


async def test_async_close(traced: Traces, fake: FakeProvider) -> None:
    stream = await _astream(fake)
    consumed = [await stream.__anext__()]
    await stream.close()
    _ok_span(traced, consumed)


async def test_async_provider_error_mid_stream(traced: Traces, fake: FakeProvider) -> None:
    consumed = []
    with pytest.raises(openai.APIError):
        async for chunk in await _astream(fake, "stream-error"):
            consumed.append(chunk)
    span = one(traced.spans())
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == len(output_chunks(consumed))


async def test_async_never_iterated_then_collected(traced: Traces, fake: FakeProvider) -> None:
    stream = await _astream(fake)
    del stream
    gc.collect()
    _ok_span(traced, [])


# ---- what the stream records --------------------------------------------------------------


def test_time_to_first_token_is_measured(traced: Traces, fake: FakeProvider) -> None:
    chunks = list(_stream(fake, "first-delay=0.2"))
    attrs = _ok_span(traced, chunks)["attributes"]
    assert attrs[semconv.LLM_TIME_TO_FIRST_TOKEN_MS] >= 200


def test_include_usage_opt_in_hides_the_extra_chunk(traces: Traces, fake: FakeProvider) -> None:
    traces.init(openai_include_usage=True)
    chunks = list(_stream(fake))
    assert all(chunk.choices for chunk in chunks)  # no `choices: []` chunk reached the user
    assert len(chunks) == WORDS + 2
    assert fake.requests[-1].json["stream_options"] == {"include_usage": True}
    span = _ok_span(traces, chunks)
    assert span["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == WORDS


def test_include_usage_opt_in_keeps_a_users_own_request(traces: Traces, fake: FakeProvider) -> None:
    traces.init(openai_include_usage=True)
    chunks = list(_stream(fake, stream_options={"include_usage": True}))
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


def test_include_usage_is_not_added_to_raw_responses(traces: Traces, fake: FakeProvider) -> None:
    # Raw readers see every SSE line: a usage-only line we asked for could not be hidden.
    traces.init(openai_include_usage=True)
    messages = [{"role": "user", "content": f"Count [fake:words={WORDS}]"}]
    completions = client(fake).chat.completions
    with completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=messages, stream=True
    ) as raw:
        lines = [line for line in raw.iter_lines() if line.startswith("data: {")]
    assert "stream_options" not in fake.requests[-1].json
    assert all(json.loads(line[6:])["choices"] for line in lines)
    assert len(lines) == WORDS + 2
    chunks = list(
        completions.with_raw_response.create(
            model="gpt-4o-mini", messages=messages, stream=True
        ).parse()
    )
    assert "stream_options" not in fake.requests[-1].json
    assert all(chunk.choices for chunk in chunks)
    streamed, parsed = llm_spans(traces.spans())
    for span in (streamed, parsed):
        assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in span["attributes"]  # unknown: absent
    assert parsed["attributes"][semconv.LLM_CHUNKS_COUNT] == len(output_chunks(chunks)) == WORDS


def test_chunk_events_when_enabled(traces: Traces, fake: FakeProvider) -> None:
    traces.init(stream_chunk_events=True)
    chunks = list(_stream(fake))
    span = _ok_span(traces, chunks)
    recorded = events(span, semconv.EVENT_CONTENT_CHUNK)
    # the index counts output chunks, as llm.chunks_count does (the role-only chunk is not one)
    output = output_chunks(chunks)
    with_text = [(i, c) for i, c in enumerate(output) if c.choices[0].delta.content]
    assert [e[semconv.GEN_AI_COMPLETION_CHUNK] for e in recorded] == [
        c.choices[0].delta.content for _, c in with_text
    ]
    assert [e[semconv.CHUNK_INDEX] for e in recorded] == [i for i, _ in with_text]
    assert recorded[0][semconv.CHUNK_INDEX] == 0
    assert all(e[semconv.CHUNK_TIMESTAMP] > 1e9 for e in recorded)  # seconds since the epoch


def test_no_chunk_events_by_default(traced: Traces, fake: FakeProvider) -> None:
    list(_stream(fake))
    assert events(one(traced.spans()), semconv.EVENT_CONTENT_CHUNK) == []


def test_streamed_parallel_tool_calls_accumulate_by_index(
    traced: Traces, fake: FakeProvider
) -> None:
    other = json.loads(json.dumps(WEATHER_TOOL))
    other["function"]["name"] = "get_time"
    chunks = list(
        client(fake).chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "Weather and time? [fake:tools]"}],
            tools=[WEATHER_TOOL, other],
            stream=True,
        )
    )
    expected: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                entry = expected.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] = delta.id or entry["id"]
                entry["name"] = (delta.function.name or "") or entry["name"]
                entry["arguments"] += delta.function.arguments or ""
    assert len(expected) == 2
    span = one(traced.spans())
    assert span["attributes"][semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    completion = events(span, semconv.EVENT_CONTENT_COMPLETION)[0]
    calls = json.loads(completion[semconv.GEN_AI_TOOL_CALLS])
    assert [
        {"id": c["id"], "name": c["function"]["name"], "arguments": c["function"]["arguments"]}
        for c in calls
    ] == [expected[i] for i in sorted(expected)]


# ---- terminal error events: the stream ends, the call failed -------------------------------


@pytest.mark.parametrize("is_async", [False, True])
@pytest.mark.parametrize(
    ("scenario", "terminal"), [("stream-error", "response.failed"), ("error-event", "error")]
)
async def test_responses_stream_ending_in_an_error_event_fails_the_span(
    traced: Traces, fake: FakeProvider, scenario: str, terminal: str, is_async: bool
) -> None:
    kwargs: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "input": "Count for me",
        "stream": True,
        "extra_headers": {"x-fake-scenario": scenario},
    }
    if is_async:
        seen = [e async for e in await async_client(fake).responses.create(**kwargs)]
    else:
        seen = list(client(fake).responses.create(**kwargs))
    last = seen[-1]  # the client yields it: no exception reaches the application
    assert last.type == terminal
    error = last.response.error if last.type == "response.failed" else last
    assert error is not None and error.code == "server_error"
    span = one(traced.spans())
    assert span["status"] == {"code": "ERROR", "message": error.message}
    assert span["attributes"][semconv.ERROR_TYPE] == "server_error"
    assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == len(output_chunks(seen))


def test_responses_stream_incomplete_records_its_reason(traced: Traces, fake: FakeProvider) -> None:
    seen = list(
        client(fake).responses.create(
            model="gpt-4o-mini", input="Say hello", stream=True, max_output_tokens=3
        )
    )
    assert seen[-1].type == "response.incomplete"
    assert seen[-1].response.incomplete_details.reason == "max_output_tokens"  # type: ignore[union-attr]
    span = one(traced.spans())
    assert span["status"]["code"] == "UNSET"  # cut short is not an error
    # the reason, in the words chat completions use for it
    assert span["attributes"][semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["length"]


def test_chat_stream_error_event_status_says_why(traced: Traces, fake: FakeProvider) -> None:
    # Chat completions: the client raises on the `{"error": ...}` event; the span says so.
    with pytest.raises(openai.APIError) as caught:
        for _ in _stream(fake, "stream-error"):
            pass
    span = one(traced.spans())
    assert span["status"] == {"code": "ERROR", "message": f"APIError: {caught.value}"}
    assert caught.value.message and caught.value.message in span["status"]["message"]
