"""`noveum-trace ui` on 1,000,000 spans: the first index, the traces page, one trace, the
overview, and `noveum-trace stats` with and without the query layer.

    python benchmarks/ui_million_spans.py [--spans 1000000] [--dir /tmp/noveum-ui-bench]

The spans are an LLM app's traces: a request root, three chat calls with tokens, cost, a
prompt and a completion (one in ten streamed, with a time to first token; one in fifty
failed), and a tool call, in OTLP/JSON lines of 500 spans, over four files.
Targets (issue 16): first page <= 30 s, each page after <= 500 ms, stats < 5 s.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from noveum_trace import semconv
from noveum_trace.export.otlp_json import any_value

MODELS = [("gpt-4o-mini", "openai", 0.15, 0.6), ("gpt-4o", "openai", 2.5, 10.0),
          ("claude-3-5-haiku-20241022", "anthropic", 0.8, 4.0)]
QUESTIONS = ["What is machine learning?", "Summarise this ticket for the on-call engineer.",
             "Translate the release notes into French.", "Which tool fits this request?"]




def _attrs(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_value(v)} for k, v in values.items()]


def _span(rng: random.Random, trace: str, span_id: str, parent: str | None, name: str,
          start: int, ms: float, attrs: dict[str, Any], events: list[Any], error: bool) -> dict[str, Any]:
    record: dict[str, Any] = {
        "traceId": trace, "spanId": span_id, "name": name, "kind": 3 if parent else 2,
        "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + int(ms * 1e6)),
        "attributes": _attrs(attrs), "events": events,
        "status": {"code": 2, "message": "Rate limit exceeded"} if error else {},
    }
    if parent:
        record["parentSpanId"] = parent
    return record


def trace_spans(rng: random.Random, start: int) -> list[dict[str, Any]]:
    trace = f"{rng.getrandbits(128):032x}"
    root = f"{rng.getrandbits(64):016x}"
    spans = []
    at = start + 1_000_000
    for turn in range(3):
        model, vendor, p_in, p_out = rng.choice(MODELS)
        tokens_in, tokens_out = rng.randint(20, 2000), rng.randint(5, 600)
        latency = rng.lognormvariate(6.2, 0.6)
        error = rng.random() < 0.02
        streamed = rng.random() < 0.1
        attrs: dict[str, Any] = {
            semconv.GEN_AI_PROVIDER_NAME: vendor, semconv.GEN_AI_OPERATION_NAME: "chat",
            semconv.GEN_AI_REQUEST_MODEL: model, semconv.GEN_AI_RESPONSE_MODEL: model,
        }
        if error:
            attrs[semconv.ERROR_TYPE] = "RateLimitError"
        else:
            attrs.update({
                semconv.GEN_AI_USAGE_INPUT_TOKENS: tokens_in,
                semconv.GEN_AI_USAGE_OUTPUT_TOKENS: tokens_out,
                semconv.GEN_AI_USAGE_COST: (tokens_in * p_in + tokens_out * p_out) / 1e6,
                semconv.LLM_LATENCY_MS: latency,
            })
            if streamed:
                attrs[semconv.LLM_TIME_TO_FIRST_TOKEN_MS] = latency * rng.uniform(0.1, 0.4)
        question = rng.choice(QUESTIONS)
        prompt = orjson.dumps([{"role": "system", "content": "You are a helpful assistant."},
                               {"role": "user", "content": f"{question} (turn {turn})"}]).decode()
        events = [
            {"name": semconv.EVENT_CONTENT_PROMPT, "timeUnixNano": str(at),
             "attributes": _attrs({semconv.GEN_AI_PROMPT: prompt})},
        ]
        if not error:
            events.append({"name": semconv.EVENT_CONTENT_COMPLETION, "timeUnixNano": str(at),
                           "attributes": _attrs({semconv.GEN_AI_COMPLETION:
                                                 "Here is a careful answer. " * rng.randint(2, 12)})})
        spans.append(_span(rng, trace, f"{rng.getrandbits(64):016x}", root, f"chat {model}",
                           at, latency, attrs, events, error))
        at += int(latency * 1e6) + 2_000_000
        if turn == 1:
            spans.append(_span(rng, trace, f"{rng.getrandbits(64):016x}", root, "tool get_weather",
                               at, rng.uniform(5, 80), {"tool.name": "get_weather"}, [], False))
            at += 90_000_000
    spans.append(_span(rng, trace, root, None, "handle_request", start, (at - start) / 1e6,
                       {"http.route": "/chat"}, [], False))
    return spans


def generate(directory: Path, total: int) -> None:
    rng = random.Random(7)
    directory.mkdir(parents=True, exist_ok=True)
    files = [open(directory / f"traces-bench-{n}-20260101T000000.jsonl", "wb") for n in range(4)]
    resource = {"attributes": _attrs({semconv.SERVICE_NAME: "bench-app"})}
    start = 1_767_225_600_000_000_000  # 2026-01-01
    written, batch, n, lines = 0, [], 0, 0
    while written < total:
        spans = trace_spans(rng, start + n * 400_000_000)
        n += 1
        batch.extend(spans)
        written += len(spans)
        if len(batch) >= 500 or written >= total:
            line = {"resourceSpans": [{"resource": resource, "scopeSpans": [
                {"scope": {"name": "bench"}, "spans": batch}]}]}
            # Round-robin by line, as four processes' files would interleave in time.
            files[lines % len(files)].write(orjson.dumps(line) + b"\n")
            lines += 1
            batch = []
    for handle in files:
        handle.close()


def timed(label: str, fn: Any) -> Any:
    started = time.perf_counter()
    result = fn()
    print(f"{label:<44} {time.perf_counter() - started:8.3f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/noveum-ui-bench")
    parser.add_argument("--skip-python-stats", action="store_true")
    args = parser.parse_args()
    # "-4files": an older copy of the data wrote every line into one file
    directory = Path(args.dir) / f"traces-{args.spans}-4files"
    if not directory.exists():
        timed(f"generate {args.spans:,} spans", lambda: generate(directory, args.spans))
    size = sum(f.stat().st_size for f in directory.iterdir())
    print(f"{directory}: {size / 1e6:,.0f} MB", flush=True)

    from noveum_trace.ui import queries
    from noveum_trace.ui.index import Index

    started = time.perf_counter()
    index = Index(str(directory))
    timed("first index (server ready)", index.refresh)
    page = timed("traces page 1", lambda: queries.traces_page(index, queries.Filters()))
    print(f"{'first page shown after':<44} {time.perf_counter() - started:8.3f} s")
    timed("traces page 2", lambda: queries.traces_page(index, queries.Filters(), 2))
    timed("traces page 1000", lambda: queries.traces_page(index, queries.Filters(), 1000))
    timed("search 'ticket' (content)", lambda: queries.traces_page(
        index, queries.Filters(q="on-call engineer")))
    timed("filter model + errors only", lambda: queries.traces_page(
        index, queries.Filters(model="gpt-4o", errors=True)))
    timed("facets", lambda: queries.facets(index))
    trace_id = page["rows"][0]["trace_id"]
    timed("one trace", lambda: queries.trace(index, trace_id))
    timed("overview", lambda: queries.overview(index, queries.Filters()))
    timed("refresh with nothing new", index.refresh)
    index.close()

    cli = [sys.executable, "-m", "noveum_trace.cli", "stats", str(directory)]
    timed("noveum-trace stats (query layer)", lambda: subprocess.run(
        cli, check=True, capture_output=True, env={**os.environ, "NOVEUM_TRACE_STATS_ENGINE": "duckdb"}))
    if not args.skip_python_stats:
        timed("noveum-trace stats (python scan)", lambda: subprocess.run(
            cli, check=True, capture_output=True, env={**os.environ, "NOVEUM_TRACE_STATS_ENGINE": "python"}))


if __name__ == "__main__":
    main()
