"""The guide's manual-tracing snippets, run verbatim from a copy of their text.

The guide lives in ``../shared/spec/`` beside the repository: without it these tests are
skipped (and fail under ``CI=true``), see ``shared_paths.guide_text``.

Each snippet runs in a fresh interpreter whose working directory is a temporary folder, so
the default ``./traces`` lands there; then the spans in the files are checked against what
the snippet implies.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import noveum_trace

from .shared_paths import guide_text


def guide_block(heading: str) -> str:
    """The first ```python block under ``## heading`` (or ``### heading``)."""
    text = guide_text()
    match = re.search(rf"^#+ {re.escape(heading)}\n(.*?)^```python\n(.*?)^```", text, re.S | re.M)
    assert match, f"no python block under heading {heading!r}"
    return match.group(2)


def run_blocks(tmp_path: Path, *code: str, expect_error: str | None = None) -> list[dict[str, Any]]:
    script = tmp_path / "snippet.py"
    script.write_text("\n".join(code))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(noveum_trace.__file__).parents[1])}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    if expect_error is None:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0 and expect_error in result.stderr, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return list(noveum_trace.read_traces(tmp_path / "traces"))


def only(spans: list[dict[str, Any]], service: str) -> list[dict[str, Any]]:
    return [span for span in spans if span["service_name"] == service]


def event(span: dict[str, Any], name: str) -> dict[str, Any]:
    found = [e for e in span["events"] if e["name"] == name]
    assert len(found) == 1, (name, span["events"])
    return found[0]["attributes"]


def test_manual_llm_tracing(tmp_path: Path) -> None:
    spans = run_blocks(tmp_path, guide_block("Manual LLM Tracing"))
    (span,) = spans
    prompt = "What is artificial intelligence?"
    response = f"Response to: {prompt}"
    assert span["name"] == "llm_call" and span["parent_span_id"] is None
    assert span["service_name"] == "custom-llm-app"
    attrs = span["attributes"]
    assert attrs["gen_ai.system"] == "custom"
    assert attrs["gen_ai.request.model"] == "custom-model"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.usage.input_tokens"] == len(prompt) // 4
    assert attrs["gen_ai.usage.output_tokens"] == len(response) // 4
    assert isinstance(attrs["llm.latency_ms"], float) and attrs["llm.latency_ms"] >= 0
    assert "gen_ai.usage.cost" not in attrs  # "custom-model" has no price: never guessed
    assert event(span, "gen_ai.content.prompt") == {"gen_ai.prompt": prompt}
    assert event(span, "gen_ai.content.completion") == {"gen_ai.completion": response}
    assert span["status"]["code"] == "UNSET"


def test_streaming_llm_calls(tmp_path: Path) -> None:
    # The guide's streaming block uses `time` without importing it: it relies on the import
    # made by the "Manual LLM Tracing" block above it, as a reader following the guide in
    # one session would have. Both blocks run, in document order, unmodified.
    spans = run_blocks(
        tmp_path, guide_block("Manual LLM Tracing"), guide_block("Streaming LLM Calls")
    )
    (span,) = only(spans, "streaming-app")
    chunks = ["Hello", " there!", " How", " can", " I", " help?"]
    attrs = span["attributes"]
    assert span["name"] == "streaming_llm_call"
    assert attrs["llm.streaming"] is True
    assert attrs["llm.chunks_count"] == 6
    assert attrs["gen_ai.usage.output_tokens"] == len("".join(chunks)) // 4
    chunk_events = [e for e in span["events"] if e["name"] == "gen_ai.content.chunk"]
    assert [e["attributes"]["gen_ai.completion.chunk"] for e in chunk_events] == chunks
    assert [e["attributes"]["chunk.index"] for e in chunk_events] == list(range(6))
    assert event(span, "gen_ai.content.completion") == {"gen_ai.completion": "".join(chunks)}
    assert event(span, "gen_ai.content.prompt") == {"gen_ai.prompt": "Tell me a short story"}
    assert span["duration_ms"] >= 500  # six 0.1 s sleeps happened inside the span


def test_error_handling_records_and_reraises(tmp_path: Path) -> None:
    call = textwrap.dedent(
        """
        try:
            safe_llm_call("hello")
        except NameError as exc:
            print("re-raised:", exc)
            raise
        """
    )
    spans = run_blocks(tmp_path, guide_block("Error Handling"), call, expect_error="NameError")
    (span,) = spans
    attrs = span["attributes"]
    assert span["name"] == "llm_call"
    assert span["status"] == {"code": "ERROR", "message": "name 'call_llm_api' is not defined"}
    assert attrs["error.type"] == "NameError"
    assert attrs["error.message"] == "name 'call_llm_api' is not defined"
    # recorded by the snippet; not recorded a second time as it escapes the `with` block
    (exception,) = [e for e in span["events"] if e["name"] == "exception"]
    assert exception["attributes"]["exception.type"] == "NameError"
    assert "call_llm_api" in exception["attributes"]["exception.stacktrace"]
    assert not any(e["name"] == "gen_ai.content.completion" for e in span["events"])


def test_multi_turn_conversation(tmp_path: Path) -> None:
    spans = run_blocks(tmp_path, guide_block("Multi-Turn Conversations"))
    turns = sorted(
        (s for s in spans if s["name"] == "conversation_turn"),
        key=lambda s: s["attributes"]["conversation.turn"],
    )
    calls = {s["parent_span_id"]: s for s in spans if s["name"] == "llm_call"}
    assert len(spans) == 4 and len(turns) == 2
    expected = [
        ("Hello!", "Hi there! How can I help you?"),
        ("What's the weather?", "I don't have access to weather data."),
    ]
    for number, (turn, (user, assistant)) in enumerate(zip(turns, expected, strict=True), start=1):
        assert turn["parent_span_id"] is None
        assert turn["attributes"] == {"conversation.id": "conv_123", "conversation.turn": number}
        call = calls[turn["span_id"]]
        assert call["trace_id"] == turn["trace_id"]
        assert call["attributes"]["conversation.turn"] == number
        assert call["attributes"]["gen_ai.usage.input_tokens"] == len(user) // 4
        assert call["attributes"]["gen_ai.usage.output_tokens"] == len(assistant) // 4
        assert event(call, "gen_ai.content.prompt") == {"gen_ai.prompt": user}
        assert event(call, "gen_ai.content.completion") == {"gen_ai.completion": assistant}
    assert turns[0]["trace_id"] != turns[1]["trace_id"]


def test_batch_processing(tmp_path: Path) -> None:
    spans = run_blocks(tmp_path, guide_block("Batch Processing"))
    (batch,) = [s for s in spans if s["name"] == "batch_llm_processing"]
    items = sorted(
        (s for s in spans if s["name"].startswith("batch_item_")), key=lambda s: s["name"]
    )
    prompts = ["What is AI?", "Explain ML", "Define NLP"]
    assert [s["name"] for s in items] == ["batch_item_0", "batch_item_1", "batch_item_2"]
    total = 0
    for index, (item, prompt) in enumerate(zip(items, prompts, strict=True)):
        assert item["parent_span_id"] == batch["span_id"] and item["trace_id"] == batch["trace_id"]
        inp, out = len(prompt) // 4, len(f"Response to: {prompt}") // 4
        total += inp + out
        assert item["attributes"]["batch.item_index"] == index
        assert item["attributes"]["gen_ai.usage.input_tokens"] == inp
        assert item["attributes"]["gen_ai.usage.output_tokens"] == out
    attrs = batch["attributes"]
    assert attrs["batch.size"] == 3 and attrs["batch.id"] == "batch_123"
    assert attrs["batch.total_tokens"] == total
    assert attrs["batch.avg_tokens_per_item"] == pytest.approx(total / 3)


def test_performance_monitoring(tmp_path: Path) -> None:
    spans = run_blocks(tmp_path, guide_block("Performance Monitoring"))
    (span,) = spans
    attrs = span["attributes"]
    assert span["name"] == "monitored_llm_call"
    assert attrs["llm.time_to_first_token_ms"] >= 500
    assert attrs["llm.latency_ms"] >= attrs["llm.time_to_first_token_ms"] + 300
    assert attrs["llm.tokens_per_second"] == pytest.approx(50 / (attrs["llm.latency_ms"] / 1000))
    names = [e["name"] for e in span["events"]]
    assert names == ["llm.request_start", "llm.first_token", "llm.request_complete"]
    first = span["events"][1]["attributes"]
    assert first["ttft_ms"] == pytest.approx(attrs["llm.time_to_first_token_ms"])
    assert span["duration_ms"] >= 800
