"""Auto-instrumentation of the official ``openai`` client (1.x, 2.x and 3.x).

    from noveum_trace.instrumentation import openai
    openai.instrument_openai()      # idempotent; returns True when it changed something
    openai.uninstrument_openai()

One patch point per client class: ``OpenAI.request`` and ``AsyncOpenAI.request``, which every
call shape goes through (``create``, ``parse``, ``.stream(...)`` helpers, ``with_raw_response``,
``with_streaming_response``, sync and async, clients built before or after instrumenting).
``chat.completions``, ``responses`` and ``embeddings`` POSTs are traced; other routes pass
through untouched.

The response is met where the client parses it: our hook is chained onto the request's
``post_parser``, which the client applies to the parsed result however the call was made (a
model, or a ``Stream`` / ``AsyncStream`` that ``_streams`` then follows in place). Raw
responses the user never parses end their span when their HTTP response is closed.

Streams: ``llm.chunks_count`` counts the chunks that carried model output (a non-empty
content or refusal delta, or a tool-call delta, in any choice; for the Responses API, an
event whose type ends in ``.delta``). The time to first token is the first such chunk: the
role-only first chunk, finish-reason or usage-only chunks, Azure's ``prompt_filter_results``
chunk and ``response.created`` are bookkeeping and count for neither.

``openai_include_usage`` (off by default) asks a streamed chat call for its token usage
(``stream_options.include_usage``) when the user did not, and keeps that extra usage-only
chunk out of the user's iteration. It is never added to ``with_raw_response`` or
``with_streaming_response`` calls, whose users can read the raw SSE lines: those streams
carry token usage only when the user asks for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import noveum_trace
from noveum_trace import semconv
from noveum_trace._pipeline import active_config
from noveum_trace.instrumentation import _openai_map as m
from noveum_trace.instrumentation._engine import Call, guarded, patch, unpatch
from noveum_trace.instrumentation._streams import end_on_close, trace_stream

__all__ = ["instrument_openai", "uninstrument_openai"]

_TRACER_NAME = "noveum_trace.instrumentation.openai"
_tracer: Any = None
_seen_keys: set[str] = set()
_servers: dict[int, tuple[Any, dict[str, Any]]] = {}


def instrument_openai() -> bool:
    """Trace every chat, responses and embeddings call of ``openai`` clients.

    Returns True when it changed anything (False: already instrumented, or no ``openai``).
    """
    try:
        import openai
    except ImportError:
        return False
    changed = patch(openai.OpenAI, "request", _begin_sync, _end, is_async=False)
    return patch(openai.AsyncOpenAI, "request", _begin_async, _end, is_async=True) or changed


def uninstrument_openai() -> bool:
    """Undo ``instrument_openai``; True when it changed anything (False: not instrumented)."""
    try:
        import openai
    except ImportError:
        return False
    changed = unpatch(openai.OpenAI, "request")
    return unpatch(openai.AsyncOpenAI, "request") or changed


# ---- before the request -------------------------------------------------------------


def _begin_sync(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    return _begin(args, kwargs, False)


def _begin_async(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
    return _begin(args, kwargs, True)


def _begin(args: tuple[Any, ...], kwargs: dict[str, Any], is_async: bool) -> Call | None:
    options = args[2] if len(args) > 2 else kwargs["options"]
    kind = m.ROUTES.get(options.url)
    body = options.json_data
    if kind is None or options.method.lower() != "post" or not isinstance(body, Mapping):
        return None
    client = args[0]
    _register_key(client)
    global _tracer
    if _tracer is None:
        _tracer = noveum_trace.get_tracer(_TRACER_NAME)
    model = body.get("model")
    attrs = m.request_attributes(kind, body, active_config().capture_content)
    attrs.update(_server(client))
    call = Call(
        _tracer,
        semconv.PROVIDER_OPENAI,
        m.OPERATIONS[kind],
        model if isinstance(model, str) else None,
        attrs,
    )
    if not call.live:
        # Unsampled: still current while the request runs (see `Call.current`); `_end`
        # hands the result back untouched.
        return call if call.current else None
    call.where = "openai"
    if kwargs.get("stream"):
        call.streaming = True
        if kind == m.CHAT and active_config().openai_include_usage and not _is_raw(options):
            _add_include_usage(options, body, call)
    if call.capture:
        call.event(semconv.EVENT_CONTENT_PROMPT, m.prompt_attributes(kind, body))
        if call.semconv_latest:
            call.set_attributes(m.latest_input(kind, body))
    options.post_parser = _ParsedHook(call, kind, is_async, options.post_parser)
    return call


def _is_raw(options: Any) -> bool:
    """``with_raw_response`` / ``with_streaming_response``: the user may read the body's
    lines themselves, so an SSE line we asked for could not be kept from them."""
    from openai._constants import RAW_RESPONSE_HEADER

    headers = options.headers
    return isinstance(headers, Mapping) and RAW_RESPONSE_HEADER in headers


def _add_include_usage(options: Any, body: Mapping[str, Any], call: Call) -> None:
    stream_options = body.get("stream_options")
    if isinstance(stream_options, Mapping) and stream_options.get("include_usage"):
        return  # the user asked for it: they see the usage chunk, as without us
    options.json_data = {
        **body,
        "stream_options": {**(stream_options or {}), "include_usage": True},
    }
    call.hide = m.is_usage_only_chunk


def _register_key(client: Any) -> None:
    key = getattr(client, "api_key", None)
    if isinstance(key, str) and key not in _seen_keys:
        _seen_keys.add(key)
        from noveum_trace.privacy import register_secret

        register_secret(key)


def _server(client: Any) -> dict[str, Any]:
    url = client.base_url
    cached = _servers.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    attrs: dict[str, Any] = {}
    host = url.host
    if host:
        attrs[semconv.SERVER_ADDRESS] = host
        port = url.port or (443 if url.scheme == "https" else 80)
        attrs[semconv.SERVER_PORT] = port
    if len(_servers) > 64:
        _servers.clear()
    _servers[id(url)] = (url, attrs)
    return attrs


# ---- after: the parsed result, however the call was made ----------------------------


class _ParsedHook:
    """Chained onto the request's ``post_parser``: sees the parsed result (or stream)."""

    __slots__ = ("call", "is_async", "kind", "original")

    def __init__(self, call: Call, kind: str, is_async: bool, original: Any) -> None:
        self.call = call
        self.kind = kind
        self.is_async = is_async
        self.original = original if callable(original) else None

    def __call__(self, parsed: Any) -> Any:
        if self.original is not None:
            parsed = self.original(parsed)  # its errors are the user's, as without us
        if self.call.live:
            guarded("openai.response", _on_parsed, self, parsed)
        return parsed


