"""OTLP/JSON ``TracesData`` (a decoded dict) to the official protobuf request, and back for replies.

Built field by field from the JSON mapping, never through ``google.protobuf.json_format``:
that mapping reads ``traceId``/``spanId`` as base64, while OTLP/JSON spells them in hex.
Needs ``opentelemetry-proto`` (the ``[otlp]`` extra); importing this module without it
raises an ImportError that says how to install it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

try:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "noveum_trace: otlp_protocol='http/protobuf' needs the opentelemetry-proto package; "
        "install it with `pip install 'noveum-trace[otlp]'` or use otlp_protocol='http/json'",
        name=exc.name,
    ) from exc

__all__ = ["encode_request", "rejected_spans_from_protobuf"]


def _int(value: Any) -> int:
    # 64-bit integers arrive as decimal strings in the JSON mapping; plain ints are accepted too.
    return int(value) if value not in (None, "") else 0


def _id(value: Any) -> bytes:
    return bytes.fromhex(value) if value else b""


def _enum(value: Any, enum: Any) -> int:
    # The mapping says integers; a receiver must also accept the enum's name.
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        return int(enum.Value(value))
    return _int(value)


def _set_value(target: AnyValue, value: Mapping[str, Any]) -> None:
    if "stringValue" in value:
        target.string_value = value["stringValue"]
    elif "boolValue" in value:
        target.bool_value = bool(value["boolValue"])
    elif "intValue" in value:
        target.int_value = _int(value["intValue"])
    elif "doubleValue" in value:
        target.double_value = float(value["doubleValue"])  # also "NaN", "Infinity"
    elif "arrayValue" in value:
        array = target.array_value
        array.SetInParent()  # an empty array is still an array, not an unset value
        for item in (value["arrayValue"] or {}).get("values", ()):
            _set_value(array.values.add(), item)
    elif "kvlistValue" in value:
        kvlist = target.kvlist_value
        kvlist.SetInParent()
        _add_attributes(kvlist.values, (value["kvlistValue"] or {}).get("values", ()))
    elif "bytesValue" in value:
        target.bytes_value = base64.b64decode(value["bytesValue"])


def _add_attributes(target: Any, attributes: Iterable[Mapping[str, Any]]) -> None:
    add = target.add
    for attribute in attributes:
        kv: KeyValue = add()
        kv.key = attribute["key"]
        value = attribute.get("value")
        if value:
            _set_value(kv.value, value)


def _fill_span(span: Span, data: Mapping[str, Any]) -> None:
    span.trace_id = _id(data.get("traceId"))
    span.span_id = _id(data.get("spanId"))
    if data.get("parentSpanId"):
        span.parent_span_id = _id(data["parentSpanId"])
    if data.get("traceState"):
        span.trace_state = data["traceState"]
    if data.get("flags"):
        span.flags = _int(data["flags"])
    span.name = data.get("name", "")
    span.kind = _enum(data.get("kind", 0), Span.SpanKind)  # type: ignore[assignment]
    span.start_time_unix_nano = _int(data.get("startTimeUnixNano"))
    span.end_time_unix_nano = _int(data.get("endTimeUnixNano"))
    _add_attributes(span.attributes, data.get("attributes", ()))
    span.dropped_attributes_count = _int(data.get("droppedAttributesCount"))
    for event_data in data.get("events", ()):
        event = span.events.add()
        event.time_unix_nano = _int(event_data.get("timeUnixNano"))
        event.name = event_data.get("name", "")
        _add_attributes(event.attributes, event_data.get("attributes", ()))
        event.dropped_attributes_count = _int(event_data.get("droppedAttributesCount"))
    span.dropped_events_count = _int(data.get("droppedEventsCount"))
    for link_data in data.get("links", ()):
        link = span.links.add()
        link.trace_id = _id(link_data.get("traceId"))
        link.span_id = _id(link_data.get("spanId"))
        if link_data.get("traceState"):
            link.trace_state = link_data["traceState"]
        _add_attributes(link.attributes, link_data.get("attributes", ()))
        link.dropped_attributes_count = _int(link_data.get("droppedAttributesCount"))
        if link_data.get("flags"):
            link.flags = _int(link_data["flags"])
    span.dropped_links_count = _int(data.get("droppedLinksCount"))
    status = data.get("status")
    if status:
        span.status.code = _enum(status.get("code", 0), Status.StatusCode)  # type: ignore[assignment]
        if status.get("message"):
            span.status.message = status["message"]


def build_request(traces_data: Mapping[str, Any]) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` holding everything in one ``TracesData`` dict."""
    request = ExportTraceServiceRequest()
    for rs_data in traces_data.get("resourceSpans", ()):
        resource_spans = request.resource_spans.add()
        resource = rs_data.get("resource") or {}
        _add_attributes(resource_spans.resource.attributes, resource.get("attributes", ()))
        resource_spans.resource.dropped_attributes_count = _int(
            resource.get("droppedAttributesCount")
        )
        if rs_data.get("schemaUrl"):
            resource_spans.schema_url = rs_data["schemaUrl"]
        for ss_data in rs_data.get("scopeSpans", ()):
            scope_spans = resource_spans.scope_spans.add()
            scope = ss_data.get("scope") or {}
            scope_spans.scope.name = scope.get("name", "")
            if scope.get("version"):
                scope_spans.scope.version = scope["version"]
            _add_attributes(scope_spans.scope.attributes, scope.get("attributes", ()))
            if ss_data.get("schemaUrl"):
                scope_spans.schema_url = ss_data["schemaUrl"]
            add_span = scope_spans.spans.add
            for span_data in ss_data.get("spans", ()):
                _fill_span(add_span(), span_data)
    return request


def encode_request(traces_data: Mapping[str, Any]) -> bytes:
    """The request body for ``Content-Type: application/x-protobuf``."""
    body: bytes = build_request(traces_data).SerializeToString()
    return body


def rejected_spans_from_protobuf(body: bytes) -> tuple[int, str]:
    """``partial_success`` of an ``ExportTraceServiceResponse``: (rejected spans, message)."""
    response = ExportTraceServiceResponse()
    response.ParseFromString(body)
    partial = response.partial_success
    return int(partial.rejected_spans), partial.error_message
