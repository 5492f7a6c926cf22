"""Auto-instrumentation of the official ``anthropic`` client (2.x, and 1.x).

    from noveum_trace.instrumentation import anthropic
    anthropic.instrument_anthropic()      # idempotent; uninstrument_anthropic() undoes it

Traced, for every client class (``Anthropic``, ``AsyncAnthropic``, and the Bedrock, Vertex,
Foundry and AWS clients the package has), on ``client.messages`` and ``client.beta.messages``:
``create`` (plain, ``stream=True``, ``with ... as stream``), ``stream(...)`` (the
``MessageStreamManager`` helpers: ``text_stream``, ``get_final_message()``,
``get_final_text()``; ``async with`` stays an async context manager), ``parse``,
``count_tokens``, and all of them through ``with_raw_response`` and
``with_streaming_response``. Like openai, through the one seam of the clients Stainless
generates (``_stainless``: the client's ``request`` method); this module is its map.

Each call gets one CLIENT span "chat <model>" (``count_tokens <model>`` for token counting); the
mapping is in ``_anthropic_map``. ``gen_ai.usage.input_tokens`` follows the OpenTelemetry rule
and INCLUDES ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` (also recorded on
their own). On streams, ``llm.chunks_count`` counts content deltas, and the time to first token
is the first content delta, not ``message_start`` (which the API sends before any token).
With ``capture_content`` off, ``gen_ai.tool.definitions`` keeps only each tool's type and
name: descriptions and input schemas are prompt content. An ``error`` event mid-stream makes
the client raise ``anthropic.APIStatusError``: the span ends with that error.

The client's own OpenTelemetry spans: ``anthropic`` 2.x starts a span of its own
("anthropic.messages.create") for each call once any tracer provider is registered (ours is,
after ``init()``), and sends that span's ``traceparent``. While instrumented, a call that WE
trace starts no client span and sends no ``traceparent`` of the client's, whatever
``ANTHROPIC_OPEN_TELEMETRY*`` or ``open_telemetry=`` say: one LLM span per call. Calls we do not
trace (models, files, batches...) keep the client's spans, and an HTTP-level instrumentation
still nests under our span. Before ``init()`` the client behaves exactly as configured. A call our
sampler leaves out keeps our unsampled span current while it runs, so the client's own span
(a child of it) is unsampled too: a sampled-out call leaves no span at all.
The hook is the client's ``start_api_call_span`` (``_compat.anthropic``), whose contract
allows ``None`` ("the call goes on without a span"); 1.x releases without it are left alone.

Content (prompt, system prompt, completion, tool calls, thinking) is recorded only when
``capture_content`` is on; a stream then keeps its text fragments until it ends. With
capture off only counts are kept. Anthropic 2.x takes ``temperature``/``top_p``/``top_k``
through ``extra_body``; they are read from there too. The client's API key is registered
with the secret masker; headers are never recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from noveum_trace import semconv
from noveum_trace._core.context import span_in
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace.instrumentation import _anthropic_map as amap
from noveum_trace.instrumentation._engine import Call
from noveum_trace.instrumentation._stainless import ClientShape, Request, Seam, Vendor

__all__ = ["instrument_anthropic", "uninstrument_anthropic"]

# The span id of the call we are tracing in this context: the client starts no span of its
# own for a request made while this very span is current (see the module docstring). Its id,
# not the span: nothing resets this variable after the call (the call may end in another
# context), and the span, with its content, must not stay alive until the next call.
_OURS: ContextVar[int | None] = ContextVar("noveum_trace_anthropic_span_id", default=None)


def _started(call: Call, request: Request) -> None:
    amap.started(call, request)
    _OURS.set(call.span.span_id)


_SEAM = Seam(
    Vendor(
        name=semconv.PROVIDER_ANTHROPIC,
        scope="noveum_trace.instrumentation.anthropic",
        routes=amap.ROUTES,
        operations=amap.OPERATIONS,
        request=amap.attributes,
        started=_started,
        record=amap.record,
        accumulator=amap.accumulator,
    )
)
_undo_client_spans: Callable[[], None] | None = None

# Client classes, each where the installed release has it (sync, async).
_CLIENTS = (
    ("Anthropic", "AsyncAnthropic"),
    ("AnthropicBedrock", "AsyncAnthropicBedrock"),
    ("AnthropicVertex", "AsyncAnthropicVertex"),
    ("AnthropicFoundry", "AsyncAnthropicFoundry"),
    ("AnthropicAWS", "AsyncAnthropicAWS"),
)


def _suppressing(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_api_call_span(*args: Any, **kwargs: Any) -> Any:
        try:
            ours = _OURS.get()
            if ours is not None and getattr(span_in(None), "span_id", None) == ours:
                return None  # our span is this call's LLM span; see the module docstring
        except Exception as exc:
            internal_error("anthropic.client_span", exc)
        return original(*args, **kwargs)

    start_api_call_span.__wrapped__ = original  # type: ignore[attr-defined]
    return start_api_call_span


def instrument_anthropic() -> bool:
    """Trace the ``anthropic`` client. Returns True when it changed anything (False: it was
    already instrumented, or ``anthropic`` is not installed).

    Idempotent: calling it again never doubles spans.
    """
    global _undo_client_spans
    try:
        import anthropic
    except ImportError:
        return False
    from noveum_trace._compat import anthropic as compat

    clients: list[tuple[type, bool]] = []
    for sync_name, async_name in _CLIENTS:
        for name, is_async in ((sync_name, False), (async_name, True)):
            try:
                cls = getattr(anthropic, name, None)
            except Exception:  # a client whose optional dependency is missing
                cls = None
            if isinstance(cls, type):
                clients.append((cls, is_async))
    changed = _SEAM.instrument(
        ClientShape(
            clients=clients,
            stream=anthropic.Stream,
            async_stream=anthropic.AsyncStream,
            iterator=compat.STREAM_ITERATOR,
            raw_header=compat.raw_response_header(),
            version=getattr(anthropic, "__version__", None),
        )
    )
    if _undo_client_spans is None:
        try:
            _undo_client_spans = compat.wrap_client_spans(_suppressing)
        except Exception as exc:
            internal_error("anthropic.instrument", exc)
        changed = changed or _undo_client_spans is not None
    return changed


def uninstrument_anthropic() -> bool:
    """Undo ``instrument_anthropic``; calls already in flight finish normally.

    Returns True when it changed anything (False: not instrumented, or no ``anthropic``).
    """
    global _undo_client_spans
    changed = _SEAM.uninstrument()
    if _undo_client_spans is not None:
        _undo_client_spans()
        _undo_client_spans = None
        changed = True
    return changed
