"""The pure anthropic mapping: request/response/stream events -> attributes, on real wire data."""

from __future__ import annotations

import json
from typing import Any

import anthropic.types as at
import pytest

from noveum_trace import semconv as sc
from noveum_trace.instrumentation import _anthropic_map as amap
from noveum_trace.instrumentation._engine import NOT_OUTPUT

from .anthropic_cassettes import CASSETTES, final_from_sse, recording, sse_events


def test_request_attributes_cover_every_sampling_parameter() -> None:
    tools = [{"name": "get_time", "description": "d", "input_schema": {"type": "object"}}]
    attrs = amap.request_attributes(
        {
            "model": "claude-sonnet-4-6",
            "max_tokens": 99,
            "temperature": 0.3,
            "top_p": 0.9,
            "top_k": 7,
            "stop_sequences": ["END", "STOP"],
            "tools": tools,
            "messages": [],
        },
        stream=True,
    )
    # Who and what (system, operation, model): the engine's Call sets them on the span.
    assert sc.GEN_AI_SYSTEM not in attrs and sc.GEN_AI_REQUEST_MODEL not in attrs
    assert attrs[sc.GEN_AI_REQUEST_MAX_TOKENS] == 99
    assert attrs[sc.GEN_AI_REQUEST_TEMPERATURE] == 0.3
    assert attrs[sc.GEN_AI_REQUEST_TOP_P] == 0.9
    assert attrs[sc.GEN_AI_REQUEST_TOP_K] == 7
    assert attrs[sc.GEN_AI_REQUEST_STOP_SEQUENCES] == ["END", "STOP"]
    assert json.loads(attrs[sc.GEN_AI_TOOL_DEFINITIONS]) == tools
    assert attrs[sc.LLM_STREAMING] is True


def test_unsent_parameters_set_nothing() -> None:
    from anthropic import omit

    attrs = amap.request_attributes(
        {"model": "m", "temperature": omit, "top_k": None}, stream=False
    )
    assert sc.GEN_AI_REQUEST_TEMPERATURE not in attrs and sc.GEN_AI_REQUEST_TOP_K not in attrs
    assert attrs[sc.LLM_STREAMING] is False


def test_system_prompt_string_and_blocks() -> None:
    attrs, prompt = amap.prompt_content(
        {"system": "Be brief.", "messages": [{"role": "user", "content": "Hi"}]}, latest=True
    )
    assert attrs[sc.GEN_AI_SYSTEM_PROMPT] == "Be brief."
    assert json.loads(attrs[sc.GEN_AI_SYSTEM_INSTRUCTIONS]) == [
        {"type": "text", "content": "Be brief."}
    ]
    assert json.loads(attrs[sc.GEN_AI_INPUT_MESSAGES]) == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]}
    ]
    assert prompt is not None and json.loads(prompt) == [{"role": "user", "content": "Hi"}]
    blocks = [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]
    attrs, _ = amap.prompt_content({"system": blocks}, latest=False)
    assert attrs == {sc.GEN_AI_SYSTEM_PROMPT: "One.\nTwo."}


def test_messages_given_as_a_generator_are_not_consumed() -> None:
    messages = iter([{"role": "user", "content": "Hi"}])
    attrs, prompt = amap.prompt_content({"messages": messages}, latest=True)
    assert prompt is None and sc.GEN_AI_INPUT_MESSAGES not in attrs
    assert next(messages) == {"role": "user", "content": "Hi"}  # still there for the client


def test_input_tokens_include_cache_read_and_creation() -> None:
    usage = at.Usage(
        input_tokens=10,
        output_tokens=5,
        cache_read_input_tokens=100,
        cache_creation_input_tokens=20,
        output_tokens_details={"thinking_tokens": 3},  # type: ignore[arg-type]
    )
    assert amap.usage_attributes(usage) == {
        sc.GEN_AI_USAGE_INPUT_TOKENS: 130,
        sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 100,
        sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 20,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 5,
        sc.GEN_AI_USAGE_TOTAL_TOKENS: 135,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 3,
    }


