"""``TracerProvider`` and ``Tracer``, implementing the OpenTelemetry API on our span engine."""

from __future__ import annotations

import functools
import inspect
import time
import types
from collections.abc import Callable, Mapping, Sequence
from random import getrandbits
from typing import Any, TypeVar

from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, SpanKind

from noveum_trace._core.app_sdk import AppSdkSpan
from noveum_trace._core.context import span_in
from noveum_trace._core.span import NonRecordingSpan, Span, SpanSink
from noveum_trace._core.values import as_text
from noveum_trace._diagnostics.guard import internal_error

F = TypeVar("F", bound=Callable[..., Any])
# What start_span hands out: ours when recording, ids only when not sampled (or before init()),
# or the application's SDK span wrapped with our behaviour (init(tracer_provider=...)).
StartedSpan = Span | NonRecordingSpan | AppSdkSpan
_MASK64 = (1 << 64) - 1
_time_ns = time.time_ns
# OpenTelemetry API SpanKind (INTERNAL=0 ...) to the OTLP enum (INTERNAL=1 ...)
_KINDS: dict[Any, int] = {kind: kind.value + 1 for kind in SpanKind}
_KINDS.update({kind.name.lower(): kind.value + 1 for kind in SpanKind})


class Tracer(otel_trace.Tracer):
    def __init__(self, provider: TracerProvider, name: str, version: str | None) -> None:
        self._provider = provider
        self._scope = (name, version)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> StartedSpan:
        """Start a span that is not yet current; ``with`` it to make it current."""
        sink = self._provider.pipeline
        if context is not None and not isinstance(context, Context):
            # start_span(name, {"k": v}): attributes passed where OpenTelemetry puts `context`
            if attributes is None and isinstance(context, Mapping):
                attributes = context
            context = None
        if sink is not None and sink.app_provider is not None:
            return AppSdkSpan(
                sink,
                sink.app_provider.get_tracer(*self._scope).start_span(
                    name,
                    context,
                    kind,
                    attributes,
                    links,
                    start_time,
                    record_exception,
                    set_status_on_exception,
                ),
                record_exception,
                set_status_on_exception,
            )
        parent = span_in(context)
        parent_type = type(parent)
        trace_state = None
        remote = False
        if parent_type is Span:
            trace_id = parent.trace_id
            parent_id = parent.span_id
            sampled = True
            trace_state = parent.trace_state
        elif parent is None:
            trace_id = getrandbits(128) or 1
            parent_id = 0
            sampled = sink is not None and (trace_id & _MASK64) < sink.sample_threshold
        elif parent_type is NonRecordingSpan:
            trace_id = parent.trace_id
            parent_id = parent.span_id
            sampled = False
            trace_state = parent.trace_state
        else:  # another OpenTelemetry implementation's span, or a remote parent
            trace_id, parent_id, sampled, remote, trace_state = _foreign_parent(parent, sink)
        span_id = getrandbits(64) or 1
        if sink is None or not sampled:
            return NonRecordingSpan(trace_id, span_id, trace_state)
        span = Span(
            sink,
            self._scope,
            name if type(name) is str else str(name),
            trace_id,
            span_id,
            parent_id,
            _KINDS.get(kind, 1),
            _time_ns() if start_time is None else int(start_time),
        )
        if trace_state is not None:
            span.trace_state = trace_state
        if remote:
            span.parent_remote = True
        if not record_exception:
            span.record_exc = False
        if not set_status_on_exception:
            span.set_status_on_exc = False
        if attributes:
            span.set_attributes(attributes)
        if links:
            for link in links:
                span.add_link(link.context, link.attributes)
        return span

    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Mapping[str, Any] | None = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> CurrentSpan:
        """Context manager (and decorator) that starts a span and makes it current."""
        return CurrentSpan(
            self,
            name,
            {
                "context": context,
                "kind": kind,
                "attributes": attributes,
                "links": links,
                "start_time": start_time,
                "record_exception": record_exception,
                "set_status_on_exception": set_status_on_exception,
            },
            end_on_exit,
        )


def _foreign_parent(parent: Any, sink: SpanSink | None) -> tuple[int, int, bool, bool, Any]:
    try:
        context = parent.get_span_context()
        if context is not None and context.is_valid:
            return (
                context.trace_id,
                context.span_id,
                bool(context.trace_flags.sampled),
                bool(context.is_remote),
                context.trace_state,
            )
    except Exception as exc:
        internal_error("tracer.parent", exc)
    trace_id = getrandbits(128) or 1
    sampled = sink is not None and (trace_id & _MASK64) < sink.sample_threshold
    return trace_id, 0, sampled, False, None


class CurrentSpan:
    """What ``start_as_current_span`` returns: a context manager, or a decorator."""

    __slots__ = ("_end_on_exit", "_kwargs", "_name", "_span", "_tracer")

    def __init__(
        self, tracer: Tracer, name: str, kwargs: dict[str, Any], end_on_exit: bool
    ) -> None:
        self._tracer = tracer
        self._name = name
        self._kwargs = kwargs
        self._end_on_exit = end_on_exit
        self._span: StartedSpan | None = None

    def __enter__(self) -> StartedSpan:
        span = self._tracer.start_span(self._name, **self._kwargs)
        if type(span) is Span or type(span) is AppSdkSpan:
            span._end_on_exit = self._end_on_exit
        self._span = span
        return span.__enter__()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        if self._span is not None:
            self._span.__exit__(exc_type, exc, tb)

    def _fresh(self) -> CurrentSpan:
        return CurrentSpan(self._tracer, self._name, self._kwargs, self._end_on_exit)

    def __call__(self, func: F) -> F:
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self._fresh():
                    return await func(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self._fresh():
                return func(*args, **kwargs)

        return run  # type: ignore[return-value]


class TracerProvider(otel_trace.TracerProvider):
    """One per process. Holds the running pipeline, seen as a ``SpanSink``: ``init()`` swaps
    it, tracers stay valid. None before ``init()`` and after ``shutdown()``."""

    def __init__(self) -> None:
        self.pipeline: SpanSink | None = None
        self._tracers: dict[tuple[str, str | None], Tracer] = {}

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> Tracer:
        # Other libraries pass odd scope values (a version that is a list or a number): they
        # are coerced to text, never raised into the application (the encoder expects text).
        version = instrumenting_library_version
        if version is not None and type(version) is not str:
            version = as_text(version)
        key = (as_text(instrumenting_module_name or "noveum_trace"), version)
        tracer = self._tracers.get(key)
        if tracer is None:
            tracer = self._tracers.setdefault(key, Tracer(self, *key))
        return tracer


PROVIDER = TracerProvider()
