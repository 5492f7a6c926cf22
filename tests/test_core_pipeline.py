"""The export pipeline: queue, worker, files, fork, overflow, faults."""

from __future__ import annotations

import io
import os
import stat
import sys
import threading
import tracemalloc
from pathlib import Path

import orjson
import pytest

import noveum_trace
from noveum_trace._diagnostics import guard
from noveum_trace.export.base import EncodedBatch
from noveum_trace.export.console import ConsoleExporter
from noveum_trace.testing import InMemoryExporter

from .conftest import Traces

HANG_GUARD = 60  # seconds; only to turn a deadlock into a failure, never a speed claim


class BlockingExporter:
    """Holds the worker inside export() until released: a stuck or slow backend."""

    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.spans = 0

    def export(self, batch: EncodedBatch) -> None:
        self.entered.set()
        self.release.wait(HANG_GUARD)
        self.spans += batch.span_count

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> None:
        self.release.set()


class FailingExporter:
    name = "failing"

    def export(self, batch: EncodedBatch) -> None:
        raise RuntimeError("backend exploded")

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> None:
        pass


def test_before_init_everything_is_a_safe_no_op(tmp_path: Path) -> None:
    noveum_trace.shutdown()
    tracer = noveum_trace.get_tracer("early")
    with tracer.start_span("ignored") as span:
        span.set_attribute("a", 1)
        span.add_event("e")
        span.record_exception(ValueError())
        span.set_status("error", "x")
        assert not span.is_recording()
    assert noveum_trace.flush() is True
    assert noveum_trace.get_stats()["initialized"] is False
    noveum_trace.init(service_name="late", log_directory=str(tmp_path))
    try:
        with tracer.start_span("recorded"):  # the same tracer object records after init()
            pass
        noveum_trace.flush()
        assert [s["name"] for s in noveum_trace.read_traces(tmp_path)] == ["recorded"]
    finally:
        noveum_trace.shutdown()


def test_eight_threads_each_span_exactly_once_and_valid_json(traces: Traces) -> None:
    traces.init(max_queue_size=100_000)
    tracer = noveum_trace.get_tracer()

    def produce(thread: int) -> None:
        for index in range(5000):
            with tracer.start_span("s", attributes={"thread": thread, "index": index}):
                pass

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    noveum_trace.flush(60)
    lines = traces.raw_text().splitlines()
    assert all(isinstance(orjson.loads(line), dict) for line in lines)
    seen = [(s["attributes"]["thread"], s["attributes"]["index"]) for s in traces.spans()]
    assert len(seen) == 40_000
    assert set(seen) == {(t, i) for t in range(8) for i in range(5000)}
    assert noveum_trace.get_stats().get("spans_dropped_queue_full", 0) == 0


def test_queue_overflow_drops_counts_and_never_blocks(
    traces: Traces, caplog: pytest.LogCaptureFixture
) -> None:
    guard._warned.discard("queue_full")  # warned once per process: make this test the first
    blocking = BlockingExporter()
    traces.init(
        file_export=False, exporters=[blocking], max_queue_size=100, max_export_batch_size=10
    )
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("first"):
        pass
    noveum_trace.flush(0.2)  # wakes the worker, which then sits inside the blocking exporter
    assert blocking.entered.wait(HANG_GUARD)
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for _ in range(20_000):  # would hang here if ending a span could block
        with tracer.start_span("s"):
            pass
    grown = sum(
        stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(before, "filename")
    )
    tracemalloc.stop()
    stats = noveum_trace.get_stats()
    assert stats["queue_size"] <= 100
    assert stats["spans_dropped_queue_full"] == 20_000 - 100
    assert grown < 2_000_000  # bounded: ~100 queued spans, not 20,000
    assert sum("queue full" in r.message for r in caplog.records) == 1  # warned once
    blocking.release.set()
    assert noveum_trace.flush(HANG_GUARD)
    assert blocking.spans == 101


def test_flush_and_shutdown_honour_their_timeouts(traces: Traces) -> None:
    blocking = BlockingExporter()
    traces.init(file_export=False, exporters=[blocking])
    with noveum_trace.get_tracer().start_span("s"):
        pass
    assert noveum_trace.flush(0.3) is False  # the exporter is stuck: flush gives up in time
    assert noveum_trace.shutdown(0.3) is False
    blocking.release.set()


