"""Children started by ``multiprocessing`` with fork leave through ``os._exit``: atexit never
runs there. Their spans must still reach the files (issue 11, item 5)."""

from __future__ import annotations

import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import noveum_trace
from noveum_trace import _api, _sigterm
from noveum_trace.export.base import EncodedBatch
from noveum_trace.export.file import FileExporter

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
    """Closed and joined first, the workers exit, and flush, on their own; the ``terminate()``
    of ``Pool.__exit__`` then finds them gone."""
    traces.init(**QUIET)
    assert FORK is not None
    with FORK.Pool(3) as pool:
        assert sorted(pool.map(_task, range(600))) == list(range(600))
        pool.close()
        pool.join()
    assert _names(traces)["pool-task"] == 600


def test_pool_workers_flush_their_spans_when_a_with_block_terminates_them(
    traces: Traces,
) -> None:
    """The usual way: ``Pool.__exit__`` calls ``terminate()``, which SIGTERMs the workers."""
    traces.init(**QUIET)
    assert FORK is not None
    with FORK.Pool(3) as pool:
        assert sorted(pool.map(_task, range(600))) == list(range(600))
    pool.join()  # the terminated workers are gone, and their files complete
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
    monkeypatch.setattr(_api, "_SHUTDOWN_TIMEOUT", 0.2)
    exporter = _StuckExporter()
    traces.init(exporters=[exporter], file_export=False, **QUIET)
    assert FORK is not None
    child = FORK.Process(target=_spans, args=(10,))
    child.start()
    child.join()
    exporter.release.set()
    assert child.exitcode == 0


def test_a_child_forked_while_the_parent_holds_the_init_lock_still_exits(
    traces: Traces,
) -> None:
    """Another thread of the parent inside init() or shutdown() as the fork happens: the
    child's copy of that lock is held by no one who will release it."""
    traces.init(**QUIET)
    assert FORK is not None
    child = FORK.Process(target=_spans, args=(10,))
    with _api._lock:
        child.start()
    child.join(_HANG_GUARD)
    if child.exitcode is None:
        child.kill()
        child.join()
        pytest.fail("the child hung in its exit flush")
    assert child.exitcode == 0
    assert _names(traces)["in-child"] == 10


def test_a_child_without_tracing_is_left_alone(traces: Traces) -> None:
    assert FORK is not None
    child = FORK.Process(target=_exit_with_signal_state, args=(_spans, 10))
    child.start()
    child.join()
    assert child.exitcode == _UNTOUCHED
    assert not traces.directory.exists()


# ---- SIGTERM: Pool.terminate() and Process.terminate() -----------------------------------

_UNTOUCHED, _CHANGED = 3, 4  # exit codes: SIGTERM handling as the child found it, or not
_HANG_GUARD = 120.0  # seconds: only so that a broken child fails the test instead of hanging it
# Seconds a child that would drop its spans at SIGTERM gets to do so before we let its flush
# go on. Never makes a test fail: a slow machine only makes it catch less.
_GRACE = 0.5


def _signal_state() -> int:
    """``_UNTOUCHED`` when SIGTERM has the handler the parent had and no wakeup fd is set,
    as without noveum_trace."""
    untouched = (
        signal.getsignal(signal.SIGTERM) is _PARENT_HANDLER[0] and signal.set_wakeup_fd(-1) == -1
    )
    return _UNTOUCHED if untouched else _CHANGED


def _exit_with_signal_state(work: Callable[..., object] = lambda: None, *args: Any) -> None:
    work(*args)
    sys.exit(_signal_state())  # a normal multiprocessing exit: finalizers run


def _fork_and_exit_with_its_signal_state() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(_signal_state())
    sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))


_PARENT_HANDLER: list[Any] = [signal.SIG_DFL]


@pytest.fixture
def sigterm_handler() -> Iterator[Callable[[Any], None]]:
    """Set this process's SIGTERM handler for the test; the previous one comes back after."""
    previous = signal.getsignal(signal.SIGTERM)

    def use(handler: Any) -> None:
        signal.signal(signal.SIGTERM, handler)
        _PARENT_HANDLER[0] = handler

    yield use
    signal.signal(signal.SIGTERM, previous)
    _PARENT_HANDLER[0] = signal.SIG_DFL


