"""Every openai call shape against the fake provider, sync and async; spans read from the files.

Each span is checked against the response the client actually returned: tokens equal the
body's usage, finish reasons, model and id.
"""

from __future__ import annotations

import gc
import json
from typing import Any

import openai
import pydantic
import pytest

import noveum_trace
from noveum_trace import semconv
from noveum_trace.instrumentation import trace_llm_call
from noveum_trace.instrumentation.openai import instrument_openai, uninstrument_openai
from noveum_trace.testing import FakeProvider

from .conftest import Traces
from .openai_support import (
    CLIENT_KIND,
    assert_usage,
    async_client,
    client,
    events,
    fake_fixture,
    instrumented_fixture,
    llm_spans,
    one,
    output_chunks,
    usage_of,
)

MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "Say hello"},
]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
pytestmark = pytest.mark.usefixtures("instrumented")
__all__ = ["fake_fixture", "instrumented_fixture"]  # fixtures, used by name


def _port(fake: FakeProvider) -> int:
    return int(fake.openai_base_url.split(":")[2].split("/")[0])


def assert_chat_span(span: dict[str, Any], response: Any, fake: FakeProvider) -> None:
    attrs = span["attributes"]
    assert span["kind"] == CLIENT_KIND
    assert span["name"] == "chat gpt-4o-mini"
    assert span["status"]["code"] == "UNSET"
    assert attrs[semconv.GEN_AI_SYSTEM] == attrs[semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert attrs[semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == response.model
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == response.id
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == [
        c.finish_reason for c in response.choices
    ]
    assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
    assert attrs[semconv.SERVER_PORT] == _port(fake)
    assert attrs[semconv.LLM_LATENCY_MS] > 0
    assert_usage(span, usage_of(response))
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
    prompt = events(span, semconv.EVENT_CONTENT_PROMPT)
    assert json.loads(prompt[0][semconv.GEN_AI_PROMPT]) == MESSAGES
    completion = events(span, semconv.EVENT_CONTENT_COMPLETION)
    assert completion[0][semconv.GEN_AI_COMPLETION] == response.choices[0].message.content


def test_chat_create_records_request_and_response(traced: Traces, fake: FakeProvider) -> None:
    response = client(fake).chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        temperature=0.3,
        top_p=0.9,
        max_tokens=50,
        frequency_penalty=0.1,
        presence_penalty=0.2,
        seed=7,
        stop=["END"],
    )
    span = one(traced.spans())
    assert_chat_span(span, response, fake)
    attrs = span["attributes"]
    assert attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert attrs[semconv.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 50
    assert attrs[semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY] == 0.1
    assert attrs[semconv.GEN_AI_REQUEST_PRESENCE_PENALTY] == 0.2
    assert attrs[semconv.GEN_AI_REQUEST_SEED] == 7
    assert attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] == ["END"]


def test_length_finish_reason_and_cached_and_reasoning_tokens(
    traced: Traces, fake: FakeProvider
) -> None:
    response = client(fake).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Tell me a story [fake:cached=3,reasoning=5]"}],
        max_completion_tokens=4,
    )
    span = one(traced.spans())
    attrs = span["attributes"]
    assert response.choices[0].finish_reason == "length"
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["length"]
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 4
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 3
    assert attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 5
    assert_usage(span, usage_of(response))


async def test_async_chat_create(traced: Traces, fake: FakeProvider) -> None:
    response = await async_client(fake).chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    assert_chat_span(one(traced.spans()), response, fake)


def test_chat_parse_structured_output(traced: Traces, fake: FakeProvider) -> None:
    class Answer(pydantic.BaseModel):
        city: str

    completion = client(fake).chat.completions.parse(
        model="gpt-4o-mini",
        messages=MESSAGES,
        response_format=Answer,
        extra_headers={"x-fake-reply": '{"city": "Paris"}'},
    )
    assert completion.choices[0].message.parsed == Answer(city="Paris")
    span = one(traced.spans())
    assert_chat_span(span, completion, fake)
    assert span["attributes"][semconv.GEN_AI_OUTPUT_TYPE] == "json"


