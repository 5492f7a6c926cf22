"""Time added to each LLM call by auto-instrumentation: ours, and the other Python tracers.

Every (contender, workload) pair runs in its own subprocess, against the real client over a
``MockTransport`` (no network, no server: what is left is the client's own cost plus the
instrumentation's). In each process, rounds of uninstrumented and instrumented calls
alternate on the same client (instrument / uninstrument between rounds), so machine noise
hits both alike; the result is the median of the per-round differences in µs per call (CPU
time of the calling thread), printed beside the plain call's own cost. The openai stream
has 200 content chunks, the anthropic one a content delta per word; the per-chunk figure is
what the stream adds beyond the same provider's plain call, divided by the chunks.

Contenders, each where installed: noveum_trace (always), opentelemetry-instrumentation-
openai-v2, openinference-instrumentation-openai, traceloop's opentelemetry-instrumentation-
openai (the others export through the OpenTelemetry SDK's BatchSpanProcessor into an exporter
that discards, so their export cost is a lower bound; ours writes real trace files). Content
capture is on for all of them.

    python benchmarks/instrumentation_overhead.py [--calls 100] [--rounds 21] [--only noveum_trace]

A workload is a function returning (client, one call); add one to ``WORKLOADS``. The anthropic
workloads and competitors come from ``anthropic_workload.py`` beside this file.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

CHUNKS = 200

# ---- canned responses -------------------------------------------------------------------


def _openai_chat() -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello there, how can I help?"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
        }
    ).encode()


def _openai_stream() -> bytes:
    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> str:
        body = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    parts = [chunk({"role": "assistant", "content": ""})]
    parts += [chunk({"content": f" w{i}"}) for i in range(CHUNKS)]
    parts.append(chunk({}, "stop"))
    parts.append("data: [DONE]\n\n")
    return "".join(parts).encode()


# ---- workloads: (make a client over a transport, one call) -----------------------------


def _http_module(package: str) -> Any:
    """openai >= 3 / anthropic >= 2 use httpx2; the previous majors use httpx."""
    module = __import__(package)
    major = int(module.__version__.split(".")[0])
    if major >= {"openai": 3, "anthropic": 2}[package]:
        import httpx2

        return httpx2
    import httpx

    return httpx


def _transport(package: str, body: bytes, content_type: str) -> Any:
    http = _http_module(package)

    def handler(request: Any) -> Any:
        return http.Response(200, headers={"content-type": content_type}, content=body)

    return http.Client(transport=http.MockTransport(handler))


def _openai_client(body: bytes, content_type: str) -> Any:
    import openai

    return openai.OpenAI(
        api_key="bench-key", max_retries=0, http_client=_transport("openai", body, content_type)
    )


MESSAGES = [{"role": "user", "content": "Say hello"}]


def openai_chat() -> tuple[Any, Callable[[Any], None]]:
    def call(client: Any) -> None:
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)

    return _openai_client(_openai_chat(), "application/json"), call


def openai_stream() -> tuple[Any, Callable[[Any], None]]:
    def call(client: Any) -> None:
        for _ in client.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True
        ):
            pass

    return _openai_client(_openai_stream(), "text/event-stream"), call


def _anthropic_workload() -> Any:
    # The anthropic side lives beside this file (benchmarks/anthropic_workload.py).
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import anthropic_workload

    return anthropic_workload


def anthropic_message() -> tuple[Any, Callable[[Any], None]]:
    workload = _anthropic_workload()
    return workload.make_client(), workload.plain_call


def anthropic_stream() -> tuple[Any, Callable[[Any], None]]:
    workload = _anthropic_workload()
    return workload.make_client(), workload.streamed_call


def _anthropic_chunks() -> int:
    try:
        return len(_anthropic_workload().WORDS)  # one content delta per word
    except Exception:
        return 0


# name -> (factory, provider it needs, chunks per call)
WORKLOADS: dict[str, tuple[Callable[[], tuple[Any, Callable[[Any], None]]], str, int]] = {
    "openai chat": (openai_chat, "openai", 0),
    "openai stream": (openai_stream, "openai", CHUNKS),
    "anthropic message": (anthropic_message, "anthropic", 0),
    "anthropic stream": (anthropic_stream, "anthropic", _anthropic_chunks()),
}

PLAIN_SUFFIX = {"openai": " chat", "anthropic": " message"}

# ---- contenders: each returns {provider: (instrument, uninstrument)} -------------------

Toggle = tuple[Callable[[], Any], Callable[[], Any]]


def _sdk_provider() -> Any:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)
    return provider


def noveum(directory: str) -> dict[str, Toggle]:
    import noveum_trace
    from noveum_trace.instrumentation import openai as ours

    noveum_trace.init(service_name="bench", log_directory=directory, max_queue_size=200_000)
    toggles: dict[str, Toggle] = {"openai": (ours.instrument_openai, ours.uninstrument_openai)}
    try:
        from noveum_trace.instrumentation import anthropic as ours_anthropic
    except ImportError:
        return toggles
    toggles["anthropic"] = (
        ours_anthropic.instrument_anthropic,
        ours_anthropic.uninstrument_anthropic,
    )
    return toggles


def _with_anthropic(name: str, provider: Any, toggles: dict[str, Toggle]) -> dict[str, Toggle]:
    """Add the contender's anthropic instrumentation, when installed."""
    try:
        instrument = _anthropic_workload().competitors().get(name)
    except ImportError:
        instrument = None
    if instrument is not None:
        undo: list[Callable[[], None]] = []
        toggles["anthropic"] = (
            lambda: undo.append(instrument(provider)),
            lambda: undo.pop()(),
        )
    return toggles


