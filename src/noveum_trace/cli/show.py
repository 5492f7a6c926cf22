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

from noveum_trace import _render as render
from noveum_trace import semconv
from noveum_trace.cli import fmt
from noveum_trace.cli.source import Scan, SpanFilter, Subcommands
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


def render_trace(trace: TraceBuffer, style: render.Style, content: bool) -> list[str]:
    rows = render.tree(trace.spans)
    errors = sum(1 for span in trace.spans if render.is_error(span))
    services = sorted({span["service_name"] or "?" for span in trace.spans})
    total_cost = sum(
        render.number(s["attributes"], semconv.GEN_AI_USAGE_COST) or 0 for s in trace.spans
    )
    header = [
        style("●", "red" if errors else "green"),
        style(f"trace {trace.trace_id}", "bold"),
        style(",".join(services), "magenta"),
        render.clock(trace.start),
        render.plural(len(trace.spans) + trace.hidden, "span"),
        render.duration((trace.end - trace.start) / 1e6),
    ]
    if total_cost:
        header.append(style(render.cost(total_cost), "yellow"))
    if errors:
        header.append(style(render.plural(errors, "error"), "red"))
    lines = ["  ".join(header)]
    labels = [head + render.one_line(span["name"], _NAME_WIDTH) for head, _, span in rows]
    width = min(_NAME_WIDTH + 12, max(render.visible_len(label) for label in labels))
    parents = {span["parent_span_id"] for span in trace.spans}
    ids = {span["span_id"] for span in trace.spans}
    for (_, below, span), label in zip(rows, labels, strict=True):
        name = style(label, "red") if render.is_error(span) else label
        line = f"  {render.pad(name, width)}  {render.duration(span['duration_ms']):>9}"
        details = render.span_details(span, style)
        if span["parent_span_id"] and span["parent_span_id"] not in ids:
            details += style("  (its parent span is not in these files)", "dim")
        lines.append(f"{line}  {details}".rstrip())
        if content:
            for key, text in render.content_items(span):
                if len(text) > _CONTENT_CHARS:
                    text = text[:_CONTENT_CHARS] + f"… ({len(text) - _CONTENT_CHARS} more chars)"
                gutter = "  " + below + ("│  " if span["span_id"] in parents else "   ")
                for index, part in enumerate(text.splitlines() or [""]):
                    tag = style(f"{key}: ", "dim") if index == 0 else " " * (len(key) + 2)
                    lines.append(f"{gutter}{tag}{part}")
    if trace.hidden:
        lines.append(style(f"  … {trace.hidden} more spans not shown", "dim"))
    return lines


def trace_json(trace: TraceBuffer, content: bool) -> dict[str, Any]:
    nodes: dict[str, dict[str, Any]] = {}
    for span in trace.spans:
        node: dict[str, Any] = dict(span if content else render.strip_content(span))
        node["children"] = []
        nodes[span["span_id"]] = node
    roots: list[dict[str, Any]] = []
    for _, _, span in render.tree(trace.spans):
        node = nodes[span["span_id"]]
        parent = nodes.get(span["parent_span_id"] or "")
        (parent["children"] if parent is not None else roots).append(node)
    return {
        "trace_id": trace.trace_id,
        "start_time_unix_nano": trace.start,
        "duration_ms": (trace.end - trace.start) / 1e6,
        "span_count": len(trace.spans) + trace.hidden,
        "error_count": sum(1 for span in trace.spans if render.is_error(span)),
        "spans": roots,
    }


def print_traces(
    traces: list[TraceBuffer], out: TextIO, style: render.Style, content: bool, as_json: bool
) -> None:
    if as_json:
        doc = {"traces": [trace_json(trace, content) for trace in traces]}
        out.write(render.dumps(doc, indent=True) + "\n")
        return
    for index, trace in enumerate(traces):
        if index:
            out.write("\n")
        out.write("\n".join(render_trace(trace, style, content)) + "\n")


def run(args: argparse.Namespace) -> int:
    filt = SpanFilter.from_args(args)
    scan = Scan(args.path)
    traces = collect(scan.spans(), filt, args.limit)
    style = render.Style(fmt.colour_wanted(args.color, sys.stdout))
    if not traces and not args.json:
        print(f"noveum-trace: no traces match in {args.path}", file=sys.stderr)
        return 0
    print_traces(traces, sys.stdout, style, args.content, args.json)
    return 0


def add_parser(sub: Subcommands, common: list[argparse.ArgumentParser]) -> None:
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
