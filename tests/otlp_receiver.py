"""A loopback OTLP/HTTP trace receiver for tests: scripted replies, recorded requests.

It decodes protobuf requests with its own hand-written walk over the official messages
(ids to hex by ``bytes.hex()``), independent of the SDK's encoder, so a test comparing the
JSON and protobuf paths compares two real decodings.
"""

from __future__ import annotations

import gzip
import http.server
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from noveum_trace.reader import spans_from_traces_data


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    close: bool = False  # drop the connection without any reply (a connection error)


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-case names
    raw: bytes
    data: dict[str, Any] | None  # the TracesData, JSON mapping; None if undecodable

    def spans(self) -> list[dict[str, Any]]:
        return list(spans_from_traces_data(self.data)) if self.data else []


def _value(value: AnyValue) -> dict[str, Any]:
    which = value.WhichOneof("value")
    if which == "string_value":
        return {"stringValue": value.string_value}
    if which == "bool_value":
        return {"boolValue": value.bool_value}
    if which == "int_value":
        return {"intValue": str(value.int_value)}
    if which == "double_value":
        return {"doubleValue": value.double_value}
    if which == "array_value":
        return {"arrayValue": {"values": [_value(v) for v in value.array_value.values]}}
    if which == "kvlist_value":
        return {"kvlistValue": {"values": _attrs(value.kvlist_value.values)}}
    return {}


def _attrs(items: Any) -> list[dict[str, Any]]:
    return [{"key": kv.key, "value": _value(kv.value)} for kv in items]


def protobuf_to_traces_data(raw: bytes) -> dict[str, Any]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(raw)
    out: list[dict[str, Any]] = []
    for rs in request.resource_spans:
        scopes = []
        for ss in rs.scope_spans:
            spans = []
            for span in ss.spans:
                item: dict[str, Any] = {
                    "traceId": span.trace_id.hex(),
                    "spanId": span.span_id.hex(),
                    "name": span.name,
                    "kind": span.kind,
                    "startTimeUnixNano": str(span.start_time_unix_nano),
                    "endTimeUnixNano": str(span.end_time_unix_nano),
                    "attributes": _attrs(span.attributes),
                    "flags": span.flags,
                    "events": [
                        {
                            "timeUnixNano": str(e.time_unix_nano),
                            "name": e.name,
                            "attributes": _attrs(e.attributes),
                        }
                        for e in span.events
                    ],
                    "links": [
                        {
                            "traceId": link.trace_id.hex(),
                            "spanId": link.span_id.hex(),
                            "attributes": _attrs(link.attributes),
                        }
                        for link in span.links
                    ],
                    "status": {"code": span.status.code, "message": span.status.message},
                }
                if span.parent_span_id:
                    item["parentSpanId"] = span.parent_span_id.hex()
                if span.trace_state:
                    item["traceState"] = span.trace_state
                spans.append(item)
            scope = {"name": ss.scope.name, "version": ss.scope.version}
            scopes.append({"scope": scope, "spans": spans})
        out.append(
            {"resource": {"attributes": _attrs(rs.resource.attributes)}, "scopeSpans": scopes}
        )
    return {"resourceSpans": out}


def partial_success_reply(rejected: int, message: str, protobuf: bool) -> Reply:
    if protobuf:
        response = ExportTraceServiceResponse()
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
        return Reply(
            headers={"Content-Type": "application/x-protobuf"},
            body=response.SerializeToString(),
        )
    body = {"partialSuccess": {"rejectedSpans": str(rejected), "errorMessage": message}}
    return Reply(headers={"Content-Type": "application/json"}, body=orjson.dumps(body))


class OtlpReceiver:
    """``with OtlpReceiver() as rx:``; ``rx.endpoint``; ``rx.replies.append(Reply(503))``."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()  # consumed one per request; then 200s
        self.received: list[Received] = []
        self.gate = threading.Event()  # cleared: requests wait (a slow endpoint)
        self.gate.set()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver._record(self.path, dict(self.headers.items()), raw)
                receiver.gate.wait()
                with receiver._lock:
                    reply = receiver.replies.popleft() if receiver.replies else Reply()
                if reply.close:
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the client gave up on us (a shutdown test): fine
                    self.close_connection = True

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def _record(self, path: str, headers: dict[str, str], raw: bytes) -> None:
        lower = {k.lower(): v for k, v in headers.items()}
        body = gzip.decompress(raw) if lower.get("content-encoding") == "gzip" else raw
        data: dict[str, Any] | None
        try:
            if lower.get("content-type") == "application/x-protobuf":
                data = protobuf_to_traces_data(body)
            else:
                data = orjson.loads(body)
        except Exception:
            data = None
        with self._arrived:
            self.received.append(Received(path, lower, raw, data))
            self._arrived.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 120.0) -> list[Received]:
        """Requests received so far (answered or held at the gate), once there are ``count``."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def spans(self) -> list[dict[str, Any]]:
        return [span for request in list(self.received) for span in request.spans()]

    def __enter__(self) -> OtlpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()
