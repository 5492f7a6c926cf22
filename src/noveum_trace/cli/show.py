"""``noveum-trace show``: the most recent traces as trees.

Memory stays bounded however large the directory: traces are kept in two LRU pools (the ones
a filter selected, and candidates that may still match), each capped, and a trace keeps at
most ``MAX_SPANS_PER_TRACE`` spans. Spans arrive roughly in end order, so evicting the least
recently updated trace drops the oldest ones first.
"""

from __future__ import annotations

import argparse
import sys
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

from noveum_trace import semconv
from noveum_trace.cli import fmt
from noveum_trace.cli.source import (
    Scan,
    SpanFilter,
    error_message,
    is_error,
    model_of,
    number,
    ttft_ms,
)
from noveum_trace.reader import SpanDict

MAX_SPANS_PER_TRACE = 2000
CANDIDATE_SPAN_BUDGET = 50_000
_NAME_WIDTH = 56
_CONTENT_CHARS = 4000


class TraceBuffer:
    __slots__ = ("hidden", "selected", "spans", "trace_id")

    def __init__(self, trace_id: str) -> None:
        self.trace_id = trace_id
        self.spans: list[SpanDict] = []
        self.hidden = 0  # spans beyond MAX_SPANS_PER_TRACE
        self.selected = False

    def add(self, span: SpanDict) -> None:
        if len(self.spans) < MAX_SPANS_PER_TRACE:
            self.spans.append(span)
        else:
            self.hidden += 1

    @property
    def start(self) -> int:
        return min(int(span["start_time_unix_nano"]) for span in self.spans)

    @property
    def end(self) -> int:
        return max(int(span["end_time_unix_nano"]) for span in self.spans)


def collect(spans: Iterable[SpanDict], filt: SpanFilter, limit: int) -> list[TraceBuffer]:
    """The ``limit`` most recent traces with at least one span the filter selects."""
    selected: OrderedDict[str, TraceBuffer] = OrderedDict()
    candidates: OrderedDict[str, TraceBuffer] = OrderedDict()
    candidate_spans = 0
    # Slack: a trace updated late may still rank among the newest. --limit 0 keeps them all.
    keep_selected = limit * 2 + 16 if limit > 0 else sys.maxsize
    for span in spans:
        if not filt.in_window(span):
            continue
        trace_id = span["trace_id"]
        trace = selected.get(trace_id)
        if trace is not None:
            selected.move_to_end(trace_id)
            trace.add(span)
            continue
        trace = candidates.pop(trace_id, None)
        if trace is None:
            trace = TraceBuffer(trace_id)
        else:
            candidate_spans -= len(trace.spans)
        trace.add(span)
        if filt.selects(span):
            trace.selected = True
            selected[trace_id] = trace
            while len(selected) > keep_selected:
                selected.popitem(last=False)
        else:
            candidates[trace_id] = trace
            candidate_spans += len(trace.spans)
            while candidate_spans > CANDIDATE_SPAN_BUDGET and len(candidates) > 1:
                _, dropped = candidates.popitem(last=False)
                candidate_spans -= len(dropped.spans)
    ranked = sorted(selected.values(), key=lambda t: t.start)
    return ranked[-limit:] if limit > 0 else ranked


# --- rendering ---------------------------------------------------------------------------


def _tree(spans: list[SpanDict]) -> list[tuple[str, str, SpanDict]]:
    """(prefix for the span's line, prefix for lines under it, span), depth first."""
    ids = {span["span_id"] for span in spans}
    children: dict[str | None, list[SpanDict]] = {}
    for span in sorted(spans, key=lambda s: (s["start_time_unix_nano"], s["end_time_unix_nano"])):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    rows: list[tuple[str, str, SpanDict]] = []

    def walk(parent: str | None, indent: str) -> None:
        kids = children.get(parent, [])
        for index, span in enumerate(kids):
            last = index == len(kids) - 1
            if parent is None:
                head, below = "", ""
            else:
                head, below = (
                    indent + ("└─ " if last else "├─ "),
                    indent + ("   " if last else "│  "),
                )
            rows.append((head, below, span))
            walk(span["span_id"], below)

    walk(None, "")
    return rows


