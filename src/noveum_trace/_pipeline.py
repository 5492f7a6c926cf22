"""A Pipeline is what one ``init()`` builds: limits, content policy, sampler, export worker."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from noveum_trace import semconv
from noveum_trace._config import Config
from noveum_trace._core.tracer import PROVIDER
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace.export.base import Exporter
from noveum_trace.export.otlp_json import Encoder
from noveum_trace.export.worker import ExportWorker
from noveum_trace.pricing import PriceTable, span_cost
from noveum_trace.privacy import ContentPolicy

if TYPE_CHECKING:
    from noveum_trace._core.span import Span

from noveum_trace._version import __version__ as SDK_VERSION


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


class Pipeline:
    """Satisfies the span engine's ``SpanSink``: ``PROVIDER.pipeline`` holds the running one."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.max_attribute_length = config.max_attribute_length
        self.max_attributes = config.max_attributes
        self.max_events = config.max_events
        self.sample_threshold = int(config.sample_rate * (1 << 64))
        # With an application's own SDK provider, spans are created and exported there.
        self.app_provider = config.tracer_provider
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

    def retire(self, successor: Pipeline | None, timeout: float) -> bool:
        """Flush and stop; spans still open from this pipeline end into ``successor``."""
        if successor is not None:
            self.submit = successor.submit
        return self.worker.shutdown(timeout)

    def after_fork(self) -> None:
        self.encoder.resource = Encoder(_resource(self.config)).resource
        self.worker.reset_after_fork()


_DEFAULTS = Config()


def running() -> Pipeline | None:
    """The running pipeline: the sink ``init()`` gave the provider, or None."""
    sink = PROVIDER.pipeline
    return sink if isinstance(sink, Pipeline) else None


def active_config() -> Config:
    """The configuration in force: the running pipeline's, or the defaults before ``init()``.

    The one source: ``init()`` swaps the pipeline, and with it the configuration."""
    pipeline = running()
    return pipeline.config if pipeline is not None else _DEFAULTS


_before_shutdown: list[Callable[[], None]] = []


def before_shutdown(hook: Callable[[], None]) -> None:
    """Run ``hook`` when the pipeline shuts down (``shutdown()`` or exit), before the final
    flush: instrumentation ends the spans it still holds open there. Registered once."""
    if hook not in _before_shutdown:
        _before_shutdown.append(hook)


def run_before_shutdown() -> None:
    for hook in list(_before_shutdown):
        try:
            hook()
        except Exception as exc:
            internal_error("before_shutdown", exc)
