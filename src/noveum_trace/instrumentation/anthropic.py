"""Auto-instrumentation of the official ``anthropic`` client (2.x, and 1.x).

    from noveum_trace.instrumentation import anthropic
    anthropic.instrument_anthropic()      # idempotent; uninstrument_anthropic() undoes it

Traced, for ``Anthropic`` and ``AsyncAnthropic`` alike, on ``client.messages`` and
``client.beta.messages``: ``create`` (plain, ``stream=True``, ``with ... as stream``),
``stream(...)`` (the ``MessageStreamManager`` helpers: ``text_stream``,
``get_final_message()``, ``get_final_text()``; ``async with`` stays an async context manager),
``parse``, ``count_tokens``, and all of them through ``with_raw_response`` and
``with_streaming_response``. The methods are patched on the classes, so clients built before
and after instrumenting are traced alike (a ``with_raw_response`` view a client cached before
instrumenting keeps calling the untraced method).

Each call gets one CLIENT span "chat <model>" (``count_tokens <model>`` for token counting); the
mapping is in ``_anthropic_map``. ``gen_ai.usage.input_tokens`` follows the OpenTelemetry rule
and INCLUDES ``cache_read_input_tokens`` and ``cache_creation_input_tokens`` (also recorded on
their own). On streams, ``llm.chunks_count`` counts content deltas, and the time to first token
is the first content delta, not ``message_start`` (which the API sends before any token).
With ``capture_content`` off, ``gen_ai.tool.definitions`` keeps only each tool's type and
name: descriptions and input schemas are prompt content.

The client's own OpenTelemetry spans: ``anthropic`` 2.x starts a span of its own
("anthropic.messages.create") for each call once any tracer provider is registered (ours is,
after ``init()``), and sends that span's ``traceparent``. While instrumented, a call that WE
trace starts no client span and sends no ``traceparent`` of the client's, whatever
``ANTHROPIC_OPEN_TELEMETRY*`` or ``open_telemetry=`` say: one LLM span per call. Calls we do not
trace (models, files, batches...) keep the client's spans, and an HTTP-level instrumentation
still nests under our span. Before ``init()`` the client behaves exactly as configured. A call our
sampler leaves out keeps our unsampled span current while it runs, so the client's own span
(a child of it) is unsampled too: a sampled-out call leaves no span at all.
The hook is the client's module-level ``start_api_call_span``, whose contract allows
``None`` ("the call goes on without a span"); 1.x releases without it are left alone.

Content (prompt, system prompt, completion, tool calls, thinking) is recorded only when
``capture_content`` is on; a stream then keeps its text fragments until it ends. With
capture off only counts are kept. Anthropic 2.x takes ``temperature``/``top_p``/``top_k``
through ``extra_body``; they are read from there too. The client's API key is registered
with the secret masker; headers are never recorded.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from noveum_trace import semconv
from noveum_trace._core.context import span_in
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace._pipeline import active_config
from noveum_trace.instrumentation import _anthropic_map as amap
from noveum_trace.instrumentation._engine import (
    NOT_OUTPUT,
    Call,
    NotOutput,
    guarded,
    patch,
    unpatch,
)
from noveum_trace.instrumentation._streams import trace_stream

__all__ = ["instrument_anthropic", "uninstrument_anthropic"]

_SCOPE = "noveum_trace.instrumentation.anthropic"
_PROVIDER = semconv.PROVIDER_ANTHROPIC

# The span of the call we are tracing in this context: the client starts no span of its own
# for a request made while this very span is current (see the module docstring).
_OURS: ContextVar[Any] = ContextVar("noveum_trace_anthropic_span", default=None)
_tracer: Any = None
_patched: list[tuple[type, str]] = []
_client_hook: tuple[Any, Any] | None = None  # (anthropic._base_client, original function)
_keys: set[str] = set()


# ---- begin: the request ---------------------------------------------------------------------


def _start(args: tuple[Any, ...], kwargs: dict[str, Any], operation: str, stream: bool) -> Any:
    model = kwargs.get("model")
    model = model if isinstance(model, str) else None
    if operation == semconv.OPERATION_CHAT:
        capture = active_config().capture_content
        attributes = amap.request_attributes(kwargs, stream=stream, capture=capture)
    else:
        attributes = {}
    call = Call(_tracer, _PROVIDER, operation, model, attributes)
    if not call.live:
        # Not initialised: pass through, the client untouched. Sampled out: our unsampled
        # span stays current during the call, so the client's own span is unsampled too.
        return call if call.current else None
    _register_key(args[0] if args else None)
    if call.capture and operation == semconv.OPERATION_CHAT:
        attrs, prompt = amap.prompt_content(kwargs, latest=call.semconv_latest)
        call.set_attributes(attrs)
        if prompt is not None:
            call.event(semconv.EVENT_CONTENT_PROMPT, {semconv.GEN_AI_PROMPT: prompt})
    _OURS.set(call.span)
    return call


def _register_key(resource: Any) -> None:
    key = getattr(getattr(resource, "_client", None), "api_key", None)
    if isinstance(key, str) and key and key not in _keys:
        _keys.add(key)
        try:
            from noveum_trace.privacy import register_secret

            register_secret(key)
        except Exception as exc:
            internal_error("anthropic.register_secret", exc)


def _begin_create(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _start(args, kwargs, semconv.OPERATION_CHAT, kwargs.get("stream") is True)


def _begin_stream(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _start(args, kwargs, semconv.OPERATION_CHAT, True)


def _begin_parse(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _start(args, kwargs, semconv.OPERATION_CHAT, False)


def _begin_count(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return _start(args, kwargs, semconv.OPERATION_COUNT_TOKENS, False)


# ---- end: the response ----------------------------------------------------------------------


def _record_message(call: Call, message: Any) -> None:
    call.set_attributes(amap.response_attributes(message))
    call.usage(amap.usage_attributes(amap._get(message, "usage")))
    if call.capture:
        attrs, event = amap.completion_content(message, latest=call.semconv_latest)
        call.set_attributes(attrs)
        call.event(semconv.EVENT_CONTENT_COMPLETION, event)


def _record_count(call: Call, result: Any) -> None:
    call.set_attributes(amap.count_tokens_response_attributes(result))


class _StreamTotal:
    """The engine's ``Accumulator`` for an anthropic event stream."""

    __slots__ = ("acc",)

    def __init__(self, call: Call) -> None:
        self.acc = amap.StreamAccumulator(keep_content=call.capture)

    def add(self, event: Any) -> str | NotOutput | None:
        if not self.acc.feed(event):
            # Only content deltas are chunks, so llm.chunks_count and the time to first
            # token measure model output, not message_start and other bookkeeping events.
            return NOT_OUTPUT
        delta = amap._get(event, "delta")
        text = amap._get(delta, "text")
        return text if isinstance(text, str) else None

    def apply(self, call: Call) -> None:
        _record_message(call, self.acc.final_message())


