"""``noveum-trace stats``: calls, errors, tokens, cost and latency per model and per service.

Each group keeps running sums and a bounded reservoir of latencies (exact quantiles up to
``RESERVOIR`` values, a uniform sample beyond), so a scan of any size needs bounded memory.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, TextIO

from noveum_trace import _render as render
from noveum_trace import semconv
from noveum_trace.cli import fmt
from noveum_trace.cli.source import Scan, SpanFilter, Subcommands
from noveum_trace.reader import SpanDict

RESERVOIR = 10_000
QUANTILES = (0.5, 0.95, 0.99)
_SERIES_BUCKETS = 2048
_CHART_WIDTH = 60
_RECENT_PARENTS = 100_000


class Reservoir:
    """A uniform sample of at most ``size`` floats (Vitter's algorithm R)."""

    def __init__(self, size: int = RESERVOIR, seed: int = 0) -> None:
        self.size = size
        self.seen = 0
        self.values: list[float] = []
        self._random = random.Random(seed)  # fixed seed: the same files give the same report

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            slot = self._random.randrange(self.seen)
            if slot < self.size:
                self.values[slot] = value

    def quantiles(self) -> dict[str, float] | None:
        if not self.values:
            return None
        ordered = sorted(self.values)
        return {f"p{round(q * 100)}": _quantile(ordered, q) for q in QUANTILES}


def _quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class Group:
    def __init__(self, key: str) -> None:
        self.key = key
        self.calls = 0
        self.errors = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.tokens_cached = 0
        self.cost = 0.0
        self.priced_calls = 0
        self.latency = Reservoir()
        self.ttft = Reservoir()

    def add(self, span: SpanDict) -> None:
        attrs = span["attributes"]
        self.calls += 1
        self.errors += render.is_error(span)
        self.tokens_in += int(render.number(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS) or 0)
        self.tokens_out += int(render.number(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS) or 0)
        self.tokens_cached += int(
            render.number(attrs, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS) or 0
        )
        usd = render.number(attrs, semconv.GEN_AI_USAGE_COST)
        if usd is not None:
            self.cost += usd
            self.priced_calls += 1
        self.latency.add(span["duration_ms"])
        ttft = render.ttft_ms(span)
        if ttft is not None:
            self.ttft.add(ttft)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "calls": self.calls,
            "errors": self.errors,
            "error_rate": self.errors / self.calls if self.calls else 0.0,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "tokens_cached": self.tokens_cached,
            "cost_usd": self.cost if self.priced_calls else None,
            "priced_calls": self.priced_calls,
            "latency_ms": self.latency.quantiles(),
            "ttft_ms": self.ttft.quantiles(),
        }


