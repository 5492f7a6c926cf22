"""``@trace_llm_call``: one CLIENT span per call of a function that talks to an LLM.

    @trace_llm_call(system="openai", model="gpt-4o", operation="chat")
    def ask(question: str) -> str: ...

Works on plain functions, ``async def`` functions, generators and async generators; the
wrapper keeps the function's name, docstring, signature and kind (``inspect`` still sees a
coroutine / generator function).

The span:
* is named ``"{operation} {model}"`` (the OpenTelemetry GenAI form, e.g. ``"chat gpt-4o"``),
  or the function's ``__qualname__`` when no model is given; ``name=`` overrides both;
* carries ``gen_ai.system`` and ``gen_ai.provider.name``, ``gen_ai.request.model``,
  ``gen_ai.operation.name``, ``llm.latency_ms`` and any ``attributes=``;
* when content capture is on: the arguments, bound to their parameter names (``self`` and
  ``cls`` left out), as the ``gen_ai.content.prompt`` event, and the return value as the
  ``gen_ai.content.completion`` event (``capture_args`` / ``capture_result`` turn them off);
* records an exception with error status and ``error.type``; the exception propagates
  unchanged.

Generators: the span covers the whole iteration, from the first ``next()`` to exhaustion,
``break``/``close()``, an error, or garbage collection (it ends exactly once). It records
``llm.streaming``, ``llm.chunks_count``, ``llm.time_to_first_token_ms`` and
``gen_ai.response.time_to_first_chunk``; the completion is the concatenated text of the
chunks (strings, or OpenAI/Anthropic stream deltas). As for any generator function, nothing
runs, and so no span starts, until the first ``next()``: a call with bad arguments
raises its ``TypeError`` there.

Token usage, and the nesting rule: token counts live on the span of the request that
consumed them. ``usage=`` (a callable taking the result and returning a mapping with
``input_tokens``, ``output_tokens`` and optionally ``total_tokens``, ``cache_read_tokens``,
``cache_write_tokens``, ``reasoning_tokens``) sets them; without it an OpenAI
(``ChatCompletion``, ``Response``, ``CreateEmbeddingResponse``) or Anthropic (``Message``)
result is read by duck typing. For generators both apply to each chunk, later values winning.
When the function calls an instrumented client, that client's span (a child of this one)
records the tokens, and this span records none, from ``usage=`` or automatically, so that
summing tokens over a trace never counts a request twice.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, TypeVar, cast

from opentelemetry.trace import SpanKind, StatusCode

import noveum_trace
from noveum_trace import semconv
from noveum_trace._core.context import attach_span, detach
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace._pipeline import active_config
from noveum_trace.instrumentation._llm_scope import (
    LLMScope,
    close_scope,
    note_child_usage,
    open_scope,
)

F = TypeVar("F", bound=Callable[..., Any])
UsageExtractor = Callable[[Any], Mapping[str, Any] | None]

_TRACER_NAME = "noveum_trace.decorators"
_SKIPPED_PARAMETERS = frozenset({"self", "cls"})
_NOTHING: Any = object()
_PLAIN_TYPES = frozenset({str, bytes, int, float, bool, type(None), list, tuple})
_ANTHROPIC_EVENT_TYPES = ("message", "message_start", "message_delta")

# Keys accepted from a ``usage=`` mapping (and produced by the duck typing), by attribute.
_USAGE_KEYS: dict[str, tuple[str, ...]] = {
    semconv.GEN_AI_USAGE_INPUT_TOKENS: ("input_tokens", "prompt_tokens"),
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: ("output_tokens", "completion_tokens"),
    semconv.GEN_AI_USAGE_TOTAL_TOKENS: ("total_tokens",),
    semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: ("cache_read_tokens", "cache_read_input_tokens"),
    semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: (
        "cache_write_tokens",
        "cache_creation_input_tokens",
    ),
    semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: ("reasoning_tokens", "reasoning_output_tokens"),
}


def trace_llm_call(
    system: str | None = None,
    model: str | None = None,
    operation: str = semconv.OPERATION_CHAT,
    *,
    name: str | None = None,
    attributes: Mapping[str, Any] | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
    usage: UsageExtractor | None = None,
) -> Callable[[F], F]:
    """Trace each call of the decorated function as an LLM request (see the module doc)."""

    def decorate(fn: F) -> F:
        spec = _Spec(fn, system, model, operation, name, attributes)
        spec.capture_args = capture_args
        spec.capture_result = capture_result
        spec.usage = usage
        if inspect.isasyncgenfunction(fn):
            wrapper: Callable[..., Any] = _async_generator_wrapper(fn, spec)
        elif inspect.iscoroutinefunction(fn):
            wrapper = _coroutine_wrapper(fn, spec)
        elif inspect.isgeneratorfunction(fn):
            wrapper = _generator_wrapper(fn, spec)
        else:
            wrapper = _function_wrapper(fn, spec)
        return cast(F, functools.wraps(fn)(wrapper))

    return decorate


class _Spec:
    """What one decorated function records on every call, computed once."""

    __slots__ = (
        "_signature",
        "_simple_names",
        "attributes",
        "capture_args",
        "capture_result",
        "fn",
        "span_name",
        "usage",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        system: str | None,
        model: str | None,
        operation: str,
        name: str | None,
        attributes: Mapping[str, Any] | None,
    ) -> None:
        self.fn = fn
        qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "llm_call")
        self.span_name = name or (f"{operation} {model}" if model else str(qualname))
        attrs: dict[str, Any] = {}
        if system:
            attrs[semconv.GEN_AI_SYSTEM] = system
            attrs[semconv.GEN_AI_PROVIDER_NAME] = system
        if model:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = model
        if operation:
            attrs[semconv.GEN_AI_OPERATION_NAME] = operation
        attrs.update(attributes or {})
        self.attributes = attrs
        self.capture_args = True
        self.capture_result = True
        self.usage: UsageExtractor | None = None
        self._signature: Any = _NOTHING  # inspect.Signature, None (none), or not yet read
        self._simple_names: tuple[str, ...] | None = None

    def bound_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self._signature is _NOTHING:
            self._read_signature()
        simple = self._simple_names
        # Fast path (inspect's binding is the costliest step of a traced call): plain
        # parameters only, called with at most that many positionals and known keywords.
        if simple is not None and len(args) <= len(simple):
            bound = dict(zip(simple, args, strict=False))  # args may be fewer
            if not kwargs or all(k in simple and k not in bound for k in kwargs):
                bound.update(kwargs)
                return {k: v for k, v in bound.items() if k not in _SKIPPED_PARAMETERS}
        signature = self._signature
        if signature is not None:
            try:
                arguments = signature.bind_partial(*args, **kwargs).arguments
                return {k: v for k, v in arguments.items() if k not in _SKIPPED_PARAMETERS}
            except TypeError:  # the call itself is wrong; the function will say so
                pass
        return {"args": list(args), "kwargs": kwargs} if kwargs else {"args": list(args)}

    def _read_signature(self) -> None:
        try:
            signature = inspect.signature(self.fn)
        except (TypeError, ValueError):  # some builtins and C callables have none
            self._signature = None
            return
        params = signature.parameters.values()
        if all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params):
            self._simple_names = tuple(p.name for p in params)
        self._signature = signature


class _Call:
    """One traced call: the span and everything measured until it ends.

    Every method catches its own errors: a tracing failure never reaches the user's call.
    """

    __slots__ = (
        "child_usage",
        "chunks",
        "first_chunk_ns",
        "live",
        "span",
        "spec",
        "start_ns",
        "streaming",
        "text",
        "text_len",
        "usage",
    )

    def __init__(
        self, spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any], streaming: bool
    ) -> None:
        self.spec = spec
        self.streaming = streaming
        self.span: Any = None
        self.live = False
        self.child_usage = False
        self.chunks = 0
        self.first_chunk_ns = 0
        self.text: list[str] = []
        self.text_len = 0
        self.usage: dict[str, int] = {}
        self.start_ns = time.perf_counter_ns()
        try:
            tracer = noveum_trace.get_tracer(_TRACER_NAME)
            span = tracer.start_span(spec.span_name, kind=SpanKind.CLIENT)
            self.span = span
            self.live = span.is_recording()
            if not self.live:
                return
            set_attribute = span.set_attribute  # per key: the span's fast path for primitives
            for key, value in spec.attributes.items():
                set_attribute(key, value)
            if streaming:
                span.set_attribute(semconv.LLM_STREAMING, True)
            if spec.capture_args and active_config().capture_content:
                prompt = spec.bound_arguments(args, kwargs)
                span.add_event(semconv.EVENT_CONTENT_PROMPT, {semconv.GEN_AI_PROMPT: prompt})
        except Exception as exc:  # the span, if any, still ends in finish()
            internal_error("decorator.start", exc)

    # ---- context: the span is current while the user's code runs ----------------------

    def enter(self) -> tuple[object, object, LLMScope | None]:
        try:
            scope, scope_token = open_scope()
            span_token = attach_span(self.span) if self.span is not None else None
            return span_token, scope_token, scope
        except Exception as exc:
            internal_error("decorator.enter", exc)
            return None, None, None

    def exit(self, tokens: tuple[object, object, LLMScope | None]) -> None:
        span_token, scope_token, scope = tokens
        try:
            if span_token is not None:
                detach(span_token)
            if scope is not None:
                close_scope(scope_token)
                self.child_usage = self.child_usage or scope.child_recorded_usage
        except Exception as exc:
            internal_error("decorator.exit", exc)

    # ---- streaming ----------------------------------------------------------------------

    def on_chunk(self, chunk: Any) -> None:
        if not self.live:
            return
        try:
            self.chunks += 1
            if self.chunks == 1:
                self.first_chunk_ns = time.perf_counter_ns()
            if self.spec.capture_result and self.text_len <= active_config().max_content_length:
                text = chunk if isinstance(chunk, str) else _delta_text(chunk)
                if text:
                    self.text.append(text)
                    self.text_len += len(text)
            found = self._usage_of(chunk)
            if found:
                self.usage.update(found)
        except Exception as exc:
            internal_error("decorator.chunk", exc)

    # ---- the end ------------------------------------------------------------------------

    def finish(self, result: Any = _NOTHING, error: BaseException | None = None) -> None:
        if not self.live:
            return
        self.live = False  # ends exactly once, whatever calls it next
        span = self.span
        try:
            end_ns = time.perf_counter_ns()
            span.set_attribute(semconv.LLM_LATENCY_MS, (end_ns - self.start_ns) / 1e6)
            if self.streaming:
                self._stream_attributes()
            if error is not None:
                self._error(error)
            elif self.spec.capture_result and active_config().capture_content:
                completion = "".join(self.text) if self.text else result
                if completion is not _NOTHING and completion is not None:
                    span.add_event(
                        semconv.EVENT_CONTENT_COMPLETION, {semconv.GEN_AI_COMPLETION: completion}
                    )
            if error is None and result is not _NOTHING:
                found = self._usage_of(result)
                if found:
                    self.usage.update(found)
            self._record_usage(result, end_ns)
        except Exception as exc:
            internal_error("decorator.finish", exc)
        finally:
            span.end()

    def _stream_attributes(self) -> None:
        span = self.span
        span.set_attribute(semconv.LLM_CHUNKS_COUNT, self.chunks)
        if self.first_chunk_ns:
            ttft_ns = self.first_chunk_ns - self.start_ns
            span.set_attribute(semconv.LLM_TIME_TO_FIRST_TOKEN_MS, ttft_ns / 1e6)
            span.set_attribute(semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttft_ns / 1e9)

    def _error(self, error: BaseException) -> None:
        span = self.span
        span.record_exception(error, escaped=True)
        span.set_status(StatusCode.ERROR, f"{type(error).__name__}: {error}")
        kind = type(error)
        module = kind.__module__
        span.set_attribute(
            semconv.ERROR_TYPE,
            kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}",
        )

    def _usage_of(self, value: Any) -> dict[str, int] | None:
        extractor = self.spec.usage
        if extractor is None:
            return _provider_usage(value)
        try:
            mapping = extractor(value)
        except Exception as exc:  # the user's extractor: count it, never raise it
            internal_error("decorator.usage", exc)
            return None
        return _normalise_usage(mapping) if isinstance(mapping, Mapping) else None

    def _record_usage(self, result: Any, end_ns: int) -> None:
        usage = self.usage
        # The nesting rule (module docstring): a child client span already holds the tokens.
        if not usage or self.child_usage:
            return
        span = self.span
        inputs = usage.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)
        outputs = usage.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        if semconv.GEN_AI_USAGE_TOTAL_TOKENS not in usage and inputs is not None and outputs:
            usage[semconv.GEN_AI_USAGE_TOTAL_TOKENS] = inputs + outputs
        span.set_attributes(usage)
        if outputs:
            since = self.first_chunk_ns or self.start_ns
            seconds = (end_ns - since) / 1e9
            if seconds > 0:
                span.set_attribute(semconv.LLM_TOKENS_PER_SECOND, outputs / seconds)
        response_model = _attr(result, "model")
        if isinstance(response_model, str) and response_model:
            span.set_attribute(semconv.GEN_AI_RESPONSE_MODEL, response_model)
        response_id = _attr(result, "id")
        if isinstance(response_id, str) and response_id:
            span.set_attribute(semconv.GEN_AI_RESPONSE_ID, response_id)
        note_child_usage()  # an enclosing decorated call must not count these again


# ---- usage by duck typing (no import of openai / anthropic) -----------------------------


def _attr(obj: Any, name: str) -> Any:
    if obj is None or obj is _NOTHING:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _normalise_usage(mapping: Mapping[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for attribute, keys in _USAGE_KEYS.items():
        for key in (attribute, *keys):
            value = _int(mapping.get(key))
            if value is not None:
                out[attribute] = value
                break
    return out


def _provider_usage(value: Any) -> dict[str, int] | None:
    """Token usage of an OpenAI or Anthropic response (or stream event), in OTel terms."""
    if type(value) in _PLAIN_TYPES:  # the common decorated result: no usage to look for
        return None
    usage = _attr(value, "usage")
    if usage is None:  # Anthropic's message_start event carries it on .message
        usage = _attr(_attr(value, "message"), "usage")
    if usage is None or isinstance(usage, (int, float, str)):
        return None
    out: dict[str, int] = {}
    prompt = _int(_attr(usage, "prompt_tokens"))
    if prompt is not None:  # OpenAI chat completions / embeddings
        out[semconv.GEN_AI_USAGE_INPUT_TOKENS] = prompt
        completion = _int(_attr(usage, "completion_tokens"))
        if completion is not None:
            out[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = completion
        details = _attr(usage, "prompt_tokens_details")
        reasoning = _int(_attr(_attr(usage, "completion_tokens_details"), "reasoning_tokens"))
    else:
        inputs = _int(_attr(usage, "input_tokens"))
        outputs = _int(_attr(usage, "output_tokens"))
        cache_read = _int(_attr(usage, "cache_read_input_tokens"))
        cache_write = _int(_attr(usage, "cache_creation_input_tokens"))
        anthropic = _attr(value, "type") in _ANTHROPIC_EVENT_TYPES
        if anthropic or cache_read is not None or cache_write is not None:
            # Anthropic: input_tokens excludes the cache; OpenTelemetry's includes it.
            if inputs is not None or cache_read or cache_write:
                out[semconv.GEN_AI_USAGE_INPUT_TOKENS] = (
                    (inputs or 0) + (cache_read or 0) + (cache_write or 0)
                )
            if cache_read is not None:
                out[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
            if cache_write is not None:
                out[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_write
            if outputs is not None:
                out[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = outputs
            return out or None
        # OpenAI Responses API
        if inputs is not None:
            out[semconv.GEN_AI_USAGE_INPUT_TOKENS] = inputs
        if outputs is not None:
            out[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = outputs
        details = _attr(usage, "input_tokens_details")
        reasoning = _int(_attr(_attr(usage, "output_tokens_details"), "reasoning_tokens"))
    total = _int(_attr(usage, "total_tokens"))
    if total is not None and out:
        out[semconv.GEN_AI_USAGE_TOTAL_TOKENS] = total
    # OpenAI counts cached and cache-written tokens inside the input, as OpenTelemetry does.
    cached = _int(_attr(details, "cached_tokens"))
    if cached:
        out[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    cache_written = _int(_attr(details, "cache_write_tokens"))
    if cache_written:
        out[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_written
    if reasoning:
        out[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return out or None


def _delta_text(chunk: Any) -> str | None:
    """The text of an OpenAI chat chunk or an Anthropic ``content_block_delta`` event."""
    choices = _attr(chunk, "choices")
    if isinstance(choices, list) and choices:
        content = _attr(_attr(choices[0], "delta"), "content")
        return content if isinstance(content, str) else None
    text = _attr(_attr(chunk, "delta"), "text")
    return text if isinstance(text, str) else None


# ---- the four wrapper shapes ------------------------------------------------------------
# Python needs a distinct function kind for each shape (so ``inspect`` keeps seeing what the
# user wrote); all the tracing logic lives in ``_Call``, the wrappers only drive it.


def _function_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def traced(*args: Any, **kwargs: Any) -> Any:
        call = _Call(spec, args, kwargs, streaming=False)
        tokens = call.enter()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            call.exit(tokens)
            call.finish(error=exc)
            raise
        call.exit(tokens)
        call.finish(result)
        return result

    return traced


def _coroutine_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def traced(*args: Any, **kwargs: Any) -> Any:
        call = _Call(spec, args, kwargs, streaming=False)
        tokens = call.enter()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            call.exit(tokens)
            call.finish(error=exc)
            raise
        call.exit(tokens)
        call.finish(result)
        return result

    return traced


def _generator_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def traced(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = _Call(spec, args, kwargs, streaming=True)
        try:
            inner = fn(*args, **kwargs)
        except BaseException as exc:
            call.finish(error=exc)
            raise
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            # The span is current only while the generator's own code runs, never while it
            # is suspended at a yield: the consumer's context stays its own.
            tokens = call.enter()
            try:
                item = inner.send(sent) if thrown is None else inner.throw(thrown)
            except StopIteration as stop:
                call.exit(tokens)
                call.finish()
                return stop.value
            except BaseException as exc:
                call.exit(tokens)
                call.finish(error=exc)
                raise
            call.exit(tokens)
            thrown = None
            call.on_chunk(item)
            try:
                sent = yield item
            except GeneratorExit:  # close(), break out of a for loop, garbage collection
                _close(call, inner.close)
                raise
            except BaseException as exc:  # gen.throw(): hand it to the inner generator
                thrown, sent = exc, None

    return traced


def _close(call: _Call, close: Callable[[], Any]) -> None:
    tokens = call.enter()
    try:
        close()
    except BaseException as exc:
        call.exit(tokens)
        call.finish(error=exc)
        raise
    call.exit(tokens)
    call.finish()


def _async_generator_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def traced(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = _Call(spec, args, kwargs, streaming=True)
        try:
            inner = fn(*args, **kwargs)
        except BaseException as exc:
            call.finish(error=exc)
            raise
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            tokens = call.enter()
            try:
                if thrown is None:
                    item = await inner.asend(sent)
                else:
                    item = await inner.athrow(thrown)
            except StopAsyncIteration:
                call.exit(tokens)
                call.finish()
                return
            except BaseException as exc:
                call.exit(tokens)
                call.finish(error=exc)
                raise
            call.exit(tokens)
            thrown = None
            call.on_chunk(item)
            try:
                sent = yield item
            except GeneratorExit:  # aclose(), break, or the event loop finalising it
                tokens = call.enter()
                try:
                    await inner.aclose()
                except BaseException as exc:
                    call.exit(tokens)
                    call.finish(error=exc)
                    raise
                call.exit(tokens)
                call.finish()
                raise
            except BaseException as exc:
                thrown, sent = exc, None

    return traced
