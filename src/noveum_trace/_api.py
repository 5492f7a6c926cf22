"""The public functions: ``init`` and what it builds, ``shutdown``, ``flush``, ``get_stats``, and
the exit and fork hooks. The facade ``noveum_trace/__init__.py`` re-exports them; modules
inside the package import them from here (nothing inside imports the facade)."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from opentelemetry import trace as _otel_trace

from noveum_trace import _config, _sigterm
from noveum_trace._core.tracer import PROVIDER, Tracer, TracerProvider
from noveum_trace._diagnostics.guard import internal_error as _internal_error
from noveum_trace._diagnostics.stats import STATS
from noveum_trace._pipeline import Pipeline, run_before_shutdown, running
from noveum_trace.export.base import Exporter
from noveum_trace.pricing import PriceOverrides
from noveum_trace.privacy import RedactSpec

if TYPE_CHECKING:
    from typing_extensions import Unpack


class InitOptions(TypedDict, total=False):
    """The options of ``init()`` beyond its two positional ones, typed for the type checker
    (README, "Options", says what each does). ``None`` means "not given"."""

    service_version: str | None
    resource_attributes: Mapping[str, Any] | str | None
    file_export: bool | None
    console: bool | None
    capture_content: bool | None
    redact: RedactSpec
    max_content_length: int | None
    max_attribute_length: int | None
    max_attributes: int | None
    max_events: int | None
    sample_rate: float | None
    max_queue_size: int | None
    max_export_batch_size: int | None
    flush_interval: float | None
    max_file_bytes: int | None
    stream_chunk_events: bool | None
    openai_include_usage: bool | None
    semconv_latest: bool | None
    prices: PriceOverrides | None
    register_global: bool | None
    tracer_provider: _otel_trace.TracerProvider | None
    exporters: Sequence[Exporter] | Exporter | None
    otlp_endpoint: str | None
    otlp_headers: Mapping[str, str] | str | None
    otlp_protocol: Literal["http/protobuf", "http/json"] | None
    otlp_timeout: float | None
    otlp_compression: Literal["gzip", "none"] | None


_lock = threading.Lock()
_hooks_installed = False
_SHUTDOWN_TIMEOUT = 5.0
# The pipeline shutdown() is retiring: a SIGTERM that interrupts that shutdown (a child
# terminated while it exits on its own) waits for its flush instead of cutting it short.
_retiring: Pipeline | None = None


def init(
    service_name: str | None = None,
    log_directory: str | os.PathLike[str] | None = None,
    **options: Unpack[InitOptions],
) -> TracerProvider:
    """Start tracing. Options: arguments, then ``NOVEUM_TRACE_*``/``OTEL_*``, then defaults.

    A second call replaces the configuration: the previous pipeline is flushed (its spans
    go where it was configured to send them) and stopped, so no worker leaks and no span is
    written twice. Spans still open at that moment are exported by the new pipeline.
    Raises ``ValueError`` naming the option when an option is invalid.
    """
    given: dict[str, Any] = dict(options)
    if service_name is not None:
        given["service_name"] = service_name
    if log_directory is not None:
        given["log_directory"] = log_directory
    config = _config.resolve(given)
    pipeline = Pipeline(config)
    global _hooks_installed
    with _lock:
        previous = running()
        PROVIDER.pipeline = pipeline
        if previous is not None:
            previous.retire(pipeline, _SHUTDOWN_TIMEOUT)
        if not _hooks_installed:
            _hooks_installed = True
            atexit.register(_at_exit)
            if hasattr(os, "register_at_fork"):
                os.register_at_fork(after_in_child=_after_fork_in_child)
    if config.register_global:
        _register_global()
    return PROVIDER


def _register_global() -> None:
    """Become the global OpenTelemetry provider unless the application already chose one."""
    current = _otel_trace.get_tracer_provider()
    if isinstance(current, _otel_trace.ProxyTracerProvider):
        _otel_trace.set_tracer_provider(PROVIDER)


def get_tracer(name: str | None = None, version: str | None = None) -> Tracer:
    """A tracer; spans from it are non-recording until ``init()`` has run."""
    return PROVIDER.get_tracer(name or "noveum_trace", version)


def get_tracer_provider() -> TracerProvider:
    return PROVIDER


def get_current_span() -> _otel_trace.Span:
    """The current span (ours or any OpenTelemetry span), or an invalid span when none."""
    return _otel_trace.get_current_span()


def flush(timeout: float = _SHUTDOWN_TIMEOUT) -> bool:
    """Export every span ended so far. True when done within ``timeout`` seconds."""
    pipeline = running()
    if pipeline is None:
        return True
    try:
        return pipeline.worker.flush(timeout)
    except Exception as exc:
        _internal_error("flush", exc)
        return False


def shutdown(timeout: float = _SHUTDOWN_TIMEOUT) -> bool:
    """Flush and stop. Later spans are non-recording until ``init()`` is called again."""
    global _retiring
    if running() is not None:
        run_before_shutdown()  # open instrumentation spans end into the pipeline still running
    with _lock:
        pipeline = _retiring = running()  # named first: a SIGTERM flush finds it either way
        PROVIDER.pipeline = None
    if pipeline is None:
        return True
    try:
        return pipeline.retire(None, timeout)
    except Exception as exc:
        _internal_error("shutdown", exc)
        return False
    finally:
        _retiring = None


def get_stats() -> dict[str, Any]:
    """Counters: spans exported per exporter, dropped spans and why, internal errors, ..."""
    stats = STATS.snapshot()
    pipeline = running()
    stats["initialized"] = pipeline is not None
    stats["queue_size"] = len(pipeline.worker.queue) if pipeline is not None else 0
    return stats


def _at_exit() -> None:
    shutdown(_SHUTDOWN_TIMEOUT)


def _after_fork_in_child() -> None:
    global _lock
    _lock = threading.Lock()  # the fork may have copied it held by another thread of the parent
    _sigterm.forget()
    pipeline = running()
    if pipeline is not None:
        try:
            pipeline.after_fork()
            _flush_at_multiprocessing_exit()
        except Exception as exc:
            _internal_error("fork", exc)


def _flush_at_multiprocessing_exit() -> None:
    """A ``multiprocessing`` child leaves through ``os._exit``: atexit never runs there, but
    multiprocessing's finalizers do. Its bootstrap first drops the finalizers inherited from
    the parent, then runs its after-fork callbacks: ours registers the finalizer from there.
    (An app that forks with multiprocessing has imported it by now; we never import it.)"""
    if "multiprocessing.util" in sys.modules:
        import multiprocessing.util

        multiprocessing.util.register_after_fork(_at_exit, _register_exit_finalizer)


def _register_exit_finalizer(_: object) -> None:
    import multiprocessing.util

    # Negative priority: after multiprocessing has sent the child's results to the parent.
    multiprocessing.util.Finalize(None, _at_multiprocessing_exit, exitpriority=-10)
    # Pool.terminate() (every ``with Pool()``) and Process.terminate(): SIGTERM, no finalizer.
    _sigterm.install(_flush_before_death)


def _at_multiprocessing_exit() -> None:
    _at_exit()
    _sigterm.die_if_terminated()


def _flush_before_death(budget: float) -> None:
    """A child sent SIGTERM writes what it holds: the running pipeline's spans (after ending
    the calls instrumentation holds open, as shutdown does), or, when the child was shutting
    down already, those of the pipeline it is retiring."""
    pipeline = _retiring
    if pipeline is None:
        pipeline = running()
        if pipeline is None:
            return
        run_before_shutdown()
    pipeline.worker.flush(budget)
