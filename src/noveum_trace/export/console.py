"""A readable tree of each batch on stderr, for development."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from noveum_trace import semconv
from noveum_trace._diagnostics.stats import STATS
from noveum_trace.export.base import EncodedBatch
from noveum_trace.reader import SpanDict, spans_from_traces_data

_SHOWN = (
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv.GEN_AI_USAGE_COST,
    semconv.LLM_TIME_TO_FIRST_TOKEN_MS,
)


def _line(span: SpanDict) -> str:
    attrs = span["attributes"]
    details = " ".join(f"{key.rsplit('.', 1)[-1]}={attrs[key]}" for key in _SHOWN if key in attrs)
    status = span["status"]
    mark = f" ERROR {status['message']}" if status["code"] == "ERROR" else ""
    return f"{span['name']} {span['duration_ms']:.1f}ms {details}{mark}".rstrip()


def render_tree(spans: list[SpanDict]) -> list[str]:
    """Indented lines: children under parents present in ``spans``, others at the top."""
    ids = {span["span_id"] for span in spans}
    children: dict[Any, list[SpanDict]] = {}
    for span in sorted(spans, key=lambda s: s["start_time_unix_nano"]):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: Any, depth: int) -> None:
        for span in children.get(parent, []):
            lines.append("  " * depth + ("└─ " if depth else "● ") + _line(span))
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines


class ConsoleExporter:
    name = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    def export(self, batch: EncodedBatch) -> None:
        stream = self.stream or sys.stderr
        stream.write("\n".join(render_tree(list(spans_from_traces_data(batch.data)))) + "\n")
        stream.flush()
        STATS.exporter(self.name).exported += batch.span_count

    def flush(self, timeout: float) -> bool:
        return True

    def shutdown(self, timeout: float) -> None:
        pass
