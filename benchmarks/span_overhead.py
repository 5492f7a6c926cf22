"""CPU cost of one span (5 set_attribute + 1 add_event), export included, vs the OpenTelemetry SDK.

Each contender runs in its own subprocess: N spans, then a flush, measuring the process's CPU
time (the export worker's thread included) and peak RSS. Ours writes its trace files (with
secret masking and cost on the worker, as always); the SDK runs a BatchSpanProcessor whose
exporter writes OTLP JSON lines (its proto encoder, then protobuf's JSON mapping).

    pip install -e ".[bench]"
    python benchmarks/span_overhead.py [--spans 50000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any


def work(tracer: Any, n: int, *, current: bool = False) -> None:
    """The measured workload. ``current``: use start_as_current_span (the SDK's start_span
    does not make the span current; ours does inside ``with``, so both do the same work)."""
    start = tracer.start_as_current_span if current else tracer.start_span
    for _ in range(n):
        with start("llm_call") as span:
            span.set_attribute("gen_ai.system", "openai")
            span.set_attribute("gen_ai.request.model", "gpt-4o")
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.usage.input_tokens", 120)
            span.set_attribute("llm.latency_ms", 12.5)
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "What is machine learning?"})


def run_ours(n: int, directory: str) -> None:
    import noveum_trace

    # A queue that holds the whole run: we measure the cost of exporting every span, not of
    # dropping them (a tight loop outruns any single export thread).
    noveum_trace.init(service_name="bench", log_directory=directory, max_queue_size=n + 10_000)
    tracer = noveum_trace.get_tracer("bench")
    work(tracer, 2000)  # warm up
    noveum_trace.flush()
    start = time.process_time()
    work(tracer, n)
    noveum_trace.flush(120)
    report(start, n, noveum_trace.get_stats())


def run_otel_sdk(n: int, directory: str) -> None:
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class OtlpJsonFileExporter(SpanExporter):
        """One OTLP JSON line per batch, as the SDK's own tools would write it."""

        def __init__(self, path: str) -> None:
            self.path = path

        def export(self, spans: Any) -> SpanExportResult:
            batch: list[ReadableSpan] = list(spans)
            with open(self.path, "a") as handle:
                handle.write(MessageToJson(encode_spans(batch), indent=None) + "\n")
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    processor = BatchSpanProcessor(OtlpJsonFileExporter(os.path.join(directory, "otel.jsonl")))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    work(tracer, 2000, current=True)
    processor.force_flush()
    start = time.process_time()
    work(tracer, n, current=True)
    processor.force_flush(120_000)
    report(start, n, {})


def report(start: float, n: int, stats: dict[str, Any]) -> None:
    cpu = time.process_time() - start
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"us_per_span": cpu / n * 1e6, "peak_rss_mb": rss_kb / 1024, "stats": stats}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spans", type=int, default=50_000)
    parser.add_argument("--child", choices=["ours", "otel-sdk"])
    parser.add_argument("--dir")
    args = parser.parse_args()
    if args.child:
        {"ours": run_ours, "otel-sdk": run_otel_sdk}[args.child](args.spans, args.dir)
        return
    results = {}
    for name in ("ours", "otel-sdk"):
        with tempfile.TemporaryDirectory() as directory:
            command = [sys.executable, __file__, "--child", name, "--spans", str(args.spans)]
            out = subprocess.run(
                [*command, "--dir", directory], check=True, capture_output=True, text=True
            ).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])
    ours, sdk = results["ours"], results["otel-sdk"]
    for label, result in (("noveum_trace", ours), ("OpenTelemetry SDK", sdk)):
        print(
            f"{label + ':':<24}{result['us_per_span']:7.2f} us/span"
            f"  peak RSS {result['peak_rss_mb']:.0f} MB"
        )
    ratio = ours["us_per_span"] / sdk["us_per_span"]
    print(f"{'ratio (ours / SDK):':<24}{ratio:.3f}  (target <= 0.100)")
    dropped = {k: v for k, v in ours["stats"].items() if k.startswith("spans_dropped")}
    print(f"{'noveum_trace drops:':<24}{dropped or 'none'}")


if __name__ == "__main__":
    main()