def test_tool_definitions_and_tool_calls(traced: Traces, fake: FakeProvider) -> None:
    response = client(fake).chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Weather in Paris? [fake:tool]"}],
        tools=[WEATHER_TOOL],
    )
    span = one(traced.spans())
    attrs = span["attributes"]
    assert json.loads(attrs[semconv.GEN_AI_TOOL_DEFINITIONS]) == [WEATHER_TOOL]
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    completion = events(span, semconv.EVENT_CONTENT_COMPLETION)[0]
    calls = json.loads(completion[semconv.GEN_AI_TOOL_CALLS])
    returned = response.choices[0].message.tool_calls
    assert returned
    assert [c["id"] for c in calls] == [c.id for c in returned]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert [c["function"]["arguments"] for c in calls] == [c.function.arguments for c in returned]


def test_with_raw_response_keeps_parse_and_headers(traced: Traces, fake: FakeProvider) -> None:
    raw = client(fake).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    assert raw.headers["content-type"].startswith("application/json")
    response = raw.parse()
    assert isinstance(response, openai.types.chat.ChatCompletion)
    assert raw.parse() is response
    assert_chat_span(one(traced.spans()), response, fake)


def test_with_raw_response_stream(traced: Traces, fake: FakeProvider) -> None:
    raw = client(fake).chat.completions.with_raw_response.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert raw.headers["content-type"].startswith("text/event-stream")
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    attrs = one(traced.spans())["attributes"]
    assert attrs[semconv.LLM_CHUNKS_COUNT] == len(output_chunks(chunks))
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == chunks[-1].usage.completion_tokens


def test_with_streaming_response(traced: Traces, fake: FakeProvider) -> None:
    with client(fake).chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as raw:
        assert raw.headers["content-type"].startswith("application/json")
        response = raw.parse()
    assert_chat_span(one(traced.spans()), response, fake)


def test_with_streaming_response_stream(traced: Traces, fake: FakeProvider) -> None:
    with client(fake).chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as raw:
        chunks = list(raw.parse())
    attrs = one(traced.spans())["attributes"]
    assert attrs[semconv.LLM_CHUNKS_COUNT] == len(output_chunks(chunks))
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == chunks[0].id


def test_with_streaming_response_read_by_hand_still_ends(
    traced: Traces, fake: FakeProvider
) -> None:
    with client(fake).chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    ) as raw:
        lines = list(raw.iter_lines())
    assert lines
    del raw
    gc.collect()  # never parsed: the span ends when the response is collected
    span = one(traced.spans())
    assert span["attributes"][semconv.GEN_AI_REQUEST_MODEL] == "gpt-4o-mini"


async def test_async_with_streaming_response_stream(traced: Traces, fake: FakeProvider) -> None:
    async with async_client(fake).chat.completions.with_streaming_response.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as raw:
        stream = await raw.parse()
        assert isinstance(stream, openai.AsyncStream)
        chunks = [chunk async for chunk in stream]
    attrs = one(traced.spans())["attributes"]
    assert attrs[semconv.LLM_CHUNKS_COUNT] == len(output_chunks(chunks))


def test_chat_stream_helper(traced: Traces, fake: FakeProvider) -> None:
    with client(fake).chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        deltas = [event.delta for event in stream if event.type == "content.delta"]
        final = stream.get_final_completion()
    span = one(traced.spans())
    attrs = span["attributes"]
    assert attrs[semconv.LLM_STREAMING] is True
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == final.id
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert_usage(span, usage_of(final))
    completion = events(span, semconv.EVENT_CONTENT_COMPLETION)[0]
    assert completion[semconv.GEN_AI_COMPLETION] == "".join(deltas)
    assert completion[semconv.GEN_AI_COMPLETION] == final.choices[0].message.content