def _on_parsed(hook: _ParsedHook, parsed: Any) -> None:
    import openai

    call = hook.call
    if isinstance(parsed, (openai.Stream, openai.AsyncStream)):
        if call.handed_off:
            return
        if hook.kind == m.CHAT:
            call.acc = m.ChatAccumulator(call.capture)
        else:
            call.acc = m.ResponsesAccumulator(call.capture)
        if not trace_stream(parsed, call, is_async=isinstance(parsed, openai.AsyncStream)):
            call.finish()
        return
    m.record_response(hook.kind, call, parsed)
    call.finish()


def _end(call: Call, result: Any) -> Any:
    # not live: unsampled, or the hook already took care of it (plain calls)
    if not call.live or call.handed_off:
        return result
    http_response = getattr(result, "http_response", None)
    if http_response is None:  # not a raw response: nothing was parsed through our hook
        call.finish()
        return result
    from openai._legacy_response import LegacyAPIResponse
    from openai._response import AsyncAPIResponse

    is_async = isinstance(result, AsyncAPIResponse)
    if isinstance(result, LegacyAPIResponse) or (call.streaming and not is_async):
        # ``with_raw_response``: the body is already read, so parsing now costs the user
        # nothing (the client caches it); a stream is only constructed, never read.
        try:
            result.parse()
        except Exception as exc:  # the user's own parse() will raise it again
            call.finish(exc)
        return result
    # ``with_streaming_response`` left unparsed (or async): end when it is closed.
    end_on_close(http_response, call, is_async=is_async)
    return result