def _trace_events(call: Call, stream: Any, is_async: bool) -> None:
    """Hand a ``Stream``/``AsyncStream`` of raw events to the engine; it ends the span."""
    call.acc = _StreamTotal(call)
    if not trace_stream(stream, call, is_async=is_async):
        call.finish()


def _end_create(call: Call, result: Any) -> Any:
    _end_any(call, result, _record_message)
    return result


def _end_count(call: Call, result: Any) -> Any:
    _end_any(call, result, _record_count)
    return result


def _end_any(call: Call, result: Any, record: Callable[[Call, Any], None]) -> None:
    if not call.live:  # sampled out
        return
    if _is_event_stream(result):
        _trace_events(call, result, _is_async_stream(result))
    elif hasattr(result, "http_response") and hasattr(result, "parse"):
        _trace_raw(call, result, record)
    else:
        record(call, result)
        call.finish()


def _end_stream_manager(call: Call, manager: Any) -> Any:
    """``messages.stream()`` returns a manager that sends the request on ``__enter__`` /
    ``__aenter__``: wrap that deferred request, leaving the manager object itself unchanged."""
    name = next((n for n in vars(manager) if n.endswith("__api_request")), None)
    if name is None:
        call.finish()
        return manager
    original = getattr(manager, name)
    if inspect.isawaitable(original):
        setattr(manager, name, _deferred_async(call, original))
    else:
        setattr(manager, name, _deferred_sync(call, original))
    return manager


