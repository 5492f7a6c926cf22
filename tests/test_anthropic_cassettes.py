"""Every recorded anthropic exchange in tests/data/cassettes/openinference, replayed with vcrpy
through the real client, traced; the span is checked against the recorded bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from noveum_trace.instrumentation.anthropic import instrument_anthropic, uninstrument_anthropic

from .anthropic_cassettes import (
    CASSETTES,
    final_from_sse,
    is_beta,
    recording,
    replay,
    sse_events,
)
from .conftest import Traces


@pytest.fixture
def on(traced: Traces, monkeypatch: pytest.MonkeyPatch) -> Iterator[Traces]:
    monkeypatch.delenv("ANTHROPIC_BASE_URL", raising=False)
    instrument_anthropic()
    yield traced
    uninstrument_anthropic()


def messages(client: Any, beta: bool) -> Any:
    return client.beta.messages if beta else client.messages


def replay_sync(name: str, kwargs: dict[str, Any], streamed: bool) -> str:
    """Make the recorded call; returns the completion text the user saw."""
    client = anthropic.Anthropic(api_key="test", max_retries=0)
    api = messages(client, is_beta(name))
    with replay(name):
        if "stream_message" in name:  # recorded from the `messages.stream()` helper
            with api.stream(**kwargs) as stream:
                return "".join(stream.text_stream)
        if streamed:
            events = list(api.create(**kwargs, stream=True))
            return "".join(
                e.delta.text
                for e in events
                if e.type == "content_block_delta" and e.delta.type == "text_delta"
            )
        message = api.create(**kwargs)
        return "".join(b.text for b in message.content if b.type == "text")


async def replay_async(name: str, kwargs: dict[str, Any], streamed: bool) -> str:
    client = anthropic.AsyncAnthropic(api_key="test", max_retries=0)
    api = messages(client, is_beta(name))
    with replay(name):
        if streamed:
            stream = await api.create(**kwargs, stream=True)
            return "".join(
                [
                    e.delta.text
                    async for e in stream
                    if e.type == "content_block_delta" and e.delta.type == "text_delta"
                ]
            )
        message = await api.create(**kwargs)
        return "".join(b.text for b in message.content if b.type == "text")


@pytest.mark.parametrize("name", CASSETTES)
async def test_replay(on: Traces, name: str) -> None:
    rec = recording(name)
    kwargs = {k: v for k, v in rec.request.items() if k != "stream"}
    if "async" in name:
        text = await replay_async(name, kwargs, rec.streamed)
    else:
        text = replay_sync(name, kwargs, rec.streamed)
    (span,) = on.spans()
    attrs = span["attributes"]
    expected = final_from_sse(rec.response) if rec.streamed else json.loads(rec.response)
    sent = rec.request
    assert span["name"] == f"chat {sent['model']}"
    assert attrs["gen_ai.request.model"] == sent["model"]
    assert attrs["gen_ai.request.max_tokens"] == sent["max_tokens"]
    assert attrs["llm.streaming"] is rec.streamed
    if "tools" in sent:
        assert json.loads(attrs["gen_ai.tool.definitions"]) == sent["tools"]
    assert attrs["gen_ai.response.id"] == expected["id"]
    assert attrs["gen_ai.response.model"] == expected["model"]
    assert attrs["gen_ai.response.finish_reasons"] == [expected["stop_reason"]]
    usage = expected["usage"]
    inputs = (
        usage["input_tokens"]
        + usage["cache_read_input_tokens"]
        + usage["cache_creation_input_tokens"]
    )
    assert attrs["gen_ai.usage.input_tokens"] == inputs
    assert attrs["gen_ai.usage.output_tokens"] == usage["output_tokens"]
    assert attrs["gen_ai.usage.total_tokens"] == inputs + usage["output_tokens"]
    completion = next(e for e in span["events"] if e["name"] == "gen_ai.content.completion")
    assert completion["attributes"]["gen_ai.completion"] == text
    if rec.streamed:
        deltas = [e for e in sse_events(rec.response) if e["type"] == "content_block_delta"]
        assert attrs["llm.chunks_count"] == len(deltas)
    if expected["stop_reason"] == "tool_use":
        calls = json.loads(completion["attributes"]["gen_ai.completion.tool_calls"])
        assert [c["name"] for c in calls] == ["get_weather", "get_time"]
        assert all(c["input"] for c in calls)
