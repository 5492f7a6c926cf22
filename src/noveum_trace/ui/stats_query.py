"""``noveum-trace stats`` from the DuckDB index: the same ``Summary`` the streamed scan builds.

Filters, the wrapper rule (a span with a model whose accepted child also has one is not a
call of its own), the groups and the tokens-over-time buckets follow ``cli/stats.py``; the
latencies are all kept (exact quantiles, no sample).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from noveum_trace.cli.source import SpanFilter
from noveum_trace.ui.index import STATUS_ERROR, Index

# ``cli.stats`` calls this module, so its Summary and Group come in as arguments (typed Any:
# importing them here would be a cycle).
Summary = Any
Group = Any

_BASE_WIDTH_NS = 10_000_000  # Series' first bucket width


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
        parts.append("(model GLOB ? OR response_model GLOB ?)")
        params += [filt.model, filt.model]
    return " AND ".join(parts), params


def summarize_index(
    index: Index, filt: SpanFilter, summary: Summary, group: Callable[[str], Group], buckets: int
) -> Summary:
    where, params = _where(filt)
    con = index.con
    with index.lock:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE accepted AS SELECT * FROM spans WHERE {where}", params
        )
        con.execute(
            "CREATE OR REPLACE TEMP TABLE calls AS SELECT a.* FROM accepted a "
            "WHERE a.model IS NOT NULL AND (a.trace_id, a.span_id) NOT IN ("
            "SELECT (trace_id, parent_id) FROM accepted "
            "WHERE model IS NOT NULL AND parent_id IS NOT NULL)"
        )
        spans, first, last, llm = con.execute(
            "SELECT count(*), min(start_ns), max(start_ns), count(model) FROM accepted"
        ).fetchall()[0]
        summary.spans, summary.first_ns, summary.last_ns = spans, first, last
        calls = con.execute("SELECT count(*) FROM calls").fetchall()[0][0]
        summary.wrappers = llm - calls
        _fill(con, summary.total, "true")
        for groups, column in ((summary.models, "model"), (summary.services, "service")):
            keys = con.execute(f"SELECT DISTINCT coalesce({column}, '?') FROM calls").fetchall()
            for (key,) in keys:
                found = groups[key] = group(key)
                _fill(con, found, f"coalesce({column}, '?') = ?", [key])
        _series(con, summary, buckets)
    return summary


def _fill(con: Any, group: Group, where: str, params: list[Any] | None = None) -> None:
    row = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE status = {STATUS_ERROR}), "
        "coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0), "
        "coalesce(sum(tokens_cached), 0), coalesce(sum(cost), 0), count(cost), "
        "list(duration_ms), list(ttft_ms) FILTER (WHERE ttft_ms IS NOT NULL) "
        f"FROM calls WHERE {where}",
        params or [],
    ).fetchall()[0]
    group.calls, group.errors, group.tokens_in, group.tokens_out, group.tokens_cached = row[:5]
    group.cost, group.priced_calls = float(row[5]), row[6]
    for reservoir, values in ((group.latency, row[7]), (group.ttft, row[8])):
        reservoir.values = list(values or [])
        reservoir.seen = len(reservoir.values)


def _series(con: Any, summary: Summary, buckets: int) -> None:
    """The widths ``Series`` would reach: the narrowest doubling with few enough buckets."""
    width = _BASE_WIDTH_NS
    while True:
        count = con.execute(f"SELECT count(DISTINCT start_ns // {width}) FROM calls").fetchall()
        if count[0][0] <= buckets:
            break
        width *= 2
    rows = con.execute(
        f"SELECT start_ns // {width}, "
        "sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)) FROM calls GROUP BY 1"
    ).fetchall()
    summary.tokens.width_ns = width
    summary.tokens.buckets = {int(key): int(tokens) for key, tokens in rows}


def summarize_path(
    path: str, filt: SpanFilter, summary: Summary, group: Callable[[str], Group], buckets: int
) -> Summary:
    """Fill ``summary`` (a ``cli.stats.Summary``) from an index of ``path``."""
    index = Index(path)
    try:
        index.refresh()
        return summarize_index(index, filt, summary, group, buckets)
    finally:
        index.close()
