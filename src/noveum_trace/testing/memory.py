"""An exporter that keeps decoded spans in memory, for tests (ours and users')."""

from __future__ import annotations

import threading

from noveum_trace._diagnostics.stats import STATS
from noveum_trace.export.base import EncodedBatch
from noveum_trace.reader import SpanDict, spans_from_traces_data


class InMemoryExporter:
    """Sits behind the same encoder as the files: what it holds is what a file would hold.

    Pass it to ``noveum_trace.init(exporters=[exporter])``; call ``noveum_trace.flush()``
    before reading ``get_finished_spans()``.
    """

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spans: list[SpanDict] = []
        self.lines: list[bytes] = []

    def export(self, batch: EncodedBatch) -> None:
        spans = list(spans_from_traces_data(batch.data))
        with self._lock:
            self._spans.extend(spans)
            self.lines.append(batch.line)
        STATS.exporter(self.name).exported += batch.span_count

    def get_finished_spans(self) -> list[SpanDict]:
        with self._lock:
            return list(self._spans)

    def clear(self) -> None:
        with self._lock:
            self._spans.clear()
            self.lines.clear()

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> None:
        pass
