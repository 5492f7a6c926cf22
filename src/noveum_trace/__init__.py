"""noveum_trace: fast, OpenTelemetry-native tracing for LLM applications.

    import noveum_trace
    noveum_trace.init(service_name="my-app", log_directory="./traces")
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("llm_call") as span:
        span.set_attribute("gen_ai.request.model", "gpt-4o")

Before ``init()`` every function here is safe: tracers hand out non-recording spans (the
same tracer objects start recording once ``init()`` runs), ``flush``/``shutdown`` do nothing
and ``get_stats`` reports ``initialized: False``.
"""

from __future__ import annotations

from opentelemetry.trace import SpanKind, Status, StatusCode

from noveum_trace._api import InitOptions as InitOptions
from noveum_trace._api import (
    flush,
    get_current_span,
    get_stats,
    get_tracer,
    get_tracer_provider,
    init,
    shutdown,
)
from noveum_trace._core.tracer import Tracer as Tracer
from noveum_trace._core.tracer import TracerProvider as TracerProvider
from noveum_trace._version import __version__ as __version__
from noveum_trace.reader import read_traces

# The documented API (README, "API"). InitOptions, Tracer and TracerProvider are importable
# for type annotations; the functions live in ``_api``.
__all__ = [
    "SpanKind",
    "Status",
    "StatusCode",
    "flush",
    "get_current_span",
    "get_stats",
    "get_tracer",
    "get_tracer_provider",
    "init",
    "read_traces",
    "shutdown",
]
