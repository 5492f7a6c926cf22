"""The span: a slotted record that satisfies ``opentelemetry.trace.Span``.

Hot-path rules (DESIGN.md, decision 2): no lock, no I/O, no JSON for primitive values on the
application's thread. Ending a span hands the span object itself (already compact) to the
pipeline's bounded queue; the export worker does all encoding.
"""

from __future__ import annotations

import time
import traceback
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import trace as otel_trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState
from opentelemetry.util import types as otel_types

from noveum_trace import semconv
from noveum_trace._compat import otel as otel_internals
from noveum_trace._core import context as ctx
from noveum_trace._core.values import _DROP, coerce, safe_str, to_json, truncate, type_name
from noveum_trace._diagnostics.guard import internal_error

if TYPE_CHECKING:
    from noveum_trace.pricing import PriceTable
    from noveum_trace.privacy import ContentPolicy


class SpanSink(Protocol):
    """What the span engine needs from the layer above: the pipeline ``init()`` builds.

    The engine reads the limits, the content policy, the sampler's threshold and the prices
    from it, and hands every ended span to ``submit``; it knows nothing else about the
    pipeline (no config, no export), so ``_core`` depends on nothing above it.
    """

    @property
    def max_attribute_length(self) -> int: ...
    @property
    def max_attributes(self) -> int: ...
    @property
    def max_events(self) -> int: ...
    @property
    def sample_threshold(self) -> int:
        """A root span is sampled when the low 64 bits of its trace id are below this."""

    @property
    def policy(self) -> ContentPolicy: ...
    @property
    def prices(self) -> PriceTable: ...
    @property
    def app_provider(self) -> otel_trace.TracerProvider | None:
        """The application's own SDK provider (``init(tracer_provider=...)``), or None."""

    def submit(self, span: Span) -> None:
        """Take an ended span. Called on the application's thread: must never block."""


_time_ns = time.time_ns
_CURRENT_SPAN = otel_internals.SPAN_KEY
_CONTENT_KEYS = semconv.CONTENT_KEYS
STATUS_BY_NAME = {"unset": 0, "ok": 1, "error": 2}  # the guide's set_status("error", msg)
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_UNSAMPLED = TraceFlags(TraceFlags.DEFAULT)


def exception_attributes(exception: BaseException, escaped: bool = False) -> dict[str, Any]:
    """The attributes of an ``exception`` event (OpenTelemetry semantic conventions)."""
    kind = type(exception)
    event: dict[str, Any] = {
        semconv.EXCEPTION_TYPE: type_name(exception),
        semconv.EXCEPTION_MESSAGE: safe_str(exception),
        semconv.EXCEPTION_STACKTRACE: "".join(
            traceback.format_exception(kind, exception, exception.__traceback__)
        ),
    }
    if escaped:
        event[semconv.EXCEPTION_ESCAPED] = True
    return event


def error_description(exception: BaseException) -> str:
    """The status description of a span an exception escaped: ``Type: message``."""
    return f"{type(exception).__name__}: {safe_str(exception)}"


_STORED: Any = object()  # clean_value already stored it (content) or dropped it by policy


def clean_value(sink: SpanSink, key: str, value: Any, target: dict[str, Any]) -> Any:
    """``value`` made fit to record under ``key``: coerced and cut to the length limit, or
    ``_DROP``. A content key's value goes through the content policy (capture switch,
    redaction, truncation with a ``<key>.truncated`` marker) and is stored in ``target``
    right here; that returns ``_STORED``."""
    if type(value) is str:
        if key in _CONTENT_KEYS:
            return _store_content(sink, key, value, target)
        limit = sink.max_attribute_length
        return value if len(value) <= limit else value[:limit]
    if type(value) in (int, float, bool) and (
        type(value) is not int or -9223372036854775808 <= value <= 9223372036854775807
    ):
        return value
    if key in _CONTENT_KEYS and value is not None:
        text = value if isinstance(value, str) else to_json(value)
        if text is not _DROP:
            return _store_content(sink, key, text, target)
    return coerce(value, sink.max_attribute_length)