class _Latch:
    """Parent to forked child: once set, stays set. A pipe, because a child killed while it
    waits on a multiprocessing Event leaves whoever sets that Event waiting for it forever."""

    def __init__(self) -> None:
        self.read_fd, self.write_fd = os.pipe()

    def set(self) -> None:
        os.write(self.write_fd, b".")

    def wait(self) -> None:
        select.select([self.read_fd], [], [])  # readable once set; nothing is consumed

    def is_set(self) -> bool:
        return bool(select.select([self.read_fd], [], [], 0)[0])

    def close(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


@pytest.fixture
def latch() -> Iterator[Callable[[], _Latch]]:
    made: list[_Latch] = []

    def make() -> _Latch:
        made.append(_Latch())
        return made[-1]

    yield make
    for each in made:
        each.close()


def _spans_then_wait(count: int, ready: Any, never: Any) -> None:
    _spans(count)
    ready.set()
    never.wait()  # idle in a semaphore wait, like a pool worker in inqueue.get()


def _terminated(child: Any) -> None:
    child.terminate()
    child.join(_HANG_GUARD)
    if child.exitcode is None:
        child.kill()
        child.join()
        pytest.fail("the terminated child did not die")


def test_a_terminated_process_flushes_then_dies_of_sigterm(traces: Traces) -> None:
    traces.init(**QUIET)
    assert FORK is not None
    ready, never = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_spans_then_wait, args=(300, ready, never))
    child.start()
    ready.wait()
    _terminated(child)
    assert child.exitcode == -signal.SIGTERM  # the status it has without noveum_trace
    assert _names(traces)["in-child"] == 300


def _main_asleep(pid: int) -> bool:
    with open(f"/proc/{pid}/task/{pid}/stat") as stat:
        state = stat.read().rpartition(")")[2].split()[0]
    with open(f"/proc/{pid}/task/{pid}/wchan") as wchan:
        return state == "S" and "futex" in wchan.read()


def _spans_then_block(count: int, lock: Any, ready: Any, go: Any) -> None:
    _spans(count)

    def signal_from_another_thread() -> None:
        go.wait()
        signal.raise_signal(signal.SIGTERM)

    threading.Thread(target=signal_from_another_thread, daemon=True).start()
    ready.set()
    lock.acquire()  # held by the parent: the main thread sleeps in a semaphore wait


@pytest.mark.skipif(not os.path.exists("/proc/self/wchan"), reason="needs /proc/<pid>/wchan")
def test_a_sigterm_the_main_thread_sleeps_through_still_flushes_and_kills(
    traces: Traces, latch: Callable[[], _Latch]
) -> None:
    """The C-level handler runs on another thread (or just before the main thread blocks in
    a semaphore wait that does not look at signals): a Python handler alone never runs and
    ``Pool.terminate()`` would wait for the child forever."""
    traces.init(**QUIET)
    assert FORK is not None
    lock, ready, go = FORK.Lock(), FORK.Event(), latch()
    lock.acquire()
    child = FORK.Process(target=_spans_then_block, args=(200, lock, ready, go))
    child.start()
    ready.wait()
    assert child.pid is not None
    while not _main_asleep(child.pid):
        os.sched_yield()
    go.set()
    child.join(_HANG_GUARD)
    if child.exitcode is None:
        child.kill()
        child.join()
        pytest.fail("the child slept through its SIGTERM")
    assert child.exitcode == -signal.SIGTERM
    assert _names(traces)["in-child"] == 200


class _GatedFile(FileExporter):
    """Writes each batch once the parent says so; tells the parent it holds one."""

    def __init__(self, directory: Path, holding: Any, release: Any) -> None:
        super().__init__(str(directory), "gated", 1 << 30)
        self.holding, self.release = holding, release

    def export(self, batch: EncodedBatch) -> None:
        self.holding.set()
        self.release.wait()
        super().export(batch)


