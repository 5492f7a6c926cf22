"""`noveum-trace demo` end to end (real clients, fake provider, real trace files), then every
view on what it wrote. Needs the fake provider and both instrumentations; skipped without.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import noveum_trace
from tests.test_cli import cli, ok

SCENARIOS = [
    "openai: chat call",
    "openai: streamed call",
    "openai: tool call",
    "openai: error, caught",
    "anthropic: chat call",
    "anthropic: streamed call",
    "anthropic: tool call",
    "anthropic: error, caught",
    "openai: multi-turn conversation",
    "anthropic: batch of 3",
    "openai: decorated function",
    "anthropic: decorated function",
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    directory = tmp_path_factory.mktemp("demo") / "traces"
    return directory, cli("demo", "--log-directory", directory)


@pytest.fixture(scope="module")
def spans(demo: tuple[Path, Any]) -> list[dict[str, Any]]:
    return list(noveum_trace.read_traces(demo[0]))


def test_demo_runs_every_scenario_and_shows_the_result(demo: tuple[Path, Any]) -> None:
    directory, result = demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    out = result.stdout
    for title in SCENARIOS:
        assert f"✓ {title}" in out, title
    assert "✗" not in out
    assert f"traces written to {directory}" in out
    # the tree: a conversation of three turns, each with its call; a batch of three items
    conversation = out[out.index("conversation ") :]
    assert conversation.count("conversation_turn") >= 3
    assert all(f"batch_item_{i}" in out for i in range(3))
    assert out.count("ERROR") >= 2  # the two caught errors, with the provider's message
    assert "Rate limit" in out or "rate limit" in out
    # the summary
    assert "gpt-4o-mini" in out and "claude-3-5-haiku-20241022" in out
    assert "latency of" in out and "│" in out
    assert out.rstrip().splitlines()[-1].startswith(f"  noveum-trace ui {directory}")


def test_demo_trace_files_hold_the_llm_details(spans: list[dict[str, Any]]) -> None:
    models = Counter(s["attributes"].get("gen_ai.request.model") for s in spans)
    assert models["gpt-4o-mini"] >= 5 and models["claude-3-5-haiku-20241022"] >= 5
    assert {s["service_name"] for s in spans} == {"noveum-demo"}
    streamed = [s for s in spans if "llm.time_to_first_token_ms" in s["attributes"]]
    assert len(streamed) >= 2
    assert any(s["attributes"].get("gen_ai.usage.cache_read.input_tokens") for s in spans)
    errors = [s for s in spans if s["status"]["code"] == "ERROR"]
    assert len({s["trace_id"] for s in errors}) >= 2


def test_show_on_demo_output(demo: tuple[Path, Any], spans: list[dict[str, Any]]) -> None:
    directory = demo[0]
    errors = ok("show", directory, "--errors")
    assert errors.count("● ") == len(
        {s["trace_id"] for s in spans if s["status"]["code"] == "ERROR"}
    )
    content = ok("show", directory, "--content", "--model", "gpt-4o-mini")
    assert "What is machine learning?" in content
    doc = json.loads(ok("show", directory, "--json", "--limit", "100"))
    assert sum(t["span_count"] for t in doc["traces"]) == len(spans)


def test_stats_on_demo_output(demo: tuple[Path, Any], spans: list[dict[str, Any]]) -> None:
    doc = json.loads(ok("stats", demo[0], "--json"))
    with_model = [s for s in spans if "gen_ai.request.model" in s["attributes"]]
    # a decorated function's span wraps its client call's span: one call, not two
    wrappers = {s["parent_span_id"] for s in with_model}
    calls = [s for s in with_model if s["span_id"] not in wrappers]
    assert doc["wrapper_spans"] == len(with_model) - len(calls) == 2
    expected = Counter(s["attributes"]["gen_ai.request.model"] for s in calls)
    assert {m["key"]: m["calls"] for m in doc["by_model"]} == dict(expected)
    tokens = sum(s["attributes"].get("gen_ai.usage.input_tokens", 0) for s in calls)
    assert doc["total"]["tokens_in"] == tokens > 0
    errors = Counter(
        s["attributes"]["gen_ai.request.model"] for s in calls if s["status"]["code"] == "ERROR"
    )
    assert {m["key"]: m["errors"] for m in doc["by_model"] if m["errors"]} == dict(errors)


def test_export_and_tail_on_demo_output(
    demo: tuple[Path, Any], spans: list[dict[str, Any]]
) -> None:
    rows = list(csv.DictReader(io.StringIO(ok("export", demo[0], "--format", "csv"))))
    assert len(rows) == len(spans)
    assert {row["span_id"] for row in rows} == {s["span_id"] for s in spans}
    assert len(ok("tail", demo[0], "--once").splitlines()) == len(spans)


def test_fake_provider_command_is_reachable() -> None:
    result = cli("fake-provider", "--help")
    assert result.returncode == 0, result.stderr
    assert "--port" in result.stdout


def test_demo_without_openai_runs_the_anthropic_scenarios(tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "openai"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError(\"No module named 'openai'\")\n")
    result = cli(
        "demo",
        "--log-directory",
        tmp_path / "traces",
        env={"PYTHONPATH": str(shim.parent)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "openai: skipped: the openai package is not installed" in result.stdout
    assert "pip install 'noveum-trace[openai]'" in result.stdout
    assert "✓ anthropic: multi-turn conversation" in result.stdout
    assert "✓ openai" not in result.stdout