def _store_content(sink: SpanSink, key: str, text: str, target: dict[str, Any]) -> Any:
    kept, truncated = sink.policy.apply(text)
    if kept is not None:
        target[key] = kept
        if truncated:
            target[key + semconv.TRUNCATED_SUFFIX] = True
    return _STORED


def _timestamp_ns(value: Any) -> int:
    """Accept OpenTelemetry's int nanoseconds, or float seconds as ``time.time()`` gives."""
    if type(value) is int:
        return value
    number = float(value)
    return int(number * 1e9) if number < 1e11 else int(number)


if TYPE_CHECKING:
    # What ``otel_trace.Span.register`` (at the end of this module) tells ``isinstance``, told
    # to the type checker, which then checks every method against the OpenTelemetry interface.
    # Not a real base: it has no ``__slots__``, so every span would carry an instance dict.
    ApiSpan = otel_trace.Span
else:
    ApiSpan = object


class _HexIds(ApiSpan):
    """``trace_id_hex`` / ``span_id_hex`` (for logs) on every span kind we hand out."""

    __slots__ = ()
    trace_id: int
    span_id: int

    @property
    def trace_id_hex(self) -> str:
        return f"{self.trace_id:032x}"

    @property
    def span_id_hex(self) -> str:
        return f"{self.span_id:016x}"


class RecordingSpan(_HexIds):
    """What both recording span kinds we hand out (ours, and the application SDK's wrapped
    in ``AppSdkSpan``) share: the ``exception`` event, and leaving ``with span``. A
    subclass's ``__init__`` sets the fields; its ``__enter__`` sets ``_ctx_token``."""

    __slots__ = (
        "_ctx_token",
        "_end_on_exit",
        "_last_exception",
        "record_exc",
        "set_status_on_exc",
        "status_code",
    )
    _ctx_token: object  # what leaving ``with span`` restores
    _end_on_exit: bool  # start_as_current_span(end_on_exit=...)
    _last_exception: BaseException | None
    record_exc: bool  # start_span(record_exception=...)
    set_status_on_exc: bool  # start_span(set_status_on_exception=...)
    status_code: int  # 0 unset, 1 ok, 2 error: the status the application set, if any

    if TYPE_CHECKING:  # both kinds take float seconds too, as ``time.time()`` gives

        def add_event(
            self,
            name: str,
            attributes: Mapping[str, Any] | None = None,
            timestamp: int | float | None = None,
        ) -> None: ...

    def record_exception(
        self,
        exception: BaseException,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | float | None = None,
        escaped: bool = False,
    ) -> None:
        if not self.is_recording():
            return
        try:
            event = exception_attributes(exception, escaped)
            if attributes:
                event.update(attributes)
            self.add_event(semconv.EVENT_EXCEPTION, event, timestamp)
            self._last_exception = exception
        except Exception as exc:
            internal_error("span.record_exception", exc)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        token = self._ctx_token
        if token is not None:
            self._ctx_token = None
            ctx.detach(token)
        if exc is not None and self.is_recording():
            self._escaped(exc)
        if self._end_on_exit:
            self.end()

    def _escaped(self, exc: BaseException) -> None:
        """``exc`` leaves ``with span``. The application may have recorded it and set a
        status already (the guide's error-handling pattern): record it once, and keep their
        status and description."""
        if self.record_exc and exc is not self._last_exception:
            self.record_exception(exc, escaped=True)
        self._last_exception = None  # do not keep the traceback alive in the queue
        if self.set_status_on_exc and self.status_code == 0:
            self.set_status(StatusCode.ERROR, error_description(exc))


