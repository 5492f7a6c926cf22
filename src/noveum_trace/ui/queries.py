"""What the pages ask of the index: a page of traces, one trace, the overview, the facets.

Every answer is plain JSON-ready data. A trace's spans are read back from its own lines with
the reader, so the trace page shows exactly what the files hold (masked as written).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from noveum_trace import _render as render
from noveum_trace import semconv
from noveum_trace.cli.source import CliError, parse_time
from noveum_trace.reader import BadLine, SpanDict, decode_line
from noveum_trace.ui.conversation import conversation
from noveum_trace.ui.index import STATUS_ERROR, Index

PAGE_SIZE = 50
TOP_CALLS = 10
BUCKETS = 60


@dataclass
class Filters:
    """The traces page's search box and filters (the query string's names)."""

    q: str = ""
    service: str = ""
    model: str = ""
    vendor: str = ""
    session: str = ""
    conversation: str = ""
    user: str = ""
    errors: bool = False
    since_ns: int | None = None
    until_ns: int | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> Filters:
        """Raises ``ValueError`` for a time it cannot read."""

        def when(name: str) -> int | None:
            text = params.get(name, "").strip()
            if not text:
                return None
            try:
                return parse_time(text)
            except CliError as exc:
                raise ValueError(str(exc)) from None

        return cls(
            q=params.get("q", "").strip().lower(),
            service=params.get("service", ""),
            model=params.get("model", ""),
            vendor=params.get("vendor", ""),
            session=params.get("session", ""),
            conversation=params.get("conversation", ""),
            user=params.get("user", ""),
            errors=params.get("errors", "") in ("1", "true", "on"),
            since_ns=when("since"),
            until_ns=when("until"),
        )

    def trace_where(self) -> tuple[str, list[Any]]:
        """A WHERE clause over ``traces``."""
        parts: list[str] = ["true"]
        params: list[Any] = []
        for column, value in (
            ("models", self.model),
            ("vendors", self.vendor),
            ("sessions", self.session),
            ("conversations", self.conversation),
            ("users", self.user),
        ):
            if value:
                parts.append(f"list_contains({column}, ?)")
                params.append(value)
        if self.service:
            parts.append("service = ?")
            params.append(self.service)
        if self.errors:
            parts.append("errors > 0")
        self._time_window(parts, params)
        if self.q:
            parts.append("trace_id IN (SELECT trace_id FROM spans WHERE contains(search, ?))")
            params.append(self.q)
        return " AND ".join(parts), params

    def call_where(self) -> tuple[str, list[Any]]:
        """A WHERE clause over the LLM calls of ``spans`` (search aside)."""
        parts = ["is_call"]
        params: list[Any] = []
        for column, value in (
            ("service", self.service),
            ("model", self.model),
            ("vendor", self.vendor),
            ("session", self.session),
            ("conversation", self.conversation),
            ("user_id", self.user),
        ):
            if value:
                parts.append(f"{column} = ?")
                params.append(value)
        if self.errors:
            parts.append(f"status = {STATUS_ERROR}")
        self._time_window(parts, params)
        return " AND ".join(parts), params

    def _time_window(self, parts: list[str], params: list[Any]) -> None:
        """The since/until bounds, the same over traces and over calls (both have start_ns)."""
        if self.since_ns is not None:
            parts.append("start_ns >= ?")
            params.append(self.since_ns)
        if self.until_ns is not None:
            parts.append("start_ns <= ?")
            params.append(self.until_ns)


def status(index: Index) -> dict[str, Any]:
    spans, traces = index.query("SELECT (SELECT count(*) FROM spans), count(*) FROM traces")[0]
    return {"version": index.version, "spans": spans, "traces": traces, "path": index.path}


def traces_page(index: Index, filters: Filters, page: int = 1) -> dict[str, Any]:
    where, params = filters.trace_where()
    total = index.query(f"SELECT count(*) FROM traces WHERE {where}", params)[0][0]
    last = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), last)  # a page past the end shows the last one
    rows = index.query_dicts(
        f"SELECT * FROM traces WHERE {where} ORDER BY start_ns DESC, trace_id "
        f"LIMIT {PAGE_SIZE} OFFSET {(page - 1) * PAGE_SIZE}",
        params,
    )
    return {"total": total, "page": page, "page_size": PAGE_SIZE, "rows": rows}


def facets(index: Index) -> dict[str, list[str]]:
    """The values the filters offer."""

    def values(sql: str) -> list[str]:
        return [row[0] for row in index.query(sql) if row[0] is not None]

    return {
        "service": values("SELECT DISTINCT service FROM traces ORDER BY 1 LIMIT 500"),
        "model": values("SELECT DISTINCT unnest(models) FROM traces ORDER BY 1 LIMIT 500"),
        "vendor": values("SELECT DISTINCT unnest(vendors) FROM traces ORDER BY 1 LIMIT 500"),
        # empty when no span carries them: the page then offers no such filter
        "session": values("SELECT DISTINCT unnest(sessions) FROM traces ORDER BY 1 LIMIT 500"),
        "conversation": values(
            "SELECT DISTINCT unnest(conversations) FROM traces ORDER BY 1 LIMIT 500"
        ),
        "user": values("SELECT DISTINCT unnest(users) FROM traces ORDER BY 1 LIMIT 500"),
    }


# --- one trace ---------------------------------------------------------------------------


def _read_spans(index: Index, trace_id: str) -> list[SpanDict]:
    where = index.query(
        "SELECT DISTINCT file_id, line_offset FROM spans WHERE trace_id = ? ORDER BY 1, 2",
        [trace_id],
    )
    spans: list[SpanDict] = []
    for file_id, offset in where:
        name = index.file_name(file_id)
        try:
            with open(name, "rb") as handle:
                handle.seek(offset)
                raw = handle.readline()
            spans.extend(s for s in decode_line(raw, name) if s["trace_id"] == trace_id)
        except (OSError, BadLine):  # the file changed under us: the next refresh catches up
            continue
    return spans


def _span_view(span: SpanDict, calls: set[str]) -> dict[str, Any]:
    attrs = span["attributes"]
    out_tokens = render.number(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
    per_second = render.number(attrs, semconv.LLM_TOKENS_PER_SECOND)
    if per_second is None and out_tokens and span["duration_ms"] > 0:
        per_second = out_tokens / (span["duration_ms"] / 1000)
    return {
        **span,
        "llm": span["span_id"] in calls,
        "model": render.model_of(span),
        "vendor": attrs.get(semconv.GEN_AI_PROVIDER_NAME) or attrs.get(semconv.GEN_AI_SYSTEM),
        "tokens": {
            "input": render.number(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS),
            "output": out_tokens,
            "cached": render.number(attrs, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
            "cache_creation": render.number(
                attrs, semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS
            ),
            "reasoning": render.number(attrs, semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
        },
        "cost": render.number(attrs, semconv.GEN_AI_USAGE_COST),
        "ttft_ms": render.ttft_ms(span),
        "tokens_per_second": per_second,
        "error": render.error_message(span) if render.is_error(span) else None,
        "messages": conversation(span),
    }


def trace(index: Index, trace_id: str) -> dict[str, Any] | None:
    spans = _read_spans(index, trace_id)
    if not spans:
        return None
    sql = "SELECT span_id FROM spans WHERE trace_id = ? AND is_call"
    calls = {row[0] for row in index.query(sql, [trace_id])}
    ordered = [(head, span) for head, _below, span in render.tree(spans)]
    depth = _depths(spans)
    summary = index.query_dicts("SELECT * FROM traces WHERE trace_id = ?", [trace_id])
    return {
        "trace": summary[0] if summary else None,
        "spans": [
            {**_span_view(span, calls), "depth": depth[span["span_id"]]} for _h, span in ordered
        ],
    }


def _depths(spans: list[SpanDict]) -> dict[str, int]:
    parents = {span["span_id"]: span["parent_span_id"] for span in spans}
    depth: dict[str, int] = {}

    def of(span_id: str, seen: int = 0) -> int:
        if span_id in depth:
            return depth[span_id]
        parent = parents.get(span_id)
        value = 0 if parent not in parents or seen > len(parents) else of(parent, seen + 1) + 1
        depth[span_id] = value
        return value

    for span_id in parents:
        of(span_id)
    return depth


# --- the overview ------------------------------------------------------------------------


def overview(index: Index, filters: Filters) -> dict[str, Any]:
    where, params = filters.call_where()
    span = index.query(
        f"SELECT min(start_ns), max(start_ns), count(*), "
        f"count(*) FILTER (WHERE status = {STATUS_ERROR}) FROM spans WHERE {where}",
        params,
    )[0]
    first, last, calls, errors = span
    result: dict[str, Any] = {
        "calls": calls,
        "errors": errors,
        "error_rate": errors / calls if calls else 0.0,
        "first_ns": first,
        "last_ns": last,
        "bucket_ns": 0,
        "series": [],
        "by_model": [],
        "slowest": [],
        "most_expensive": [],
    }
    if not calls:
        return result
    bucket = max(1, -(-(last - first + 1) // BUCKETS))
    result["bucket_ns"] = bucket
    result["series"] = index.query_dicts(
        f"SELECT (start_ns - {first}) // {bucket} AS bucket, model, vendor, count(*) AS calls, "
        "sum(coalesce(tokens_in, 0) + coalesce(tokens_out, 0)) AS tokens, "
        f"sum(coalesce(cost, 0)) AS cost FROM spans WHERE {where} "
        "GROUP BY ALL ORDER BY 1, 2",
        params,
    )
    result["by_model"] = index.query_dicts(
        "SELECT model, any_value(vendor) AS vendor, count(*) AS calls, "
        f"count(*) FILTER (WHERE status = {STATUS_ERROR}) AS errors, "
        "sum(tokens_in) AS tokens_in, sum(tokens_out) AS tokens_out, "
        "sum(tokens_cached) AS tokens_cached, sum(cost) AS cost, "
        "quantile_cont(duration_ms, [0.5, 0.95, 0.99]) AS latency_ms, "
        "quantile_cont(ttft_ms, [0.5, 0.95, 0.99]) AS ttft_ms "
        f"FROM spans WHERE {where} GROUP BY model ORDER BY calls DESC, model",
        params,
    )
    top = (
        "SELECT trace_id, span_id, name, model, start_ns, duration_ms, cost, ttft_ms, "
        "tokens_in, tokens_out, status FROM spans WHERE {where} AND {col} IS NOT NULL "
        "ORDER BY {col} DESC LIMIT " + str(TOP_CALLS)
    )
    result["slowest"] = index.query_dicts(top.format(where=where, col="duration_ms"), params)
    result["most_expensive"] = index.query_dicts(top.format(where=where, col="cost"), params)
    return result
