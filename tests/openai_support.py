"""Shared pieces of the openai instrumentation tests: fixtures, span lookups and cassettes.

Cassettes (``../shared/cassettes/otel-contrib``) are replayed with vcrpy, matching on
method, scheme, host, port and path only (newer clients send other headers and bodies).
``expected_from_cassette`` reads what the recorded response itself says (model, id, usage,
finish reasons), so each test asserts the span against the response actually received.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import vcr
import yaml

from noveum_trace import semconv
from noveum_trace.instrumentation.openai import instrument_openai, uninstrument_openai
from noveum_trace.testing import FakeProvider

from .shared_paths import CASSETTES as SHARED_CASSETTES

CASSETTES = SHARED_CASSETTES / "otel-contrib"
CLIENT_KIND = 3  # OTLP SpanKind CLIENT
OPENAI_MAJOR = int(openai.__version__.split(".")[0])

replayer = vcr.VCR(
    record_mode="none",
    match_on=["method", "scheme", "host", "port", "path"],
)


# Fixtures: import the *_fixture names into a test module to use them there.
@pytest.fixture(name="instrumented")
def instrumented_fixture() -> Iterator[None]:
    instrument_openai()
    yield
    uninstrument_openai()


@pytest.fixture(name="fake", scope="module")
def fake_fixture() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def client(fake: FakeProvider, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.openai_base_url, api_key="test", max_retries=0, **options)


def async_client(fake: FakeProvider, **options: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=fake.openai_base_url, api_key="test", max_retries=0, **options
    )


def llm_spans(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [s for s in spans if s["attributes"].get(semconv.GEN_AI_SYSTEM) == "openai"]
    return sorted(found, key=lambda s: s["start_time_unix_nano"])


def one(spans: list[dict[str, Any]]) -> dict[str, Any]:
    found = llm_spans(spans)
    assert len(found) == 1, [s["name"] for s in found]
    return found[0]


def events(span: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e["attributes"] for e in span["events"] if e["name"] == name]


def usage_attributes(usage: Any) -> dict[str, int]:
    """The token attributes a recorded/received ``usage`` dictates, written out by hand."""
    if usage is None:
        return {}
    if not isinstance(usage, dict):
        usage = usage.model_dump()
    chat = "prompt_tokens" in usage
    details = usage.get("prompt_tokens_details" if chat else "input_tokens_details") or {}
    out_details = usage.get("completion_tokens_details" if chat else "output_tokens_details") or {}
    expected = {
        semconv.GEN_AI_USAGE_INPUT_TOKENS: usage["prompt_tokens" if chat else "input_tokens"],
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: usage.get(
            "completion_tokens" if chat else "output_tokens"
        ),
        semconv.GEN_AI_USAGE_TOTAL_TOKENS: usage.get("total_tokens"),
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: details.get("cached_tokens"),
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: out_details.get("reasoning_tokens"),
    }
    return {key: value for key, value in expected.items() if value is not None}


def usage_of(response: Any) -> dict[str, int]:
    """The token attributes a response's own ``usage`` dictates."""
    return usage_attributes(getattr(response, "usage", None))


def assert_usage(span: dict[str, Any], usage: dict[str, int]) -> None:
    attrs = span["attributes"]
    for key in (
        semconv.GEN_AI_USAGE_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
        semconv.GEN_AI_USAGE_TOTAL_TOKENS,
        semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    ):
        assert attrs.get(key) == usage.get(key), key


def output_chunks(items: list[Any]) -> list[Any]:
    """The stream items that carry model output: what ``llm.chunks_count`` counts.

    Chat: a non-empty content or refusal delta, or a tool-call delta, in any choice.
    Responses: an event whose type ends in ``.delta``.
    """

    def is_output(item: Any) -> bool:
        event_type = getattr(item, "type", None)
        if isinstance(event_type, str):
            return event_type.endswith(".delta")
        return any(
            choice.delta is not None
            and bool(
                choice.delta.content
                or choice.delta.tool_calls
                or getattr(choice.delta, "refusal", None)
            )
            for choice in item.choices
        )

    return [item for item in items if is_output(item)]


# ---- cassettes ------------------------------------------------------------------------


def cassette_paths() -> list[Path]:
    paths = sorted(CASSETTES.glob("*.yaml"))
    assert len(paths) == 21, f"expected the 21 otel-contrib cassettes in {CASSETTES}"
    return paths


def interactions(path: Path) -> list[dict[str, Any]]:
    data = yaml.safe_load(path.read_text())
    return list(data["interactions"])


def request_body(interaction: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(interaction["request"]["body"])
    return body


def route(interaction: dict[str, Any]) -> str:
    return str(interaction["request"]["uri"]).split("/v1", 1)[1]


def status(interaction: dict[str, Any]) -> int:
    return int(interaction["response"]["status"]["code"])


def _sse(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.startswith("data: ") and not line.startswith("data: [DONE]"):
            out.append(json.loads(line[len("data: ") :]))
    return out


def expected_from_cassette(interaction: dict[str, Any]) -> dict[str, Any]:
    """The attributes the recorded response dictates (usage, model, id, finish reasons)."""
    text = interaction["response"]["body"]["string"]
    path = route(interaction)
    if not text.lstrip().startswith("{"):  # a stream
        items = _sse(text)
        if path == "/responses":
            finals = [i["response"] for i in items if i.get("type") == "response.completed"]
            return _responses_expectation(finals[-1])
        expected: dict[str, Any] = {
            semconv.GEN_AI_RESPONSE_ID: items[0]["id"],
            semconv.GEN_AI_RESPONSE_MODEL: items[0]["model"],
        }
        reasons: dict[int, str] = {}
        usage = None
        for item in items:
            for choice in item.get("choices") or ():
                if choice.get("finish_reason"):
                    reasons[choice["index"]] = choice["finish_reason"]
            usage = item.get("usage") or usage
        if reasons:
            expected[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [reasons[i] for i in sorted(reasons)]
        expected["usage"] = usage_attributes(usage)
        return expected
    body = json.loads(text)
    if path == "/responses":
        return _responses_expectation(body)
    expected = {
        semconv.GEN_AI_RESPONSE_MODEL: body["model"],
        "usage": usage_attributes(body["usage"]),
    }
    if path == "/chat/completions":
        expected[semconv.GEN_AI_RESPONSE_ID] = body["id"]
        expected[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [
            c["finish_reason"] for c in body["choices"]
        ]
    return expected


def _responses_expectation(body: dict[str, Any]) -> dict[str, Any]:
    calls = [item for item in body["output"] if item["type"] == "function_call"]
    return {
        semconv.GEN_AI_RESPONSE_ID: body["id"],
        semconv.GEN_AI_RESPONSE_MODEL: body["model"],
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ["tool_calls" if calls else "stop"],
        "usage": usage_attributes(body["usage"]),
    }