def _deferred_sync(call: Call, request: Callable[[], Any]) -> Callable[[], Any]:
    def traced_request() -> Any:
        token = _enter(call)
        try:
            stream = request()
        except BaseException as exc:
            Call.detach(token)
            call.finish(exc)
            raise
        Call.detach(token)
        if call.live:
            guarded("anthropic.stream", _trace_events, call, stream, False)
        return stream

    return traced_request


async def _deferred_async(call: Call, request: Any) -> Any:
    token = _enter(call)
    try:
        stream = await request
    except BaseException as exc:
        Call.detach(token)
        call.finish(exc)
        raise
    Call.detach(token)
    if call.live:
        guarded("anthropic.stream", _trace_events, call, stream, True)
    return stream


def _enter(call: Call) -> object:
    if call.live:  # an unsampled span is current, yet the client's span is not suppressed
        _OURS.set(call.span)
    return call.attach()


# ---- with_raw_response / with_streaming_response -------------------------------------------


def _trace_raw(call: Call, response: Any, record: Callable[[Call, Any], None]) -> None:
    """An ``APIResponse`` (or 1.x ``LegacyAPIResponse``): the body may be unread yet.

    A stream is traced when the user calls ``.parse()``; a plain body is recorded from its JSON
    once read (now for ``with_raw_response``, on close for ``with_streaming_response``). The
    span ends when the response closes, whatever the user read.
    """
    http = response.http_response
    if getattr(http, "is_closed", False) and not _requested_stream(response):
        _record_body(call, http, record)
        call.finish()
        return
    _hook(response, "parse", result=lambda value: _parsed(call, value))
    _watch_body(call, http, record)


def _requested_stream(response: Any) -> bool:
    return bool(getattr(response, "_stream", False))


def _parsed(call: Call, value: Any) -> None:
    if call.live and _is_event_stream(value) and not call.handed_off:
        _trace_events(call, value, _is_async_stream(value))


def _watch_body(call: Call, http: Any, record: Callable[[Call, Any], None]) -> None:
    """End the span when the body has been read (recording it) or the response closed.

    httpx closes a response from inside ``read()``, before the content is set: a close during
    a read is left to the end of that read.
    """
    reads = [0]

    def done(after_read: bool) -> None:
        if call.live and not call.handed_off and (after_read or not reads[0]):
            _record_body(call, http, record)  # a traced stream ends its span itself
            call.finish()

    def read_starts() -> None:
        reads[0] += 1

    def read_ends() -> None:
        reads[0] -= 1
        done(True)

    for name in ("read", "aread"):
        _hook(http, name, before=read_starts, after=read_ends)
    for name in ("close", "aclose"):
        _hook(http, name, after=lambda: done(False))


