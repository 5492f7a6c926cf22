"""The one reader of trace files: lines with their byte offsets, decoded into ``SpanDict``s.

A trace file holds one OTLP/JSON ``TracesData`` per line (docs/internals.md). Everything that
reads one goes through ``lines`` (the line loop, with offsets so that ``tail`` can follow a
file and ``send`` can resume where it stopped) and ``decode_line`` / ``traces_data`` (the
decoding, with one set of reasons for a line that holds no spans). A file is streamed, so a
directory of any size costs the memory of one line.

A last line without its newline is a writer mid-line (or a process killed mid-write).
Readers that come back (``tail``, ``send``) pass ``complete_only=True`` and read it once it
is complete; one-shot readers take it if it decodes and report it as torn otherwise.
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TypedDict

import orjson

from noveum_trace import semconv

__all__ = [
    "EventDict",
    "LinkDict",
    "ScopeDict",
    "SpanDict",
    "StatusDict",
    "read_traces",
    "spans_from_traces_data",
]

logger = logging.getLogger("noveum_trace")

Attributes = dict[str, Any]
ProblemHandler = Callable[[str, int, str], None]
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


class StatusDict(TypedDict):
    code: str  # "UNSET" | "OK" | "ERROR"
    message: str


class EventDict(TypedDict):
    name: str
    time_unix_nano: int
    attributes: Attributes


class LinkDict(TypedDict):
    trace_id: str
    span_id: str
    attributes: Attributes


class ScopeDict(TypedDict):
    name: str
    version: str | None


class SpanDict(TypedDict):
    """One span as ``read_traces`` yields it (the shape in docs/internals.md)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: int  # OTLP enum: 1 internal, 2 server, 3 client ...
    start_time_unix_nano: int
    end_time_unix_nano: int
    duration_ms: float
    attributes: Attributes  # decoded values: ints as int, arrays as list
    events: list[EventDict]
    links: list[LinkDict]
    status: StatusDict
    resource: Attributes
    service_name: str | None
    scope: ScopeDict
    file: str  # the path it was read from


class BadLine(ValueError):
    """A line that holds no spans: not JSON, or JSON that is not OTLP trace data."""


class NotATraceFile(BadLine):
    """A line that is valid JSON but not an OTLP ``TracesData``."""


_NOT_TRACES = "JSON but not OTLP trace data (no 'resourceSpans')"


# --- decoding ----------------------------------------------------------------------------


def _decode_value(value: dict[str, Any]) -> Any:
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        return int(value["intValue"])
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [_decode_value(item) for item in value["arrayValue"].get("values", [])]
    if "kvlistValue" in value:
        return _decode_attributes(value["kvlistValue"].get("values", []))
    if "bytesValue" in value:
        return base64.b64decode(value["bytesValue"])
    return None


def _decode_attributes(items: Iterable[dict[str, Any]] | None) -> Attributes:
    return {item["key"]: _decode_value(item.get("value", {})) for item in items or ()}


def spans_from_traces_data(data: object, file: str = "") -> Iterator[SpanDict]:
    """Flatten one ``TracesData`` (decoded JSON) into SpanDicts."""
    if not isinstance(data, dict) or "resourceSpans" not in data:
        raise NotATraceFile(_NOT_TRACES)
    for resource_spans in data["resourceSpans"]:
        resource = _decode_attributes(resource_spans.get("resource", {}).get("attributes"))
        service = resource.get(semconv.SERVICE_NAME)
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = scope_spans.get("scope", {})
            scope_info: ScopeDict = {"name": scope.get("name", ""), "version": scope.get("version")}
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
                    "attributes": _decode_attributes(span.get("attributes")),
                    "events": [
                        {
                            "name": event.get("name", ""),
                            "time_unix_nano": int(event.get("timeUnixNano", 0)),
                            "attributes": _decode_attributes(event.get("attributes")),
                        }
                        for event in span.get("events", [])
                    ],
                    "links": [
                        {
                            "trace_id": link.get("traceId", ""),
                            "span_id": link.get("spanId", ""),
                            "attributes": _decode_attributes(link.get("attributes")),
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


def traces_data(raw: bytes) -> dict[str, Any]:
    """One line as a ``TracesData`` (decoded JSON, not flattened); ``BadLine`` if it is not."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadLine("not JSON") from None
    if not isinstance(data, dict) or "resourceSpans" not in data:
        raise NotATraceFile(_NOT_TRACES)
    return data


def decode_line(raw: bytes, file: str = "") -> list[SpanDict]:
    """The spans of one line, all or none: ``BadLine`` says why there are none."""
    data = traces_data(raw)
    try:
        return list(spans_from_traces_data(data, file))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BadLine(f"malformed span ({exc})") from None


# --- lines and offsets -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One line of a trace file: its bytes (newline included) and the offset they start at."""

    raw: bytes
    start: int
    number: int  # 1-based, counted from where the reading started

    @property
    def end(self) -> int:
        """The offset just past this line: where the next reading resumes."""
        return self.start + len(self.raw)

    @property
    def complete(self) -> bool:
        return self.raw.endswith(b"\n")

    @property
    def blank(self) -> bool:
        return not self.raw.strip()


def lines(handle: BinaryIO, start: int = 0, *, complete_only: bool = False) -> Iterator[Line]:
    """The lines of an open trace file from byte offset ``start``.

    The last one may lack its newline; with ``complete_only`` it is left for a later read.
    """
    handle.seek(start)
    offset = start
    for number, raw in enumerate(handle, 1):
        if complete_only and not raw.endswith(b"\n"):
            return
        yield Line(raw, offset, number)
        offset += len(raw)


def complete_end(handle: BinaryIO, size: int) -> int:
    """The offset where the last complete line of the first ``size`` bytes ends (0 if none)."""
    position = size
    while position > 0:
        start = max(0, position - 65536)
        handle.seek(start)
        newline = handle.read(position - start).rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        position = start
    return 0


def trace_files(path: str | os.PathLike[str]) -> list[str]:
    """The ``*.jsonl`` files under ``path`` (or ``path`` itself), oldest first."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {path}")
    if os.path.isfile(path):
        return [path]
    found: list[tuple[float, str]] = []
    for root, _dirs, files in os.walk(path):
        for name in files:
            if name.endswith(".jsonl"):
                file = os.path.join(root, name)
                try:
                    found.append((os.path.getmtime(file), file))
                except OSError:  # removed since the listing: not there to read
                    continue
    return [file for _mtime, file in sorted(found)]


# --- read_traces -------------------------------------------------------------------------


def _log_problem(path: str, line_no: int, message: str) -> None:
    logger.warning("noveum_trace: %s:%d: %s", path, line_no, message)


def _read_file(path: str, on_problem: ProblemHandler) -> Iterator[SpanDict]:
    with open(path, "rb") as handle:
        for line in lines(handle):
            if line.blank:
                continue
            try:
                spans = decode_line(line.raw, path)
            except BadLine as exc:
                why = f"{exc}; line skipped" if line.complete else "torn last line skipped"
                on_problem(path, line.number, why)
                continue
            yield from spans


def read_traces(
    path: str | os.PathLike[str] = "./traces", on_problem: ProblemHandler = _log_problem
) -> Iterator[SpanDict]:
    """Yield every span in a trace file or a directory of them, as plain dicts.

    A line that holds no spans is skipped and reported to ``on_problem(path, line_no, why)``
    (by default a logged warning).
    """
    for file in trace_files(path):
        yield from _read_file(file, on_problem)
