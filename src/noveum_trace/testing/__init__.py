"""Test helpers for users' own tests: an in-memory exporter and a fake LLM provider."""

from __future__ import annotations

from typing import Any

from noveum_trace.testing.memory import InMemoryExporter

__all__ = ["FakeProvider", "InMemoryExporter", "RecordedRequest"]


def __getattr__(name: str) -> Any:
    # The fake provider pulls in http.server; import it only when asked for.
    if name in ("FakeProvider", "RecordedRequest"):
        from noveum_trace.testing import fake_provider

        return getattr(fake_provider, name)
    raise AttributeError(name)