def _hook(
    obj: Any,
    name: str,
    *,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
    result: Callable[[Any], None] | None = None,
) -> None:
    """Run ``before``/``after`` around ``obj.name`` and ``result`` on what it returned, all
    guarded, on that one object (an instance attribute shadowing the method).

    Holds ``obj`` weakly (a bound method stored on ``obj`` would make a reference cycle and
    leave a dropped response to the cyclic collector) and keeps an earlier instance hook.
    """
    own: Any = obj.__dict__.get(name)
    method: Any = getattr(type(obj), name, None)
    if own is None and method is None:
        return
    ref = weakref.ref(obj)
    where = f"anthropic.raw_{name}"

    def original(*args: Any, **kwargs: Any) -> Any:
        if own is not None:
            return own(*args, **kwargs)
        target = ref()
        return None if target is None else method(target, *args, **kwargs)

    def returned(value: Any) -> Any:
        if result is not None:
            guarded(where, result, value)
        return value

    if inspect.iscoroutinefunction(own or method):

        async def hooked_async(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                guarded(where, before)
            try:
                pending = original(*args, **kwargs)
                return returned(None if pending is None else await pending)
            finally:
                if after is not None:
                    guarded(where, after)

        setattr(obj, name, hooked_async)
    else:

        def hooked(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                guarded(where, before)
            try:
                return returned(original(*args, **kwargs))
            finally:
                if after is not None:
                    guarded(where, after)

        setattr(obj, name, hooked)


def _record_body(call: Call, http: Any, record: Callable[[Call, Any], None]) -> None:
    try:
        body = http.json()
    except Exception:  # never read, or not JSON: the span carries what the request said
        return
    if isinstance(body, dict):
        record(call, body)


# ---- shapes ---------------------------------------------------------------------------------

_stream_types: tuple[type, ...] = ()
_async_stream_types: tuple[type, ...] = ()


def _is_event_stream(value: Any) -> bool:
    return isinstance(value, _stream_types)


def _is_async_stream(value: Any) -> bool:
    return isinstance(value, _async_stream_types)


# ---- the client's own spans -----------------------------------------------------------------


def _suppressing(original: Callable[..., Any]) -> Callable[..., Any]:
    def start_api_call_span(*args: Any, **kwargs: Any) -> Any:
        try:
            ours = _OURS.get()
            if ours is not None and span_in(None) is ours:
                return None  # our span is this call's LLM span; see the module docstring
        except Exception as exc:
            internal_error("anthropic.client_span", exc)
        return original(*args, **kwargs)

    start_api_call_span.__wrapped__ = original  # type: ignore[attr-defined]
    return start_api_call_span


# ---- (un)instrumenting ----------------------------------------------------------------------

_METHODS: tuple[tuple[str, Callable[..., Any], Callable[..., Any]], ...] = (
    ("create", _begin_create, _end_create),
    ("stream", _begin_stream, _end_stream_manager),
    ("parse", _begin_parse, _end_create),
    ("count_tokens", _begin_count, _end_count),
)


def _resource_classes() -> list[tuple[type, bool]]:
    """(class, is_async) for the plain and the beta messages resources present."""
    found: list[tuple[type, bool]] = []
    import importlib

    for module_name in ("anthropic.resources.messages", "anthropic.resources.beta.messages"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        sync_cls = getattr(module, "Messages", None)
        async_cls = getattr(module, "AsyncMessages", None)
        if isinstance(sync_cls, type):
            found.append((sync_cls, False))
        if isinstance(async_cls, type):
            found.append((async_cls, True))
    return found


def instrument_anthropic() -> bool:
    """Trace the ``anthropic`` client. Returns True when it changed anything (False: it was
    already instrumented, or ``anthropic`` is not installed).

    Idempotent: calling it again never doubles spans.
    """
    global _tracer, _stream_types, _async_stream_types, _client_hook
    try:
        import anthropic
    except ImportError:
        return False
    import noveum_trace

    _tracer = noveum_trace.get_tracer(_SCOPE, getattr(anthropic, "__version__", None))
    _stream_types = (anthropic.Stream, anthropic.AsyncStream)
    _async_stream_types = (anthropic.AsyncStream,)
    changed = False
    for cls, is_async in _resource_classes():
        for name, begin, end in _METHODS:
            if name not in vars(cls) and not hasattr(cls, name):
                continue  # e.g. `parse` on an older client
            # `stream()` is a plain def even on AsyncMessages: it returns the async manager.
            method_is_async = is_async and name != "stream"
            if patch(cls, name, begin, end, is_async=method_is_async):
                _patched.append((cls, name))
                changed = True
    if _client_hook is None:
        try:
            from anthropic import _base_client

            original = getattr(_base_client, "start_api_call_span", None)
            if original is not None:  # 2.x only: 1.x has no spans of its own
                _base_client.start_api_call_span = _suppressing(original)  # type: ignore[attr-defined]
                _client_hook = (_base_client, original)
                changed = True
        except Exception as exc:
            internal_error("anthropic.instrument", exc)
    return changed


def uninstrument_anthropic() -> bool:
    """Undo ``instrument_anthropic``; calls already in flight finish normally.

    Returns True when it changed anything (False: not instrumented, or no ``anthropic``).
    """
    global _client_hook
    changed = False
    while _patched:
        cls, name = _patched.pop()
        changed = unpatch(cls, name) or changed
    if _client_hook is not None:
        module, original = _client_hook
        module.start_api_call_span = original
        _client_hook = None
        changed = True
    return changed