async def test_async_chat_stream_helper(traced: Traces, fake: FakeProvider) -> None:
    async with async_client(fake).chat.completions.stream(
        model="gpt-4o-mini", messages=MESSAGES
    ) as stream:
        final = await stream.get_final_completion()
    span = one(traced.spans())
    assert span["attributes"][semconv.GEN_AI_RESPONSE_ID] == final.id
    text = events(span, semconv.EVENT_CONTENT_COMPLETION)[0][semconv.GEN_AI_COMPLETION]
    assert text == final.choices[0].message.content


def test_responses_create(traced: Traces, fake: FakeProvider) -> None:
    response = client(fake).responses.create(
        model="gpt-4o-mini", input="Say hello", instructions="Be terse.", max_output_tokens=30
    )
    span = one(traced.spans())
    attrs = span["attributes"]
    assert span["name"] == "chat gpt-4o-mini"
    assert attrs[semconv.GEN_AI_RESPONSE_ID] == response.id
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == response.model
    assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == 30
    assert attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["stop"]
    assert_usage(span, usage_of(response))
    completion = events(span, semconv.EVENT_CONTENT_COMPLETION)[0]
    assert completion[semconv.GEN_AI_COMPLETION] == response.output_text


def test_responses_stream_and_helper(traced: Traces, fake: FakeProvider) -> None:
    stream = client(fake).responses.create(model="gpt-4o-mini", input="Say hello", stream=True)
    assert isinstance(stream, openai.Stream)
    streamed = list(stream)
    with client(fake).responses.stream(model="gpt-4o-mini", input="Say hello") as helper:
        for _ in helper:
            pass
        final = helper.get_final_response()
    first, second = llm_spans(traced.spans())
    completed = next(e.response for e in streamed if e.type == "response.completed")
    for span, response, count in (
        (first, completed, len(output_chunks(streamed))),
        (second, final, None),
    ):
        attrs = span["attributes"]
        assert attrs[semconv.LLM_STREAMING] is True
        assert attrs[semconv.GEN_AI_RESPONSE_ID] == response.id
        assert_usage(span, usage_of(response))
        text = events(span, semconv.EVENT_CONTENT_COMPLETION)[0][semconv.GEN_AI_COMPLETION]
        assert text == response.output_text
        if count is not None:
            assert attrs[semconv.LLM_CHUNKS_COUNT] == count


async def test_async_responses_stream(traced: Traces, fake: FakeProvider) -> None:
    stream = await async_client(fake).responses.create(
        model="gpt-4o-mini", input="Say hello", stream=True
    )
    events_seen = [event async for event in stream]
    span = one(traced.spans())
    completed = next(e.response for e in events_seen if e.type == "response.completed")
    assert_usage(span, usage_of(completed))


@pytest.mark.parametrize("is_async", [False, True])
async def test_embeddings(traced: Traces, fake: FakeProvider, is_async: bool) -> None:
    if is_async:
        response = await async_client(fake).embeddings.create(
            model="text-embedding-3-small", input=["one two", "three"], encoding_format="float"
        )
    else:
        response = client(fake).embeddings.create(
            model="text-embedding-3-small", input=["one two", "three"], encoding_format="float"
        )
    span = one(traced.spans())
    attrs = span["attributes"]
    assert span["name"] == "embeddings text-embedding-3-small"
    assert attrs[semconv.GEN_AI_OPERATION_NAME] == "embeddings"
    assert attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] == ["float"]
    assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == response.model
    assert attrs[semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] == len(response.data[0].embedding)
    assert_usage(span, usage_of(response))
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in attrs


# ---- patching: before/after, twice, undone -------------------------------------------


def test_clients_built_before_and_after_instrumenting(traced: Traces, fake: FakeProvider) -> None:
    uninstrument_openai()
    before = client(fake)
    before_raw = before.chat.completions.with_raw_response  # bound before instrumenting
    assert instrument_openai() is True
    assert instrument_openai() is False  # twice: no second patch
    after = client(fake)
    before.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    after.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    before_raw.create(model="gpt-4o-mini", messages=MESSAGES).parse()
    assert len(llm_spans(traced.spans())) == 3


