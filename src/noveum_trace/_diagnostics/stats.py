"""Process-wide counters, read by ``noveum_trace.get_stats()``.

Every count is exact under contention, with no lock where a span is counted: each thread
counts into its own shard (a dict of counters and its own ``ExporterStats``), so every ``+=``
has a single writer, and a snapshot sums the shards. A shared int bumped from several
threads loses increments (read, add and store are separate steps), thousands of them when
eight threads drop spans at once. When a thread ends, its shard is folded into the retired
totals at the next snapshot.
"""

from __future__ import annotations

import os
import threading
import weakref
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass
class ExporterStats:
    exported: int = 0
    retried: int = 0
    rejected: int = 0
    dropped: int = 0
    failed: int = 0

    def add(self, other: ExporterStats) -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


class _Shard:
    """One thread's counts: written by that thread only."""

    __slots__ = ("counters", "exporters", "owner_ref")

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}
        self.exporters: dict[str, ExporterStats] = {}
        self.owner_ref: weakref.ref[_Owner] | None = None

    def add(self, other: _Shard) -> None:
        counters = self.counters
        for name, value in list(other.counters.items()):  # list(): one atomic copy
            counters[name] = counters.get(name, 0) + value
        for name, stats in list(other.exporters.items()):
            self.exporters.setdefault(name, ExporterStats()).add(stats)


class _Owner:
    """Held only by one thread's thread-local storage: collected when that thread ends."""

    __slots__ = ("__weakref__", "shard")

    def __init__(self, shard: _Shard) -> None:
        self.shard = shard


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # snapshot and reset only; never taken to count
        self._local = threading.local()
        self._live: list[_Shard] = []  # list.append is atomic: a new thread needs no lock
        self._ended: list[_Shard] = []  # appended to when a thread's owner is collected
        self._retired = _Shard()
        self.unknown_models: set[str] = set()
        if hasattr(os, "register_at_fork"):  # a lock held by a thread that did not fork
            os.register_at_fork(after_in_child=self._after_fork)

    def _shard(self) -> _Shard:
        try:
            return self._local.owner.shard  # type: ignore[no-any-return]
        except AttributeError:
            return self._new_shard()

    def _new_shard(self) -> _Shard:
        shard = _Shard()
        owner = _Owner(shard)
        ended = self._ended
        # The callback runs when the thread's locals are cleared at its end (no lock taken,
        # so it is safe wherever that happens, in a forked child included).
        shard.owner_ref = weakref.ref(owner, lambda _ref: ended.append(shard))
        self._local.owner = owner
        self._live.append(shard)
        return shard

    def incr(self, name: str, n: int = 1) -> None:
        try:
            counters: dict[str, int] = self._local.owner.shard.counters
        except AttributeError:
            counters = self._new_shard().counters
        counters[name] = counters.get(name, 0) + n

    def note_unknown_model(self, model: str) -> None:
        if len(self.unknown_models) < 1000:  # bounded: a hostile model name stream stays cheap
            self.unknown_models.add(model)

    def exporter(self, name: str) -> ExporterStats:
        """The calling thread's counters for exporter ``name``: bump them with ``+=``."""
        exporters = self._shard().exporters
        found = exporters.get(name)
        if found is None:
            found = exporters[name] = ExporterStats()
        return found

    def _fold_ended(self) -> None:
        while self._ended:
            shard = self._ended.pop()
            shard.owner_ref = None  # breaks the shard -> callback -> shard cycle
            self._retired.add(shard)
            self._live.remove(shard)

    def snapshot(self) -> dict[str, Any]:
        total = _Shard()
        with self._lock:
            self._fold_ended()
            total.add(self._retired)
            for shard in list(self._live):
                total.add(shard)
        out: dict[str, Any] = dict(total.counters)
        out["unknown_models"] = sorted(self.unknown_models.copy())
        out["exporters"] = {name: asdict(s) for name, s in total.exporters.items()}
        return out

    def reset(self) -> None:
        """Zero everything (tests). Counts made by other threads meanwhile may survive."""
        with self._lock:
            self._fold_ended()
            self._retired = _Shard()
            for shard in list(self._live):
                shard.counters.clear()
                shard.exporters.clear()
            self.unknown_models.clear()

    def _after_fork(self) -> None:
        self._lock = threading.Lock()


STATS = Stats()
