"""A Runtime is what one ``init()`` builds: limits, content policy, sampler, export worker."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from noveum_trace import semconv
from noveum_trace.config import Config
from noveum_trace.core.guard import internal_error
from noveum_trace.export.base import Exporter
from noveum_trace.export.otlp_json import Encoder
from noveum_trace.export.worker import ExportWorker
from noveum_trace.pricing import PriceTable, cost_from_attributes
from noveum_trace.privacy import ContentPolicy

if TYPE_CHECKING:
    from noveum_trace.core.span import Span

SDK_VERSION = "0.1.0"


def _policy(config: Config) -> ContentPolicy:
    return ContentPolicy(config.capture_content, config.redact, config.max_content_length)


def _resource(config: Config) -> dict[str, Any]:
    resource: dict[str, Any] = {
        semconv.TELEMETRY_SDK_NAME: "noveum_trace",
        semconv.TELEMETRY_SDK_LANGUAGE: "python",
        semconv.TELEMETRY_SDK_VERSION: SDK_VERSION,
        "process.runtime.version": platform.python_version(),
    }
    resource.update(config.resource_attributes)
    resource[semconv.SERVICE_NAME] = config.service_name
    if config.service_version:
        resource[semconv.SERVICE_VERSION] = config.service_version
    resource[semconv.PROCESS_PID] = os.getpid()
    return resource


_USAGE_KEYS = (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)


def span_cost(attrs: Mapping[str, Any], table: PriceTable) -> float | None:
    """``gen_ai.usage.cost`` for a span that carries token usage and has no cost yet."""
    if semconv.GEN_AI_USAGE_COST in attrs or not (
        _USAGE_KEYS[0] in attrs or _USAGE_KEYS[1] in attrs
    ):
        return None
    try:
        return cost_from_attributes(attrs, table)
    except Exception as exc:
        internal_error("pricing", exc)
        return None


def _cost_hook(table: PriceTable) -> Callable[[Span], None]:
    """Adds ``gen_ai.usage.cost`` on the worker thread to spans that carry token usage."""

    def add_cost(span: Span) -> None:
        cost = span_cost(span.attributes, table)
        if cost is not None:
            span.attributes[semconv.GEN_AI_USAGE_COST] = cost

    return add_cost


def build_exporters(config: Config) -> list[Exporter]:
    exporters: list[Exporter] = []
    if config.file_export:
        from noveum_trace.export.file import FileExporter

        exporters.append(
            FileExporter(config.log_directory, config.service_name, config.max_file_bytes)
        )
    if config.console:
        from noveum_trace.export.console import ConsoleExporter

        exporters.append(ConsoleExporter())
    if config.otlp_endpoint:
        from noveum_trace.export.otlp import make_otlp_exporter

        otlp = make_otlp_exporter(config)
        if otlp is not None:
            exporters.append(otlp)
    exporters.extend(config.exporters)
    return exporters


class Runtime:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.max_attribute_length = config.max_attribute_length
        self.max_attributes = config.max_attributes
        self.max_events = config.max_events
        self.sample_threshold = int(config.sample_rate * (1 << 64))
        # With an application's own SDK provider, spans are created and exported there.
        self.delegate: Any = config.tracer_provider
        self.policy = _policy(config)
        self.prices = PriceTable.default().with_overrides(config.prices)
        self.encoder = Encoder(_resource(config), _cost_hook(self.prices))
        self.worker = ExportWorker(
            self.encoder,
            build_exporters(config),
            config.max_queue_size,
            config.max_export_batch_size,
            config.flush_interval,
        )
        self.submit: Callable[[Span], None] = self.worker.submit

    def retire(self, successor: Runtime | None, timeout: float) -> bool:
        """Flush and stop; spans still open from this runtime end into ``successor``."""
        if successor is not None:
            self.submit = successor.submit
        return self.worker.shutdown(timeout)

    def after_fork(self) -> None:
        self.encoder.resource = Encoder(_resource(self.config)).resource
        self.worker.reset_after_fork()