def test_uninstrument_stops_tracing(traced: Traces, fake: FakeProvider) -> None:
    c = client(fake)
    raw = c.chat.completions.with_raw_response  # holds the patched method
    assert uninstrument_openai() is True
    assert uninstrument_openai() is False
    c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    raw.create(model="gpt-4o-mini", messages=MESSAGES).parse()
    assert llm_spans(traced.spans()) == []
    instrument_openai()  # the fixture's teardown undoes it again


def test_other_routes_pass_through_untraced(traced: Traces, fake: FakeProvider) -> None:
    with pytest.raises(openai.APIStatusError):  # the fake serves no /models
        client(fake).models.list()
    assert llm_spans(traced.spans()) == []


# ---- errors ---------------------------------------------------------------------------


def _assert_error_span(span: dict[str, Any], error: BaseException) -> None:
    kind = type(error)
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"][semconv.ERROR_TYPE] == f"{kind.__module__}.{kind.__qualname__}"
    recorded = events(span, semconv.EVENT_EXCEPTION)
    assert recorded[0][semconv.EXCEPTION_TYPE] == f"{kind.__module__}.{kind.__qualname__}"


@pytest.mark.parametrize("status", [400, 429, 500])
def test_http_errors_are_recorded_and_reraised_unchanged(
    traced: Traces, fake: FakeProvider, status: int
) -> None:
    def call() -> BaseException:
        with pytest.raises(openai.APIStatusError) as caught:
            client(fake).chat.completions.create(
                model="gpt-4o-mini",
                messages=MESSAGES,
                extra_headers={"x-fake-scenario": f"error={status}"},
            )
        return caught.value

    traced_error = call()
    uninstrument_openai()
    plain_error = call()
    instrument_openai()
    assert type(traced_error) is type(plain_error)
    assert traced_error.status_code == plain_error.status_code == status
    assert traced_error.body == plain_error.body
    _assert_error_span(one(traced.spans()), traced_error)


def test_connection_error(traced: Traces) -> None:
    broken = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="test", max_retries=0)
    with pytest.raises(openai.APIConnectionError) as caught:
        broken.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    _assert_error_span(one(traced.spans()), caught.value)


def test_timeout(traced: Traces, fake: FakeProvider) -> None:
    with pytest.raises(openai.APITimeoutError) as caught:
        client(fake, timeout=0.05).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi [fake:first-delay=2]"}]
        )
    _assert_error_span(one(traced.spans()), caught.value)


async def test_async_http_error(traced: Traces, fake: FakeProvider) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await async_client(fake).chat.completions.create(
            model="gpt-does-not-exist", messages=MESSAGES
        )
    _assert_error_span(one(traced.spans()), caught.value)


# ---- content, privacy, nesting --------------------------------------------------------


def test_no_content_when_capture_is_off(traces: Traces, fake: FakeProvider) -> None:
    traces.init(capture_content=False)
    client(fake).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    span = one(traces.spans())
    assert span["events"] == []
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS in span["attributes"]


SECRET_DESCRIPTION = "Internal-only: routes to the billing backend"


@pytest.mark.parametrize("capture", [False, True])
def test_tool_definitions_keep_only_names_when_capture_is_off(
    traces: Traces, fake: FakeProvider, capture: bool
) -> None:
    traces.init(capture_content=capture)
    params = {"type": "object", "properties": {"id": {"type": "string", "description": "x"}}}
    chat_tool = {
        "type": "function",
        "function": {"name": "bill", "description": SECRET_DESCRIPTION, "parameters": params},
    }
    flat_tool = {
        "type": "function",
        "name": "bill",
        "description": SECRET_DESCRIPTION,
        "parameters": params,
    }
    client(fake).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=[chat_tool])
    client(fake).responses.create(model="gpt-4o-mini", input="Say hello", tools=[flat_tool])
    chat_span, responses_span = llm_spans(traces.spans())
    chat_defs = json.loads(chat_span["attributes"][semconv.GEN_AI_TOOL_DEFINITIONS])
    responses_defs = json.loads(responses_span["attributes"][semconv.GEN_AI_TOOL_DEFINITIONS])
    if capture:
        assert (chat_defs, responses_defs) == ([chat_tool], [flat_tool])
        assert SECRET_DESCRIPTION in traces.raw_text()
    else:
        assert chat_defs == responses_defs == [{"type": "function", "name": "bill"}]
        assert SECRET_DESCRIPTION not in traces.raw_text()


