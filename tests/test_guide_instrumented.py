"""The guide's auto-instrumentation and decorator snippets, run verbatim.

The snippets construct real clients with a placeholder API key and no base URL. They run
unmodified in a fresh interpreter whose environment points the clients at the bundled fake
provider (``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL``, which both clients honour), exactly
as a user would point them at a proxy. Like the manual ones, they are skipped when the guide
(``../shared/spec/``) is absent, and fail then under ``CI=true``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import noveum_trace

from .test_guide_manual import guide_block


@pytest.fixture(scope="module")
def provider() -> Any:
    from noveum_trace.testing.fake_provider import FakeProvider

    with FakeProvider() as fake:
        yield fake


def run_snippet(tmp_path: Path, provider: Any, code: str) -> list[dict[str, Any]]:
    script = tmp_path / "snippet.py"
    script.write_text(code)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(noveum_trace.__file__).parents[1]),
        "OPENAI_BASE_URL": provider.openai_base_url,
        "ANTHROPIC_BASE_URL": provider.anthropic_base_url,
    }
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    return list(noveum_trace.read_traces(tmp_path / "traces"))


def test_openai_integration_snippet(tmp_path: Path, provider: Any) -> None:
    spans = run_snippet(tmp_path, provider, guide_block("OpenAI Integration"))
    (span,) = spans
    attrs = span["attributes"]
    assert span["service_name"] == "openai-app"
    assert span["name"] == "chat gpt-3.5-turbo"
    assert span["kind"] == 3  # CLIENT
    assert attrs["gen_ai.system"] == "openai" and attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "gpt-3.5-turbo"
    assert attrs["gen_ai.request.temperature"] == 0.7
    assert attrs["gen_ai.request.max_tokens"] == 150
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.usage.total_tokens"] == (
        attrs["gen_ai.usage.input_tokens"] + attrs["gen_ai.usage.output_tokens"]
    )
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["llm.latency_ms"] > 0
    assert attrs["gen_ai.usage.cost"] > 0  # gpt-3.5-turbo is in the price table
    prompt = next(e for e in span["events"] if e["name"] == "gen_ai.content.prompt")
    assert "What is machine learning?" in prompt["attributes"]["gen_ai.prompt"]
    text = "".join(p.read_text() for p in (tmp_path / "traces").glob("*.jsonl"))
    assert "your-api-key" not in text  # the client's key never reaches a file


def test_anthropic_integration_snippet(tmp_path: Path, provider: Any) -> None:
    spans = run_snippet(tmp_path, provider, guide_block("Anthropic Integration"))
    (span,) = spans  # one LLM span per call, even with the client's own OpenTelemetry support
    attrs = span["attributes"]
    assert span["service_name"] == "anthropic-app"
    assert span["name"] == "chat claude-3-haiku-20240307"
    assert attrs["gen_ai.system"] == "anthropic" and attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.max_tokens"] == 150
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert attrs["gen_ai.usage.cost"] > 0
    prompt = next(e for e in span["events"] if e["name"] == "gen_ai.content.prompt")
    assert "Explain quantum computing" in prompt["attributes"]["gen_ai.prompt"]
    text = "".join(p.read_text() for p in (tmp_path / "traces").glob("*.jsonl"))
    assert "your-api-key" not in text


def test_decorator_snippet(tmp_path: Path, provider: Any) -> None:
    spans = run_snippet(tmp_path, provider, guide_block("LLM Decorators"))
    by_model = {s["attributes"]["gen_ai.request.model"]: s for s in spans}
    assert set(by_model) == {"gpt-3.5-turbo", "claude-3-haiku"}
    ask, generate = by_model["gpt-3.5-turbo"], by_model["claude-3-haiku"]
    assert ask["name"] == "chat gpt-3.5-turbo"
    assert ask["attributes"]["gen_ai.system"] == "openai"
    assert generate["name"] == "completion claude-3-haiku"
    assert generate["attributes"]["gen_ai.operation.name"] == "completion"
    completion = next(e for e in ask["events"] if e["name"] == "gen_ai.content.completion")
    assert "Answer to: What is Python?" in completion["attributes"]["gen_ai.completion"]
