"""The instrumentation engine: one call lifecycle, patching and the guard, for every vendor.

A vendor module only maps requests, responses and stream items to attributes; the span's
lifecycle lives here, stream following in ``_streams``, and the seam shared by the clients
that Stainless generates (openai, anthropic) in ``_stainless``. ``@trace_llm_call`` drives the
same ``Call``.

API (kept small; it only grows, it never changes)::

    Call(tracer, vendor, operation, model, attributes, *, name=None)
        Starts a CLIENT span named ``name``, else "{operation} {model}" (or the operation),
        with gen_ai.system and gen_ai.provider.name (the vendor), gen_ai.operation.name,
        gen_ai.request.model (each when given) and ``attributes``.
        call.live / call.span / call.capture (content capture on) / call.semconv_latest
        (also write gen_ai.input/output.messages) / call.streaming / call.set(key, value)
        call.set_attributes(mapping) / call.event(name, attributes)
        call.usage(mapping): token counts (semconv keys); marks the enclosing decorator scope
        call.fail(kind, message): an error the response reported in-band (a stream's terminal
                  error event): error status with ``message``, error.type ``kind``
        call.acc: an ``Accumulator`` for streams (``add(item) -> text | None | NOT_OUTPUT``,
                  ``apply(call)`` once at the end, also after an error: while it runs,
                  ``call.error`` is the exception the call ends with, or None)
        call.handed_off: True once ``_streams`` follows the call's stream
        call.hide: optional predicate; stream items it accepts are accumulated, not delivered
        call.linger(): the call outlives the method that started it (a stream, a raw
                  response): if still open at ``shutdown()`` or exit, it ends there, at its
                  last activity, marked ``noveum.ended_at_shutdown``
        call.finish(error=None, abandoned=False): ends the span exactly once (latency, stream
                  metrics, ``acc.apply``, error status, error.type, recorded exception);
                  later calls do nothing. ``abandoned``: end at the last item delivered, not
                  now. A Call collected while still open finishes itself that way.
        call.where: the name internal errors are reported under (defaults to the vendor)
        call.kind: which of its calls this is, in the vendor map's own words (a route)
        call.attach() -> token / Call.detach(token): make the span current while the
                  vendor's (or the decorated function's) code runs. Done for a recorded span,
                  and also for an unsampled one once ``init()`` has run, so that spans started
                  under it (the anthropic client's own, an HTTP instrumentation's) are
                  unsampled too (``call.current``). Before ``init()`` the context is left
                  untouched: a user's own OpenTelemetry setup sees nothing of ours.
        Streams: only a delivered item that carries model output counts as a chunk
        (llm.chunks_count): ``acc.add`` returns NOT_OUTPUT for bookkeeping items. The first
        output chunk sets llm.time_to_first_token_ms and gen_ai.response.time_to_first_chunk
        (seconds); llm.tokens_per_second = output tokens / time from that chunk to the end.

    patch(cls, name, begin, end, *, is_async) -> bool
        Replace ``cls.name`` by a traced wrapper; False if it is already patched (so
        instrumenting twice never doubles spans). ``is_async`` picks the ``async def``
        wrapper: decide it from the class (``AsyncOpenAI``), never from ``inspect``. Clients
        built before and after are traced alike, since the method lives on the class.
    unpatch(cls, name) -> bool
        Put the original back. Bound methods captured while patched (``with_raw_response``
        keeps some) fall through to the original from then on.

    begin(args, kwargs) -> Call | None
        Runs before the original, with ``args[0]`` the instance. Returns the started
        ``Call``, or None to pass the call through untraced. May mutate ``kwargs`` (a fresh
        dict) or the objects in ``args`` to adjust the request. Return an unrecorded Call
        only when ``call.current`` (its ``end`` then hands the result back untouched).
    end(call, result) -> what the caller gets
        Runs after the original returned: records the response and finishes the call, or
        follows a stream (``_streams``), which finishes it later. Usually ``result`` itself.

    guarded(where, fn, *args) -> result or None: run our own code, report any failure.

A client that Stainless did not generate (google-genai, mistralai, boto3 ...) plugs in here
as a map too: ``patch`` its own methods (``Models.generate_content``, ``Chat.complete``,
``client.converse`` ...) with a ``begin`` that reads the method's arguments through its map
into ``Call(tracer, vendor, operation, model, attributes)``, and an ``end`` that records the
returned object through the map and finishes, or, for a stream, sets ``call.acc`` to the
map's accumulator and returns ``_streams.follow(iterator, call, is_async=...)`` in place of
the client's iterator (or ``trace_stream`` when the stream object must stay the client's).

The guard: whatever our code raises inside a user's call is reported through
``noveum_trace._diagnostics.guard.internal_error`` and the call proceeds with exactly the
arguments, result and exception it would have had.
"""

