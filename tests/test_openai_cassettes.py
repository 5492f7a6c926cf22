"""Every recorded OpenAI exchange in the otel-contrib cassettes, replayed through the real client.

Each cassette is replayed as its original test made it (plain, streamed, raw response,
context-manager stream, async), with the request body it recorded; the span must say what
the recorded response says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from noveum_trace import semconv

from .conftest import Traces
from .openai_support import (
    CLIENT_KIND,
    assert_usage,
    cassette_paths,
    events,
    expected_from_cassette,
    instrumented_fixture,
    interactions,
    llm_spans,
    replayer,
    request_body,
    route,
    status,
)

pytestmark = pytest.mark.usefixtures("instrumented")
__all__ = ["instrumented_fixture"]  # a fixture, used by name

_OPERATION = {"/chat/completions": "chat", "/responses": "chat", "/embeddings": "embeddings"}


def _resource(client: Any, path: str) -> Any:
    return {
        "/chat/completions": client.chat.completions,
        "/responses": client.responses,
        "/embeddings": client.embeddings,
    }[path]


def _replay(record: dict[str, Any], raw: bool, managed: bool) -> Any:
    client = openai.OpenAI(api_key="test", max_retries=0)
    body = request_body(record)
    resource = _resource(client, route(record))
    create = resource.with_raw_response.create if raw else resource.create
    result = create(**body)
    if raw:
        assert result.headers.get("content-type")
        result = result.parse()
    if body.get("stream"):
        assert isinstance(result, openai.Stream)
        if managed:
            with result as stream:
                return list(stream)
        return list(result)
    return result


async def _replay_async(record: dict[str, Any]) -> Any:
    client = openai.AsyncOpenAI(api_key="test", max_retries=0)
    body = request_body(record)
    result = await _resource(client, route(record)).create(**body)
    if body.get("stream"):
        assert isinstance(result, openai.AsyncStream)
        return [chunk async for chunk in result]
    return result


def _prompt_sent(record: dict[str, Any]) -> Any:
    body = request_body(record)
    if route(record) == "/chat/completions":
        return body["messages"]
    if route(record) == "/embeddings":
        return body["input"]
    sent = body["input"]
    messages = [{"role": "user", "content": sent}] if isinstance(sent, str) else list(sent)
    if "instructions" in body:
        messages.insert(0, {"role": "system", "content": body["instructions"]})
    return messages


def _decoded(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:  # a plain string prompt is kept as it is
        return value


@pytest.mark.parametrize("path", cassette_paths(), ids=lambda p: p.stem)
async def test_replayed_cassette(path: Path, traced: Traces) -> None:
    records = interactions(path)
    raised: list[BaseException | None] = []
    with replayer.use_cassette(str(path)):
        for record in records:
            try:
                if "async" in path.stem:
                    await _replay_async(record)
                else:
                    _replay(record, "raw_response" in path.stem, "context_manager" in path.stem)
                raised.append(None)
            except openai.APIStatusError as exc:
                raised.append(exc)

    spans = llm_spans(traced.spans())
    assert len(spans) == len(records)
    for span, record, error in zip(spans, records, raised, strict=True):
        body = request_body(record)
        attrs = span["attributes"]
        assert span["kind"] == CLIENT_KIND
        assert span["name"] == f"{_OPERATION[route(record)]} {body['model']}"
        assert attrs[semconv.GEN_AI_REQUEST_MODEL] == body["model"]
        assert attrs[semconv.SERVER_ADDRESS] == "api.openai.com"
        assert attrs[semconv.SERVER_PORT] == 443
        assert attrs[semconv.LLM_LATENCY_MS] > 0
        prompt = events(span, semconv.EVENT_CONTENT_PROMPT)
        assert _decoded(prompt[0][semconv.GEN_AI_PROMPT]) == _prompt_sent(record)
        if status(record) >= 400:
            assert error is not None
            kind = type(error)
            assert span["status"]["code"] == "ERROR"
            assert attrs[semconv.ERROR_TYPE] == f"{kind.__module__}.{kind.__qualname__}"
            assert events(span, semconv.EVENT_EXCEPTION)
            continue
        assert error is None
        assert span["status"]["code"] == "UNSET"
        expected = expected_from_cassette(record)
        usage = expected.pop("usage")
        for key, value in expected.items():
            assert attrs.get(key) == value, key
        assert_usage(span, usage)
        if body.get("stream"):
            assert attrs[semconv.LLM_STREAMING] is True
            assert attrs[semconv.LLM_CHUNKS_COUNT] > 0
            assert attrs[semconv.LLM_TIME_TO_FIRST_TOKEN_MS] >= 0
        if route(record) != "/embeddings":
            assert events(span, semconv.EVENT_CONTENT_COMPLETION)
