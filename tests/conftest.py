"""Shared fixtures: a fresh noveum_trace pipeline per test, writing real trace files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import noveum_trace
from noveum_trace._diagnostics.stats import STATS

# Tests must never reach a real provider or pick up a developer's settings.
for _name in list(os.environ):
    if _name.startswith(("NOVEUM_TRACE_", "OTEL_", "OPENAI_", "ANTHROPIC_")):
        del os.environ[_name]


class Traces:
    """Initialises tracing into ``directory`` and reads back what landed in the files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def init(self, **options: Any) -> None:
        options.setdefault("service_name", "test")
        options.setdefault("log_directory", str(self.directory))
        noveum_trace.init(**options)

    def spans(self) -> list[dict[str, Any]]:
        assert noveum_trace.flush(30), "flush timed out"
        if not self.directory.exists():
            return []
        return list(noveum_trace.read_traces(self.directory))

    def by_name(self) -> dict[str, dict[str, Any]]:
        return {span["name"]: span for span in self.spans()}

    def raw_text(self) -> str:
        noveum_trace.flush(30)
        return "".join(p.read_text() for p in sorted(self.directory.rglob("*.jsonl")))


@pytest.fixture
def traces(tmp_path: Path) -> Iterator[Traces]:
    STATS.reset()
    helper = Traces(tmp_path / "traces")
    yield helper
    noveum_trace.shutdown(10)


@pytest.fixture
def traced(traces: Traces) -> Iterator[Traces]:
    """``traces`` with tracing already initialised with the defaults."""
    traces.init()
    yield traces


def find(
    spans: list[dict[str, Any]], predicate: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    return [span for span in spans if predicate(span)]
