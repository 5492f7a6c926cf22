"""Odd instrumentation-scope values from other libraries never reach the application as errors."""

from __future__ import annotations

from pathlib import Path

import opentelemetry.trace

import noveum_trace


class _Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_unhashable_and_unprintable_scope_values_are_coerced(tmp_path: Path) -> None:
    noveum_trace.init(service_name="scopes", log_directory=tmp_path, register_global=False)
    try:
        provider = noveum_trace.get_tracer_provider()
        odd = [
            ("lib.list", ["1", "2"]),
            ("lib.dict", {"v": 1}),
            ("lib.int", 2),
            (_Unprintable(), _Unprintable()),
        ]
        for name, version in odd:
            tracer = provider.get_tracer(name, version)  # type: ignore[arg-type]
            with tracer.start_span("odd"):
                pass
        # the same odd version twice is one tracer, not a new one per call
        assert provider.get_tracer("lib.list", ["1", "2"]) is provider.get_tracer(  # type: ignore[arg-type]
            "lib.list", ["1", "2"]  # type: ignore[arg-type]
        )
        with opentelemetry.trace.get_tracer("via.api", 3, tracer_provider=provider).start_span(  # type: ignore[arg-type]
            "api"
        ):
            pass
        noveum_trace.flush()
    finally:
        noveum_trace.shutdown()
    spans = list(noveum_trace.read_traces(tmp_path))
    scopes = {(s["scope"]["name"], s["scope"]["version"]) for s in spans}
    assert ("lib.list", "['1', '2']") in scopes
    assert ("lib.dict", "{'v': 1}") in scopes
    assert ("lib.int", "2") in scopes
    assert ("<unprintable _Unprintable>", "<unprintable _Unprintable>") in scopes
    assert ("via.api", "3") in scopes
    assert len(spans) == 5
