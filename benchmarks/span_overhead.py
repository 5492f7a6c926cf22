"""CPU cost of one span (5 set_attribute + 1 add_event), export included, vs the OpenTelemetry SDK.

Each contender runs in its own subprocess: N spans, then a flush, measuring process CPU time
(the export worker's thread included) and peak RSS. Run:

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

WORKLOAD = """
def work(tracer, n):
    for i in range(n):
        with tracer.start_span("llm_call") as span:
            span.set_attribute("gen_ai.system", "openai")
            span.set_attribute("gen_ai.request.model", "gpt-4o")
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.usage.input_tokens", 120)
            span.set_attribute("llm.latency_ms", 12.5)
            span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "What is machine learning?"})
"""


def run_ours(n: int, directory: str) -> None:
    import noveum_trace

    # A queue that holds the whole run: we measure the cost of exporting every span, not of
    # dropping them (a tight loop outruns any single export thread).
    noveum_trace.init(service_name="bench", log_directory=directory, max_queue_size=n + 10_000)
    tracer = noveum_trace.get_tracer("bench")
    namespace: dict = {}
    exec(WORKLOAD, namespace)
    namespace["work"](tracer, 2000)  # warm up
    noveum_trace.flush()
    start = time.process_time()
    namespace["work"](tracer, n)
    noveum_trace.flush(60)
    report(start, n, noveum_trace.get_stats())


def run_otel_sdk(n: int, directory: str) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class OtlpJsonFileExporter(SpanExporter):
        """The SDK's OTLP JSON: the proto encoder, then protobuf's JSON mapping, one line per batch."""

        def __init__(self, path: str) -> None:
            from google.protobuf.json_format import MessageToJson  # noqa: F401

            self.handle = open(path, "w")

        def export(self, spans):  # type: ignore[no-untyped-def]
            from google.protobuf.json_format import MessageToJson
            from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

            self.handle.write(MessageToJson(encode_spans(spans), indent=None) + "\n")
            return SpanExportResult.SUCCESS

        def shutdown(self) -> None:
            self.handle.close()

    provider = TracerProvider()
    processor = BatchSpanProcessor(OtlpJsonFileExporter(os.path.join(directory, "otel.jsonl")))
    provider.add_span_processor(processor)
    tracer = provider.get_tracer("bench")
    namespace: dict = {}
    exec(WORKLOAD, namespace)
    work = namespace["work"]

    def work_current(tracer, n):  # the SDK's start_span does not make the span current
        for _ in range(n):
            with tracer.start_as_current_span("llm_call") as span:
                span.set_attribute("gen_ai.system", "openai")
                span.set_attribute("gen_ai.request.model", "gpt-4o")
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.usage.input_tokens", 120)
                span.set_attribute("llm.latency_ms", 12.5)
                span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": "What is machine learning?"})

    del work
    work_current(tracer, 2000)
    processor.force_flush()
    start = time.process_time()
    work_current(tracer, n)
    processor.force_flush(120_000)
    report(start, n, {})


def report(start: float, n: int, stats: dict) -> None:
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
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "--spans", str(args.spans), "--dir", directory],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[name] = json.loads(out.strip().splitlines()[-1])
    ours, sdk = results["ours"], results["otel-sdk"]
    print(f"spans per run:          {args.spans}")
    print(f"noveum_trace:           {ours['us_per_span']:7.2f} us/span  peak RSS {ours['peak_rss_mb']:.0f} MB")
    print(f"OpenTelemetry SDK:      {sdk['us_per_span']:7.2f} us/span  peak RSS {sdk['peak_rss_mb']:.0f} MB")
    print(f"ratio (ours / SDK):     {ours['us_per_span'] / sdk['us_per_span']:.3f}  (target <= 0.100)")
    dropped = {k: v for k, v in ours["stats"].items() if k.startswith("spans_dropped")}
    print(f"noveum_trace drops:     {dropped or 'none'}")


if __name__ == "__main__":
    main()