def test_sigterm_while_the_export_worker_is_mid_batch_waits_for_it(
    traces: Traces, monkeypatch: pytest.MonkeyPatch, latch: Callable[[], _Latch]
) -> None:
    """The first batch is in the exporter when SIGTERM comes; the flush lets it finish and
    writes the spans queued behind it."""
    monkeypatch.setattr(_sigterm, "FLUSH_TIMEOUT", _HANG_GUARD)  # correctness, not speed
    assert FORK is not None
    holding, release, ready, never = FORK.Event(), latch(), FORK.Event(), FORK.Event()
    exporter = _GatedFile(traces.directory, holding, release)
    traces.init(
        file_export=False, exporters=[exporter], max_export_batch_size=20, flush_interval=3600
    )
    child = FORK.Process(target=_spans_then_wait, args=(200, ready, never))
    child.start()
    ready.wait()
    holding.wait()
    child.terminate()
    child.join(_GRACE)
    release.set()
    child.join(_HANG_GUARD)
    assert child.exitcode == -signal.SIGTERM
    assert _names(traces)["in-child"] == 200


def test_sigterm_while_the_child_exits_on_its_own_waits_for_that_flush(
    traces: Traces, monkeypatch: pytest.MonkeyPatch, latch: Callable[[], _Latch]
) -> None:
    """SIGTERM during the child's own exit flush (a pool worker that took its sentinel as
    ``terminate()`` came): that flush still completes, and the child dies of the signal."""
    monkeypatch.setattr(_sigterm, "FLUSH_TIMEOUT", _HANG_GUARD)
    assert FORK is not None
    holding, release = FORK.Event(), latch()
    exporter = _GatedFile(traces.directory, holding, release)
    traces.init(file_export=False, exporters=[exporter], **QUIET)
    child = FORK.Process(target=_spans, args=(200,))
    child.start()
    holding.wait()  # the child's exit flush holds its one batch
    child.terminate()
    child.join(_GRACE)
    release.set()
    child.join(_HANG_GUARD)
    assert child.exitcode == -signal.SIGTERM
    assert _names(traces)["in-child"] == 200


def test_sigterm_while_the_child_exits_on_its_own_still_kills_it(
    traces: Traces, monkeypatch: pytest.MonkeyPatch, latch: Callable[[], _Latch]
) -> None:
    """The child's own exit flush ends first (here the SIGTERM flush never does): the child
    dies of the signal all the same, not with the exit status of a normal exit."""
    monkeypatch.setattr(_sigterm, "FLUSH_TIMEOUT", _HANG_GUARD)
    never = latch()
    monkeypatch.setattr(_api, "_flush_before_death", lambda budget: never.wait())
    assert FORK is not None
    holding, release = FORK.Event(), latch()
    exporter = _GatedFile(traces.directory, holding, release)
    traces.init(file_export=False, exporters=[exporter], **QUIET)
    child = FORK.Process(target=_spans, args=(200,))
    child.start()
    holding.wait()
    child.terminate()
    child.join(_GRACE)
    release.set()
    child.join(_HANG_GUARD)
    assert child.exitcode == -signal.SIGTERM
    assert _names(traces)["in-child"] == 200


class _DeafExporter(_StuckExporter):
    """Exports, but its flush does not keep to its timeout."""

    def export(self, batch: object) -> None:
        pass

    def flush(self, timeout: float) -> bool:
        return self.release.wait()


def test_a_stuck_exporter_cannot_keep_a_terminated_child_alive(
    traces: Traces, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sigterm, "FLUSH_TIMEOUT", 0.2)
    exporter = _DeafExporter()
    traces.init(exporters=[exporter], file_export=False, **QUIET)
    assert FORK is not None
    ready, never = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_spans_then_wait, args=(10, ready, never))
    child.start()
    ready.wait()
    try:
        _terminated(child)
    finally:
        exporter.release.set()  # ours, in this process: its flush would hang the teardown
    assert child.exitcode == -signal.SIGTERM


def _app_handler(signum: int, frame: FrameType | None) -> None:
    pass


