"""The seam for the clients Stainless generates (openai, anthropic): one patch of ``request``.

Every call such a client makes goes through ``Client.request(cast_to, options, *, stream,
stream_cls)``, whatever its shape: ``create``, ``parse``, the ``.stream(...)`` helpers (which
send their request on ``__enter__`` / ``__aenter__``), ``with_raw_response``,
``with_streaming_response``, sync and async, clients built before or after instrumenting.
``Seam.instrument`` patches that one method on the vendor's client classes; the vendor
supplies only a ``Vendor`` map: the routes it traces, the request's attributes, the parsed
response's attributes, and an accumulator for its streams. The client's private names the
seam needs (the attribute a ``Stream`` iterates through, the raw-response header) come from
``noveum_trace._compat.<client>``.

How one call is followed:

1. Before the request: ``options.url`` picks the route's kind (other routes, non-POST
   requests and bodies that are not JSON objects pass through untouched). The JSON body
   gives the model and ``vendor.request`` the attributes known before the call; once the
   span records, ``vendor.started`` adds the prompt (capture on) and may adjust the request.
   Our hook is chained onto ``options.post_parser``.
2. The client applies ``post_parser`` to what it parses, however the call was made: a model
   (``vendor.record``, then the call ends) or a ``Stream`` / ``AsyncStream``
   (``vendor.accumulator``, followed in place by ``_streams.trace_stream``).
3. A raw response (``with_raw_response``, ``with_streaming_response``) may come back unread.
   Its body already read (a plain call): ``vendor.record`` its JSON now, and the call ends.
   Otherwise it is watched: parsed -> step 2; body read by hand (``read``, ``json``,
   ``text``) -> its JSON recorded when the read ends; closed unread -> the call ends with
   what the request said; dropped -> the call ends at the time the response arrived; still
   held at shutdown -> ended there (``Call.linger``).

Clients that Stainless did not generate plug in through ``_engine.patch`` instead (see its
docstring); their maps have the same three parts.
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from noveum_trace import semconv
from noveum_trace._core.tracer import PROVIDER, Tracer
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace._pipeline import active_config
from noveum_trace.instrumentation._engine import Accumulator, Call, guarded, patch, unpatch
from noveum_trace.instrumentation._streams import hook, trace_stream

__all__ = ["ClientShape", "Request", "Seam", "Vendor"]

_perf_ns = time.perf_counter_ns


class Request:
    """The request a client is about to send, as a map reads it."""

    __slots__ = ("body", "extra", "kind", "options", "raw", "stream")

    def __init__(
        self, options: Any, kind: str, body: Mapping[str, Any], stream: bool, raw: bool
    ) -> None:
        self.options = options
        self.kind = kind  # the route's kind, as the vendor's map names it
        self.body = body  # the JSON body; may still hold the client's "omit" markers
        extra = options.extra_json  # extra_body=..., merged into the body later by the client
        self.extra: Mapping[str, Any] = extra if isinstance(extra, Mapping) else {}
        self.stream = stream
        self.raw = raw  # with_raw_response / with_streaming_response: the user may read SSE lines

    def set_body(self, body: Mapping[str, Any]) -> None:
        """Send ``body`` instead (a fresh mapping: the user's own is never changed)."""
        self.options.json_data = body
        self.body = body


@dataclass(frozen=True)
class Vendor:
    """What one Stainless-generated client adds to the seam: a thin map."""

    name: str  # the vendor: gen_ai.system and gen_ai.provider.name
    scope: str  # the instrumentation scope of our spans
    routes: Mapping[str, str]  # POST path -> kind: the calls we trace
    operations: Mapping[str, str]  # kind -> gen_ai.operation.name
    request: Callable[[Request, bool], dict[str, Any]]  # (request, capture) -> attributes
    started: Callable[[Call, Request], None]  # a recorded call began: content, adjustments
    record: Callable[[Call, str, Any], None]  # (call, kind, parsed model or JSON body)
    accumulator: Callable[[Call, str], Accumulator]  # for a stream of that kind


@dataclass(frozen=True)
class ClientShape:
    """The installed client package, as the seam needs it (built at instrument time)."""

    clients: Iterable[tuple[type, bool]]  # (client class, is_async)
    stream: type  # Stream
    async_stream: type  # AsyncStream
    iterator: str  # the attribute a Stream iterates through (private: from _compat)
    raw_header: str  # the header of a raw-response request (private: from _compat)
    version: str | None


class Seam:
    """One vendor's patch of ``request``, on every client class of its package."""

    def __init__(self, vendor: Vendor) -> None:
        self.vendor = vendor
        self.shape: ClientShape | None = None
        self.tracer: Tracer | None = None
        self.patched: list[type] = []

    def instrument(self, shape: ClientShape) -> bool:
        self.shape = shape
        self.tracer = PROVIDER.get_tracer(self.vendor.scope, shape.version)
        changed = False
        for cls, is_async in shape.clients:
            if patch(cls, "request", self._begin, self._end, is_async=is_async):
                self.patched.append(cls)
                changed = True
        return changed

    def uninstrument(self) -> bool:
        changed = False
        while self.patched:
            changed = unpatch(self.patched.pop(), "request") or changed
        return changed

    # ---- before the request ---------------------------------------------------------

    def _begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call | None:
        options = args[2] if len(args) > 2 else kwargs["options"]
        vendor = self.vendor
        # The route without its query: anthropic 1.x sends beta calls to /v1/messages?beta=true
        url = options.url
        kind = vendor.routes.get(url.partition("?")[0] if isinstance(url, str) else url)
        body = options.json_data
        shape = self.shape
        if (
            kind is None
            or shape is None
            or self.tracer is None
            or options.method.lower() != "post"
            or not isinstance(body, Mapping)
        ):
            return None
        client = args[0]
        _register_key(client)
        headers = options.headers
        raw = isinstance(headers, Mapping) and shape.raw_header in headers
        request = Request(options, kind, body, bool(kwargs.get("stream")), raw)
        attributes = vendor.request(request, active_config().capture_content)
        attributes.update(_server(client))
        model = body.get("model")
        call = Call(
            self.tracer,
            vendor.name,
            vendor.operations[kind],
            model if isinstance(model, str) else None,
            attributes,
        )
        if not call.live:
            # Unsampled: still current while the request runs (see `Call.attach`); `_end`
            # hands the result back untouched.
            return call if call.current else None
        call.kind = kind
        call.streaming = request.stream
        vendor.started(call, request)
        options.post_parser = _Parsed(self, call, options.post_parser)
        return call

    # ---- after: the parsed result, however the call was made --------------------------

    def parsed(self, call: Call, value: Any) -> None:
        shape = self.shape
        if shape is not None and isinstance(value, (shape.stream, shape.async_stream)):
            if call.handed_off:
                return
            call.acc = self.vendor.accumulator(call, call.kind)
            is_async = isinstance(value, shape.async_stream)
            if not trace_stream(value, call, is_async=is_async, iterator=shape.iterator):
                call.finish()
            return
        self.vendor.record(call, call.kind, value)
        call.finish()

    def _end(self, call: Call, result: Any) -> Any:
        # Not live: unsampled, or the parsed hook already ended it (plain calls).
        if not call.live or call.handed_off:
            return result
        http = getattr(result, "http_response", None)
        if http is None:  # a result the client never parsed through our hook
            call.finish()
            return result
        if not call.streaming and getattr(http, "is_closed", False):
            # with_raw_response: the body is already read; parse() costs the user nothing more
            self.record_body(call, http)
            call.finish()
            return result
        _RawBody(self, call, http)
        return result

    def record_body(self, call: Call, http: Any) -> None:
        try:
            body = http.json()
        except Exception:  # never read, or not JSON: the span carries what the request said
            return
        if isinstance(body, dict):
            self.vendor.record(call, call.kind, body)


class _Parsed:
    """Chained onto the request's ``post_parser``: sees the parsed result (or stream)."""

    __slots__ = ("call", "original", "seam")

    def __init__(self, seam: Seam, call: Call, original: Any) -> None:
        self.seam = seam
        self.call = call
        self.original = original if callable(original) else None

    def __call__(self, parsed: Any) -> Any:
        if self.original is not None:
            parsed = self.original(parsed)  # its errors are the user's, as without us
        call = self.call
        if call.live:
            guarded(f"{call.where}.response", self.seam.parsed, call, parsed)
        return parsed


class _RawBody:
    """A raw response whose body is not read yet, watched until it is read or closed.

    httpx closes a response from inside ``read()``, before the content is set: a close
    during a read is left to the end of that read. Holds the response weakly: the hooks
    live on it.
    """

    __slots__ = ("call", "http", "reads", "seam")

    def __init__(self, seam: Seam, call: Call, http: Any) -> None:
        self.seam = seam
        self.call = call
        self.http = weakref.ref(http)
        self.reads = 0
        call.last_ns = _perf_ns()  # dropped unread: the call ends when the response arrived
        call.linger()
        for name in ("read", "aread"):
            hook(http, name, before=self.read_starts, after=self.read_ends)
        for name in ("close", "aclose"):
            hook(http, name, after=self.closed)

    def read_starts(self) -> None:
        self.reads += 1

    def read_ends(self) -> None:
        self.reads -= 1
        self.done()

    def closed(self) -> None:
        if not self.reads:
            self.done()

    def done(self) -> None:
        call = self.call
        if call.live and not call.handed_off:  # a parsed stream ends its call itself
            http = self.http()
            if http is not None:
                self.seam.record_body(call, http)
            call.finish()


# ---- per client -----------------------------------------------------------------------

# Keys already handed to the masker, so that a request skips ``register_secret`` (a lock
# and a regex). Only a cache, so bounded (oldest out): an app that builds a client per user
# key would otherwise keep every key it ever saw in memory. An evicted key that comes back
# is registered again, which ``register_secret`` ignores (its own registry is bounded too).
_SEEN_KEYS_MAX = 64
_seen_keys: dict[str, None] = {}
_servers: dict[int, tuple[Any, dict[str, Any]]] = {}


def _register_key(client: Any) -> None:
    """The client's API key joins the secret masker, whatever the span records."""
    key = getattr(client, "api_key", None)
    if isinstance(key, str) and key and key not in _seen_keys:
        _seen_keys[key] = None
        if len(_seen_keys) > _SEEN_KEYS_MAX:
            # Another thread may evict first: then there is nothing left to do.
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del _seen_keys[next(iter(_seen_keys))]
        try:
            from noveum_trace.privacy import register_secret

            register_secret(key)
        except Exception as exc:
            internal_error("register_secret", exc)


def _server(client: Any) -> dict[str, Any]:
    url: Any = getattr(client, "base_url", None)
    cached = _servers.get(id(url))
    if cached is not None and cached[0] is url:
        return cached[1]
    attrs: dict[str, Any] = {}
    host = getattr(url, "host", None)
    if host:
        attrs[semconv.SERVER_ADDRESS] = host
        attrs[semconv.SERVER_PORT] = url.port or (443 if url.scheme == "https" else 80)
    if len(_servers) > 64:
        _servers.clear()
    _servers[id(url)] = (url, attrs)
    return attrs
