"""``noveum-trace stats`` in DuckDB: the same ``Summary`` the streamed scan builds.

It reads the files straight (``read_json_objects`` + ``from_json``: DuckDB's own ``read_json``
with a nested ``columns`` type is several times slower on lines this long) into a narrow
table of what stats uses: ids, times, status, service and a dozen attributes. No content,
no search text, no viewer index.

Filters, the wrapper rule (a span with a model whose accepted child also has one is not a
call of its own), the groups and the tokens-over-time buckets follow ``cli/stats.py``; the
latencies are all kept (exact quantiles, no sample).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from noveum_trace import semconv
from noveum_trace.cli.source import SpanFilter
from noveum_trace.ui.index import ATTRIBUTES_SHAPE, STATUS_ERROR, otlp_shape, sql_text

# ``cli.stats`` calls this module, so its Summary and Group come in as arguments (typed Any:
# importing them here would be a cycle).
Summary = Any
Group = Any

_BASE_WIDTH_NS = 10_000_000  # Series' first bucket width
# DuckDB sizes its read buffers from maximum_object_size: 1 GiB up front costs seconds, so
# lines are read with a small bound first and again with the large one only if one exceeds it.
_LINE_BYTES = 16 << 20
_MAX_LINE_BYTES = 1 << 30

_SHAPE = json.dumps(
    otlp_shape(
        {
            "traceId": "VARCHAR",
            "spanId": "VARCHAR",
            "parentSpanId": "VARCHAR",
            "startTimeUnixNano": "VARCHAR",
            "endTimeUnixNano": "VARCHAR",
            "attributes": ATTRIBUTES_SHAPE,
            "status": {"code": "INTEGER"},
        }
    )
)


def _value(key: str) -> str:
    return f"attrs_v[list_position(attrs_k, {sql_text(key)})]"


def _string(key: str) -> str:
    return f"{_value(key)}.stringValue"


def _number(key: str) -> str:
    """``render.number``: an int or a double attribute as a float."""
    value = _value(key)
    return f"coalesce({value}.doubleValue, TRY_CAST({value}.intValue AS DOUBLE))"


def _spans_sql(files: Sequence[str], where: str, line_bytes: int) -> str:
    """CREATE TABLE accepted: one narrow row per span of ``files`` that passes ``where``."""
    request, response = (
        _string(semconv.GEN_AI_REQUEST_MODEL),
        _string(semconv.GEN_AI_RESPONSE_MODEL),
    )
    ttft = (
        f"coalesce({_number(semconv.LLM_TIME_TO_FIRST_TOKEN_MS)}, "
        f"{_number(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)} * 1000)"
    )
    listed = "[" + ", ".join(sql_text(name) for name in files) + "]"
    return f"""
    CREATE OR REPLACE TEMP TABLE accepted AS
    SELECT * FROM (
        SELECT sp.traceId AS trace_id, sp.spanId AS span_id,
            nullif(sp.parentSpanId, '') AS parent_id, start_ns,
            (end_ns - start_ns) / 1e6 AS duration_ms, coalesce(sp.status.code, 0) AS status,
            service, {request} AS request_model, {response} AS response_model,
            -- ``attrs.get(request) or attrs.get(response)``: an empty name is no name
            coalesce(nullif({request}, ''), {response}) AS model,
            {_number(semconv.GEN_AI_USAGE_INPUT_TOKENS)} AS tokens_in,
            {_number(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)} AS tokens_out,
            {_number(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)} AS tokens_cached,
            {_number(semconv.GEN_AI_USAGE_COST)} AS cost, {ttft} AS ttft_ms
        FROM (
            SELECT service, sp,
                list_transform(sp.attributes, lambda a: a.key) AS attrs_k,
                list_transform(sp.attributes, lambda a: a.value) AS attrs_v,
                coalesce(TRY_CAST(sp.startTimeUnixNano AS BIGINT), 0) AS start_ns,
                coalesce(TRY_CAST(sp.endTimeUnixNano AS BIGINT), 0) AS end_ns
            FROM (
                SELECT service, unnest(ss.spans) AS sp
                FROM (
                    SELECT list_filter(rs.resource.attributes,
                            lambda a: a.key = {sql_text(semconv.SERVICE_NAME)})[1]
                            .value.stringValue AS service,
                        unnest(rs.scopeSpans) AS ss
                    FROM (
                        SELECT unnest(from_json(json, {sql_text(_SHAPE)}).resourceSpans) AS rs
                        FROM read_json_objects({listed}, format = 'newline_delimited',
                            ignore_errors = true, maximum_object_size = {line_bytes})
                    )
                )
            )
        )
    )
    WHERE {where}
    """


def _where(filt: SpanFilter) -> tuple[str, list[Any]]:
    parts = ["true"]
    params: list[Any] = []
    if filt.trace_id:
        parts.append("starts_with(trace_id, ?)")
        params.append(filt.trace_id)
    if filt.since_ns is not None:
        parts.append("start_ns >= ?")
        params.append(filt.since_ns)
    if filt.until_ns is not None:
        parts.append("start_ns <= ?")
        params.append(filt.until_ns)
    if filt.errors_only:
        parts.append(f"status = {STATUS_ERROR}")
    if filt.service:
        parts.append("coalesce(service, '') GLOB ?")
        params.append(filt.service)
    if filt.model:
        parts.append("(request_model GLOB ? OR response_model GLOB ?)")
        params += [filt.model, filt.model]
    return " AND ".join(parts), params


def _summarize(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[str],
    filt: SpanFilter,
    summary: Summary,
    group: Callable[[str], Group],
    buckets: int,
) -> Summary:
    where, params = _where(filt)
    try:
        con.execute(_spans_sql(files, where, _LINE_BYTES), params)
    except duckdb.InvalidInputException as exc:
        if "maximum_object_size" not in str(exc):
            raise
        con.execute(_spans_sql(files, where, _MAX_LINE_BYTES), params)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE calls AS SELECT a.* FROM accepted a "
        "WHERE a.model IS NOT NULL AND NOT EXISTS (SELECT 1 FROM accepted c "
        "WHERE c.model IS NOT NULL AND c.trace_id = a.trace_id AND c.parent_id = a.span_id)"
    )
    spans, first, last, llm = con.execute(
        "SELECT count(*), min(start_ns), max(start_ns), count(model) FROM accepted"
    ).fetchall()[0]
    summary.spans, summary.first_ns, summary.last_ns = spans, first, last
    calls = con.execute("SELECT count(*) FROM calls").fetchall()[0][0]
    summary.wrappers = llm - calls
    _fill(con, summary, group)
    _series(con, summary, buckets)
    return summary


def _fill(con: duckdb.DuckDBPyConnection, summary: Summary, group: Callable[[str], Group]) -> None:
    """All calls, per model and per service (``span["service_name"] or "?"``), in one pass."""
    rows = con.execute(
        "SELECT grouping(m), grouping(s), m, s, "
        f"count(*), count(*) FILTER (WHERE status = {STATUS_ERROR}), "
        # ``int(number or 0)`` per call, as the scan adds them
        "coalesce(sum(trunc(tokens_in)), 0)::BIGINT, coalesce(sum(trunc(tokens_out)), 0)::BIGINT, "
        "coalesce(sum(trunc(tokens_cached)), 0)::BIGINT, coalesce(sum(cost), 0), count(cost), "
        # sorted here, so the Reservoir's own sort is a linear pass
        "list(duration_ms ORDER BY duration_ms), "
        "list(ttft_ms ORDER BY ttft_ms) FILTER (WHERE ttft_ms IS NOT NULL) "
        "FROM (SELECT *, coalesce(model, '?') AS m, coalesce(nullif(service, ''), '?') AS s "
        "FROM calls) "
        "GROUP BY GROUPING SETS ((), (m), (s))"
    ).fetchall()
    for by_model, by_service, model, service, *values in rows:
        if by_model and by_service:
            found = summary.total
        elif not by_model:
            found = summary.models[model] = group(model)
        else:
            found = summary.services[service] = group(service)
        found.calls, found.errors, found.tokens_in, found.tokens_out = values[:4]
        found.tokens_cached, found.cost, found.priced_calls = values[4], float(values[5]), values[6]
        for reservoir, listed in ((found.latency, values[7]), (found.ttft, values[8])):
            reservoir.values = list(listed or [])
            reservoir.seen = len(reservoir.values)


def _series(con: duckdb.DuckDBPyConnection, summary: Summary, buckets: int) -> None:
    """The width ``Series`` would reach: the narrowest doubling with few enough buckets."""
    width = _BASE_WIDTH_NS
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE keys AS SELECT DISTINCT start_ns // {width} AS k FROM calls"
    )
    # each doubling halves the keys already there: no pass over the calls again
    while con.execute("SELECT count(*) FROM keys").fetchall()[0][0] > buckets:
        con.execute("CREATE OR REPLACE TEMP TABLE keys AS SELECT DISTINCT k // 2 AS k FROM keys")
        width *= 2
    rows = con.execute(
        f"SELECT start_ns // {width}, "
        "sum(trunc(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)))::BIGINT "
        "FROM calls GROUP BY 1"
    ).fetchall()
    summary.tokens.width_ns = width
    summary.tokens.buckets = {int(key): int(tokens) for key, tokens in rows}


def summarize_files(
    files: Sequence[str],
    filt: SpanFilter,
    summary: Summary,
    group: Callable[[str], Group],
    buckets: int,
) -> Summary:
    """Fill ``summary`` (a ``cli.stats.Summary``) from the trace files ``files``."""
    con = duckdb.connect(":memory:")
    try:
        return _summarize(con, files, filt, summary, group, buckets)
    finally:
        con.close()