def span_details(span: SpanDict, style: fmt.Style) -> str:
    attrs = span["attributes"]
    parts: list[str] = []
    model = model_of(span)
    if model:
        parts.append(style(model, "cyan"))
    tokens_in = number(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS)
    tokens_out = number(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
    cached = number(attrs, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
    if tokens_in is not None or tokens_out is not None:
        text = f"in {fmt.count(tokens_in)} out {fmt.count(tokens_out)}"
        if cached:
            text += f" cached {fmt.count(cached)}"
        parts.append(text)
    usd = number(attrs, semconv.GEN_AI_USAGE_COST)
    if usd is not None:
        parts.append(style(fmt.cost(usd), "yellow"))
    ttft = ttft_ms(span)
    if ttft is not None:
        parts.append(f"ttft {fmt.duration(ttft)}")
    code = span["status"]["code"]
    if code == "ERROR":
        message = fmt.one_line(error_message(span), 160)
        parts.append(style(f"ERROR {message}".rstrip(), "red", "bold"))
    elif code == "OK":
        parts.append(style("ok", "green"))
    return "  ".join(parts)


def content_items(span: SpanDict) -> list[tuple[str, str]]:
    """(label, text) for each prompt/completion recorded on the span or its events."""
    items: list[tuple[str, str]] = []
    sources = [span["attributes"]] + [event["attributes"] for event in span["events"]]
    for attrs in sources:
        for key, value in attrs.items():
            if key in semconv.CONTENT_KEYS and key != semconv.GEN_AI_COMPLETION_CHUNK:
                text = _readable(value) if isinstance(value, str) else fmt.as_text(value)
                item = (key.removeprefix("gen_ai."), text)
                if item not in items:
                    items.append(item)
    return items


def _readable(text: str) -> str:
    """A JSON list of chat messages as ``role: content`` lines; anything else as it is."""
    if not text.startswith("[{"):
        return text
    try:
        messages = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    if not all(isinstance(m, dict) and "role" in m for m in messages):
        return text
    lines = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            rest = {k: v for k, v in message.items() if k != "role"}
            content = fmt.dumps(rest)
        lines.append(f"{message['role']}: {content}")
    return "\n".join(lines)


def render_trace(trace: TraceBuffer, style: fmt.Style, content: bool) -> list[str]:
    rows = _tree(trace.spans)
    errors = sum(1 for span in trace.spans if is_error(span))
    services = sorted({span["service_name"] or "?" for span in trace.spans})
    total_cost = sum(number(s["attributes"], semconv.GEN_AI_USAGE_COST) or 0 for s in trace.spans)
    header = [
        style("●", "red" if errors else "green"),
        style(f"trace {trace.trace_id}", "bold"),
        style(",".join(services), "magenta"),
        fmt.clock(trace.start),
        fmt.plural(len(trace.spans) + trace.hidden, "span"),
        fmt.duration((trace.end - trace.start) / 1e6),
    ]
    if total_cost:
        header.append(style(fmt.cost(total_cost), "yellow"))
    if errors:
        header.append(style(fmt.plural(errors, "error"), "red"))
    lines = ["  ".join(header)]
    labels = [head + fmt.one_line(span["name"], _NAME_WIDTH) for head, _, span in rows]
    width = min(_NAME_WIDTH + 12, max(fmt.visible_len(label) for label in labels))
    parents = {span["parent_span_id"] for span in trace.spans}
    ids = {span["span_id"] for span in trace.spans}
    for (_, below, span), label in zip(rows, labels, strict=True):
        name = style(label, "red") if is_error(span) else label
        line = f"  {fmt.pad(name, width)}  {fmt.duration(span['duration_ms']):>9}"
        details = span_details(span, style)
        if span["parent_span_id"] and span["parent_span_id"] not in ids:
            details += style("  (its parent span is not in these files)", "dim")
        lines.append(f"{line}  {details}".rstrip())
        if content:
            for key, text in content_items(span):
                if len(text) > _CONTENT_CHARS:
                    text = text[:_CONTENT_CHARS] + f"… ({len(text) - _CONTENT_CHARS} more chars)"
                gutter = "  " + below + ("│  " if span["span_id"] in parents else "   ")
                for index, part in enumerate(text.splitlines() or [""]):
                    tag = style(f"{key}: ", "dim") if index == 0 else " " * (len(key) + 2)
                    lines.append(f"{gutter}{tag}{part}")
    if trace.hidden:
        lines.append(style(f"  … {trace.hidden} more spans not shown", "dim"))
    return lines


def strip_content(span: SpanDict) -> SpanDict:
    def clean(attrs: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in attrs.items() if k not in semconv.CONTENT_KEYS}

    events = [dict(event, attributes=clean(event["attributes"])) for event in span["events"]]
    return dict(span, attributes=clean(span["attributes"]), events=events)


def trace_json(trace: TraceBuffer, content: bool) -> dict[str, Any]:
    nodes = {
        span["span_id"]: dict(span if content else strip_content(span), children=[])
        for span in trace.spans
    }
    roots: list[dict[str, Any]] = []
    for _, _, span in _tree(trace.spans):
        node = nodes[span["span_id"]]
        parent = nodes.get(span["parent_span_id"] or "")
        (parent["children"] if parent is not None else roots).append(node)
    return {
        "trace_id": trace.trace_id,
        "start_time_unix_nano": trace.start,
        "duration_ms": (trace.end - trace.start) / 1e6,
        "span_count": len(trace.spans) + trace.hidden,
        "error_count": sum(1 for span in trace.spans if is_error(span)),
        "spans": roots,
    }


def print_traces(
    traces: list[TraceBuffer], out: TextIO, style: fmt.Style, content: bool, as_json: bool
) -> None:
    if as_json:
        doc = {"traces": [trace_json(trace, content) for trace in traces]}
        out.write(fmt.dumps(doc, indent=True) + "\n")
        return
    for index, trace in enumerate(traces):
        if index:
            out.write("\n")
        out.write("\n".join(render_trace(trace, style, content)) + "\n")


def run(args: argparse.Namespace) -> int:
    filt = SpanFilter.from_args(args)
    scan = Scan(args.path)
    traces = collect(scan.spans(), filt, args.limit)
    style = fmt.Style(fmt.colour_wanted(args.color, sys.stdout))
    if not traces and not args.json:
        print(f"noveum-trace: no traces match in {args.path}", file=sys.stderr)
        return 0
    print_traces(traces, sys.stdout, style, args.content, args.json)
    return 0


def add_parser(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "show",
        parents=common,
        help="recent traces as trees",
        description="The most recent traces as trees: per span its duration, model, tokens, "
        "cost, time to first token, status and error message.",
    )
    parser.add_argument(
        "--limit",
        "-n",
        type=int,
        default=20,
        help="traces to show, newest last (default 20; 0 = all)",
    )
    parser.add_argument("--content", action="store_true", help="show prompts and completions")
    parser.set_defaults(run=run)