@pytest.mark.parametrize("handler", [_app_handler, signal.SIG_IGN], ids=["handler", "ignored"])
def test_an_inherited_sigterm_handler_is_left_alone(
    traces: Traces, sigterm_handler: Callable[[Any], None], handler: Any
) -> None:
    sigterm_handler(handler)
    traces.init(**QUIET)
    assert FORK is not None
    child = FORK.Process(target=_exit_with_signal_state, args=(_spans, 10))
    child.start()
    child.join()
    assert child.exitcode == _UNTOUCHED
    assert _names(traces)["in-child"] == 10  # the exit flush still runs


def _own_handler_then_wait(ready: Any, handled: Any, go: Any) -> None:
    calls = []

    def handler(signum: int, frame: FrameType | None) -> None:
        calls.append(signum)
        handled.set()

    signal.signal(signal.SIGTERM, handler)
    _spans(10)
    ready.set()
    # Not one long wait: a signal that lands just before it can go unhandled until it ends
    # (CPython runs Python handlers between bytecodes), whoever set the handler.
    while not go.is_set():
        time.sleep(0.01)
    os._exit(len(calls))  # no finalizer: spans reach the files only if we flushed them


def test_a_handler_the_child_sets_itself_is_the_only_one_to_run(
    traces: Traces, latch: Callable[[], _Latch]
) -> None:
    traces.init(**QUIET)
    assert FORK is not None
    ready, handled, go = FORK.Event(), FORK.Event(), latch()
    child = FORK.Process(target=_own_handler_then_wait, args=(ready, handled, go))
    child.start()
    ready.wait()
    child.terminate()
    handled.wait()
    child.join(_GRACE)
    go.set()
    child.join()
    assert child.exitcode == 1  # its handler ran, once: nothing of ours sent it again
    assert _names(traces)["in-child"] == 0  # and nothing of ours flushed


def test_plain_fork_children_are_left_alone(traces: Traces) -> None:
    """``os.fork()`` children keep their own path (atexit, when they exit normally)."""
    traces.init(**QUIET)
    pid = os.fork()
    if pid == 0:
        os._exit(_signal_state())
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == _UNTOUCHED


def test_a_plain_fork_of_a_multiprocessing_child_starts_with_the_default(
    traces: Traces,
) -> None:
    traces.init(**QUIET)
    assert FORK is not None
    child = FORK.Process(target=_fork_and_exit_with_its_signal_state)
    child.start()
    child.join()
    assert child.exitcode == _UNTOUCHED


def _spans_then_long_c_call(count: int, ready: Any) -> None:
    import hashlib

    _spans(count)
    ready.set()
    # One C call that releases the GIL and lasts minutes: no Python handler runs until it
    # returns, so only a death that needs no main-thread Python ends this child promptly.
    hashlib.pbkdf2_hmac("sha256", b"x", b"y", 2_000_000_000)


def test_a_child_inside_a_long_c_call_still_flushes_and_dies_of_sigterm(traces: Traces) -> None:
    traces.init(**QUIET)
    assert FORK is not None
    ready = FORK.Event()
    child = FORK.Process(target=_spans_then_long_c_call, args=(200, ready))
    child.start()
    ready.wait()
    _terminated(child)
    assert child.exitcode == -signal.SIGTERM
    assert _names(traces)["in-child"] == 200


def _asyncio_child(count: int, ready: Any) -> None:
    import asyncio

    async def serve() -> None:
        # asyncio replaces the signal wakeup fd when it installs any signal handler
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, lambda: None)
        ready.set()
        await asyncio.sleep(_HANG_GUARD * 2)

    _spans(count)
    asyncio.run(serve())


def test_a_child_whose_asyncio_loop_took_the_wakeup_fd_still_dies_of_sigterm(
    traces: Traces,
) -> None:
    traces.init(**QUIET)
    assert FORK is not None
    ready = FORK.Event()
    child = FORK.Process(target=_asyncio_child, args=(200, ready))
    child.start()
    ready.wait()
    _terminated(child)
    assert child.exitcode == -signal.SIGTERM
    assert _names(traces)["in-child"] == 200
