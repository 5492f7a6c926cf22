"""A DuckDB index of a directory of trace files, kept up to date by byte offset.

Each file's offset is remembered. ``refresh()`` reads what was appended since, one complete
line at a time (``reader.lines(..., complete_only=True)``: a torn last line is read once its
newline lands), wraps each line with its file and offset, and hands the batch to DuckDB's
built-in JSON functions (``read_json_objects`` + ``from_json``; no extension download), which
flatten the OTLP ``TracesData`` into one row per span. A file that shrank was replaced: its
rows are dropped and it is read again from the start. Python touches lines, never spans.

Rows keep ``(file_id, line_offset)`` so that a trace page re-reads its own lines with the
reader and shows exactly what the files hold.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import Any, BinaryIO

import duckdb

from noveum_trace import semconv
from noveum_trace.reader import lines, trace_files

_CHUNK_BYTES = 256 << 20  # bytes of lines handed to DuckDB at a time
# DuckDB sizes its read buffers from maximum_object_size: ask for what the batch needs (a
# 1 GiB bound costs seconds per batch).
_MIN_LINE_BYTES = 16 << 20

# The value kinds the index reads (text, int, double); a bool, bytes or list reads as nulls.
ATTRIBUTES_SHAPE: list[dict[str, Any]] = [
    {
        "key": "VARCHAR",
        "value": {"stringValue": "VARCHAR", "intValue": "VARCHAR", "doubleValue": "DOUBLE"},
    }
]


def otlp_shape(span: dict[str, Any]) -> dict[str, Any]:
    """A ``from_json`` shape of ``TracesData`` with the span fields ``span``.

    ``from_json`` over ``read_json_objects`` is several times faster than ``read_json`` with
    the same nested ``columns`` type on lines this long.
    """
    resource = {"attributes": ATTRIBUTES_SHAPE}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": [span]}]}]}


_WRAPPED_SHAPE = json.dumps(
    {
        "f": "INTEGER",
        "o": "BIGINT",
        "d": otlp_shape(
            {
                "traceId": "VARCHAR",
                "spanId": "VARCHAR",
                "parentSpanId": "VARCHAR",
                "name": "VARCHAR",
                "kind": "INTEGER",
                "startTimeUnixNano": "VARCHAR",
                "endTimeUnixNano": "VARCHAR",
                "attributes": ATTRIBUTES_SHAPE,
                "events": [{"name": "VARCHAR", "attributes": ATTRIBUTES_SHAPE}],
                "status": {"code": "INTEGER", "message": "VARCHAR"},
            }
        ),
    }
)

SPAN_COLUMNS = """
    file_id INTEGER, line_offset BIGINT, batch INTEGER,
    trace_id VARCHAR, span_id VARCHAR, parent_id VARCHAR, name VARCHAR, kind INTEGER,
    start_ns BIGINT, end_ns BIGINT, duration_ms DOUBLE,
    status INTEGER, status_message VARCHAR, error_type VARCHAR,
    service VARCHAR, model VARCHAR, response_model VARCHAR, vendor VARCHAR, operation VARCHAR,
    session VARCHAR, conversation VARCHAR, user_id VARCHAR,
    tokens_in BIGINT, tokens_out BIGINT, tokens_cached BIGINT, tokens_reasoning BIGINT,
    cost DOUBLE, ttft_ms DOUBLE, is_call BOOLEAN, search VARCHAR
"""

TRACE_COLUMNS = """
    trace_id VARCHAR, start_ns BIGINT, end_ns BIGINT, duration_ms DOUBLE, root_name VARCHAR,
    service VARCHAR, models VARCHAR[], vendors VARCHAR[], sessions VARCHAR[],
    conversations VARCHAR[], users VARCHAR[],
    spans INTEGER, llm_calls INTEGER, tokens_in BIGINT, tokens_out BIGINT, cost DOUBLE,
    errors INTEGER
"""

STATUS_ERROR = 2


def sql_text(value: str) -> str:
    """``value`` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _value(attrs: str, key: str) -> str:
    # ``attrs`` names a pair of lists, ``<attrs>_k`` and ``<attrs>_v``: a native position
    # lookup per key is several times faster than a lambda filter over the structs.
    return f"{attrs}_v[list_position({attrs}_k, {sql_text(key)})]"


def _string(attrs: str, key: str) -> str:
    return f"{_value(attrs, key)}.stringValue"


def _int(attrs: str, key: str) -> str:
    return f"TRY_CAST({_value(attrs, key)}.intValue AS BIGINT)"


def _number(attrs: str, key: str) -> str:
    value = _value(attrs, key)
    return f"coalesce({value}.doubleValue, TRY_CAST({value}.intValue AS DOUBLE))"