class Series:
    """Tokens summed per time bucket; buckets double in width to stay under a bound."""

    def __init__(self) -> None:
        self.width_ns = 10_000_000  # 10 ms; widened as needed
        self.buckets: dict[int, int] = {}

    def add(self, at_ns: int, tokens: int) -> None:
        key = at_ns // self.width_ns
        self.buckets[key] = self.buckets.get(key, 0) + tokens
        if len(self.buckets) > _SERIES_BUCKETS:
            self.width_ns *= 2
            merged: dict[int, int] = {}
            for old, value in self.buckets.items():
                merged[old // 2] = merged.get(old // 2, 0) + value
            self.buckets = merged

    def columns(self, width: int) -> tuple[list[float], int, int]:
        """(tokens per column, first ns, column width ns) over the whole range."""
        if not self.buckets:
            return [], 0, 0
        first, last = min(self.buckets), max(self.buckets)
        per_column = max(1, -(-(last - first + 1) // width))
        values = [0.0] * (-(-(last - first + 1) // per_column))
        for key, tokens in self.buckets.items():
            values[(key - first) // per_column] += tokens
        return values, first * self.width_ns, per_column * self.width_ns


class Summary:
    def __init__(self) -> None:
        self.spans = 0
        self.first_ns: int | None = None
        self.last_ns: int | None = None
        self.total = Group("all")
        self.models: dict[str, Group] = {}
        self.services: dict[str, Group] = {}
        self.tokens = Series()
        self.wrappers = 0
        # Parents of recent LLM spans. A span with a model whose child was an LLM call is a
        # wrapper (``@trace_llm_call`` around a client call): counting it too would count the
        # call twice. Children end, and are written, before their parents, so a bounded LRU
        # of recent parent ids is enough.
        self._llm_parents: OrderedDict[str, None] = OrderedDict()

    def add(self, span: SpanDict) -> None:
        self.spans += 1
        start = span["start_time_unix_nano"]
        self.first_ns = start if self.first_ns is None else min(self.first_ns, start)
        self.last_ns = start if self.last_ns is None else max(self.last_ns, start)
        model = render.model_of(span)
        if model is None:  # only LLM calls are counted; plain spans just frame them
            return
        if span["parent_span_id"]:
            self._llm_parents[span["parent_span_id"]] = None
            self._llm_parents.move_to_end(span["parent_span_id"])
            if len(self._llm_parents) > _RECENT_PARENTS:
                self._llm_parents.popitem(last=False)
        if span["span_id"] in self._llm_parents:
            del self._llm_parents[span["span_id"]]
            self.wrappers += 1
            return
        service = span["service_name"] or "?"
        for groups, key in ((self.models, model), (self.services, service)):
            group = groups.get(key)
            if group is None:
                group = groups[key] = Group(key)
            group.add(span)
        self.total.add(span)
        attrs = span["attributes"]
        used = (render.number(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS) or 0) + (
            render.number(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS) or 0
        )
        self.tokens.add(start, int(used))

    def as_json(self) -> dict[str, Any]:
        values, first, step = self.tokens.columns(_CHART_WIDTH)
        histogram = _histogram_bins(self.total.latency.values)
        return {
            "spans": self.spans,
            "llm_calls": self.total.calls,
            "wrapper_spans": self.wrappers,
            "first_start_unix_nano": self.first_ns,
            "last_start_unix_nano": self.last_ns,
            "by_model": [g.as_json() for g in _ordered(self.models)],
            "by_service": [g.as_json() for g in _ordered(self.services)],
            "total": self.total.as_json(),
            "latency_histogram_ms": histogram,
            "tokens_over_time": {"start_unix_nano": first, "bucket_ns": step, "tokens": values},
        }


def _ordered(groups: dict[str, Group]) -> list[Group]:
    return sorted(groups.values(), key=lambda g: (-g.calls, g.key))


def _histogram_bins(values: list[float], bins: int = 10) -> list[dict[str, float]]:
    edges, counts = fmt.bin_counts(values, bins)
    return [{"low": edges[i], "high": edges[i + 1], "count": n} for i, n in enumerate(counts)]


def summarize(spans: Iterable[SpanDict], filt: SpanFilter) -> Summary:
    summary = Summary()
    for span in spans:
        if filt.accepts(span):
            summary.add(span)
    return summary


# --- text output -------------------------------------------------------------------------


def _row(group: Group, style: render.Style) -> list[str]:
    def q(reservoir: Reservoir, name: str) -> str:
        values = reservoir.quantiles()
        return render.duration(values[name]) if values else "-"

    errors = f"{group.errors} ({fmt.percent(group.errors / group.calls)})" if group.calls else "0"
    return [
        group.key,
        render.count(group.calls),
        style(errors, "red") if group.errors else errors,
        render.count(group.tokens_in),
        render.count(group.tokens_out),
        render.count(group.tokens_cached),
        render.cost(group.cost) if group.priced_calls else "-",
        *(q(group.latency, f"p{round(x * 100)}") for x in QUANTILES),
        *(q(group.ttft, f"p{round(x * 100)}") for x in QUANTILES),
    ]


_HEADERS = [
    "calls",
    "errors",
    "tok in",
    "tok out",
    "cached",
    "cost",
    "lat p50",
    "p95",
    "p99",
    "ttft p50",
    "p95",
    "p99",
]


def render_summary(summary: Summary, style: render.Style) -> list[str]:
    lines: list[str] = []
    if summary.first_ns is not None and summary.last_ns is not None:
        wrapped = summary.wrappers
        wrappers = f" ({render.plural(wrapped, 'wrapper span')} not counted)" if wrapped else ""
        lines.append(
            f"{render.count(summary.spans)} spans, {render.count(summary.total.calls)} LLM calls"
            f"{wrappers}, {render.clock(summary.first_ns)} → {render.clock(summary.last_ns)}"
        )
    if not summary.total.calls:
        lines.append("no LLM calls (spans with a model attribute) to summarise")
        return lines
    for title, groups in (("model", summary.models), ("service", summary.services)):
        rows = [_row(g, style) for g in _ordered(groups)]
        if len(groups) > 1:
            rows.append([style(cell, "bold") for cell in _row(summary.total, style)])
        lines.append("")
        lines.extend(fmt.table([title, *_HEADERS], rows, style))
    lines.append("")
    latency = summary.total.latency
    title = f"latency of {render.count(latency.seen)} LLM calls"
    if latency.seen > len(latency.values):
        title += f" (a uniform sample of {render.count(len(latency.values))})"
    lines.append(style(title, "bold"))
    lines.extend(fmt.histogram(*fmt.bin_counts(latency.values, 10), 40, style))
    values, first, step = summary.tokens.columns(_CHART_WIDTH)
    if len(values) > 1 and any(values):
        lines.append("")
        lines.append(
            style("tokens over time", "bold")
            + f" ({render.duration(step / 1e6)} per column, peak {render.count(max(values))})"
        )
        lines.append(style(fmt.sparkline(values), "cyan"))
        end = first + step * len(values)
        lines.append(f"{render.clock(first)}{' ' * 4}→{' ' * 4}{render.clock(end)}")
    return lines


def print_summary(summary: Summary, out: TextIO, style: render.Style, as_json: bool) -> None:
    if as_json:
        out.write(render.dumps(summary.as_json(), indent=True) + "\n")
    else:
        out.write("\n".join(render_summary(summary, style)) + "\n")


# With the [ui] extra, a directory this large is summarised by the DuckDB query layer
# (noveum_trace.ui.stats_query) instead of the streamed scan. NOVEUM_TRACE_STATS_ENGINE=python
# or =duckdb forces either.
QUERY_LAYER_MIN_BYTES = 32 << 20
ENGINE_ENV = "NOVEUM_TRACE_STATS_ENGINE"


def _query_layer(scan: Scan) -> bool:
    engine = os.environ.get(ENGINE_ENV, "auto").strip().lower()
    if engine == "python" or importlib.util.find_spec("duckdb") is None:
        return False
    if engine == "duckdb":
        return True
    return sum(os.path.getsize(name) for name in scan.files) >= QUERY_LAYER_MIN_BYTES


def run(args: argparse.Namespace) -> int:
    filt = SpanFilter.from_args(args)
    scan = Scan(args.path)
    summary: Summary | None = None
    if _query_layer(scan):
        from noveum_trace.ui.stats_query import summarize_files

        summary = summarize_files(scan.files, filt, Summary(), Group, _SERIES_BUCKETS)
        if not summary.spans:  # nothing indexed: the scan says why (empty, not trace files)
            summary = None
    if summary is None:
        summary = summarize(scan.spans(), filt)
    print_summary(
        summary, sys.stdout, render.Style(fmt.colour_wanted(args.color, sys.stdout)), args.json
    )
    return 0


def add_parser(sub: Subcommands, common: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "stats",
        parents=common,
        help="calls, errors, tokens, cost and latency per model and service",
        description="LLM calls per model and per service: calls, error rate, tokens, cost, "
        "latency and time to first token (p50/p95/p99), with a latency histogram.",
    )
    parser.set_defaults(run=run)
