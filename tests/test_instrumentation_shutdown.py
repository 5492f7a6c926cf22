"""Calls the application still holds, unfinished, when the interpreter exits are written.

A streamed call the application stopped reading, a raw streaming response it never read and
a decorated generator it stopped iterating: at exit each span ends at its last activity,
marked ``noveum.ended_at_shutdown``, and reaches the trace file. Run in a subprocess that
really exits, against the fake provider in this process.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import noveum_trace
from noveum_trace import semconv
from noveum_trace.testing import FakeProvider

SCRIPT = """
import sys, time
import anthropic, openai
import noveum_trace
from noveum_trace.instrumentation import anthropic as ai, openai as oi, trace_llm_call

noveum_trace.init(service_name="exit-test", log_directory=sys.argv[1])
oi.instrument_openai()
ai.instrument_anthropic()
held = []

chat = openai.OpenAI(base_url=sys.argv[2], api_key="k", max_retries=0)
stream = chat.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "Count [fake:words=20]"}],
    stream=True,
)
chunks = iter(stream)
held += [stream, next(chunks), next(chunks)]  # the role-only chunk, then one word

claude = anthropic.Anthropic(base_url=sys.argv[3], api_key="k", max_retries=0)
raw = claude.messages.with_streaming_response.create(
    model="claude-3-haiku-20240307",
    max_tokens=64,
    messages=[{"role": "user", "content": "Hi"}],
    stream=True,
).__enter__()
held.append(raw)  # the body never read

@trace_llm_call(model="gpt-4o", name="generator")
def words():
    yield "one"
    yield "two"

generator = words()
held += [generator, next(generator)]

time.sleep(0.2)  # exit clearly later than the last activity
print(time.time_ns())
"""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def run(script: str, directory: Path, fake: FakeProvider) -> subprocess.CompletedProcess[str]:
    urls = (fake.openai_base_url, fake.anthropic_base_url)
    result = subprocess.run(
        [sys.executable, "-c", script, str(directory), *urls],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_calls_held_open_at_exit_are_written(tmp_path: Path, fake: FakeProvider) -> None:
    result = run(SCRIPT, tmp_path, fake)
    assert "dropped" not in result.stderr, result.stderr
    exited_after_ns = int(result.stdout.split()[-1])
    spans: dict[str, dict[str, Any]] = {
        span["name"]: span for span in noveum_trace.read_traces(tmp_path)
    }
    assert set(spans) == {"chat gpt-4o-mini", "chat claude-3-haiku-20240307", "generator"}
    for span in spans.values():
        assert span["attributes"][semconv.NOVEUM_ENDED_AT_SHUTDOWN] is True
        assert span["status"]["code"] == "UNSET"
        # ended at the last item delivered (or the response's arrival), not at exit
        assert span["end_time_unix_nano"] < exited_after_ns
    stream = spans["chat gpt-4o-mini"]["attributes"]
    assert stream[semconv.LLM_CHUNKS_COUNT] == 1
    assert stream[semconv.LLM_STREAMING] is True
    raw = spans["chat claude-3-haiku-20240307"]["attributes"]
    assert raw[semconv.LLM_STREAMING] is True
    generator = spans["generator"]
    assert generator["attributes"][semconv.LLM_CHUNKS_COUNT] == 1
    completion = [e for e in generator["events"] if e["name"] == semconv.EVENT_CONTENT_COMPLETION]
    assert completion[0]["attributes"][semconv.GEN_AI_COMPLETION] == "one"


def test_a_finished_call_is_not_marked(tmp_path: Path, fake: FakeProvider) -> None:
    script = SCRIPT.replace("held += [stream, next(chunks), next(chunks)]", "held += list(chunks)")
    run(script, tmp_path, fake)
    spans = {span["name"]: span for span in noveum_trace.read_traces(tmp_path)}
    assert semconv.NOVEUM_ENDED_AT_SHUTDOWN not in spans["chat gpt-4o-mini"]["attributes"]
    assert spans["generator"]["attributes"][semconv.NOVEUM_ENDED_AT_SHUTDOWN] is True
