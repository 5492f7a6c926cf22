"""``noveum-trace send``: trace files written by the real pipeline, shipped and resumed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import noveum_trace
from noveum_trace.cli.send import STATE_FILE, main

from .conftest import Traces
from .otlp_receiver import OtlpReceiver, Reply


@pytest.fixture
def rx() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as receiver:
        yield receiver


def _write_spans(traces: Traces, names: list[str]) -> None:
    tracer = noveum_trace.get_tracer()
    for name in names:
        with tracer.start_span(name):
            pass
        assert noveum_trace.flush(30)  # one line per span: several requests with small batches


def _names(rx: OtlpReceiver) -> list[str]:
    return sorted(span["name"] for span in rx.spans())


@pytest.mark.parametrize("protocol", ["http/json", "http/protobuf"])
def test_sends_everything_then_resumes_with_only_what_is_new(
    traces: Traces, rx: OtlpReceiver, protocol: str, capsys: pytest.CaptureFixture[str]
) -> None:
    traces.init()
    _write_spans(traces, ["a", "b", "c"])
    args = [str(traces.directory), "--endpoint", rx.endpoint, "--protocol", protocol]
    assert main(args) == 0
    assert _names(rx) == ["a", "b", "c"]
    in_files = sorted(s["span_id"] for s in traces.spans())
    assert sorted(s["span_id"] for s in rx.spans()) == in_files
    assert "3 spans" in capsys.readouterr().err  # progress and summary on stderr

    count = len(rx.received)
    assert main(args) == 0  # nothing new: nothing sent
    assert len(rx.received) == count

    _write_spans(traces, ["d"])  # the same file grows
    assert main(args) == 0
    assert _names(rx) == ["a", "b", "c", "d"]
    state = orjson.loads((traces.directory / STATE_FILE).read_bytes())
    (entry,) = state["endpoints"][rx.endpoint].values()
    assert entry["offset"] == sum(p.stat().st_size for p in traces.directory.glob("*.jsonl"))


def test_a_failure_stops_and_the_next_run_resumes_there(traces: Traces, rx: OtlpReceiver) -> None:
    traces.init()
    _write_spans(traces, ["a", "b", "c"])
    rx.replies.extend([Reply(200), Reply(400, body=b"bad")])
    args = [str(traces.directory), "--endpoint", rx.endpoint, "--batch-bytes", "1"]
    assert main(args) == 1  # 'a' delivered, 'b' refused
    assert _names(rx) == ["a", "b"]
    assert main(args) == 0  # resumes at 'b'
    assert _names(rx) == ["a", "b", "b", "c"]


def test_torn_tail_waits_and_replaced_file_starts_over(traces: Traces, rx: OtlpReceiver) -> None:
    traces.init()
    _write_spans(traces, ["a"])
    (path,) = traces.directory.glob("*.jsonl")
    with path.open("ab") as handle:
        handle.write(b'{"resourceSpans":[')  # a writer mid-line
    args = [str(path), "--endpoint", rx.endpoint, "--protocol", "http/json"]
    assert main(args) == 0
    assert _names(rx) == ["a"]
    noveum_trace.shutdown()

    lines = path.read_bytes().splitlines(keepends=True)
    span = orjson.loads(lines[0])
    span["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["name"] = "z"
    path.write_bytes(orjson.dumps(span) + b"\n")  # a different file under the same name
    assert main(args) == 0
    assert _names(rx) == ["a", "z"]


def test_endpoint_is_required_and_base_urls_get_the_signal_path(
    traces: Traces, rx: OtlpReceiver, capsys: pytest.CaptureFixture[str]
) -> None:
    traces.init()
    _write_spans(traces, ["a"])
    assert main([str(traces.directory)]) == 2
    assert "endpoint" in capsys.readouterr().err
    base = rx.endpoint.removesuffix("/v1/traces")
    assert (
        main(
            [
                str(traces.directory),
                "--endpoint",
                base,
                "--compression",
                "gzip",
                "--headers",
                "authorization=Bearer%20x",
                "--quiet",
            ]
        )
        == 0
    )
    (request,) = rx.received
    assert request.path == "/v1/traces"
    assert request.headers["authorization"] == "Bearer x"
    assert request.headers["content-encoding"] == "gzip"
    assert capsys.readouterr().err == ""


def test_the_cli_command_delegates_here(traces: Traces, rx: OtlpReceiver) -> None:
    traces.init()
    _write_spans(traces, ["a", "b"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "noveum_trace.cli",
            "send",
            str(traces.directory),
            "--endpoint",
            rx.endpoint,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert _names(rx) == ["a", "b"]
    assert Path(traces.directory, STATE_FILE).exists()