class Span(RecordingSpan):
    """A recording span. Use as ``with tracer.start_span(...) as span:``."""

    __slots__ = (
        "_sink",
        "_span_context",
        "attributes",
        "dropped",
        "dropped_events",
        "end_ns",
        "events",
        "kind",
        "links",
        "name",
        "parent_id",
        "parent_remote",
        "scope",
        "span_id",
        "start_ns",
        "status_message",
        "trace_id",
        "trace_state",
    )

    def __init__(
        self,
        sink: SpanSink,
        scope: tuple[str, str | None],
        name: str,
        trace_id: int,
        span_id: int,
        parent_id: int,
        kind: int,
        start_ns: int,
    ) -> None:
        self._sink = sink
        self.scope = scope
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.parent_remote = False
        self.trace_state: TraceState | None = None
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = 0
        self.attributes: dict[str, Any] = {}
        self.events: list[tuple[str, int, dict[str, Any]]] | None = None
        self.links: list[tuple[int, int, dict[str, Any]]] | None = None
        self.status_code = 0
        self.status_message = ""
        self.dropped = 0
        self.dropped_events = 0
        self.record_exc = True
        self.set_status_on_exc = True
        self._span_context: SpanContext | None = None
        self._ctx_token: object = None
        self._end_on_exit = True
        self._last_exception: BaseException | None = None

    # ---- attributes -------------------------------------------------------------------

    def _clean(self, key: Any, value: Any, target: dict[str, Any]) -> None:
        """Store ``value`` under ``key`` in ``target`` after coercion, limits and privacy."""
        if type(key) is not str:
            key = str(key)
        value = clean_value(self._sink, key, value, target)
        if value is _STORED:
            return
        if value is _DROP or (len(target) >= self._sink.max_attributes and key not in target):
            self.dropped += 1
            return
        target[key] = value

    def set_attribute(self, key: str, value: Any) -> None:
        kind = type(value)
        # Fast path: a plain primitive under a plain, non-content key (nearly every call).
        if (
            (kind is str or kind is float or kind is bool or kind is int)
            and type(key) is str
            and key not in _CONTENT_KEYS
            and not self.end_ns
        ):
            sink = self._sink
            attrs = self.attributes
            if (
                (kind is not str or len(value) <= sink.max_attribute_length)
                and (kind is not int or -9223372036854775808 <= value <= 9223372036854775807)
                and (len(attrs) < sink.max_attributes or key in attrs)
            ):
                attrs[key] = value
                return
        if self.end_ns:
            return
        try:
            self._clean(key, value, self.attributes)
        except Exception as exc:
            internal_error("span.set_attribute", exc)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.end_ns:
            return
        try:
            clean = self._clean
            target = self.attributes
            for key, value in attributes.items():
                clean(key, value, target)
        except Exception as exc:
            internal_error("span.set_attributes", exc)

    def add_event(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        timestamp: int | float | None = None,
    ) -> None:
        if self.end_ns:
            return
        try:
            events = self.events
            if events is None:
                events = self.events = []
            elif len(events) >= self._sink.max_events:
                self.dropped_events += 1
                return
            clean: dict[str, Any] = {}
            if attributes:
                for key, value in attributes.items():
                    self._clean(key, value, clean)
            when = _time_ns() if timestamp is None else _timestamp_ns(timestamp)
            events.append((name if type(name) is str else str(name), when, clean))
        except Exception as exc:
            internal_error("span.add_event", exc)

    def add_link(self, context: SpanContext, attributes: otel_types.Attributes = None) -> None:
        if self.end_ns or context is None or not context.is_valid:
            return
        try:
            clean: dict[str, Any] = {}
            for key, value in (attributes or {}).items():
                self._clean(key, value, clean)
            if self.links is None:
                self.links = []
            self.links.append((context.trace_id, context.span_id, clean))
        except Exception as exc:
            internal_error("span.add_link", exc)

    def set_status(
        self, status: Status | StatusCode | str | int, description: str | None = None
    ) -> None:
        """Accepts ``Status``, ``StatusCode`` or the guide's strings ("error", "ok", "unset")."""
        if self.end_ns or self.status_code == 1:  # OK is final, as the OpenTelemetry spec says
            return
        try:
            if isinstance(status, Status):
                code = status.status_code.value
                description = status.description if description is None else description
            elif isinstance(status, StatusCode):
                code = status.value
            elif type(status) is int and 0 <= status <= 2:
                code = status
            else:
                code = STATUS_BY_NAME.get(str(status).strip().lower(), -1)
                if code < 0:
                    internal_error("span.set_status", ValueError(f"unknown status {status!r}"))
                    return
            self.status_code = code
            if code == 2 and description is not None:
                self.status_message = truncate(str(description), self._sink.max_attribute_length)
            elif code != 2:
                self.status_message = ""
        except Exception as exc:
            internal_error("span.set_status", exc)

    def update_name(self, name: str) -> None:
        if not self.end_ns:
            self.name = str(name)

    def is_recording(self) -> bool:
        return not self.end_ns

    def get_span_context(self) -> SpanContext:
        context = self._span_context
        if context is None:
            context = self._span_context = SpanContext(
                self.trace_id, self.span_id, False, _SAMPLED, self.trace_state
            )
        return context

    @property
    def span_context(self) -> SpanContext:
        return self.get_span_context()

    def end(self, end_time: int | float | None = None) -> None:
        if self.end_ns:
            return
        try:
            end_ns = _time_ns() if end_time is None else _timestamp_ns(end_time)
            self.end_ns = end_ns if end_ns > 0 else 1
            self._sink.submit(self)
        except Exception as exc:
            internal_error("span.end", exc)

    # ---- context management: `with span:` makes it current --------------------------

    def __enter__(self) -> Span:
        var = otel_internals.CONTEXT_VAR
        if var is not None:  # inlined ctx.attach_span: this is the hottest path there is
            context = Context(var.get())
            dict.__setitem__(context, _CURRENT_SPAN, self)
            self._ctx_token = var.set(context)
        else:
            self._ctx_token = ctx.attach_span(self)
        return self

    def __repr__(self) -> str:
        return (
            f"<noveum_trace.Span {self.name!r} trace={self.trace_id:032x} span={self.span_id:016x}>"
        )