def _strings(attrs: str) -> str:
    return f"array_to_string(list_transform({attrs}, lambda a: a.value.stringValue), ' ')"


def _pairs(struct_list: str, name: str) -> str:
    """Keys and values of an attribute list as two lists, ``<name>_k`` and ``<name>_v``."""
    return (
        f"list_transform({struct_list}, lambda a: a.key) AS {name}_k, "
        f"list_transform({struct_list}, lambda a: a.value) AS {name}_v"
    )


def _flatten_sql(source: str, batch: int, line_bytes: int) -> str:
    """INSERT ... SELECT: one row per span of the wrapped lines in ``source``."""
    a = "attrs"
    exception = "exc"
    is_exception = f"e.name = {sql_text(semconv.EVENT_EXCEPTION)}"
    model = (
        f"coalesce({_string(a, semconv.GEN_AI_REQUEST_MODEL)}, "
        f"{_string(a, semconv.GEN_AI_RESPONSE_MODEL)})"
    )
    ttft = (
        f"coalesce({_number(a, semconv.LLM_TIME_TO_FIRST_TOKEN_MS)}, "
        f"{_number(a, semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)} * 1000)"
    )
    event_strings = _strings("e.attributes")
    event_text = f"array_to_string(list_transform(sp.events, lambda e: {event_strings}), ' ')"
    return f"""
    INSERT INTO spans
    SELECT f, o, {batch}, sp.traceId, sp.spanId, nullif(sp.parentSpanId, ''), sp.name,
        coalesce(sp.kind, 0), start_ns, end_ns, (end_ns - start_ns) / 1e6,
        coalesce(sp.status.code, 0), coalesce(sp.status.message, ''),
        coalesce({_string(a, semconv.ERROR_TYPE)},
                 {_string(exception, semconv.EXCEPTION_TYPE)}),
        service, {model}, {_string(a, semconv.GEN_AI_RESPONSE_MODEL)},
        coalesce({_string(a, semconv.GEN_AI_PROVIDER_NAME)}, {_string(a, semconv.GEN_AI_SYSTEM)}),
        {_string(a, semconv.GEN_AI_OPERATION_NAME)},
        {_string(a, semconv.SESSION_ID)},
        coalesce({_string(a, semconv.GEN_AI_CONVERSATION_ID)},
                 {_string(a, semconv.CONVERSATION_ID)}),
        {_string(a, semconv.USER_ID)},
        {_int(a, semconv.GEN_AI_USAGE_INPUT_TOKENS)}, {_int(a, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)},
        {_int(a, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)},
        {_int(a, semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)},
        {_number(a, semconv.GEN_AI_USAGE_COST)}, {ttft},
        {model} IS NOT NULL,
        lower(concat_ws(' ', sp.traceId, sp.name, sp.status.message, service,
                        {_strings("sp.attributes")}, {event_text}))
    FROM (
        SELECT f, o, service, sp, {_pairs("sp.attributes", a)},
            {_pairs(f"list_filter(sp.events, lambda e: {is_exception})[1].attributes", exception)},
            TRY_CAST(sp.startTimeUnixNano AS BIGINT) AS start_ns,
            TRY_CAST(sp.endTimeUnixNano AS BIGINT) AS end_ns
        FROM (
            SELECT f, o, service, unnest(ss.spans) AS sp
            FROM (
                SELECT f, o, {_string("res", semconv.SERVICE_NAME)} AS service,
                    unnest(rs.scopeSpans) AS ss
                FROM (
                    SELECT f, o, rs, {_pairs("rs.resource.attributes", "res")}
                    FROM (
                        SELECT w.f AS f, w.o AS o, unnest(w.d.resourceSpans) AS rs
                        FROM (
                            SELECT from_json(json, {sql_text(_WRAPPED_SHAPE)}) AS w
                            FROM read_json_objects({sql_text(source)},
                                format = 'newline_delimited', ignore_errors = true,
                                maximum_object_size = {line_bytes})
                        )
                    )
                )
            )
        )
    )
    """


# Traces touched by the last batch, aggregated again from their spans.
_TRACES_SQL = """
    INSERT INTO traces
    SELECT trace_id, min(start_ns), max(end_ns), (max(end_ns) - min(start_ns)) / 1e6,
        coalesce(arg_min(name, start_ns) FILTER (WHERE parent_id IS NULL),
                 arg_min(name, start_ns)),
        coalesce(arg_min(service, start_ns) FILTER (WHERE parent_id IS NULL),
                 arg_min(service, start_ns)),
        list_sort(list_distinct(list(model) FILTER (WHERE is_call))),
        list_sort(list_distinct(list(vendor) FILTER (WHERE is_call))),
        list_sort(list_distinct(list(session))),
        list_sort(list_distinct(list(conversation))),
        list_sort(list_distinct(list(user_id))),
        count(*)::INTEGER, (count(*) FILTER (WHERE is_call))::INTEGER,
        sum(tokens_in) FILTER (WHERE is_call), sum(tokens_out) FILTER (WHERE is_call),
        sum(cost) FILTER (WHERE is_call), (count(*) FILTER (WHERE status = 2))::INTEGER
    FROM spans s
    WHERE trace_id IN (SELECT trace_id FROM touched)
    GROUP BY trace_id
"""

