"""What the export worker hands to exporters."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson

# A decoded OTLP/JSON document: its values are whatever JSON holds.
JsonObject = dict[str, Any]


@dataclass
class EncodedBatch:
    line: bytes  # one OTLP TracesData as compact JSON (protobuf JSON mapping), secrets masked
    span_count: int

    @functools.cached_property
    def data(self) -> JsonObject:
        """The same TracesData decoded, for exporters that need structure (decoded once)."""
        return orjson.loads(self.line)  # type: ignore[no-any-return]


class Exporter(Protocol):
    name: str

    def export(self, batch: EncodedBatch) -> None: ...

    def flush(self, timeout: float) -> bool: ...

    def shutdown(self, timeout: float) -> int | None:
        """Deliver what it holds within ``timeout``, then stop. Returns how many spans it was
        still holding when the time ran out and gave up on (None: none, or not counted); the
        worker says so on stderr, with its own leftovers, in one line."""
        ...


@runtime_checkable
class ResetsAfterFork(Protocol):
    """An exporter with per-process state (a file, a connection, a thread) to forget in a
    forked child; the worker calls ``reset_after_fork`` there."""

    def reset_after_fork(self) -> None: ...
