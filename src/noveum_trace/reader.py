"""Read trace files back as plain dicts (the ``SpanDict`` shape in docs/internals.md).

Files are streamed line by line, so a directory of any size costs the memory of one line. A
torn last line (a process killed mid-write) is reported to ``on_problem`` and skipped.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

logger = logging.getLogger("noveum_trace")

SpanDict = dict[str, Any]
ProblemHandler = Callable[[str, int, str], None]
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


class NotATraceFile(ValueError):
    """A line that is valid JSON but not an OTLP ``TracesData``."""


def _log_problem(path: str, line_no: int, message: str) -> None:
    logger.warning("noveum_trace: %s:%d: %s", path, line_no, message)


def decode_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [decode_value(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return decode_attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def decode_attributes(items: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    return {item["key"]: decode_value(item.get("value", {})) for item in items or ()}


def spans_from_traces_data(data: Any, file: str = "") -> Iterator[SpanDict]:
    """Flatten one ``TracesData`` (decoded JSON) into SpanDicts."""
    if not isinstance(data, dict) or "resourceSpans" not in data:
        raise NotATraceFile("not an OTLP TracesData object (no 'resourceSpans')")
    for resource_spans in data["resourceSpans"]:
        resource = decode_attributes(resource_spans.get("resource", {}).get("attributes"))
        service = resource.get("service.name")
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = scope_spans.get("scope", {})
            scope_info = {"name": scope.get("name", ""), "version": scope.get("version")}
            for span in scope_spans.get("spans", []):
                start = int(span.get("startTimeUnixNano", 0))
                end = int(span.get("endTimeUnixNano", 0))
                status = span.get("status", {})
                yield {
                    "trace_id": span.get("traceId", ""),
                    "span_id": span.get("spanId", ""),
                    "parent_span_id": span.get("parentSpanId") or None,
                    "name": span.get("name", ""),
                    "kind": int(span.get("kind", 0)),
                    "start_time_unix_nano": start,
                    "end_time_unix_nano": end,
                    "duration_ms": (end - start) / 1e6,
                    "attributes": decode_attributes(span.get("attributes")),
                    "events": [
                        {
                            "name": event.get("name", ""),
                            "time_unix_nano": int(event.get("timeUnixNano", 0)),
                            "attributes": decode_attributes(event.get("attributes")),
                        }
                        for event in span.get("events", [])
                    ],
                    "links": [
                        {
                            "trace_id": link.get("traceId", ""),
                            "span_id": link.get("spanId", ""),
                            "attributes": decode_attributes(link.get("attributes")),
                        }
                        for link in span.get("links", [])
                    ],
                    "status": {
                        "code": _STATUS.get(int(status.get("code", 0)), "UNSET"),
                        "message": status.get("message", ""),
                    },
                    "resource": resource,
                    "service_name": service,
                    "scope": scope_info,
                    "file": file,
                }


def trace_files(path: str | os.PathLike[str]) -> list[str]:
    """The ``*.jsonl`` files under ``path`` (or ``path`` itself), oldest first."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {path}")
    if os.path.isfile(path):
        return [path]
    found: list[str] = []
    for root, _dirs, files in os.walk(path):
        found.extend(os.path.join(root, name) for name in files if name.endswith(".jsonl"))
    return sorted(found, key=lambda name: (os.path.getmtime(name), name))


def read_file(path: str, on_problem: ProblemHandler = _log_problem) -> Iterator[SpanDict]:
    with open(path, "rb") as handle:
        line_no = 0
        for raw in handle:
            line_no += 1
            if not raw.strip():
                continue
            try:
                data = orjson.loads(raw)
            except orjson.JSONDecodeError:
                torn = not raw.endswith(b"\n")
                on_problem(
                    path, line_no, "torn last line skipped" if torn else "invalid JSON line skipped"
                )
                continue
            try:
                yield from spans_from_traces_data(data, path)
            except NotATraceFile as exc:
                on_problem(path, line_no, str(exc))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                on_problem(path, line_no, f"malformed span skipped ({exc})")


def read_traces(
    path: str | os.PathLike[str] = "./traces", on_problem: ProblemHandler = _log_problem
) -> Iterator[SpanDict]:
    """Yield every span in a trace file or a directory of them, as plain dicts."""
    for file in trace_files(path):
        yield from read_file(file, on_problem)