def _sdk_instrumented(instrumentor_class: Any, name: str | None) -> dict[str, Toggle]:
    """A competitor's openai instrumentor on an SDK provider (+ its anthropic twin, if any)."""
    provider = _sdk_provider()
    instrumentor = instrumentor_class()
    toggles: dict[str, Toggle] = {
        "openai": (
            lambda: instrumentor.instrument(tracer_provider=provider),
            instrumentor.uninstrument,
        )
    }
    return toggles if name is None else _with_anthropic(name, provider, toggles)


def otel_openai_v2(directory: str) -> dict[str, Toggle]:
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    return _sdk_instrumented(OpenAIInstrumentor, None)


def openinference(directory: str) -> dict[str, Toggle]:
    from openinference.instrumentation.openai import OpenAIInstrumentor

    return _sdk_instrumented(OpenAIInstrumentor, "openinference")


def traceloop(directory: str) -> dict[str, Toggle]:
    from opentelemetry.instrumentation.openai import OpenAIInstrumentor

    return _sdk_instrumented(OpenAIInstrumentor, "traceloop")


CONTENDERS: dict[str, tuple[Callable[[str], dict[str, Toggle]], str]] = {
    "noveum_trace": (noveum, "noveum_trace"),
    "otel openai-v2": (otel_openai_v2, "opentelemetry.instrumentation.openai_v2"),
    "openinference": (openinference, "openinference.instrumentation.openai"),
    "traceloop": (traceloop, "opentelemetry.instrumentation.openai"),
}

# Contenders whose uninstrument() does not restore the plain cost (measured: traceloop's
# "plain" rounds cost 4x the others' after its first instrument()).
ONE_WAY = {"traceloop"}

# ---- measuring (in the child) ----------------------------------------------------------


def _round(client: Any, call: Callable[[Any], None], calls: int) -> float:
    # The calling thread's CPU time: what the application's own thread spends per call. On a
    # shared machine wall time mostly measures the neighbours; export threads run apart.
    start = time.thread_time_ns()
    for _ in range(calls):
        call(client)
    return (time.thread_time_ns() - start) / calls / 1e3  # µs per call


def child(contender: str, workload: str, calls: int, rounds: int) -> dict[str, Any]:
    """Measure one workload under one contender (a fresh process for each pair)."""
    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "true"
    os.environ["ANTHROPIC_OPEN_TELEMETRY"] = "false"  # the client's own spans are not measured
    factory, provider, chunks = WORKLOADS[workload]
    toggles = CONTENDERS[contender][0](tempfile.mkdtemp(prefix="bench-traces-"))
    if provider not in toggles:
        return {}
    instrument, uninstrument = toggles[provider]
    client, call = factory()
    n = max(10, calls // 10) if chunks else calls  # a stream call is ~100 plain ones
    for _ in range(max(5, n // 10)):  # warm up
        call(client)
    plain: list[float] = []
    traced: list[float] = []
    if contender in ONE_WAY:  # its uninstrument() leaves work behind: plain rounds first
        plain = [_round(client, call, n) for _ in range(rounds)]
        instrument()
        traced = [_round(client, call, n) for _ in range(rounds)]
    else:
        for _ in range(rounds):
            plain.append(_round(client, call, n))
            instrument()
            traced.append(_round(client, call, n))
            uninstrument()
    result: dict[str, Any] = {
        "plain_us": statistics.median(plain),
        "added_us": statistics.median(t - p for t, p in zip(traced, plain, strict=True)),
        "chunks": chunks,
    }
    if contender == "noveum_trace":
        import noveum_trace

        noveum_trace.flush(60)
        stats = noveum_trace.get_stats()
        result["internal_errors"] = stats.get("internal_errors", 0)
    return result


# ---- the parent: a subprocess per (contender, workload), then the table ----------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=100, help="calls per round (streams: /10)")
    parser.add_argument("--rounds", type=int, default=21, help="plain/instrumented round pairs")
    parser.add_argument("--only", action="append", help="run only these contenders")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child, args.calls, args.rounds)))
        return 0
    rows: list[tuple[str, str, dict[str, Any]]] = []
    child_args = ["--calls", str(args.calls), "--rounds", str(args.rounds)]
    for contender, (_, module) in CONTENDERS.items():
        if args.only and contender not in args.only:
            continue
        probe = subprocess.run(
            [sys.executable, "-c", f"import {module}"], capture_output=True, check=False
        )
        if probe.returncode != 0:
            print(f"- {contender}: not installed, skipped")
            continue
        for workload, (_, provider, _) in WORKLOADS.items():
            if subprocess.run([sys.executable, "-c", f"import {provider}"], check=False).returncode:
                continue
            done = subprocess.run(
                [sys.executable, __file__, "--child", contender, workload, *child_args],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                print(f"- {contender} / {workload}: failed\n{done.stderr[-2000:]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if result:
                rows.append((contender, workload, result))
    print()
    print(
        f"{'contender':<16}{'workload':<20}{'plain µs/call':>15}{'added µs/call':>15}"
        f"{'added %':>9}{'µs/chunk':>10}"
    )
    added = {(c, w): f["added_us"] for c, w, f in rows}
    for contender, workload, f in rows:
        # per chunk: what the stream adds beyond the same provider's plain call, per chunk
        plain_call = added.get((contender, workload.split()[0] + PLAIN_SUFFIX[workload.split()[0]]))
        per_chunk = (
            f"{(f['added_us'] - plain_call) / f['chunks']:.2f}"
            if f["chunks"] and plain_call is not None
            else "-"
        )
        print(
            f"{contender:<16}{workload:<20}{f['plain_us']:>15.1f}{f['added_us']:>15.1f}"
            f"{100 * f['added_us'] / f['plain_us']:>8.1f}%{per_chunk:>10}"
            + (f"   internal errors: {f['internal_errors']}" if f.get("internal_errors") else "")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
