"""The round trip through a real backend: our spans into Arize Phoenix and back out of its API.

Needs a running Phoenix server (``bash .ci/phoenix.sh`` starts one and runs this file);
PHOENIX_URL (e.g. ``http://127.0.0.1:6006``) points at it. Without it every test here is
skipped, and ``.ci/phoenix.sh`` fails when that happens.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import noveum_trace
from noveum_trace import semconv
from noveum_trace.cli.send import main as send_main
from noveum_trace.instrumentation.openai import instrument_openai, uninstrument_openai
from noveum_trace.testing import FakeProvider

from .conftest import Traces

PHOENIX_URL = os.environ.get("PHOENIX_URL", "").rstrip("/")
pytestmark = pytest.mark.skipif(
    not PHOENIX_URL, reason="PHOENIX_URL is not set: run `bash .ci/phoenix.sh` for these tests"
)


def _get(path: str) -> Any:
    with urllib.request.urlopen(PHOENIX_URL + path, timeout=30) as response:
        return json.loads(response.read())


def _graphql(query: str) -> Any:
    request = urllib.request.Request(
        PHOENIX_URL + "/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["data"]


def phoenix_spans(project: str, expected: int) -> dict[str, dict[str, Any]]:
    """Poll until ``expected`` spans are readable (Phoenix ingests asynchronously)."""
    spans: list[dict[str, Any]] = []
    for _ in range(240):  # ingestion takes ~0.25 s; allow a very slow machine a minute
        try:
            spans = _get(f"/v1/projects/{project}/spans?limit=1000")["data"]
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404: the project is created with its first span
                raise
        if len(spans) >= expected:
            break
        time.sleep(0.25)
    assert len(spans) == expected, f"Phoenix holds {len(spans)} spans, expected {expected}"
    return {span["name"]: span for span in spans}


def phoenix_cost(project: str, span_name: str) -> float | None:
    data = _graphql(
        "{ projects { edges { node { name spans(first: 100) { edges { node "
        "{ name costSummary { total { cost } } } } } } } } }"
    )
    for project_edge in data["projects"]["edges"]:
        if project_edge["node"]["name"] == project:
            for edge in project_edge["node"]["spans"]["edges"]:
                if edge["node"]["name"] == span_name and edge["node"]["costSummary"]:
                    cost: float = edge["node"]["costSummary"]["total"]["cost"]
                    return cost
    return None


@pytest.fixture
def project() -> str:
    return f"noveum-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def _init(traces: Traces, project: str, **options: Any) -> None:
    options.setdefault("otlp_protocol", "http/protobuf")
    traces.init(
        otlp_endpoint=PHOENIX_URL,  # a base endpoint: /v1/traces is appended
        otlp_headers={"x-project-name": project},
        **options,
    )


def _otlp_stats() -> dict[str, int]:
    return dict(noveum_trace.get_stats()["exporters"]["otlp"])


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_manual_span_tree(traces: Traces, project: str, compression: str) -> None:
    _init(traces, project, otlp_compression=compression)
    tracer = noveum_trace.get_tracer("tests.phoenix")
    messages = [{"role": "user", "parts": [{"type": "text", "content": "Hello there"}]}]
    with tracer.start_as_current_span("workflow"):
        with tracer.start_as_current_span("chat gpt-4o", kind=noveum_trace.SpanKind.CLIENT) as llm:
            llm.set_attribute(semconv.GEN_AI_SYSTEM, semconv.PROVIDER_OPENAI)
            llm.set_attribute(semconv.GEN_AI_PROVIDER_NAME, semconv.PROVIDER_OPENAI)
            llm.set_attribute(semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_CHAT)
            llm.set_attribute(semconv.GEN_AI_REQUEST_MODEL, "gpt-4o")
            llm.set_attribute(semconv.GEN_AI_INPUT_MESSAGES, json.dumps(messages))
            llm.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, 1200)
            llm.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, 300)
        with pytest.raises(KeyError), tracer.start_as_current_span("lookup"):
            raise KeyError("missing")
    files = {span["name"]: span for span in traces.spans()}
    assert _otlp_stats()["exported"] == 3

    spans = phoenix_spans(project, 3)
    root, llm_span, failed = spans["workflow"], spans["chat gpt-4o"], spans["lookup"]
    for name, span in spans.items():  # same ids as the files: nothing re-encoded in base64
        assert span["context"]["trace_id"] == files[name]["trace_id"]
        assert span["context"]["span_id"] == files[name]["span_id"]
    assert root["parent_id"] is None
    assert llm_span["parent_id"] == failed["parent_id"] == root["context"]["span_id"]

    assert failed["status_code"] == "ERROR"
    assert failed["status_message"] == "KeyError: 'missing'"
    (event,) = failed["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "KeyError"
    assert "raise KeyError" in event["attributes"]["exception.stacktrace"]

    assert llm_span["span_kind"] == "LLM"  # Phoenix's own reading of gen_ai.*
    attributes = llm_span["attributes"]
    assert attributes["llm.model_name"] == "gpt-4o"
    assert attributes["llm.provider"] == "openai"
    assert attributes["llm.token_count.prompt"] == 1200
    assert attributes["llm.token_count.completion"] == 300
    assert attributes["llm.token_count.total"] == 1500
    assert attributes["llm.input_messages.0.message.role"] == "user"  # parts-based messages
    assert attributes["llm.input_messages.0.message.content"] == "Hello there"
    ours = files["chat gpt-4o"]["attributes"][semconv.GEN_AI_USAGE_COST]
    assert attributes[semconv.GEN_AI_USAGE_COST] == pytest.approx(ours)
    assert phoenix_cost(project, "chat gpt-4o") == pytest.approx(ours)  # its prices agree


def test_instrumented_openai_call(traces: Traces, project: str, fake: FakeProvider) -> None:
    _init(traces, project, semconv_latest=True)
    instrument_openai()
    try:
        client = openai.OpenAI(base_url=fake.openai_base_url, api_key="test", max_retries=0)
        with noveum_trace.get_tracer().start_as_current_span("agent turn"):
            reply = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "What is OTLP?"},
                ],
            )
    finally:
        uninstrument_openai()
    files = {span["name"]: span for span in traces.spans()}
    llm_name = next(name for name in files if name != "agent turn")
    assert reply.usage is not None

    spans = phoenix_spans(project, 2)
    llm_span, root = spans[llm_name], spans["agent turn"]
    assert llm_span["parent_id"] == root["context"]["span_id"]
    assert llm_span["context"]["trace_id"] == files[llm_name]["trace_id"]
    assert llm_span["span_kind"] == "LLM"
    assert llm_span["status_code"] != "ERROR"
    attributes = llm_span["attributes"]
    assert attributes["llm.model_name"] == "gpt-4o-mini"
    assert attributes["llm.token_count.prompt"] == reply.usage.prompt_tokens
    assert attributes["llm.token_count.completion"] == reply.usage.completion_tokens
    assert attributes[semconv.GEN_AI_RESPONSE_ID] == reply.id
    assert attributes["llm.input_messages.0.message.role"] == "system"
    assert attributes["llm.input_messages.0.message.content"] == "Be brief."
    assert attributes["llm.input_messages.1.message.content"] == "What is OTLP?"
    assert attributes["llm.output_messages.0.message.role"] == "assistant"
    assert attributes["llm.output_messages.0.message.content"] == reply.choices[0].message.content
    cost = files[llm_name]["attributes"].get(semconv.GEN_AI_USAGE_COST)
    if cost is not None:
        assert phoenix_cost(project, llm_name) == pytest.approx(cost)


def test_http_json_is_refused_by_phoenix_and_not_retried(traces: Traces, project: str) -> None:
    _init(traces, project, otlp_protocol="http/json", file_export=False)
    with noveum_trace.get_tracer().start_span("json"):
        pass
    assert noveum_trace.flush(30)
    stats = _otlp_stats()
    assert stats["failed"] == 1  # HTTP 415: Phoenix takes protobuf only
    assert stats["retried"] == 0 and stats["exported"] == 0


def test_send_ships_offline_files(traces: Traces, project: str) -> None:
    traces.init()  # files only, as in an air-gapped run
    tracer = noveum_trace.get_tracer()
    with tracer.start_as_current_span("offline root"), tracer.start_as_current_span("step"):
        pass
    files = {span["name"]: span for span in traces.spans()}
    args = [
        str(traces.directory),
        "--endpoint",
        PHOENIX_URL,
        "--headers",
        f"x-project-name={project}",
        "--quiet",
    ]
    assert send_main(args) == 0
    assert send_main(args) == 0  # resumed: nothing sent twice
    spans = phoenix_spans(project, 2)
    assert spans["step"]["parent_id"] == files["offline root"]["span_id"]
    assert spans["step"]["context"]["trace_id"] == files["step"]["trace_id"]