def test_failing_exporter_is_contained_and_others_still_get_spans(traces: Traces) -> None:
    memory = InMemoryExporter()
    traces.init(exporters=[FailingExporter(), memory])
    with noveum_trace.get_tracer().start_span("survives"):
        pass
    assert [s["name"] for s in traces.spans()] == ["survives"]
    assert [s["name"] for s in memory.get_finished_spans()] == ["survives"]
    stats = noveum_trace.get_stats()
    assert stats["exporters"]["failing"]["failed"] == 1
    assert stats["internal_errors"] >= 1


def test_unwritable_log_directory_warns_once_and_the_app_runs(
    tmp_path: Path, traces: Traces, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    traces.init(log_directory=str(blocker / "traces"))  # works even as root
    for _ in range(3):
        with noveum_trace.get_tracer().start_span("s"):
            pass
        noveum_trace.flush()
    stats = noveum_trace.get_stats()
    assert stats["file_write_errors"] == 3
    assert stats["exporters"]["file"]["failed"] == 3
    warnings = [r for r in caplog.records if "cannot write trace files" in r.message]
    assert len(warnings) == 1 and str(blocker) in warnings[0].message


def test_full_disk_is_counted_not_raised(traces: Traces) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    traces.init()
    exporter = noveum_trace.get_tracer_provider().pipeline.worker.exporters[0]  # type: ignore[union-attr]
    exporter._fd = os.open("/dev/full", os.O_WRONLY)  # every write now fails with ENOSPC
    with noveum_trace.get_tracer().start_span("s"):
        pass
    noveum_trace.flush()
    assert noveum_trace.get_stats()["file_write_errors"] == 1
    with noveum_trace.get_tracer().start_span("after"):  # reopens its real file and goes on
        pass
    assert [s["name"] for s in traces.spans()] == ["after"]


def test_files_are_private_one_per_process_and_rotate(traces: Traces) -> None:
    traces.init(max_file_bytes=4096, max_export_batch_size=5)
    tracer = noveum_trace.get_tracer()
    for index in range(200):
        with tracer.start_span("s", attributes={"i": index, "pad": "x" * 50}):
            pass
        if index % 5 == 4:
            noveum_trace.flush()
    spans = traces.spans()
    files = sorted(traces.directory.glob("*.jsonl"))
    assert len(files) > 3
    assert all(f.name.startswith(f"traces-test-{os.getpid()}-") for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert all(f.stat().st_size <= 4096 for f in files)
    assert sorted(s["attributes"]["i"] for s in spans) == list(range(200))


def test_reader_tolerates_a_torn_last_line(traced: Traces) -> None:
    with noveum_trace.get_tracer().start_span("whole"):
        pass
    noveum_trace.flush()
    (path,) = traced.directory.glob("*.jsonl")
    with open(path, "ab") as handle:
        handle.write(b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"ab')
    problems: list[str] = []
    spans = list(noveum_trace.read_traces(path, on_problem=lambda f, n, m: problems.append(m)))
    assert [s["name"] for s in spans] == ["whole"]
    assert problems == ["torn last line skipped"]


def test_second_init_neither_leaks_a_worker_nor_duplicates(tmp_path: Path, traces: Traces) -> None:
    tracer = noveum_trace.get_tracer()
    traces.init(log_directory=str(tmp_path / "one"))
    open_span = tracer.start_span("crosses-init")
    with tracer.start_span("before"):
        pass
    workers_before = _export_threads()
    traces.init(log_directory=str(tmp_path / "two"))
    with tracer.start_span("after"):
        pass
    open_span.end()
    noveum_trace.flush()
    assert _export_threads() <= max(workers_before, 1)
    one = [s["name"] for s in noveum_trace.read_traces(tmp_path / "one")]
    two = sorted(s["name"] for s in noveum_trace.read_traces(tmp_path / "two"))
    assert one == ["before"]
    assert two == ["after", "crosses-init"]


def _export_threads() -> int:
    return sum(t.name == "noveum-trace-export" and t.is_alive() for t in threading.enumerate())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_writes_its_own_file_without_the_parents_spans(traces: Traces) -> None:
    traces.init(flush_interval=60)  # keep the parent's span queued across the fork
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("parent-before-fork"):
        pass
    pid = os.fork()
    if pid == 0:  # child
        try:
            with tracer.start_span("child"):
                pass
            noveum_trace.flush(10)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with tracer.start_span("parent-after-fork"):
        pass
    spans = traces.spans()
    names = sorted(s["name"] for s in spans)
    assert names == ["child", "parent-after-fork", "parent-before-fork"]
    by_file = {s["name"]: Path(s["file"]).name for s in spans}
    assert f"-{pid}-" in by_file["child"]
    assert f"-{os.getpid()}-" in by_file["parent-before-fork"]
    resource_pids = {s["name"]: s["resource"]["process.pid"] for s in spans}
    assert resource_pids["child"] == pid


def test_console_exporter_prints_a_tree(traces: Traces) -> None:
    stream = io.StringIO()
    traces.init(file_export=False, exporters=[ConsoleExporter(stream)])
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("root") as root:
        root.set_attribute("gen_ai.request.model", "gpt-4o")
        with tracer.start_span("leaf") as leaf:
            leaf.set_status("error", "it broke")
    noveum_trace.flush()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("● root") and "model=gpt-4o" in lines[0]
    assert lines[1].startswith("  └─ leaf") and "ERROR it broke" in lines[1]


def test_atexit_flushes_spans_of_a_process_that_just_exits(tmp_path: Path) -> None:
    code = (
        "import noveum_trace\n"
        f"noveum_trace.init(service_name='exiting', log_directory={str(tmp_path)!r},"
        " flush_interval=3600)\n"
        "with noveum_trace.get_tracer().start_span('last-words'):\n    pass\n"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True, timeout=HANG_GUARD)
    assert [s["name"] for s in noveum_trace.read_traces(tmp_path)] == ["last-words"]


def test_sampling_ratio_zero_records_nothing_but_propagates(traces: Traces) -> None:
    traces.init(sample_rate=0.0)
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("root") as root, tracer.start_span("child") as child:
        assert not root.is_recording() and not child.is_recording()
        assert child.get_span_context().trace_id == root.get_span_context().trace_id
        assert not child.get_span_context().trace_flags.sampled
    assert traces.spans() == []


def test_sampling_is_parent_based(traces: Traces) -> None:
    traces.init(sample_rate=0.5)
    tracer = noveum_trace.get_tracer()
    roots = 0
    for _ in range(400):
        with tracer.start_span("root") as root:
            with tracer.start_span("child") as child:
                assert child.is_recording() == root.is_recording()
            roots += root.is_recording()
    spans = traces.spans()
    assert 100 < roots < 300
    assert len(spans) == 2 * roots


def test_unsampled_and_pre_init_spans_offer_the_same_api(traces: Traces) -> None:
    noveum_trace.shutdown()
    with noveum_trace.get_tracer().start_span("before-init") as early:
        assert len(early.trace_id_hex) == 32 and len(early.span_id_hex) == 16
    traces.init(sample_rate=0.0)
    with noveum_trace.get_tracer().start_span("sampled-out") as span:
        assert span.trace_id_hex == f"{span.get_span_context().trace_id:032x}"
        assert span.span_id_hex == f"{span.get_span_context().span_id:016x}"


def test_a_span_ended_after_shutdown_is_counted_and_named_as_such(
    traces: Traces, caplog: pytest.LogCaptureFixture
) -> None:
    guard._warned.discard("after_shutdown")  # warned once per process: make this test the first
    traces.init()
    late = noveum_trace.get_tracer().start_span("late")
    pipeline = noveum_trace.get_tracer_provider().pipeline
    noveum_trace.shutdown()
    late.end()
    assert pipeline is not None and pipeline.worker.closed
    assert noveum_trace.get_stats()["spans_dropped_after_shutdown"] == 1
    assert not any("queue full" in r.message for r in caplog.records)
    assert any("after shutdown()" in r.message for r in caplog.records)