from __future__ import annotations

import functools
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from opentelemetry.trace import SpanKind, StatusCode

from noveum_trace import semconv
from noveum_trace._core.context import attach_span, detach
from noveum_trace._core.tracer import PROVIDER, Tracer
from noveum_trace._core.values import safe_str, type_name
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace._pipeline import active_config, before_shutdown
from noveum_trace.instrumentation._llm_scope import note_child_usage

__all__ = [
    "NOT_OUTPUT",
    "Accumulator",
    "Begin",
    "Call",
    "End",
    "NotOutput",
    "guarded",
    "patch",
    "unpatch",
]

_perf_ns = time.perf_counter_ns
_time_ns = time.time_ns


class NotOutput:
    """What ``Accumulator.add`` returns for a stream item that carries no model output."""

    __slots__ = ()


# Bookkeeping items (anthropic's message_start, a content block's start or stop) are not
# chunks: they count neither in llm.chunks_count nor as the first token.
NOT_OUTPUT = NotOutput()


class Accumulator(Protocol):
    """A vendor's running total over one stream."""

    def add(self, chunk: Any) -> str | NotOutput | None:
        """Fold one chunk in; return its text (for per-chunk events), None, or NOT_OUTPUT."""

    def apply(self, call: Call) -> None:
        """Set the response attributes, usage and completion content at the end."""


