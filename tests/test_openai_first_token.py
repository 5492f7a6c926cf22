"""Time to first token and ``llm.chunks_count`` measure model output, not bookkeeping events.

A server that sends its non-output events (Azure's ``prompt_filter_results`` chunk, the
role-only first chunk, ``response.created``), then pauses, then the first text: the time to
first token includes the pause, and only the output chunks are counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import openai._base_client as base
import pytest

from noveum_trace import semconv

from .conftest import Traces
from .openai_support import instrumented_fixture, one, output_chunks

pytestmark = pytest.mark.usefixtures("instrumented")
__all__ = ["instrumented_fixture"]  # a fixture, used by name

# openai 3.x speaks httpx2, 1.x and 2.x httpx: use whichever the installed client imports
http: Any = getattr(base, "httpx2", None) or base.httpx
PAUSE = 0.3  # seconds between the non-output events and the first text


def _chunk(choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": choices,
        **extra,
    }


def _delta(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish}


AZURE_FILTER = _chunk([], prompt_filter_results=[{"prompt_index": 0, "content_filter_results": {}}])
ROLE = _chunk([_delta({"role": "assistant", "content": ""})])
FINISH = _chunk([_delta({}, "stop")])
USAGE = _chunk([], usage={"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})


def _client(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> openai.OpenAI:
    """A client whose server streams ``before``, pauses, then streams ``after``."""

    def body() -> Iterator[bytes]:
        for item in before:
            yield f"data: {json.dumps(item)}\n\n".encode()
        time.sleep(PAUSE)
        for item in after:
            yield f"data: {json.dumps(item)}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def handler(request: Any) -> Any:
        return http.Response(200, content=body(), headers={"content-type": "text/event-stream"})

    return openai.OpenAI(
        api_key="test",
        base_url="http://127.0.0.1:9/v1",
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(handler)),
    )


def _chat(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[Any]:
    stream = _client(before, after).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    return list(stream)


def _assert_measured_from_output(traces: Traces, received: list[Any], outputs: int) -> None:
    attrs = one(traces.spans())["attributes"]
    assert len(output_chunks(received)) == outputs
    assert attrs[semconv.LLM_CHUNKS_COUNT] == outputs
    assert attrs[semconv.LLM_TIME_TO_FIRST_TOKEN_MS] >= PAUSE * 1000
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= PAUSE


def test_chat_role_only_first_chunk_is_not_the_first_token(traced: Traces) -> None:
    text = [_chunk([_delta({"content": "Hello"})]), _chunk([_delta({"content": " you"})])]
    received = _chat([ROLE], [*text, FINISH, USAGE])
    assert len(received) == 5  # the user still gets every chunk
    _assert_measured_from_output(traced, received, 2)


def test_chat_azure_prompt_filter_chunk_is_not_the_first_token(traced: Traces) -> None:
    text = [_chunk([_delta({"content": "Hi"})])]
    received = _chat([AZURE_FILTER, ROLE], [*text, FINISH])
    assert received[0].choices == []
    _assert_measured_from_output(traced, received, 1)


def test_chat_tool_call_and_refusal_deltas_are_output(traced: Traces) -> None:
    tool = {"index": 0, "id": "call_1", "type": "function"}
    tool_delta = {"tool_calls": [{**tool, "function": {"name": "f", "arguments": "{}"}}]}
    after = [
        _chunk([_delta(tool_delta)]),
        _chunk([_delta({"refusal": "no"})]),
        _chunk([_delta({}, "tool_calls")]),
    ]
    received = _chat([ROLE], after)
    _assert_measured_from_output(traced, received, 2)


def _response(status: str, output: list[Any]) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 1,
        "model": "gpt-4o-mini",
        "status": status,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
        if status == "completed"
        else None,
    }


def test_responses_created_event_is_not_the_first_token(traced: Traces) -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Hi there", "annotations": []}],
    }
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    part = {"type": "output_text", "text": "", "annotations": []}
    after = [
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**message, "content": []},
        },
        {"type": "response.content_part.added", **where, "part": part},
        {"type": "response.output_text.delta", **where, "delta": "Hi"},
        {"type": "response.output_text.delta", **where, "delta": " there"},
        {"type": "response.output_text.done", **where, "text": "Hi there"},
        {"type": "response.completed", "response": _response("completed", [message])},
    ]
    created = {"type": "response.created", "response": _response("in_progress", [])}
    stream = _client([created], after).responses.create(
        model="gpt-4o-mini", input="hi", stream=True
    )
    received = list(stream)
    assert received[0].type == "response.created"
    _assert_measured_from_output(traced, received, 2)
    attrs = one(traced.spans())["attributes"]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
