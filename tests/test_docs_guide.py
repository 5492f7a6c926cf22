"""docs/guide.md runs as written: every python block, and the spans each one promises.

Each block runs unmodified in a fresh interpreter whose working directory is a temporary
folder (so ``./traces`` lands there), with ``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL``
pointing the real clients at the fake provider and placeholder API keys, as the guide tells a
reader to do offline. Then the spans in the trace files are checked against what the text
around the block says. Every block has a check (a block without one fails), and every GenAI
name and ``init()`` option the guide mentions must exist.
"""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import noveum_trace
from noveum_trace import semconv
from noveum_trace.testing import FakeProvider

from .shared_paths import REPO

GUIDE = REPO / "docs" / "guide.md"
OPENAI_KEY = "sk-guide-placeholder-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-guide-placeholder-0123456789"
CLIENT = 3  # OTLP SpanKind CLIENT


def python_blocks() -> dict[str, str]:
    """Each ```python block of the guide, by the heading it sits under (one block a heading)."""
    blocks: dict[str, str] = {}
    heading = ""
    lines = iter(GUIDE.read_text(encoding="utf-8").splitlines(keepends=True))
    for line in lines:
        if line.startswith("```"):
            body = "".join(iter(lambda: next(lines), "```\n"))  # up to the closing fence
            if line.rstrip() == "```python":
                assert heading not in blocks, f"two python blocks under {heading!r}"
                blocks[heading] = body
        elif line.startswith("#"):
            heading = line.lstrip("#").strip()
    return blocks


@dataclass
class Run:
    folder: Path
    stdout: str

    def spans(self, directory: str = "traces") -> list[dict[str, Any]]:
        return sorted(
            noveum_trace.read_traces(self.folder / directory),
            key=lambda s: s["start_time_unix_nano"],
        )

    def named(self, name: str, directory: str = "traces") -> list[dict[str, Any]]:
        return [s for s in self.spans(directory) if s["name"] == name]


CHECKS: dict[str, Callable[[Run], None]] = {}


def checks(heading: str) -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
    def register(check: Callable[[Run], None]) -> Callable[[Run], None]:
        CHECKS[heading] = check
        return check

    return register


@pytest.fixture(scope="module")
def fake() -> Any:
    with FakeProvider() as provider:
        yield provider


