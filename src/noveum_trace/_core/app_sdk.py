"""``init(tracer_provider=...)``: our spans go through an application's own OpenTelemetry SDK.

For users who want one pipeline. The SDK span does the recording and exporting; this thin
wrapper keeps our span behaviour on top of it: ``with`` makes it current, the guide's
``set_status("error", msg)`` works, values are coerced instead of rejected, and the content
policy (capture switch, redaction, truncation) still applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace as otel_trace
from opentelemetry.trace import Status, StatusCode

from noveum_trace import semconv
from noveum_trace._core import context as ctx
from noveum_trace._core.span import _STORED, STATUS_BY_NAME, RecordingSpan, SpanSink, clean_value
from noveum_trace._core.values import _DROP
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace.pricing import span_cost
from noveum_trace.privacy import mask_secrets


class AppSdkSpan(RecordingSpan):
    __slots__ = ("_sink", "_span")

    def __init__(
        self,
        sink: SpanSink,
        span: otel_trace.Span,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> None:
        self._sink = sink
        self._span = span
        self._ctx_token: object = None
        self._end_on_exit = True
        self._last_exception = None
        self.record_exc = record_exception
        self.set_status_on_exc = set_status_on_exception
        self.status_code = 0

    def _clean(self, attributes: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in attributes.items():
            text_key = str(key)
            value = clean_value(self._sink, text_key, value, out)  # the same rules as our spans
            if value is not _STORED and value is not _DROP:
                out[text_key] = value
        # The SDK's exporters never pass through our encoder: mask secrets here instead.
        return {k: mask_secrets(v) if isinstance(v, str) else v for k, v in out.items()}

    def set_attribute(self, key: str, value: Any) -> None:
        try:
            self._span.set_attributes(self._clean({key: value}))
        except Exception as exc:
            internal_error("app_sdk.set_attribute", exc)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        try:
            self._span.set_attributes(self._clean(attributes))
        except Exception as exc:
            internal_error("app_sdk.set_attributes", exc)

    def add_event(
        self, name: str, attributes: Mapping[str, Any] | None = None, timestamp: Any = None
    ) -> None:
        try:
            when = (
                None
                if timestamp is None
                else int(timestamp if timestamp > 1e11 else timestamp * 1e9)
            )
            self._span.add_event(str(name), self._clean(attributes or {}), when)
        except Exception as exc:
            internal_error("app_sdk.add_event", exc)

    def set_status(self, status: Any, description: str | None = None) -> None:
        try:
            if isinstance(status, str):
                status = StatusCode(STATUS_BY_NAME.get(status.strip().lower(), 0))
            if isinstance(status, StatusCode):
                message = description if status is StatusCode.ERROR else None
                status = Status(status, mask_secrets(message) if message else None)
            self._span.set_status(status)
            if self.status_code != 1 and status.status_code is not StatusCode.UNSET:
                self.status_code = status.status_code.value  # as the SDK keeps it: OK is final
        except Exception as exc:
            internal_error("app_sdk.set_status", exc)

    def end(self, end_time: Any = None) -> None:
        """Adds ``gen_ai.usage.cost`` (our encoder never sees these spans), then ends."""
        try:
            attributes = getattr(self._span, "attributes", None)
            if isinstance(attributes, Mapping) and self._span.is_recording():
                cost = span_cost(attributes, self._sink.prices)
                if cost is not None:
                    self._span.set_attribute(semconv.GEN_AI_USAGE_COST, cost)
        except Exception as exc:
            internal_error("app_sdk.cost", exc)
        try:
            self._span.end(end_time)
        except Exception as exc:
            internal_error("app_sdk.end", exc)

    def get_span_context(self) -> otel_trace.SpanContext:
        return self._span.get_span_context()

    def is_recording(self) -> bool:
        return self._span.is_recording()

    def update_name(self, name: str) -> None:
        self._span.update_name(name)

    def add_link(self, context: otel_trace.SpanContext, attributes: Any = None) -> None:
        self._span.add_link(context, attributes)

    @property
    def trace_id_hex(self) -> str:
        return f"{self._span.get_span_context().trace_id:032x}"

    @property
    def span_id_hex(self) -> str:
        return f"{self._span.get_span_context().span_id:016x}"

    def __getattr__(self, name: str) -> Any:  # the SDK span's extras: attributes, events, ...
        return getattr(self._span, name)

    def __enter__(self) -> AppSdkSpan:
        self._ctx_token = ctx.attach_span(self._span)
        return self


otel_trace.Span.register(AppSdkSpan)