def test_latest_semconv_messages(traces: Traces, fake: FakeProvider) -> None:
    traces.init(semconv_latest=True)
    response = client(fake).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    attrs = one(traces.spans())["attributes"]
    assert json.loads(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "You are terse."}
    ]
    assert json.loads(attrs[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}
    ]
    assert json.loads(attrs[semconv.GEN_AI_OUTPUT_MESSAGES]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": response.choices[0].message.content}],
            "finish_reason": "stop",
        }
    ]


def test_client_api_key_never_reaches_the_files(traced: Traces, fake: FakeProvider) -> None:
    key = "team-internal-token-7f3a9c2e51"
    c = openai.OpenAI(base_url=fake.openai_base_url, api_key=key, max_retries=0)
    c.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"my key is {key}"}]
    )
    assert one(traced.spans())
    assert "team-internal-token" not in traced.raw_text()
    assert "authorization" not in traced.raw_text().lower()


def test_decorated_parent_does_not_count_the_child_tokens(
    traced: Traces, fake: FakeProvider
) -> None:
    @trace_llm_call(system="openai", model="gpt-4o-mini")
    def ask() -> Any:
        return client(fake).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    response = ask()
    spans = sorted(traced.spans(), key=lambda s: s["start_time_unix_nano"])
    parent, child = spans
    assert child["parent_span_id"] == parent["span_id"]
    assert child["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.prompt_tokens
    assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in parent["attributes"]


def test_span_is_current_during_the_request(traced: Traces, fake: FakeProvider) -> None:
    tracer = noveum_trace.get_tracer("test")
    with tracer.start_as_current_span("outer"):
        client(fake).chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    spans = {s["name"]: s for s in traced.spans()}
    assert spans["chat gpt-4o-mini"]["parent_span_id"] == spans["outer"]["span_id"]


def test_latest_semconv_from_the_environment(
    traces: Traces, fake: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", "http,gen_ai_latest_experimental")
    traces.init()
    client(fake).responses.create(model="gpt-4o-mini", input="Say hello", instructions="Be terse.")
    attrs = one(traces.spans())["attributes"]
    assert json.loads(attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Be terse."}
    ]
    assert json.loads(attrs[semconv.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}
    ]
    assert semconv.GEN_AI_OUTPUT_MESSAGES in attrs


def test_responses_streamed_tool_call(traced: Traces, fake: FakeProvider) -> None:
    tool = {
        "type": "function",
        "name": "get_weather",
        "parameters": WEATHER_TOOL["function"]["parameters"],
    }
    streamed = list(
        client(fake).responses.create(
            model="gpt-4o-mini", input="Weather in Paris? [fake:tool]", tools=[tool], stream=True
        )
    )
    final = next(e.response for e in streamed if e.type == "response.completed")
    call_item = next(item for item in final.output if item.type == "function_call")
    span = one(traced.spans())
    assert json.loads(span["attributes"][semconv.GEN_AI_TOOL_DEFINITIONS]) == [tool]
    assert span["attributes"][semconv.GEN_AI_RESPONSE_FINISH_REASONS] == ["tool_calls"]
    completion = events(span, semconv.EVENT_CONTENT_COMPLETION)[0]
    (recorded,) = json.loads(completion[semconv.GEN_AI_TOOL_CALLS])
    assert recorded["id"] == call_item.call_id
    assert recorded["function"] == {"name": "get_weather", "arguments": call_item.arguments}