class NonRecordingSpan(_HexIds):
    """An unsampled span (or any span before ``init()``): carries ids, records nothing."""

    __slots__ = ("_ctx_token", "_span_context", "span_id", "trace_id", "trace_state")

    def __init__(self, trace_id: int, span_id: int, trace_state: TraceState | None = None) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.trace_state = trace_state
        self._span_context: SpanContext | None = None
        self._ctx_token: object = None

    def get_span_context(self) -> SpanContext:
        if self._span_context is None:
            self._span_context = SpanContext(
                self.trace_id, self.span_id, False, _UNSAMPLED, self.trace_state
            )
        return self._span_context

    span_context = property(get_span_context)

    def is_recording(self) -> bool:
        return False

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        pass

    def add_event(self, name: str, attributes: Any = None, timestamp: Any = None) -> None:
        pass

    def add_link(self, context: Any, attributes: Any = None) -> None:
        pass

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        pass

    def set_status(self, status: Any, description: str | None = None) -> None:
        pass

    def update_name(self, name: str) -> None:
        pass

    def end(self, end_time: int | None = None) -> None:
        pass

    def __enter__(self) -> NonRecordingSpan:
        self._ctx_token = ctx.attach_span(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        token = self._ctx_token
        if token is not None:
            self._ctx_token = None
            ctx.detach(token)


# Both satisfy the OpenTelemetry Span interface without paying for its instance __dict__.
otel_trace.Span.register(Span)
otel_trace.Span.register(NonRecordingSpan)


__all__ = [
    "STATUS_BY_NAME",
    "ApiSpan",
    "NonRecordingSpan",
    "Span",
    "SpanSink",
    "clean_value",
    "error_description",
    "exception_attributes",
]
