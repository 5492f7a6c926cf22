"""Anthropic calls for the instrumentation-overhead benchmark, served in-process.

No socket and no server: the client's HTTP transport is a ``MockTransport`` (``httpx2`` for
anthropic 2.x, ``httpx`` for 1.x) answering with a canned message, or a canned SSE stream when
the request says ``"stream": true``. So the timing is the client plus whatever instruments it.

Interface (imported by ``benchmarks/instrumentation_overhead.py``)::

    client = make_client()                       # or make_client(anthropic.Anthropic) / any
                                                 # factory taking the client's keyword args
    plain_call(client)      -> None              # messages.create, a 12-token reply
    streamed_call(client)   -> None              # messages.create(stream=True), read to the end
    WORKLOADS = {"anthropic.plain": plain_call, "anthropic.stream": streamed_call}
    competitors()           -> {"openinference"|"traceloop": instrument(tracer_provider) -> undo}

Instrument (ours, or openinference's / traceloop's) before calling; the client may be made
before or after, since every instrumentation here patches classes.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

MODEL = "claude-3-haiku-20240307"
MESSAGES = [{"role": "user", "content": "Explain quantum computing in one sentence."}]
WORDS = "Quantum computers use qubits to explore many states at once for some problems .".split(" ")  # noqa: SIM905

MESSAGE_BODY = json.dumps(
    {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "text", "text": " ".join(WORDS)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 14,
            "output_tokens": len(WORDS),
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        },
    }
).encode()


def _sse(kind: str, data: dict[str, Any]) -> str:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n"


SSE_BODY = "".join(
    [
        _sse(
            "message_start",
            {
                "message": {
                    "id": "msg_bench",
                    "type": "message",
                    "role": "assistant",
                    "model": MODEL,
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 14, "output_tokens": 1},
                }
            },
        ),
        _sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        *(
            _sse(
                "content_block_delta",
                {"index": 0, "delta": {"type": "text_delta", "text": f" {word}"}},
            )
            for word in WORDS
        ),
        _sse("content_block_stop", {"index": 0}),
        _sse(
            "message_delta",
            {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": len(WORDS)}},
        ),
        _sse("message_stop", {}),
    ]
).encode()


def _http_module() -> Any:
    """The HTTP package this anthropic is built on: httpx2 (2.x) or httpx (1.x)."""
    base = importlib.import_module("anthropic._base_client")
    return getattr(base, "httpx2", None) or importlib.import_module("httpx")


def _handler(http: Any) -> Callable[[Any], Any]:
    def handle(request: Any) -> Any:
        streamed = b'"stream":true' in request.content.replace(b" ", b"")
        if streamed:
            return http.Response(
                200, headers={"content-type": "text/event-stream"}, content=SSE_BODY
            )
        return http.Response(
            200, headers={"content-type": "application/json"}, content=MESSAGE_BODY
        )

    return handle


def make_client(factory: Callable[..., Any] | None = None, **options: Any) -> Any:
    """A client whose requests never leave the process. ``factory`` defaults to
    ``anthropic.Anthropic``; it receives ``api_key``, ``base_url``, ``max_retries`` and
    ``http_client`` (plus ``options``)."""
    if factory is None:
        import anthropic

        factory = anthropic.Anthropic
    http = _http_module()
    transport = http.MockTransport(_handler(http))
    return factory(
        api_key="bench-key",
        base_url="http://anthropic.bench",
        max_retries=0,
        http_client=http.Client(transport=transport),
        **options,
    )


def plain_call(client: Any) -> None:
    client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)


def streamed_call(client: Any) -> None:
    for _ in client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True):
        pass


WORKLOADS: dict[str, Callable[[Any], None]] = {
    "anthropic.plain": plain_call,
    "anthropic.stream": streamed_call,
}


def competitors() -> dict[str, Callable[[Any], Callable[[], None]]]:
    """The other anthropic instrumentations that are installed, by name: each takes an
    OpenTelemetry SDK ``TracerProvider``, instruments, and returns its undo.

    ``openinference`` = openinference-instrumentation-anthropic, ``traceloop`` =
    opentelemetry-instrumentation-anthropic (OpenLLMetry). Build the client with
    ``open_telemetry=False`` for every contender, so the client's own spans stay out of it.
    """
    found: dict[str, Callable[[Any], Callable[[], None]]] = {}
    for name, module in (
        ("openinference", "openinference.instrumentation.anthropic"),
        ("traceloop", "opentelemetry.instrumentation.anthropic"),
    ):
        try:
            instrumentor = importlib.import_module(module).AnthropicInstrumentor()
        except Exception:  # not installed, or not importable with this anthropic
            continue

        def instrument(provider: Any, inst: Any = instrumentor) -> Callable[[], None]:
            inst.instrument(tracer_provider=provider)
            return inst.uninstrument  # type: ignore[no-any-return]

        found[name] = instrument
    return found


if __name__ == "__main__":  # a quick self-check and a rough timing, ours vs untraced
    import tempfile
    import time

    def timed(fn: Callable[[Any], None], client: Any, n: int = 300) -> float:
        start = time.perf_counter()
        for _ in range(n):
            fn(client)
        return (time.perf_counter() - start) / n * 1e6

    bare = {name: timed(fn, make_client()) for name, fn in WORKLOADS.items()}
    import noveum_trace
    from noveum_trace.instrumentation.anthropic import instrument_anthropic

    noveum_trace.init(service_name="bench", log_directory=tempfile.mkdtemp())
    instrument_anthropic()
    for name, fn in WORKLOADS.items():
        traced = timed(fn, make_client())
        print(f"{name}: {bare[name]:.0f} us untraced, +{traced - bare[name]:.0f} us traced")