@pytest.mark.parametrize("name", [n for n in CASSETTES if not recording(n).streamed])
def test_response_attributes_from_recorded_bodies(name: str) -> None:
    body = json.loads(recording(name).response)
    message = at.Message.model_validate(body)
    attrs = {**amap.response_attributes(message), **amap.usage_attributes(message.usage)}
    assert attrs == {**amap.response_attributes(body), **amap.usage_attributes(body["usage"])}
    usage = body["usage"]
    assert attrs[sc.GEN_AI_RESPONSE_ID] == body["id"]
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == body["model"]
    assert attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] == [body["stop_reason"]]
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == usage["output_tokens"]
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )


@pytest.mark.parametrize("name", [n for n in CASSETTES if recording(n).streamed])
def test_stream_accumulator_rebuilds_recorded_streams(name: str) -> None:
    body = recording(name).response
    acc = amap.StreamAccumulator()
    # Through the client's own event models, as the stream wrapper will see them.
    events = [e for e in sse_events(body) if e["type"] != "error"]
    outputs = [acc.add(_event_model(e)) is not NOT_OUTPUT for e in events]
    deltas = [e for e in events if e["type"] == "content_block_delta"]
    assert sum(outputs) == len(deltas)  # what the engine counts as llm.chunks_count
    final = acc.final_message()
    expected = final_from_sse(body)
    assert amap.response_attributes(final) == amap.response_attributes(expected)
    assert amap.usage_attributes(final["usage"]) == amap.usage_attributes(expected["usage"])
    # Text and tool arguments joined per block index, as the client's own helper joins them.
    for index, block in enumerate(final["content"]):
        pieces = [e["delta"] for e in deltas if e["index"] == index]
        if block["type"] == "text":
            assert block["text"] == "".join(p["text"] for p in pieces)
        elif block["type"] == "tool_use":
            joined = "".join(p["partial_json"] for p in pieces)
            assert block["input"] == json.loads(joined)


def _event_model(event: dict[str, Any]) -> Any:
    from anthropic._models import construct_type  # what the client's Stream uses

    return construct_type(type_=at.RawMessageStreamEvent, value=event)


def test_stream_tool_calls_end_up_in_the_completion() -> None:
    name = "test_anthropic_instrumentation_multiple_tool_calling_streaming.yaml"
    acc = amap.StreamAccumulator()
    for event in sse_events(recording(name).response):
        acc.add(event)
    attrs, event = amap.completion_content(acc.final_message(), latest=True)
    calls = json.loads(event[sc.GEN_AI_TOOL_CALLS])
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert all(isinstance(c["input"], dict) and c["input"] for c in calls)
    out = json.loads(attrs[sc.GEN_AI_OUTPUT_MESSAGES])
    assert out[0]["finish_reason"] == "tool_use"
    assert [p["type"] for p in out[0]["parts"]] == ["text", "tool_call", "tool_call"]


def test_thinking_blocks_and_a_stream_cut_mid_arguments() -> None:
    acc = amap.StreamAccumulator()
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": {"id": "m1", "model": "c", "usage": {"input_tokens": 4, "output_tokens": 1}}},  # noqa: E501
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},  # noqa: E501
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Hmm, "}},  # noqa: E501
        {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "ok."}},  # noqa: E501
        {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}}},  # noqa: E501
        {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a": '}},  # noqa: E501
        {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 9, "input_tokens": None}},  # noqa: E501
    ]  # fmt: skip
    for event in events:
        acc.add(event)
    final = acc.final_message()
    assert final["usage"] == {"input_tokens": 4, "output_tokens": 9}
    _, event = amap.completion_content(final, latest=False)
    assert event[sc.GEN_AI_COMPLETION_REASONING] == "Hmm, ok."
    assert json.loads(event[sc.GEN_AI_TOOL_CALLS])[0]["input"] == '{"a": '


def test_count_tokens_mapping() -> None:
    result = at.MessageTokensCount(input_tokens=42)
    assert amap.count_tokens_response_attributes(result) == {
        sc.ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS: 42
    }


def test_capture_off_keeps_usage_and_drops_content() -> None:
    name = "test_anthropic_instrumentation_multiple_tool_calling_streaming.yaml"
    body = recording(name).response
    acc = amap.StreamAccumulator(keep_content=False)
    outputs = [acc.add(event) is not NOT_OUTPUT for event in sse_events(body)]
    final = acc.final_message()
    # Deltas still count as output (llm.chunks_count: test_anthropic_instrumentation).
    assert final["content"] == [] and sum(outputs) > 0
    expected = final_from_sse(body)
    assert amap.usage_attributes(final["usage"]) == amap.usage_attributes(expected["usage"])