# A span with a model whose child also has one is a wrapper (``@trace_llm_call`` around a
# client call): not a call of its own, or the call would count twice.
_WRAPPERS_SQL = """
    UPDATE spans SET is_call = false
    WHERE is_call AND trace_id IN (SELECT trace_id FROM touched)
      AND (trace_id, span_id) IN (
        SELECT (trace_id, parent_id) FROM spans
        WHERE model IS NOT NULL AND parent_id IS NOT NULL
          AND trace_id IN (SELECT trace_id FROM touched))
"""


@dataclass
class _File:
    file_id: int
    offset: int = 0


class Index:
    """The spans and traces under ``path``; ``refresh()`` reads what was appended since."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.version = 0  # bumped whenever spans were added or dropped
        self.lock = threading.RLock()
        self.con = duckdb.connect(":memory:")
        self.con.execute(f"CREATE TABLE spans ({SPAN_COLUMNS})")
        self.con.execute(f"CREATE TABLE traces ({TRACE_COLUMNS})")
        self._files: dict[str, _File] = {}
        self._names: dict[int, str] = {}
        self._batch = 0
        self._tmp = tempfile.mkdtemp(prefix="noveum-ui-")

    def close(self) -> None:
        with self.lock:
            self.con.close()
            shutil.rmtree(self._tmp, ignore_errors=True)

    def file_name(self, file_id: int) -> str:
        return self._names[file_id]

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.con.execute(sql, params or []).fetchall()

    def query_dicts(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        with self.lock:
            cursor = self.con.execute(sql, params or [])
            names = [column[0] for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def refresh(self) -> None:
        """Index what the files gained since the last call (``version`` tells if any)."""
        try:
            files = trace_files(self.path)
        except (FileNotFoundError, NotADirectoryError):
            files = []
        with self.lock:
            batch = _Batch(os.path.join(self._tmp, "batch.jsonl"))
            for name in files:
                self._read_file(name, batch)
                if batch.size >= _CHUNK_BYTES:
                    self._load(batch)
                    batch = _Batch(batch.path)
            self._load(batch)

    def _read_file(self, name: str, batch: _Batch) -> None:
        known = self._files.get(name)
        if known is None:
            known = self._files[name] = _File(len(self._files) + 1)
            self._names[known.file_id] = name
        try:
            size = os.path.getsize(name)
            if size == known.offset:
                return
            if size < known.offset:  # replaced or truncated: read it again
                self.con.execute("DELETE FROM spans WHERE file_id = ?", [known.file_id])
                self.con.execute(
                    "DELETE FROM traces WHERE trace_id NOT IN (SELECT trace_id FROM spans)"
                )
                known.offset = 0
                self.version += 1
            with open(name, "rb") as handle:
                known.offset = batch.add(handle, known.file_id, known.offset)
        except OSError:  # removed since the listing: nothing more to read
            return

    def _load(self, batch: _Batch) -> None:
        batch.close()
        if not batch.size:
            return
        self._batch += 1
        line_bytes = max(_MIN_LINE_BYTES, 2 * batch.longest)
        self.con.execute(_flatten_sql(batch.path, self._batch, line_bytes))
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE touched AS "
            f"SELECT DISTINCT trace_id FROM spans WHERE batch = {self._batch}"
        )
        self.con.execute(_WRAPPERS_SQL)
        self.con.execute("DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM touched)")
        self.con.execute(_TRACES_SQL)
        self.version += 1


class _Batch:
    """Complete lines, each wrapped as ``{"f": file, "o": offset, "d": line}``, in a file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.out: BinaryIO = open(path, "wb")  # noqa: SIM115 - closed by close()
        self.size = 0
        self.longest = 0

    def add(self, handle: BinaryIO, file_id: int, offset: int) -> int:
        """Append the complete lines of ``handle`` from ``offset``; the offset after them."""
        for line in lines(handle, offset, complete_only=True):
            offset = line.end
            if line.blank:
                continue
            body = line.raw.rstrip(b"\r\n")
            wrapped = b'{"f":%d,"o":%d,"d":%b}\n' % (file_id, line.start, body)
            self.out.write(wrapped)
            self.size += len(body)
            self.longest = max(self.longest, len(wrapped))
        return offset

    def close(self) -> None:
        self.out.close()
