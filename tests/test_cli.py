"""The `noveum-trace` views on trace files written here, run as a subprocess.

The files are built by hand in the OTLP/JSON mapping (the format docs/internals.md fixes), so
times, errors and torn lines are exactly what each test needs.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from noveum_trace.cli.show import collect
from noveum_trace.cli.source import Progress, SpanFilter
from noveum_trace.cli.tail import Follower

T0 = 1_768_471_200_000_000_000  # 2026-01-15T10:00:00Z
MS = 1_000_000


def _value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_value(item) for item in value]}}
    return {"stringValue": value}


def _attrs(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": _value(value)} for key, value in values.items()]


def span(
    trace: int,
    span_id: int,
    name: str,
    start_ms: float,
    duration_ms: float,
    parent: int | None = None,
    attrs: dict[str, Any] | None = None,
    events: list[tuple[str, dict[str, Any]]] = (),  # type: ignore[assignment]
    error: str | None = None,
) -> dict[str, Any]:
    start = T0 + int(start_ms * MS)
    record: dict[str, Any] = {
        "traceId": f"{trace:032x}",
        "spanId": f"{span_id:016x}",
        "name": name,
        "kind": 3 if attrs and "gen_ai.request.model" in attrs else 1,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + int(duration_ms * MS)),
        "attributes": _attrs(attrs or {}),
        "events": [
            {"name": n, "timeUnixNano": str(start), "attributes": _attrs(a)} for n, a in events
        ],
        "status": {"code": 2, "message": error} if error else {},
    }
    if parent is not None:
        record["parentSpanId"] = f"{parent:016x}"
    return record


def line(service: str, spans: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "resourceSpans": [
                {
                    "resource": {"attributes": _attrs({"service.name": service})},
                    "scopeSpans": [{"scope": {"name": "test"}, "spans": spans}],
                }
            ]
        }
    )


def llm(model: str, tokens_in: int, tokens_out: int, **extra: Any) -> dict[str, Any]:
    return {
        "gen_ai.system": "openai",
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": tokens_in,
        "gen_ai.usage.output_tokens": tokens_out,
        **extra,
    }


def sample_lines() -> list[str]:
    """Three traces: a conversation (app), a failed call (app), a batch (worker)."""
    prompt = ("gen_ai.content.prompt", {"gen_ai.prompt": "What is machine learning?"})
    answer = ("gen_ai.content.completion", {"gen_ai.completion": "A kind of AI."})
    turn1 = llm("gpt-4o-mini", 12, 40, **{"gen_ai.usage.cost": 0.000123})
    turn2 = llm("gpt-4o-mini", 30, 8, **{"llm.time_to_first_token_ms": 81.5})
    turn2["gen_ai.usage.cache_read.input_tokens"] = 16
    return [
        # children are written before their parents, as the SDK does
        line(
            "app",
            [
                span(1, 2, "chat gpt-4o-mini", 10, 400, 1, turn1, [prompt, answer]),
                span(1, 3, "chat gpt-4o-mini", 420, 200, 1, turn2),
            ],
        ),
        line("app", [span(1, 1, "conversation", 0, 700)]),
        line(
            "app",
            [
                span(
                    2,
                    4,
                    "chat claude-3-haiku",
                    60_000,
                    50,
                    attrs={"gen_ai.request.model": "claude-3-haiku", "error.type": "429"},
                    error="Rate limit exceeded",
                )
            ],
        ),
        line(
            "worker",
            [
                span(3, 10 + i, f"batch_item_{i}", 120_000 + i, 30, 9, llm("gpt-4o", 5, 5))
                for i in range(3)
            ]
            + [span(3, 9, "batch_llm_processing", 120_000, 100)],
        ),
    ]


def write(path: Path, lines: list[str], torn: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(item + "\n" for item in lines) + (torn or "")
    path.write_text(text)
    return path


@pytest.fixture
def traces_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "traces"
    write(directory / "traces-app-1-20260115T100000.jsonl", sample_lines())
    return directory


def cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "noveum_trace.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def ok(*args: str | Path, **kwargs: Any) -> str:
    result = cli(*args, **kwargs)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("noveum-trace: error: "), lines[0]
    assert needle in lines[0]


# --- show --------------------------------------------------------------------------------


def test_show_prints_each_trace_as_a_tree_with_llm_details(traces_dir: Path) -> None:
    out = ok("show", traces_dir)
    assert "\x1b[" not in out  # piped: plain text
    lines = out.splitlines()
    conversation = next(i for i, text in enumerate(lines) if "conversation" in text)
    first, second = lines[conversation + 1], lines[conversation + 2]
    assert first.lstrip().startswith("├─ chat gpt-4o-mini")
    assert second.lstrip().startswith("└─ chat gpt-4o-mini")
    assert "400.0ms" in first and "in 12 out 40" in first and "$0.000123" in first
    assert "in 30 out 8 cached 16" in second and "ttft 81.5ms" in second
    error_line = next(text for text in lines if "chat claude-3-haiku" in text)
    assert "ERROR Rate limit exceeded" in error_line
    # oldest first, the newest at the bottom; traces by id in their headers
    headers = [text for text in lines if text.startswith("●")]
    assert [h.split()[2][-1] for h in headers] == ["1", "2", "3"]
    assert "app" in headers[0] and "3 spans" in headers[0] and "1 error" in headers[1]
    assert "worker" in headers[2] and "4 spans" in headers[2]
    # children in start order under their parent
    batch = out[out.index("batch_llm_processing") :]
    assert batch.index("batch_item_0") < batch.index("batch_item_1") < batch.index("batch_item_2")


def test_show_filters(traces_dir: Path) -> None:
    assert "claude" in ok("show", traces_dir, "--errors")
    assert "conversation" not in ok("show", traces_dir, "--errors")
    worker = ok("show", traces_dir, "--service", "work*")
    assert "batch_llm_processing" in worker and "conversation" not in worker
    by_model = ok("show", traces_dir, "--model", "gpt-4o-m*")
    assert "conversation" in by_model and "batch" not in by_model and "claude" not in by_model
    by_id = ok("show", traces_dir, "--trace-id", f"{3:032x}".upper())
    assert "batch_llm_processing" in by_id and by_id.count("● ") == 1
    newest = ok("show", traces_dir, "--limit", "1")
    assert newest.count("● ") == 1 and "batch_llm_processing" in newest
    window = ok(
        "show", traces_dir, "--since", "2026-01-15T10:00:30Z", "--until", "2026-01-15T10:01:30Z"
    )
    assert "claude" in window and window.count("● ") == 1
    # relative times count back from now; the files are from January 2026
    assert ok("show", traces_dir, "--until", "30s").count("● ") == 3
    assert ok("show", traces_dir, "--since", "1w") == ""
    nothing = cli("show", traces_dir, "--model", "no-such-model")
    assert nothing.returncode == 0 and nothing.stdout == ""
    assert "no traces match" in nothing.stderr


def test_show_content_only_when_asked(traces_dir: Path) -> None:
    assert "What is machine learning?" not in ok("show", traces_dir)
    out = ok("show", traces_dir, "--content")
    assert "prompt: What is machine learning?" in out
    assert "completion: A kind of AI." in out


def test_show_json_nests_children_and_hides_content(traces_dir: Path) -> None:
    doc = json.loads(ok("show", traces_dir, "--json"))
    assert [t["trace_id"][-1] for t in doc["traces"]] == ["1", "2", "3"]
    (root,) = doc["traces"][0]["spans"]
    assert root["name"] == "conversation"
    assert [child["name"] for child in root["children"]] == ["chat gpt-4o-mini"] * 2
    first = root["children"][0]
    assert first["attributes"]["gen_ai.usage.input_tokens"] == 12
    assert first["events"][0]["attributes"] == {}
    assert doc["traces"][1]["error_count"] == 1
    with_content = json.loads(ok("--json", "show", traces_dir, "--content"))  # global form
    event = with_content["traces"][0]["spans"][0]["children"][0]["events"][0]
    assert event["attributes"] == {"gen_ai.prompt": "What is machine learning?"}


def test_colour_only_when_asked_or_on_a_terminal(traces_dir: Path) -> None:
    coloured = ok("show", traces_dir, "--color", "always")
    assert "\x1b[31" in coloured  # the error in red
    assert "\x1b[" not in ok("show", traces_dir, env={"NO_COLOR": "1"})


# --- stats -------------------------------------------------------------------------------


def test_stats_per_model_and_service(traces_dir: Path) -> None:
    out = ok("stats", traces_dir)
    rows = {text.split()[0]: text.split() for text in out.splitlines() if text.strip()}
    assert rows["gpt-4o-mini"][1:8] == ["2", "0", "(0.0%)", "42", "48", "16", "$0.000123"]
    assert rows["claude-3-haiku"][1:4] == ["1", "1", "(100.0%)"]
    assert rows["gpt-4o"][1:2] == ["3"]
    assert rows["app"][1:4] == ["3", "1", "(33.3%)"] and rows["worker"][1] == "3"
    assert "latency of 6 LLM calls" in out
    assert "█" in out


def test_stats_json_quantiles(tmp_path: Path) -> None:
    spans = [span(7, i + 1, "call", i * 10, float(i + 1), attrs=llm("m", 1, 1)) for i in range(100)]
    path = write(tmp_path / "t" / "a.jsonl", [line("svc", spans[:50]), line("svc", spans[50:])])
    doc = json.loads(ok("stats", path.parent, "--json"))
    (model,) = doc["by_model"]
    assert model["key"] == "m" and model["calls"] == 100
    assert model["latency_ms"] == pytest.approx({"p50": 50.5, "p95": 95.05, "p99": 99.01})
    assert model["ttft_ms"] is None and model["cost_usd"] is None
    assert sum(b["count"] for b in doc["latency_histogram_ms"]) == 100
    assert doc["total"]["tokens_in"] == 100


# --- export ------------------------------------------------------------------------------


def test_export_flat_jsonl(traces_dir: Path) -> None:
    rows = [json.loads(text) for text in ok("export", traces_dir).splitlines()]
    assert len(rows) == 8
    call = next(row for row in rows if row["span_id"] == f"{2:016x}")
    assert call["attr.gen_ai.request.model"] == "gpt-4o-mini"
    assert call["attr.gen_ai.usage.input_tokens"] == 12
    assert call["parent_span_id"] == f"{1:016x}" and call["service"] == "app"
    assert call["start_time"] == "2026-01-15T10:00:00.010000Z" and call["duration_ms"] == 400
    assert call["events"][0]["name"] == "gen_ai.content.prompt"
    errors = [json.loads(t) for t in ok("export", traces_dir, "--errors").splitlines()]
    assert [row["status_message"] for row in errors] == ["Rate limit exceeded"]


def test_export_csv_to_a_file(traces_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "spans.csv"
    result = cli("export", traces_dir, "--format", "csv", "-o", target)
    assert result.returncode == 0 and "wrote 8 spans" in result.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(rows) == 8
    assert {"attr.gen_ai.request.model", "resource.service.name", "events"} <= set(rows[0])
    failed = next(row for row in rows if row["status_code"] == "ERROR")
    assert failed["attr.error.type"] == "429" and failed["attr.gen_ai.usage.input_tokens"] == ""


# --- tail --------------------------------------------------------------------------------


def test_tail_once_prints_the_spans_already_there(traces_dir: Path) -> None:
    out = ok("tail", traces_dir, "--once")
    assert len(out.splitlines()) == 8
    assert "ERROR Rate limit exceeded" in out
    spans = [json.loads(t) for t in ok("tail", traces_dir, "--once", "--json").splitlines()]
    assert len(spans) == 8 and all("trace_id" in s for s in spans)


def test_tail_follows_appends_and_new_files_until_ctrl_c(tmp_path: Path) -> None:
    directory = tmp_path / "live"
    first = write(directory / "traces-app-1-x.jsonl", [line("app", [span(1, 1, "first", 0, 1)])])
    # --max-seconds only guards against a hang; the test stops it with Ctrl-C (SIGINT).
    command = ["tail", directory, "--from-start", "--interval", "0.05", "--max-seconds", "600"]
    process = subprocess.Popen(
        [sys.executable, "-m", "noveum_trace.cli", *map(str, command)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert "first" in process.stdout.readline()  # it is running; now the live part
    with first.open("a") as handle:
        handle.write(line("app", [span(1, 2, "second", 5, 1)]) + "\n")
    write(directory / "traces-app-1-x.1.jsonl", [line("app", [span(1, 3, "rotated", 9, 1)])])
    seen = {process.stdout.readline().split()[4], process.stdout.readline().split()[4]}
    assert seen == {"second", "rotated"}
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate()
    assert process.returncode == 0, errors
    assert rest == "" and errors == ""


def test_tail_waits_for_a_missing_directory(tmp_path: Path) -> None:
    directory = tmp_path / "traces"  # the application has not written yet
    # --max-seconds only bounds a hang; the test stops it with Ctrl-C (SIGINT).
    command = ["tail", directory, "--interval", "0.05", "--max-seconds", "600"]
    process = subprocess.Popen(
        [sys.executable, "-m", "noveum_trace.cli", *map(str, command)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    notice = process.stderr.readline()  # it is running, and says what it waits for
    assert f"{directory} does not exist yet; waiting for it" in notice, notice
    app = (
        "import noveum_trace\n"
        f"noveum_trace.init(service_name='late', log_directory={str(directory)!r})\n"
        "with noveum_trace.get_tracer().start_span('arrived'):\n"
        "    pass\n"
    )
    subprocess.run([sys.executable, "-c", app], check=True)  # creates it and writes at exit
    assert "arrived" in process.stdout.readline().split()
    process.send_signal(signal.SIGINT)
    rest, errors = process.communicate()
    assert process.returncode == 0, errors
    assert rest == "" and errors == ""


def test_follower_waits_for_complete_lines_and_follows_renames(tmp_path: Path) -> None:
    directory = tmp_path / "live"
    current = write(directory / "a.jsonl", [line("app", [span(1, 1, "old", 0, 1)])])
    follower = Follower(str(directory), from_start=False)
    assert list(follower.poll()) == []  # starts at the end
    second = line("app", [span(1, 2, "second", 1, 1)])
    with current.open("a") as handle:
        handle.write(second[:40])  # the writer is mid-line
    assert list(follower.poll()) == []
    with current.open("a") as handle:
        handle.write(second[40:] + "\n")
    assert [s["name"] for s in follower.poll()] == ["second"]
    current.rename(directory / "a.1.jsonl")  # rotation by rename: keeps its place
    with (directory / "a.1.jsonl").open("a") as handle:
        handle.write(line("app", [span(1, 3, "late", 2, 1)]) + "\n")
    write(current, [line("app", [span(1, 4, "fresh", 3, 1)])])
    assert sorted(s["name"] for s in follower.poll()) == ["fresh", "late"]
    assert list(follower.poll()) == []


# --- bad input ---------------------------------------------------------------------------


def test_missing_path(tmp_path: Path) -> None:
    # `tail` without --once waits for the path instead (test_tail_waits_for_a_missing_directory)
    for command in ("show", "stats", "export", "tail --once"):
        one_line_error(cli(*command.split(), tmp_path / "nope"), "no such file or directory")


def test_empty_directory(tmp_path: Path) -> None:
    for command in ("show", "stats", "export"):
        one_line_error(cli(command, tmp_path), "no trace files (*.jsonl)")


def test_directory_of_empty_trace_files(tmp_path: Path) -> None:
    (tmp_path / "traces-a-1.jsonl").write_text("")
    one_line_error(cli("show", tmp_path), "the trace files are empty")


def test_non_trace_file(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# hello\n\nnot a trace\n")
    one_line_error(cli("show", readme), f"not a trace file: {readme} (line 1: not JSON)")
    other = tmp_path / "d" / "events.jsonl"
    write(other, [json.dumps({"event": "signup"})])
    one_line_error(cli("stats", other.parent), "JSON but not OTLP trace data")
    # beside real trace files it is skipped with a warning
    write(tmp_path / "d" / "traces.jsonl", sample_lines())
    result = cli("show", other.parent)
    assert result.returncode == 0 and "conversation" in result.stdout
    assert f"warning: not a trace file, skipped: {other}" in result.stderr


def test_torn_last_line_is_a_warning_and_the_rest_is_shown(tmp_path: Path) -> None:
    lines = sample_lines()
    path = write(tmp_path / "traces.jsonl", lines[:-1], torn=lines[-1][:100])
    for command in ("show", "stats", "export"):
        result = cli(command, path)
        assert result.returncode == 0, result.stderr
        assert (
            result.stderr.strip() == f"noveum-trace: warning: {path}: incomplete last line skipped "
            "(still being written, or a torn write)"
        )
    assert "conversation" in cli("show", path).stdout
    assert "batch" not in cli("show", path).stdout


def test_a_bad_line_in_the_middle_is_skipped_with_a_warning(tmp_path: Path) -> None:
    lines = sample_lines()
    path = write(tmp_path / "traces.jsonl", [lines[0], "{oops", *lines[1:]])
    result = cli("show", path)
    assert result.returncode == 0 and "batch_llm_processing" in result.stdout
    assert f"{path}:2: not JSON; line skipped" in result.stderr


def test_bad_time_and_usage_errors(traces_dir: Path) -> None:
    one_line_error(cli("show", traces_dir, "--since", "yesterday-ish"), "cannot read the time")
    usage = cli("show", traces_dir, "--limit", "many")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr
    assert cli().returncode == 2


# --- in-process pieces: bounded memory, progress --------------------------------------------


def _many_spans(traces: int, per_trace: int) -> Iterator[dict[str, Any]]:
    for trace in range(traces):
        for index in range(per_trace):
            yield {
                "trace_id": f"{trace:032x}",
                "span_id": f"{trace * per_trace + index + 1:016x}",
                "parent_span_id": None,
                "name": "s",
                "start_time_unix_nano": T0 + trace * MS,
                "end_time_unix_nano": T0 + trace * MS + 1,
                "attributes": {"gen_ai.request.model": "x" if trace % 1000 == 0 else None},
                "events": [],
                "status": {"code": "UNSET", "message": ""},
                "service_name": "svc",
            }


def test_show_keeps_the_newest_traces_from_a_long_stream() -> None:
    newest = collect(_many_spans(20_000, 3), SpanFilter(), limit=2)
    assert [t.trace_id[-5:] for t in newest] == [f"{19_998:05x}", f"{19_999:05x}"]
    assert all(len(t.spans) == 3 for t in newest)
    # a sparse filter still finds its traces among many candidates
    rare = collect(_many_spans(5_000, 3), SpanFilter(model="x"), limit=10)
    assert [int(t.trace_id, 16) for t in rare] == [0, 1000, 2000, 3000, 4000]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only() -> None:
    screen = _Terminal()
    progress = Progress(total_bytes=64 << 20, files=4, stream=screen)
    progress.update(32 << 20, 2)
    progress.finish()
    assert "scanning 2/4 files  32.0 MB / 64.0 MB  50%" in screen.getvalue()
    assert screen.getvalue().endswith("\r\x1b[K")
    piped = io.StringIO()
    Progress(total_bytes=64 << 20, files=4, stream=piped).update(1, 1)
    assert piped.getvalue() == ""


def test_stats_counts_a_wrapped_call_once(tmp_path: Path) -> None:
    # @trace_llm_call around an instrumented client call: two spans with a model, one call
    wrapper = {"gen_ai.request.model": "gpt-4o"}
    spans = [
        span(5, 2, "chat gpt-4o", 1, 10, 1, llm("gpt-4o", 3, 4)),
        span(5, 1, "chat gpt-4o", 0, 12, attrs=wrapper),
        span(6, 3, "chat gpt-4o", 50, 10, attrs=llm("gpt-4o", 3, 4)),
    ]
    path = write(tmp_path / "t.jsonl", [line("svc", spans)])
    doc = json.loads(ok("stats", path, "--json"))
    assert doc["llm_calls"] == 2 and doc["wrapper_spans"] == 1
    assert doc["total"]["tokens_out"] == 8
    assert "2 LLM calls (1 wrapper span not counted)" in ok("stats", path)


def test_show_limit_zero_shows_every_trace(tmp_path: Path) -> None:
    spans = [span(100 + i, i + 1, f"op{i}", i, 1) for i in range(40)]
    path = write(tmp_path / "t.jsonl", [line("svc", spans)])
    assert ok("show", path, "--limit", "0").count("● ") == 40
    assert ok("show", path).count("● ") == 20


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_unexpected_failure_is_one_line_unless_debugging(traces_dir: Path) -> None:
    result = cli("export", traces_dir, "-o", "/dev/full")  # a full disk
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "noveum-trace: error: OSError: [Errno 28] No space left on device "
        "(set NOVEUM_TRACE_DEBUG=1 for the traceback)"
    ]
    debug = cli("export", traces_dir, "-o", "/dev/full", env={"NOVEUM_TRACE_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr


def test_a_reader_that_goes_away_is_not_an_error(tmp_path: Path) -> None:
    spans = [span(100 + i, i + 1, f"op{i}", i, 1) for i in range(3000)]
    path = write(tmp_path / "t.jsonl", [line("svc", spans)])
    process = subprocess.Popen(
        [sys.executable, "-m", "noveum_trace.cli", "show", str(path), "--limit", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.readline().startswith("●".encode())
    process.stdout.close()  # like `| head -1`
    errors = process.stderr.read()
    assert process.wait() == 0 and errors == b""


def test_send_is_delegated(traces_dir: Path) -> None:
    result = cli("send", "--help")
    if importlib.util.find_spec("noveum_trace.cli.send") is None:
        one_line_error(result, "`send` is unavailable")
    else:
        assert result.returncode == 0 and "--endpoint" in result.stdout


def test_show_content_reads_message_lists_and_keeps_the_tree(tmp_path: Path) -> None:
    messages = json.dumps(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    )
    spans = [
        span(8, 2, "chat", 1, 5, 1, {"gen_ai.request.model": "m", "gen_ai.prompt": messages}),
        span(8, 1, "agent", 0, 9, attrs={"gen_ai.completion": "line one\nline two"}),
    ]
    out = ok("show", write(tmp_path / "t.jsonl", [line("svc", spans)]), "--content")
    assert out.splitlines()[1:] == [
        "  agent        9.0ms",
        "  │  completion: line one",
        "  │              line two",
        "  └─ chat      5.0ms  m",
        "        prompt: system: Be brief.",
        "                user: Hi",
    ]


def test_ttft_from_the_semconv_attribute_in_seconds(tmp_path: Path) -> None:
    attrs = llm("m", 1, 1, **{"gen_ai.response.time_to_first_chunk": 0.25})
    path = write(tmp_path / "t.jsonl", [line("svc", [span(9, 1, "chat m", 0, 400, attrs=attrs)])])
    assert "ttft 250.0ms" in ok("show", path)
    assert json.loads(ok("stats", path, "--json"))["total"]["ttft_ms"]["p50"] == 250.0


def test_show_says_when_a_parent_span_is_missing(tmp_path: Path) -> None:
    # the parent is still running (not written yet), or lives in another service's files
    path = write(tmp_path / "t.jsonl", [line("svc", [span(4, 2, "child", 0, 1, parent=1)])])
    assert "child  " in ok("show", path)
    assert "(its parent span is not in these files)" in ok("show", path)