def run_block(tmp_path: Path, fake: FakeProvider, code: str) -> Run:
    (tmp_path / "example.py").write_text(code)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(noveum_trace.__file__).parents[1]),
        "OPENAI_BASE_URL": fake.openai_base_url,
        "ANTHROPIC_BASE_URL": fake.anthropic_base_url,
        "OPENAI_API_KEY": OPENAI_KEY,
        "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
    }
    result = subprocess.run(
        [sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "internal error" not in result.stderr, result.stderr
    for path in tmp_path.rglob("*.jsonl"):
        written = path.read_text()
        assert OPENAI_KEY not in written and ANTHROPIC_KEY not in written
    return Run(tmp_path, result.stdout)


@pytest.mark.parametrize("heading", list(python_blocks()))
def test_guide_block_runs_and_traces_what_it_says(
    heading: str, tmp_path: Path, fake: FakeProvider
) -> None:
    assert heading in CHECKS, f"the block under {heading!r} has no check in this file"
    CHECKS[heading](run_block(tmp_path, fake, python_blocks()[heading]))


def test_every_check_has_its_block() -> None:
    assert sorted(CHECKS) == sorted(python_blocks())


def test_every_genai_name_in_the_guide_is_one_we_write() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    names = set(re.findall(r"`((?:gen_ai|llm|error|exception|server|chunk)\.[a-z_.]+)`", text))
    ours = {value for value in vars(semconv).values() if isinstance(value, str)}
    assert len(names) > 30 and sorted(names - ours) == []


def test_every_init_option_in_the_guide_is_accepted(tmp_path: Path) -> None:
    prose = re.sub(r"^```python\n.*?^```", "", GUIDE.read_text(), flags=re.S | re.M)
    calls = sorted(set(re.findall(r"`init\(([^`]+)\)`", prose)))
    assert len(calls) >= 4, calls
    script = "import noveum_trace\n" + "".join(
        f"noveum_trace.init(file_export=False, {call})\n" for call in calls
    )
    (tmp_path / "options.py").write_text(script + "noveum_trace.shutdown()\n")
    result = subprocess.run(
        [sys.executable, "options.py"],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(noveum_trace.__file__).parents[1])},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


# --- what each block promises ---------------------------------------------------------------


def attrs_of(span: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = span["attributes"]
    return attributes


def event(span: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [e["attributes"] for e in span["events"] if e["name"] == name]
    assert len(found) == 1, (name, span["events"])
    return found[0]


def assert_usage(attrs: dict[str, Any]) -> None:
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert attrs["gen_ai.usage.total_tokens"] == (
        attrs["gen_ai.usage.input_tokens"] + attrs["gen_ai.usage.output_tokens"]
    )
    assert attrs["gen_ai.usage.cost"] > 0


@checks("Your first trace")
def _first_trace(run: Run) -> None:
    (span,) = run.spans()
    assert span["name"] == "load_menu" and span["service_name"] == "hello-tracing"
    assert span["parent_span_id"] is None and attrs_of(span) == {"menu.items": 12}
    assert run.stdout.startswith("load_menu ") and "{'menu.items': 12}" in run.stdout


@checks("OpenAI")
def _openai(run: Run) -> None:
    (span,) = run.spans()
    attrs = attrs_of(span)
    assert span["name"] == "chat gpt-4o-mini" and span["kind"] == CLIENT
    assert span["service_name"] == "recipe-bot"
    assert attrs["gen_ai.system"] == attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.temperature"] == 0.4
    assert attrs["gen_ai.request.max_tokens"] == 120
    assert attrs["gen_ai.response.id"].startswith("chatcmpl-")
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["llm.latency_ms"] > 0
    assert_usage(attrs)
    assert "lentils and spinach" in event(span, "gen_ai.content.prompt")["gen_ai.prompt"]
    completion = event(span, "gen_ai.content.completion")["gen_ai.completion"]
    assert completion == run.stdout.strip()


@checks("Anthropic")
def _anthropic(run: Run) -> None:
    (span,) = run.spans()  # one span per call, the client's own OpenTelemetry span included
    attrs = attrs_of(span)
    assert span["name"] == "chat claude-haiku-4-5" and span["service_name"] == "support-desk"
    assert attrs["gen_ai.system"] == attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.max_tokens"] == 200
    assert attrs["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert "gen_ai.usage.cache_read.input_tokens" in attrs
    assert attrs["gen_ai.system_prompt"] == "You answer customer questions in two sentences."
    assert_usage(attrs)
    assert "reset my router" in event(span, "gen_ai.content.prompt")["gen_ai.prompt"]
    completion = event(span, "gen_ai.content.completion")["gen_ai.completion"]
    assert completion == run.stdout.strip()


def assert_streamed(span: dict[str, Any], stdout: str) -> dict[str, Any]:
    attrs = attrs_of(span)
    assert attrs["llm.streaming"] is True and attrs["llm.chunks_count"] > 1
    assert attrs["llm.time_to_first_token_ms"] > 0
    assert attrs["gen_ai.response.time_to_first_chunk"] == pytest.approx(
        attrs["llm.time_to_first_token_ms"] / 1000
    )
    assert attrs["llm.tokens_per_second"] > 0
    assert_usage(attrs)
    assert event(span, "gen_ai.content.completion")["gen_ai.completion"] == stdout.strip()
    return attrs


@checks("Streaming and time to first token")
def _streaming(run: Run) -> None:
    (span,) = run.spans()
    assert span["name"] == "chat gpt-4o-mini"
    assert_streamed(span, run.stdout)
    assert not any(e["name"] == "gen_ai.content.chunk" for e in span["events"])  # off by default


@checks("One event per chunk")
def _chunk_events(run: Run) -> None:
    (span,) = run.spans()
    assert span["name"] == "chat claude-haiku-4-5"
    attrs = assert_streamed(span, run.stdout)
    chunks = [e["attributes"] for e in span["events"] if e["name"] == "gen_ai.content.chunk"]
    assert [c["chunk.index"] for c in chunks] == list(range(attrs["llm.chunks_count"]))
    assert "".join(c["gen_ai.completion.chunk"] for c in chunks) == run.stdout.strip()


@checks("A plain function")
def _decorated_function(run: Run) -> None:
    (span,) = run.spans()
    attrs = attrs_of(span)
    assert span["name"] == "chat acme-translate-1" and span["kind"] == CLIENT
    assert attrs["gen_ai.system"] == "acme" and attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "acme-translate-1"
    assert attrs["gen_ai.usage.input_tokens"] == 6 and attrs["gen_ai.usage.output_tokens"] == 4
    assert attrs["gen_ai.usage.cost"] == pytest.approx((6 * 0.5 + 4 * 1.5) / 1e6)
    assert "Hello everyone" in event(span, "gen_ai.content.prompt")["gen_ai.prompt"]
    assert "Bonjour tout le monde" in event(span, "gen_ai.content.completion")["gen_ai.completion"]
    assert run.stdout == "Bonjour tout le monde\n"


@checks("A generator that streams")
def _decorated_generator(run: Run) -> None:
    (span,) = run.spans()
    attrs = attrs_of(span)
    assert span["name"] == "chat acme-chat-2"
    assert attrs["llm.streaming"] is True and attrs["llm.chunks_count"] == 6
    assert attrs["llm.time_to_first_token_ms"] >= 45  # a 0.05 s sleep before the first piece
    text = "The Nile is the longest river."
    assert event(span, "gen_ai.content.completion") == {"gen_ai.completion": text}
    assert run.stdout == text + "\n"


@checks("Around an instrumented client")
def _decorator_around_client(run: Run) -> None:
    (outer,) = run.named("summarize_ticket")
    (inner,) = run.named("chat gpt-4o-mini")
    assert inner["parent_span_id"] == outer["span_id"] and inner["trace_id"] == outer["trace_id"]
    assert not any(key.startswith("gen_ai.usage.") for key in attrs_of(outer))
    assert_usage(attrs_of(inner))
    assert "printer on floor 3" in event(outer, "gen_ai.content.prompt")["gen_ai.prompt"]


@checks("Tracing calls by hand")
def _manual(run: Run) -> None:
    (span,) = run.spans()
    attrs = attrs_of(span)
    assert span["name"] == "chat house-llm-7b" and span["kind"] == CLIENT
    assert attrs["gen_ai.system"] == attrs["gen_ai.provider.name"] == "house"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.request.model"] == "house-llm-7b"
    assert attrs["gen_ai.request.max_tokens"] == 256
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["gen_ai.usage.input_tokens"] == 9 and attrs["gen_ai.usage.output_tokens"] == 12
    assert attrs["llm.latency_ms"] >= 0
    assert "gen_ai.usage.cost" not in attrs  # an unknown model: never a guessed price
    assert event(span, "gen_ai.content.prompt") == {"gen_ai.prompt": "What is a haiku?"}
    completion = event(span, "gen_ai.content.completion")["gen_ai.completion"]
    assert completion == run.stdout.strip()


@checks("A stream traced by hand")
def _manual_stream(run: Run) -> None:
    (span,) = run.spans()
    attrs = attrs_of(span)
    assert span["name"] == "chat house-llm-7b" and span["parent_span_id"] is None
    assert attrs["llm.streaming"] is True and attrs["llm.chunks_count"] == 4
    assert attrs["llm.time_to_first_token_ms"] >= 45
    assert span["duration_ms"] >= 4 * 45  # four 0.05 s pieces were read inside the span
    text = "Sure: one, two, three."
    assert event(span, "gen_ai.content.completion") == {"gen_ai.completion": text}
    assert run.stdout == text + "\n"


@checks("When things fail")
def _instrumented_error(run: Run) -> None:
    (span,) = run.spans()
    assert span["name"] == "chat gpt-model-that-does-not-exist"
    assert span["status"]["code"] == "ERROR" and "does not exist" in span["status"]["message"]
    assert attrs_of(span)["error.type"] == "openai.NotFoundError"
    assert event(span, "exception")["exception.type"] == "openai.NotFoundError"
    assert run.stdout == "The API answered 404\n"


@checks("Handling an error yourself")
def _handled_error(run: Run) -> None:
    (span,) = run.spans()
    message = "the model server did not answer within 30 s"
    assert span["status"] == {"code": "ERROR", "message": message}
    assert attrs_of(span)["error.type"] == "TimeoutError"
    exception = event(span, "exception")
    assert exception["exception.type"] == "TimeoutError"
    assert exception["exception.message"] == message
    assert run.stdout == "Sorry, please try again in a moment.\n"


@checks("Conversations over several turns")
def _conversation(run: Run) -> None:
    turns = run.named("conversation turn")
    calls = {s["parent_span_id"]: s for s in run.named("chat gpt-4o-mini")}
    assert len(turns) == 3 and len(calls) == 3
    assert len({turn["trace_id"] for turn in turns}) == 3  # one trace per turn
    inputs = []
    for number, turn in enumerate(turns, start=1):
        assert attrs_of(turn) == {
            "gen_ai.conversation.id": "trip-to-lisbon",
            "conversation.turn": number,
        }
        call = calls[turn["span_id"]]
        inputs.append(attrs_of(call)["gen_ai.usage.input_tokens"])
    assert inputs == sorted(set(inputs))  # the history grows every turn
    last_prompt = event(calls[turns[-1]["span_id"]], "gen_ai.content.prompt")["gen_ai.prompt"]
    assert all(q in last_prompt for q in ("visit Lisbon", "Which month", "And for food"))


@checks("Batches")
def _batch(run: Run) -> None:
    (batch,) = run.named("tag reviews")
    items = run.named("tag review")
    calls = run.named("chat gpt-4o-mini")
    assert attrs_of(batch) == {"batch.id": "reviews-monday", "batch.size": 5}
    assert sorted(attrs_of(item)["batch.item_index"] for item in items) == list(range(5))
    assert all(item["parent_span_id"] == batch["span_id"] for item in items)
    assert sorted(c["parent_span_id"] for c in calls) == sorted(i["span_id"] for i in items)
    assert {s["trace_id"] for s in [batch, *items, *calls]} == {batch["trace_id"]}
    for call in calls:
        assert_usage(attrs_of(call))
    assert len(run.stdout.splitlines()) == 5


@checks("Watching performance")
def _performance(run: Run) -> None:
    calls = [attrs_of(s) for s in run.spans("perf-traces")]
    assert len(calls) == 4 and all(c["llm.streaming"] for c in calls)
    latency = statistics.median(c["llm.latency_ms"] for c in calls)
    first = statistics.median(c["llm.time_to_first_token_ms"] for c in calls)
    tokens = sum(c["gen_ai.usage.total_tokens"] for c in calls)
    cost = sum(c["gen_ai.usage.cost"] for c in calls)
    # what the block printed is what the files hold
    assert run.stdout.splitlines() == [
        "4 calls",
        f"median latency:     {latency:.0f} ms",
        f"median first token: {first:.0f} ms",
        f"tokens:             {tokens}",
        f"cost:               ${cost:.6f}",
    ]


@checks("Is tracing keeping up?")
def _health(run: Run) -> None:
    spans = run.named("process order")
    assert sorted(attrs_of(s)["order.number"] for s in spans) == list(range(200))
    assert run.stdout == "written to files: 200\ndropped: {}\n"


@checks("Testing code that you trace")
def _testing(run: Run) -> None:
    # the block asserts on its own trace folder; it runs to the end only if they hold
    assert run.stdout == "the rate-limited call was traced as an error\n"
    assert not (run.folder / "traces").exists()
