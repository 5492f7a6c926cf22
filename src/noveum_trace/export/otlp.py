"""The OTLP/HTTP exporter: ``http/json`` or ``http/protobuf`` to any OpenTelemetry backend.

The export worker hands us encoded batches. ``export()`` only appends the batch to a bounded
backlog and returns: the POSTs, retries and backoff run on this exporter's own sender
thread. That keeps a slow or dead endpoint from stalling the shared worker, which would
otherwise delay the trace files and fill the span queue. Memory stays bounded: the backlog
holds at most ``max_backlog_spans`` spans (more are dropped and counted), and each batch gets
at most ``timeout`` seconds of attempts (the OTLP meaning of ``OTEL_EXPORTER_OTLP_TIMEOUT``)
before it is dropped and counted. While a flush or shutdown waits (interpreter exit
included), an endpoint that cannot be connected to is not retried: each remaining batch gets
one attempt, so a dead collector never holds the application up.

Counters (``get_stats()["exporters"]["otlp"]``): ``exported`` spans accepted by the server,
``rejected`` spans it refused in a ``partialSuccess``, ``retried`` spans sent again after a
retryable failure, ``dropped`` spans given up on (backlog full, retry time spent, endpoint
down at a flush, shutdown),
``failed`` spans refused with a final status or that could not be encoded. Spans still held
when shutdown's budget runs out are also said on stderr, by the worker (``ExportWorker``).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

from noveum_trace._diagnostics.guard import internal_error, warn_once
from noveum_trace._diagnostics.stats import STATS, ExporterStats
from noveum_trace.export._otlp_http import (
    Interrupt,
    OtlpHttpClient,
    Outcome,
    Result,
    RetryPolicy,
    display_url,
)
from noveum_trace.export.base import EncodedBatch

if TYPE_CHECKING:
    from noveum_trace._config import Config

__all__ = ["OTLPExporter", "RetryPolicy", "make_otlp_exporter"]


def make_otlp_exporter(config: Config) -> OTLPExporter | None:
    """The exporter ``init()`` installs; None when no endpoint is configured.

    http/protobuf is the OTLP default, so a bare ``OTEL_EXPORTER_OTLP_ENDPOINT`` asks for it
    even where the ``[otlp]`` extra is not installed: then we send http/json (which every
    OTLP/HTTP receiver accepts too) rather than fail ``init()``.
    """
    if not config.otlp_endpoint:
        return None
    protocol = config.otlp_protocol
    if protocol == "http/protobuf" and not _protobuf_available():
        warn_once(
            "otlp_no_protobuf",
            "noveum_trace: OTLP protocol http/protobuf needs the opentelemetry-proto package, "
            "which is not installed; falling back to http/json. Install it with "
            "`pip install 'noveum-trace[otlp]'`, or set OTEL_EXPORTER_OTLP_PROTOCOL=http/json "
            "to silence this warning.",
        )
        protocol = "http/json"
    return OTLPExporter(
        config.otlp_endpoint,
        headers=config.otlp_headers,
        protocol=protocol,
        compression=config.otlp_compression,
        timeout=config.otlp_timeout,
        max_backlog_spans=config.max_queue_size,
    )


def _protobuf_available() -> bool:
    try:
        import noveum_trace.export._otlp_proto  # noqa: F401
    except ImportError:
        return False
    return True


class OTLPExporter:
    name = "otlp"

    def __init__(
        self,
        endpoint: str,
        *,
        headers: Mapping[str, str] | None = None,
        protocol: str = "http/protobuf",
        compression: str = "none",
        timeout: float = 10.0,
        max_backlog_spans: int = 16384,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._shown = display_url(endpoint)  # for log lines: no credentials
        self.timeout = timeout
        self.max_backlog_spans = max_backlog_spans
        self._new_client = functools.partial(
            OtlpHttpClient,
            endpoint,
            headers=dict(headers or {}),
            protocol=protocol,
            compression=compression,
            timeout=timeout,
            policy=retry,
        )
        self._client = self._new_client()  # validates; ImportError for proto
        STATS.exporter(self.name)  # listed in get_stats() from the start, zeros included
        self._reset_state()

    @property
    def _stats(self) -> ExporterStats:
        return STATS.exporter(self.name)  # looked up each time: survives STATS.reset()

    def _reset_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._backlog: deque[EncodedBatch] = deque()
        self._pending_spans = 0  # in the backlog plus the one being sent
        self._in_flight: EncodedBatch | None = None  # owned by whoever accounts for it first
        self._closed = False
        self._interrupt = Interrupt()  # stop: shutdown; hurry: a flush/shutdown is waiting
        self._thread: threading.Thread | None = None

    # ---- called by the export worker ----------------------------------------------------

    def export(self, batch: EncodedBatch) -> None:
        count = batch.span_count
        with self._cond:
            if self._closed or self._pending_spans + count > self.max_backlog_spans:
                self._stats.dropped += count
                full = not self._closed
            else:
                self._backlog.append(batch)
                self._pending_spans += count
                if self._thread is None:
                    self._start()
                self._cond.notify()
                return
        if full:
            warn_once(
                "otlp_backlog_full",
                "noveum_trace: OTLP endpoint %s is not keeping up (backlog of %d spans full); "
                "dropping spans, counted in get_stats(). The application is unaffected.",
                self._shown,
                self.max_backlog_spans,
            )

    def flush(self, timeout: float) -> bool:
        """Wait until every batch handed over so far was delivered or given up on.

        While we wait, an endpoint that refuses connections is not retried (each batch gets
        one attempt), so a dead collector costs a flush, or interpreter exit, next to nothing.
        """
        self._interrupt.hurry()
        try:
            with self._cond:
                return self._cond.wait_for(lambda: self._pending_spans == 0, max(timeout, 0.0))
        finally:
            self._interrupt.calm()

    def shutdown(self, timeout: float) -> int:
        """Deliver what we can within ``timeout``, then stop; what is left is dropped (counted,
        and returned: the worker's exit warning names it)."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            self._closed = True
        self._interrupt.hurry()  # for good: nobody waits on retries after this
        self.flush(deadline - time.monotonic())
        with self._cond:
            dropped = sum(batch.span_count for batch in self._backlog)
            self._pending_spans -= dropped
            self._backlog.clear()
            if self._in_flight is not None:  # its request is aborted below; count it now
                dropped += self._in_flight.span_count
                self._pending_spans -= self._in_flight.span_count
                self._in_flight = None
            self._stats.dropped += dropped
            self._interrupt.stop()
            self._cond.notify_all()
            thread = self._thread
        self._client.abort()  # a request in flight fails now instead of at its timeout
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(deadline - time.monotonic(), 0.0))
        self._client.close()
        return dropped

    def reset_after_fork(self) -> None:
        """In a forked child: the parent sends its own backlog; start empty, lazily."""
        self._client.forget()
        self._client = self._new_client()
        self._reset_state()

    # ---- sender thread ------------------------------------------------------------------

    def _start(self) -> None:
        thread = threading.Thread(target=self._run, name="noveum-trace-otlp", daemon=True)
        self._thread = thread
        thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._backlog and not self._interrupt.stopped:
                    self._cond.wait()
                if self._interrupt.stopped:
                    return
                batch = self._in_flight = self._backlog.popleft()
            try:
                result = self._deliver(batch)
            except Exception as exc:  # never let the sender thread die
                internal_error("otlp export", exc)
                result = None
            with self._cond:
                if self._in_flight is batch:  # else shutdown already counted it as dropped
                    self._in_flight = None
                    self._pending_spans -= batch.span_count
                    self._account(result, batch.span_count)
                self._cond.notify_all()

    def _deliver(self, batch: EncodedBatch) -> Result | None:
        """Encode and send; None when the batch cannot be encoded."""
        count = batch.span_count
        try:
            body = self._client.encode(batch.line, lambda: batch.data)
        except Exception as exc:
            internal_error("otlp encode", exc)
            return None

        def retried() -> None:
            self._stats.retried += count

        return self._client.post(body, time.monotonic() + self.timeout, self._interrupt, retried)

    def _account(self, result: Result | None, count: int) -> None:
        stats = self._stats
        if result is None:
            stats.failed += count
        elif result.outcome is Outcome.DELIVERED:
            rejected = min(max(result.rejected, 0), count)
            stats.exported += count - rejected
            stats.rejected += rejected
            if rejected:
                warn_once(
                    "otlp_partial",
                    "noveum_trace: OTLP endpoint %s rejected %d span(s): %s",
                    self._shown,
                    rejected,
                    result.message or "(no message)",
                )
        elif result.outcome is Outcome.REFUSED:
            stats.failed += count
            warn_once(
                f"otlp_refused_{result.status}",
                "noveum_trace: OTLP endpoint %s refused spans with HTTP %s (not retried): %s",
                self._shown,
                result.status,
                result.message,
            )
        else:
            stats.dropped += count
            if result.outcome is Outcome.EXHAUSTED:
                warn_once(
                    "otlp_unreachable",
                    "noveum_trace: OTLP endpoint %s unavailable (%s); dropping spans, counted "
                    "in get_stats(). The application is unaffected.",
                    self._shown,
                    result.message or f"HTTP {result.status}",
                )
