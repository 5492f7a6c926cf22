"""The export side under faults: odd spans from other tracers, threads racing on the
counters, a disk that fills up and frees, and an exit with a backlog.

Everything is asserted on what lands in the trace files and in ``get_stats()``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from opentelemetry import trace as otel_trace

import noveum_trace
from noveum_trace._diagnostics.stats import STATS

from .conftest import Traces


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


# ---- one odd span costs at most itself -------------------------------------------------


def test_odd_scopes_from_other_tracers_are_coerced_not_fatal(traced: Traces) -> None:
    provider: Any = noveum_trace.get_tracer_provider()  # Any: the odd arguments are the test
    tracers: list[tuple[Any, str, str | None]] = [
        (noveum_trace.get_tracer("good", "1.0"), "good", "1.0"),
        (otel_trace.get_tracer("some.lib", 2, tracer_provider=provider), "some.lib", "2"),
        (provider.get_tracer("floaty", 1.5), "floaty", "1.5"),
        (provider.get_tracer("raw", b"3.1"), "raw", "3.1"),
        (provider.get_tracer("odd", _Unprintable()), "odd", "<unprintable _Unprintable>"),
        (provider.get_tracer(7, "1", schema_url=3, attributes={"a": object()}), "7", "1"),
        (provider.get_tracer(None), "noveum_trace", None),
    ]
    for round_ in range(100):  # interleaved, so every batch mixes good and odd scopes
        for tracer, name, _ in tracers:
            with tracer.start_span(f"{name}-{round_}"):
                pass
    spans = traced.spans()
    assert len(spans) == 100 * len(tracers)
    for _, name, version in tracers:
        mine = [span for span in spans if span["name"].startswith(f"{name}-")]
        assert len(mine) == 100
        assert {(s["scope"]["name"], s["scope"]["version"]) for s in mine} == {(name, version)}
    stats = noveum_trace.get_stats()
    assert stats.get("spans_dropped_encoding", 0) == 0
    assert stats.get("internal_errors", 0) == 0


def test_a_span_that_cannot_be_encoded_costs_only_itself(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    for index in range(300):
        with tracer.start_span(f"s{index}") as span:
            if index % 100 == 50:
                # Written past the span's own checks (``attributes`` is a plain dict): a
                # value nested without end cannot be encoded.
                endless: list[Any] = []
                endless.append(endless)
                span.attributes["endless"] = endless
            if index % 100 == 60:
                span.attributes["odd"] = {"k": _Unprintable()}
    names = {span["name"] for span in traced.spans()}
    assert names == {f"s{i}" for i in range(300)} - {"s50", "s150", "s250"}
    odd = next(s for s in traced.spans() if s["name"] == "s60")
    assert odd["attributes"]["odd"] == {"k": "<unprintable _Unprintable>"}
    stats = noveum_trace.get_stats()
    assert stats["spans_dropped_encoding"] == 3
    assert stats["exporters"]["file"]["exported"] == 297


# ---- counters are exact under contention -----------------------------------------------


def _count_written(traces: Traces) -> int:
    return sum(1 for _ in noveum_trace.read_traces(traces.directory))


@pytest.mark.parametrize("run", range(3))
def test_written_plus_dropped_equals_created_from_eight_threads(traces: Traces, run: int) -> None:
    threads, per_thread = 8, 20_000
    traces.init()  # the default queue size: most spans are dropped, and counted
    tracer = noveum_trace.get_tracer()
    start = threading.Barrier(threads)

    def produce() -> None:
        start.wait()
        for _ in range(per_thread):
            with tracer.start_span("s"):
                pass

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often: a lost increment shows up at once
    try:
        workers = [threading.Thread(target=produce) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(switch)
    assert noveum_trace.flush(60)
    stats = noveum_trace.get_stats()
    dropped = sum(value for key, value in stats.items() if key.startswith("spans_dropped"))
    written = _count_written(traces)
    assert stats["exporters"]["file"]["exported"] == written
    assert written + dropped == threads * per_thread


# ---- a full disk, then freed -----------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB filesystem (tmpfs): writes beyond it fail with ENOSPC, after writing
    what fits. Needs root (the CI container runs as root)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip() or 'not root'}")
    STATS.reset()
    try:
        yield mount_point
    finally:
        noveum_trace.shutdown(10)
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _round(tracer: Any, label: str, count: int) -> None:
    for index in range(count):
        with tracer.start_span(f"{label}-{index}") as span:
            span.set_attribute("payload", "x" * 400)
    assert noveum_trace.flush(30)


def test_a_full_disk_that_frees_leaves_only_readable_lines(small_disk: Path) -> None:
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * 24 * 1024)
    directory = small_disk / "traces"
    noveum_trace.init(service_name="disk", log_directory=str(directory))
    tracer = noveum_trace.get_tracer()
    for attempt in range(40):  # until a batch does not fit: written in part, then ENOSPC
        _round(tracer, f"before{attempt}", 7)
        if noveum_trace.get_stats().get("file_write_errors"):
            break
    stats = noveum_trace.get_stats()
    assert stats["file_write_errors"] >= 1, "the small disk never filled"
    filler.unlink()  # space again
    for attempt in range(3):
        _round(tracer, f"after{attempt}", 7)
    stats = noveum_trace.get_stats()["exporters"]["file"]
    lines = b"".join(path.read_bytes() for path in directory.glob("*.jsonl")).splitlines()
    for line in lines:
        orjson.loads(line)  # every line is whole: no batch was appended onto a torn one
    spans = list(noveum_trace.read_traces(directory))
    assert len(spans) == stats["exported"]
    assert stats["failed"] >= 7
    assert {f"after2-{i}" for i in range(7)} <= {span["name"] for span in spans}


# ---- exit with a backlog ---------------------------------------------------------------

_BACKLOG_CHILD = """
import atexit, json, sys, threading
import noveum_trace

mode, directory = sys.argv[1], sys.argv[2]


class Stuck:
    # A user's exporter whose endpoint hangs: the worker cannot get past the first batch,
    # so a backlog is left at exit however fast the machine is.
    name = "stuck"

    def export(self, batch):
        threading.Event().wait()

    def flush(self, timeout):
        return True

    def shutdown(self, timeout):
        pass


# Registered before init(), so it runs after noveum_trace's own exit hook.
atexit.register(lambda: print(json.dumps(noveum_trace.get_stats())))
noveum_trace.init(
    service_name="backlog", log_directory=directory, exporters=[Stuck()], max_queue_size=100000
)
tracer = noveum_trace.get_tracer()
for _ in range(20000):
    with tracer.start_span("s"):
        pass
if mode == "shutdown":
    noveum_trace.shutdown(timeout=0.5)
"""


@pytest.mark.parametrize("mode", ["exit", "shutdown"])
def test_a_backlog_left_at_exit_is_counted_and_said_once(tmp_path: Path, mode: str) -> None:
    directory = tmp_path / "traces"
    child = subprocess.run(
        [sys.executable, "-c", _BACKLOG_CHILD, mode, str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    stats = json.loads(child.stdout.strip().splitlines()[-1])
    left = stats["spans_dropped_shutdown_timeout"]
    written = sum(1 for _ in noveum_trace.read_traces(directory))
    assert written == stats["exporters"]["file"]["exported"] > 0
    assert written + left == 20_000
    warnings = [line for line in child.stderr.splitlines() if "not written" in line]
    assert len(warnings) == 1, child.stderr
    assert f"{left:,} spans were not written" in warnings[0]
    assert "noveum_trace.shutdown(timeout=" in warnings[0]
