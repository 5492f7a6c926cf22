"""What the export worker hands to exporters."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Protocol

import orjson


@dataclass
class EncodedBatch:
    line: bytes  # one OTLP TracesData as compact JSON (protobuf JSON mapping), secrets masked
    span_count: int

    @functools.cached_property
    def data(self) -> dict[str, Any]:
        """The same TracesData decoded, for exporters that need structure (decoded once)."""
        return orjson.loads(self.line)  # type: ignore[no-any-return]


class Exporter(Protocol):
    name: str

    def export(self, batch: EncodedBatch) -> None: ...

    def flush(self, timeout: float) -> bool: ...

    def shutdown(self, timeout: float) -> None: ...
