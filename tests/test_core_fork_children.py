"""Children started by ``multiprocessing`` with fork leave through ``os._exit``: atexit never
runs there. Their spans must still reach the files (issue 11, item 5)."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pytest

import noveum_trace

from .conftest import Traces

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="needs the fork start method"
)
FORK = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
# Nothing is exported before the process ends: no batch fills up, no interval passes.
QUIET = {"flush_interval": 3600, "max_export_batch_size": 100_000}


def _spans(count: int) -> None:
    tracer = noveum_trace.get_tracer()
    for index in range(count):
        with tracer.start_span("in-child") as span:
            span.set_attribute("index", index)


def _task(index: int) -> int:
    with noveum_trace.get_tracer().start_span("pool-task") as span:
        span.set_attribute("index", index)
    return index


def _names(traces: Traces) -> Counter[str]:
    return Counter(span["name"] for span in traces.spans())


def test_process_children_flush_their_spans(traces: Traces) -> None:
    traces.init(**QUIET)
    assert FORK is not None
    children = [FORK.Process(target=_spans, args=(500,)) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    assert [child.exitcode for child in children] == [0, 0, 0]
    assert _names(traces)["in-child"] == 1500
    pids = {span["resource"]["process.pid"] for span in traces.spans()}
    assert pids == {child.pid for child in children}


def test_pool_workers_flush_their_spans_with_close_and_join(traces: Traces) -> None:
    traces.init(**QUIET)
    assert FORK is not None
    pool = FORK.Pool(3)
    assert sorted(pool.map(_task, range(600))) == list(range(600))
    pool.close()
    pool.join()
    assert _names(traces)["pool-task"] == 600


def test_pool_workers_flush_their_spans_when_closed_and_joined_in_a_with_block(
    traces: Traces,
) -> None:
    """``Pool.__exit__`` calls ``terminate()``: SIGTERM, nothing runs in the workers. Closing
    and joining the pool first lets them exit, and flush, on their own."""
    traces.init(**QUIET)
    assert FORK is not None
    with FORK.Pool(3) as pool:
        assert sorted(pool.map(_task, range(600))) == list(range(600))
        pool.close()
        pool.join()
    assert _names(traces)["pool-task"] == 600


def test_process_pool_executor_workers_flush_their_spans(traces: Traces) -> None:
    traces.init(**QUIET)
    with ProcessPoolExecutor(3, mp_context=FORK) as executor:
        assert sorted(executor.map(_task, range(600))) == list(range(600))
    assert _names(traces)["pool-task"] == 600


class _StuckExporter:
    name = "stuck"

    def __init__(self) -> None:
        self.release = threading.Event()

    def export(self, batch: object) -> None:
        self.release.wait()

    def flush(self, timeout: float) -> bool:
        return self.release.wait(timeout)

    def shutdown(self, timeout: float) -> None:
        pass


def test_a_stuck_exporter_cannot_keep_a_child_from_exiting(
    traces: Traces, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flush at a child's exit has the same bounded budget as the one at interpreter exit."""
    monkeypatch.setattr(noveum_trace, "_SHUTDOWN_TIMEOUT", 0.2)
    exporter = _StuckExporter()
    traces.init(exporters=[exporter], file_export=False, **QUIET)
    assert FORK is not None
    child = FORK.Process(target=_spans, args=(10,))
    child.start()
    child.join()
    exporter.release.set()
    assert child.exitcode == 0


def test_a_child_without_tracing_is_left_alone(traces: Traces) -> None:
    assert FORK is not None
    child = FORK.Process(target=_spans, args=(10,))
    child.start()
    child.join()
    assert child.exitcode == 0
    assert not traces.directory.exists()