def guarded(where: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        internal_error(where, exc)
        return None


# Calls that outlive the method that started them (``linger``), ended at shutdown if still
# open. Weak, so a dropped stream is collected (and ends) as it would be without us; the lock
# only guards adding against the snapshot taken at shutdown, once per stream, never per chunk.
_open: weakref.WeakSet[Call] = weakref.WeakSet()
_open_lock = threading.Lock()


class Call:
    """One traced LLM call: its span and what is measured until the span ends."""

    __slots__ = (
        "__weakref__",
        "acc",
        "capture",
        "chunk_events",
        "chunks",
        "current",
        "done",
        "error",
        "first_ns",
        "handed_off",
        "hide",
        "kind",
        "last_ns",
        "lingering",
        "live",
        "output_tokens",
        "semconv_latest",
        "span",
        "start_ns",
        "streaming",
        "wall_ns",
        "where",
    )

    def __init__(
        self,
        tracer: Tracer,
        vendor: str | None,
        operation: str | None,
        model: str | None,
        attributes: Mapping[str, Any] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        self.acc: Accumulator | None = None
        self.hide: Callable[[Any], bool] | None = None
        self.kind = ""
        self.error: BaseException | None = None
        self.chunks = 0
        self.first_ns = 0
        self.output_tokens: int | None = None
        self.streaming = False
        self.handed_off = False
        self.lingering = False
        self.where = vendor or "call"
        self.live = False
        self.done = False
        self.span: Any = None
        config = active_config()
        self.capture = config.capture_content
        self.chunk_events = config.stream_chunk_events
        self.semconv_latest = config.semconv_latest
        attrs: dict[str, Any] = {}
        if vendor:
            attrs[semconv.GEN_AI_SYSTEM] = vendor
            attrs[semconv.GEN_AI_PROVIDER_NAME] = vendor
        if operation:
            attrs[semconv.GEN_AI_OPERATION_NAME] = operation
        if model:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = model
        if attributes:
            attrs.update(attributes)
        if name is None:
            name = f"{operation} {model}" if model else (operation or "llm_call")
        self.wall_ns = _time_ns()
        self.start_ns = self.last_ns = _perf_ns()
        span = tracer.start_span(
            name, kind=SpanKind.CLIENT, attributes=attrs, start_time=self.wall_ns
        )
        self.span = span
        self.live = span.is_recording()
        # An unsampled span is kept current only under our own pipeline (see `attach`).
        self.current = self.live or PROVIDER.pipeline is not None

    # ---- recording ------------------------------------------------------------------

    def set(self, key: str, value: Any) -> None:
        if self.live and value is not None:
            self.span.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self.live and attributes:
            set_attribute = self.span.set_attribute  # the span's fast path, per primitive
            for key, value in attributes.items():
                set_attribute(key, value)

    def event(self, name: str, attributes: Mapping[str, Any]) -> None:
        if self.live:
            self.span.add_event(name, attributes)

    def usage(self, usage: Mapping[str, int] | None) -> None:
        """Token counts under their semconv keys; absent counts stay absent (never 0)."""
        if not usage or not self.live:
            return
        self.set_attributes(usage)
        output = usage.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        if output is not None:
            self.output_tokens = output
        note_child_usage()  # an enclosing @trace_llm_call must not count these again

    def fail(self, kind: str, message: str | None) -> None:
        """An error the vendor reported in the response itself rather than by raising."""
        if self.live:
            self.span.set_status(StatusCode.ERROR, message)
            self.span.set_attribute(semconv.ERROR_TYPE, kind)

    # ---- context: the span is current while the vendor's own code runs ---------------

    def attach(self) -> object:
        # Also an unsampled span (after init()): spans started under it are then unsampled
        # too, instead of becoming roots that the sampler decides on afresh.
        return attach_span(self.span) if self.current else None

    @staticmethod
    def detach(token: object) -> None:
        if token is not None:
            detach(token)

    # ---- streams --------------------------------------------------------------------

    def linger(self) -> None:
        """Register a call that outlives its method; see the module docstring."""
        if self.live and not self.lingering:
            self.lingering = True
            with _open_lock:
                _open.add(self)

    def on_chunk(self, chunk: Any) -> None:
        """A chunk the user received (``_streams`` calls this; it never raises)."""
        now = _perf_ns()
        self.last_ns = now
        acc = self.acc
        text: str | NotOutput | None = None
        if acc is not None and self.live:
            try:
                text = acc.add(chunk)
            except Exception as exc:
                internal_error(f"{self.where}.chunk", exc)
        if text is NOT_OUTPUT:
            return
        if not self.chunks:
            self.first_ns = now
        self.chunks += 1
        if not text or not self.chunk_events:
            return
        try:
            if isinstance(text, str):
                self.span.add_event(
                    semconv.EVENT_CONTENT_CHUNK,
                    {
                        semconv.GEN_AI_COMPLETION_CHUNK: text,
                        semconv.CHUNK_INDEX: self.chunks - 1,
                        semconv.CHUNK_TIMESTAMP: _time_ns() / 1e9,
                    },
                )
        except Exception as exc:
            internal_error(f"{self.where}.chunk", exc)

    def on_hidden(self, chunk: Any) -> None:
        """A chunk we asked for and keep from the user (OpenAI's added usage chunk)."""
        acc = self.acc
        if acc is not None and self.live:
            guarded(f"{self.where}.chunk", acc.add, chunk)

    # ---- the end --------------------------------------------------------------------

    def finish(self, error: BaseException | None = None, abandoned: bool = False) -> None:
        """End the span once. ``abandoned``: the stream was dropped unfinished, so the span
        ends at the last chunk the user received rather than at collection time."""
        if not self.live or self.done:
            return
        self.done = True
        self.error = error
        span = self.span
        end_ns = self.last_ns if abandoned else _perf_ns()
        try:
            span.set_attribute(semconv.LLM_LATENCY_MS, (end_ns - self.start_ns) / 1e6)
            if self.streaming:
                self._stream_metrics()
            acc = self.acc
            if acc is not None:
                guarded(f"{self.where}.apply", acc.apply, self)
            if error is not None:
                span.record_exception(error, escaped=True)
                # safe_str: an exception whose __str__ raises still sets the status
                span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {safe_str(error)}")
                span.set_attribute(semconv.ERROR_TYPE, type_name(error))
            tokens = self.output_tokens
            if tokens:
                seconds = (end_ns - (self.first_ns or self.start_ns)) / 1e9
                if seconds > 0:
                    span.set_attribute(semconv.LLM_TOKENS_PER_SECOND, tokens / seconds)
        except Exception as exc:
            internal_error(f"{self.where}.finish", exc)
        finally:
            self.live = False
            self.error = None  # no traceback kept alive by a stream the user still holds
            try:
                span.end(self.wall_ns + (end_ns - self.start_ns))
            except Exception as exc:
                internal_error(f"{self.where}.end", exc)

    def _stream_metrics(self) -> None:
        span = self.span
        span.set_attribute(semconv.LLM_STREAMING, True)
        span.set_attribute(semconv.LLM_CHUNKS_COUNT, self.chunks)
        if self.first_ns:
            ttft = self.first_ns - self.start_ns
            span.set_attribute(semconv.LLM_TIME_TO_FIRST_TOKEN_MS, ttft / 1e6)
            span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttft / 1e9)

    def __del__(self) -> None:
        # A stream dropped before its first read leaves no generator to close: end here.
        if self.live:
            self.finish(abandoned=True)


def _end_open_calls() -> None:
    """At shutdown, while the pipeline still runs: end what the application still holds."""
    with _open_lock:
        calls = list(_open)
    for call in calls:
        if call.live:
            call.set(semconv.NOVEUM_ENDED_AT_SHUTDOWN, True)
            call.finish(abandoned=True)


before_shutdown(_end_open_calls)


# ---- patching -----------------------------------------------------------------------

Begin = Callable[[tuple[Any, ...], dict[str, Any]], "Call | None"]
End = Callable[[Call, Any], Any]

_MISSING: Any = object()
_MARK = "__noveum_trace_original__"
_lock = threading.Lock()


class _Patch:
    __slots__ = ("active", "own", "where")

    def __init__(self, own: Any, where: str) -> None:
        self.active = True
        self.own = own  # what cls.__dict__ held before (or _MISSING: it was inherited)
        self.where = where


_patches: dict[tuple[type, str], _Patch] = {}


def _start(state: _Patch, begin: Begin, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        return begin(args, kwargs)
    except Exception as exc:
        internal_error(f"{state.where}.begin", exc)
        return None


def _end(state: _Patch, end: End, call: Call, result: Any) -> Any:
    try:
        return end(call, result)
    except Exception as exc:
        internal_error(f"{state.where}.end", exc)
        call.finish()
        return result


# Two wrappers because Python needs an `async def` to await; all they share is in the
# helpers above and in `Call`.
def _sync_wrapper(original: Callable[..., Any], begin: Begin, end: End, state: _Patch) -> Any:
    def traced(*args: Any, **kwargs: Any) -> Any:
        if not state.active:
            return original(*args, **kwargs)
        call = _start(state, begin, args, kwargs)
        if call is None:
            return original(*args, **kwargs)
        token = call.attach()
        try:
            result = original(*args, **kwargs)
        except BaseException as exc:
            call.detach(token)
            call.finish(exc)
            raise
        call.detach(token)
        return _end(state, end, call, result)

    return traced


def _async_wrapper(original: Callable[..., Any], begin: Begin, end: End, state: _Patch) -> Any:
    async def traced(*args: Any, **kwargs: Any) -> Any:
        if not state.active:
            return await original(*args, **kwargs)
        call = _start(state, begin, args, kwargs)
        if call is None:
            return await original(*args, **kwargs)
        token = call.attach()
        try:
            result = await original(*args, **kwargs)
        except BaseException as exc:
            call.detach(token)
            call.finish(exc)
            raise
        call.detach(token)
        return _end(state, end, call, result)

    return traced


def patch(cls: type, name: str, begin: Begin, end: End, *, is_async: bool) -> bool:
    """Trace ``cls.name``; False when it already is (see the module docstring)."""
    with _lock:
        key = (cls, name)
        if key in _patches:
            return False
        original = getattr(cls, name)
        if getattr(original, _MARK, None) is not None:  # patched already (here or on a base)
            return False
        state = _Patch(cls.__dict__.get(name, _MISSING), f"{cls.__name__}.{name}")
        make = _async_wrapper if is_async else _sync_wrapper
        wrapper = functools.wraps(original)(make(original, begin, end, state))
        setattr(wrapper, _MARK, original)
        setattr(cls, name, wrapper)
        _patches[key] = state
        return True


def unpatch(cls: type, name: str) -> bool:
    """Restore ``cls.name``; False when it was not patched."""
    with _lock:
        state = _patches.pop((cls, name), None)
        if state is None:
            return False
        state.active = False
        if state.own is _MISSING:
            delattr(cls, name)
        else:
            setattr(cls, name, state.own)
        return True
