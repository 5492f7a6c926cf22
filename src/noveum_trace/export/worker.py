"""The bounded queue and the one export worker thread.

The application's thread only appends a finished span to a deque (atomic under the GIL) and,
when a batch is full, sets an Event. Everything else happens here: batching by size and
time, OTLP/JSON encoding, secret masking, and handing each batch to every exporter.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from noveum_trace._diagnostics.guard import internal_error, warn_once
from noveum_trace._diagnostics.stats import STATS
from noveum_trace.export.base import EncodedBatch, Exporter, ResetsAfterFork

if TYPE_CHECKING:
    from noveum_trace._core.span import Span


class ExportWorker:
    def __init__(
        self,
        encode: Callable[[list[Span]], EncodedBatch | None],
        exporters: Sequence[Exporter],
        max_queue_size: int,
        batch_size: int,
        interval: float,
    ) -> None:
        self._encode = encode
        self.exporters = list(exporters)
        self.max_queue_size = max_queue_size
        self.batch_size = batch_size
        self.interval = interval
        self.queue: deque[Span] = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()  # guards start/stop and flush waiters, never the hot path
        self._flush_waiters: list[threading.Event] = []
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._abandoned = False  # shutdown's budget ran out: drain no more
        self.closed = False

    # ---- application thread -------------------------------------------------------------

    def submit(self, span: Span) -> None:
        queue = self.queue
        if len(queue) >= self.max_queue_size:
            STATS.incr("spans_dropped_queue_full")
            warn_once(
                "queue_full",
                "noveum_trace: export queue full (%d spans); dropping spans. Raise "
                "max_queue_size or check the exporters; get_stats() counts the drops.",
                self.max_queue_size,
            )
            return
        if self.closed:  # ended after shutdown() (e.g. a stream collected at exit)
            STATS.incr("spans_dropped_after_shutdown")
            warn_once(
                "after_shutdown",
                "noveum_trace: a span ended after shutdown() and was dropped; "
                "get_stats() counts these.",
            )
            return
        queue.append(span)
        if self._thread is None:
            self._start()
        if len(queue) >= self.batch_size and not self._wake.is_set():
            self._wake.set()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self.closed:
                return
            thread = threading.Thread(target=self._run, name="noveum-trace-export", daemon=True)
            self._thread = thread
            thread.start()

    # ---- control ------------------------------------------------------------------------

    def flush(self, timeout: float) -> bool:
        """Export everything queued so far; True when done within ``timeout`` seconds."""
        deadline = time.monotonic() + max(timeout, 0.0)
        if self._thread is None or not self._thread.is_alive():
            self._drain_all(deadline)  # no worker (never started, or forked away): do it here
            return self._flush_exporters(deadline)
        done = threading.Event()
        with self._lock:
            self._flush_waiters.append(done)
        self._wake.set()
        if not done.wait(max(deadline - time.monotonic(), 0.0)):
            return False
        return self._flush_exporters(deadline)

    def _flush_exporters(self, deadline: float) -> bool:
        ok = True
        for exporter in self.exporters:
            try:
                ok = exporter.flush(max(deadline - time.monotonic(), 0.0)) and ok
            except Exception as exc:
                internal_error(f"exporter {exporter.name} flush", exc)
                ok = False
        return ok

    def shutdown(self, timeout: float) -> bool:
        """Flush, stop the thread and close the exporters, all within ``timeout``.

        Spans still queued when the budget runs out are not written: they are counted
        (``spans_dropped_shutdown_timeout``), and so are spans an exporter still held (a slow
        endpoint's backlog, counted in its ``dropped``); one warning on stderr says how many
        of each, since at exit nothing else would. A tenth of the budget (at most 0.5 s) is
        kept for the batch in flight to land once draining stops.
        """
        timeout = max(timeout, 0.0)
        deadline = time.monotonic() + timeout
        reserve = min(timeout * 0.1, 0.5)
        flushed = self.flush(timeout - reserve)
        with self._lock:
            self.closed = True
            self._stopping = True
        self._wake.set()
        thread = self._thread
        joinable = thread is not None and thread is not threading.current_thread()
        if thread is not None and joinable:  # it drains what came after the flush, then ends
            thread.join(max(deadline - reserve - time.monotonic(), 0.0))
        self._abandoned = True
        left = self._discard_queue()
        if thread is not None and joinable and left:
            thread.join(max(deadline - time.monotonic(), 0.0))
        if left:
            STATS.incr("spans_dropped_shutdown_timeout", left)
        undelivered: dict[str, int] = {}
        for exporter in self.exporters:
            try:
                held = exporter.shutdown(max(deadline - time.monotonic(), 0.0))
            except Exception as exc:
                internal_error(f"exporter {exporter.name} shutdown", exc)
                continue
            if isinstance(held, int) and held > 0:
                undelivered[exporter.name] = undelivered.get(exporter.name, 0) + held
        if left or undelivered:
            _warn_not_written(left, undelivered, timeout)
        return flushed

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's queue and thread; start fresh lazily."""
        self.queue = deque()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._flush_waiters = []
        self._thread = None
        self._abandoned = False
        for exporter in self.exporters:
            if isinstance(exporter, ResetsAfterFork):
                exporter.reset_after_fork()

    # ---- worker thread ------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            with self._lock:
                waiters, self._flush_waiters = self._flush_waiters, []
                stopping = self._stopping
            self._drain_all()
            for waiter in waiters:
                waiter.set()
            if stopping:
                return

    def _drain_all(self, deadline: float | None = None) -> None:
        queue = self.queue
        popleft = queue.popleft
        while queue and not self._abandoned:
            if deadline is not None and time.monotonic() >= deadline:
                return
            batch = []
            try:
                for _ in range(min(len(queue), self.batch_size)):
                    batch.append(popleft())
            except IndexError:  # another drainer emptied it
                pass
            if batch:
                self._export(batch)

    def _discard_queue(self) -> int:
        """Empty the queue; how many spans it held. One ``popleft`` at a time, so a span
        the worker takes meanwhile is counted once, by whoever took it."""
        popleft = self.queue.popleft
        count = 0
        try:
            while True:
                popleft()
                count += 1
        except IndexError:
            return count

    def _export(self, spans: list[Span]) -> None:
        try:
            encoded = self._encode(spans)
        except Exception as exc:
            internal_error("encoder", exc)
            STATS.incr("spans_dropped_encoding", len(spans))
            return
        if encoded is None:
            return
        STATS.incr("spans_encoded", encoded.span_count)
        for exporter in self.exporters:
            try:
                exporter.export(encoded)
            except Exception as exc:
                internal_error(f"exporter {exporter.name}", exc)
                STATS.exporter(exporter.name).failed += encoded.span_count


def _warn_not_written(queued: int, undelivered: dict[str, int], timeout: float) -> None:
    """One line on stderr for everything shutdown gave up on, where it was and where it is
    counted: at exit, logging may be unconfigured or already shut down."""
    where = []
    if queued:
        where.append(f"{queued:,} still queued (get_stats()['spans_dropped_shutdown_timeout'])")
    for name, count in undelivered.items():
        where.append(
            f"{count:,} not yet delivered by the {name} exporter "
            f"(get_stats()['exporters']['{name}']['dropped'])"
        )
    total = queued + sum(undelivered.values())
    try:
        sys.stderr.write(
            f"noveum_trace: {total:,} spans were not written when shutdown's {timeout:g} s "
            f"budget ran out: {'; '.join(where)}. To keep them, give the final flush more "
            f"time: call noveum_trace.shutdown(timeout=<seconds>) before the program exits.\n"
        )
        sys.stderr.flush()
    except Exception:  # stderr closed or gone at exit: the count in get_stats() remains
        pass
