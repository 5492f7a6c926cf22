"""A readable tree of each batch on stderr, for development (``console=True``).

Drawn by ``noveum_trace._render``, the same tree and span details as ``noveum-trace show``.
"""

from __future__ import annotations

import sys
from typing import TextIO

from noveum_trace._diagnostics.stats import STATS
from noveum_trace._render import log_tree
from noveum_trace.export.base import EncodedBatch
from noveum_trace.reader import spans_from_traces_data


class ConsoleExporter:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def export(self, batch: EncodedBatch) -> None:
        stream = self.stream or sys.stderr
        stream.write("\n".join(log_tree(list(spans_from_traces_data(batch.data)))) + "\n")
        stream.flush()
        STATS.exporter(self.name).exported += batch.span_count

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> None:
        pass
