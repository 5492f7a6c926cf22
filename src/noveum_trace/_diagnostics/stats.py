"""Process-wide counters, read by ``noveum_trace.get_stats()``.

Counters are plain ints bumped under the GIL; a lost increment under a race is acceptable
for diagnostics and far cheaper than a lock on the hot path.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class ExporterStats:
    exported: int = 0
    retried: int = 0
    rejected: int = 0
    dropped: int = 0
    failed: int = 0


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, int] = {}
        self.unknown_models: set[str] = set()
        self.exporters: dict[str, ExporterStats] = {}

    def incr(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def note_unknown_model(self, model: str) -> None:
        if len(self.unknown_models) < 1000:  # bounded: a hostile model name stream stays cheap
            self.unknown_models.add(model)

    def exporter(self, name: str) -> ExporterStats:
        found = self.exporters.get(name)
        if found is None:
            with self._lock:
                found = self.exporters.setdefault(name, ExporterStats())
        return found

    def snapshot(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.counters)
        out["unknown_models"] = sorted(self.unknown_models)
        out["exporters"] = {name: asdict(s) for name, s in self.exporters.items()}
        return out

    def reset(self) -> None:
        self.counters.clear()
        self.unknown_models.clear()
        self.exporters.clear()


STATS = Stats()
