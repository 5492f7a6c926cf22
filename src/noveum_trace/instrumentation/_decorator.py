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
  unchanged (even one whose ``__str__`` raises).

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
summing tokens over a trace never counts a request twice. The duck typing reads the usage
with the vendors' own normalisers (``_openai_map`` / ``_anthropic_map.usage_attributes``),
the ones their client spans use.

The span's lifecycle is the instrumentation engine's ``Call`` (latency, stream metrics, time
to first token, tokens per second, errors, ending once); this module adds what only a
decorated function has: its arguments as the prompt, its result or yielded text as the
completion, and the nesting rule. A decorated generator the application still holds at
``shutdown()`` or exit ends there, like an instrumented stream.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, TypeVar, cast

from noveum_trace import semconv
from noveum_trace._core.tracer import PROVIDER
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace._pipeline import active_config
from noveum_trace.instrumentation import _anthropic_map, _openai_map
from noveum_trace.instrumentation._engine import Call, guarded
from noveum_trace.instrumentation._fields import as_int, get
from noveum_trace.instrumentation._llm_scope import LLMScope, close_scope, open_scope

F = TypeVar("F", bound=Callable[..., Any])
UsageExtractor = Callable[[Any], Mapping[str, Any] | None]

_TRACER = PROVIDER.get_tracer("noveum_trace.decorators")
_SKIPPED_PARAMETERS = frozenset({"self", "cls"})
_NOTHING: Any = object()
_PLAIN_TYPES = frozenset({str, bytes, int, float, bool, type(None), list, tuple})
_ANTHROPIC_EVENT_TYPES = ("message", "message_start", "message_delta")

# Keys accepted from a ``usage=`` mapping, by attribute.
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
        "model",
        "operation",
        "span_name",
        "usage",
        "vendor",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        vendor: str | None,
        model: str | None,
        operation: str,
        name: str | None,
        attributes: Mapping[str, Any] | None,
    ) -> None:
        self.fn = fn
        qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", "llm_call")
        self.span_name = name or (f"{operation} {model}" if model else str(qualname))
        self.vendor = vendor or None
        self.model = model or None
        self.operation = operation or None
        self.attributes = dict(attributes or {})
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


class _Traced:
    """One decorated call: the engine's ``Call`` plus what only a decorated function has.

    It is the call's ``Accumulator``: every item a generator yields is a chunk whose text and
    token usage it collects; ``apply`` (run by ``Call.finish``) records the completion and the
    usage. ``call`` is None when even starting the span failed: every method is then a no-op
    and the function runs untraced. Nothing here raises into the user's call.
    """

    __slots__ = (
        "call",
        "child_usage",
        "keep_text",
        "limit",
        "result",
        "spec",
        "text",
        "text_len",
        "usage",
    )

    def __init__(
        self, spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any], streaming: bool
    ) -> None:
        self.spec = spec
        self.child_usage = False
        self.result: Any = _NOTHING
        self.text: list[str] = []
        self.text_len = 0
        self.usage: dict[str, int] = {}
        self.keep_text = False
        self.limit = 0
        self.call: Call | None = None
        try:
            call = Call(
                _TRACER,
                spec.vendor,
                spec.operation,
                spec.model,
                spec.attributes,
                name=spec.span_name,
            )
        except Exception as exc:
            internal_error("decorator.start", exc)
            return
        self.call = call
        if not call.live:
            return
        call.where = "decorator"
        call.acc = self
        self.keep_text = spec.capture_result and call.capture
        if streaming:
            call.streaming = True
            call.linger()
            self.limit = active_config().max_content_length
        if spec.capture_args and call.capture:
            guarded("decorator.prompt", self._prompt, args, kwargs)

    def _prompt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.call is not None:
            prompt = self.spec.bound_arguments(args, kwargs)
            self.call.event(semconv.EVENT_CONTENT_PROMPT, {semconv.GEN_AI_PROMPT: prompt})

    # ---- context: the span is current while the user's code runs ----------------------

    def enter(self) -> tuple[object, object, LLMScope] | None:
        call = self.call
        if call is None:
            return None
        try:
            scope, scope_token = open_scope()
            return call.attach(), scope_token, scope
        except Exception as exc:
            internal_error("decorator.enter", exc)
            return None

    def exit(self, tokens: tuple[object, object, LLMScope] | None) -> None:
        if tokens is None:
            return
        span_token, scope_token, scope = tokens
        try:
            Call.detach(span_token)
            close_scope(scope_token)
            self.child_usage = self.child_usage or scope.child_recorded_usage
        except Exception as exc:
            internal_error("decorator.exit", exc)

    # ---- the lifecycle, driven by the wrappers -------------------------------------------

    def chunk(self, item: Any) -> None:
        if self.call is not None:
            self.call.on_chunk(item)  # never raises; calls `add` below

    def finish(self, result: Any = _NOTHING, error: BaseException | None = None) -> None:
        call = self.call
        if call is not None:
            self.result = result
            call.finish(error)

    def end(
        self,
        tokens: tuple[object, object, LLMScope] | None,
        result: Any = _NOTHING,
        error: BaseException | None = None,
    ) -> None:
        """The user's code returned or raised for good: leave its context, end the call."""
        self.exit(tokens)
        self.finish(result, error)

    # ---- the Accumulator --------------------------------------------------------------

    def add(self, chunk: Any) -> None:
        """Every yielded item counts as a chunk; its text and usage are kept for the end."""
        if self.keep_text and self.text_len <= self.limit:
            text = chunk if isinstance(chunk, str) else _delta_text(chunk)
            if text:
                self.text.append(text)
                self.text_len += len(text)
        self._take_usage(chunk)

    def apply(self, call: Call) -> None:
        result = self.result
        if call.error is None:
            if self.keep_text:
                completion = "".join(self.text) if self.text else result
                if completion is not _NOTHING and completion is not None:
                    call.event(
                        semconv.EVENT_CONTENT_COMPLETION, {semconv.GEN_AI_COMPLETION: completion}
                    )
            if result is not _NOTHING:
                self._take_usage(result)
        usage = self.usage
        # The nesting rule (module docstring): a child client span already holds the tokens.
        if not usage or self.child_usage:
            return
        inputs = usage.get(semconv.GEN_AI_USAGE_INPUT_TOKENS)
        outputs = usage.get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
        total = semconv.GEN_AI_USAGE_TOTAL_TOKENS
        if total not in usage and inputs is not None and outputs is not None:
            usage[total] = inputs + outputs
        call.usage(usage)  # also marks an enclosing decorated call: it must not count these
        response_model = get(result, "model")
        if isinstance(response_model, str) and response_model:
            call.set(semconv.GEN_AI_RESPONSE_MODEL, response_model)
        response_id = get(result, "id")
        if isinstance(response_id, str) and response_id:
            call.set(semconv.GEN_AI_RESPONSE_ID, response_id)

    def _take_usage(self, value: Any) -> None:
        extractor = self.spec.usage
        if extractor is None:
            found = _vendor_usage(value)
        else:
            try:
                mapping = extractor(value)
            except Exception as exc:  # the user's extractor: count it, never raise it
                internal_error("decorator.usage", exc)
                return
            found = _normalise_usage(mapping) if isinstance(mapping, Mapping) else None
        if found:
            # Later values win. A total is only as fresh as the counts it came with: Anthropic's
            # message_delta updates output_tokens alone, so message_start's total goes stale
            # and is recomputed in ``apply``.
            if semconv.GEN_AI_USAGE_TOTAL_TOKENS not in found and (
                semconv.GEN_AI_USAGE_INPUT_TOKENS in found
                or semconv.GEN_AI_USAGE_OUTPUT_TOKENS in found
            ):
                self.usage.pop(semconv.GEN_AI_USAGE_TOTAL_TOKENS, None)
            self.usage.update(found)


# ---- usage by duck typing (no import of openai / anthropic) -----------------------------


def _normalise_usage(mapping: Mapping[str, Any]) -> dict[str, int]:
    """A ``usage=`` extractor's mapping, under the semconv keys."""
    out: dict[str, int] = {}
    for attribute, keys in _USAGE_KEYS.items():
        for key in (attribute, *keys):
            value = as_int(mapping.get(key))
            if value is not None:
                out[attribute] = value
                break
    return out


def _vendor_usage(value: Any) -> dict[str, int] | None:
    """Token usage of an OpenAI or Anthropic response (or stream event), by the vendor's own
    normaliser."""
    if type(value) in _PLAIN_TYPES:  # the common decorated result: no usage to look for
        return None
    usage = get(value, "usage")
    if usage is None:  # Anthropic's message_start event carries it on .message
        usage = get(get(value, "message"), "usage")
    if usage is None or isinstance(usage, (int, float, str)):
        return None
    anthropic = get(usage, "prompt_tokens") is None and (
        get(value, "type") in _ANTHROPIC_EVENT_TYPES
        or get(usage, "cache_read_input_tokens") is not None
        or get(usage, "cache_creation_input_tokens") is not None
    )
    vendor = _anthropic_map if anthropic else _openai_map
    return vendor.usage_attributes(usage) or None


def _delta_text(chunk: Any) -> str | None:
    """The text of an OpenAI chat chunk or an Anthropic ``content_block_delta`` event."""
    choices = get(chunk, "choices")
    if isinstance(choices, list) and choices:
        content = get(get(choices[0], "delta"), "content")
        return content if isinstance(content, str) else None
    text = get(get(chunk, "delta"), "text")
    return text if isinstance(text, str) else None


# ---- the four wrapper shapes ------------------------------------------------------------
# Python needs a distinct function kind for each shape (so ``inspect`` keeps seeing what the
# user wrote); the tracing lives in ``_Traced`` and the engine's ``Call``, the wrappers only
# drive them.


def _function_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def traced(*args: Any, **kwargs: Any) -> Any:
        call = _Traced(spec, args, kwargs, streaming=False)
        tokens = call.enter()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            call.end(tokens, error=exc)
            raise
        call.end(tokens, result)
        return result

    return traced


def _coroutine_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def traced(*args: Any, **kwargs: Any) -> Any:
        call = _Traced(spec, args, kwargs, streaming=False)
        tokens = call.enter()
        try:
            result = await fn(*args, **kwargs)
        except BaseException as exc:
            call.end(tokens, error=exc)
            raise
        call.end(tokens, result)
        return result

    return traced


def _generator_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def traced(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        call = _Traced(spec, args, kwargs, streaming=True)
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
                call.end(tokens)
                return stop.value
            except BaseException as exc:
                call.end(tokens, error=exc)
                raise
            call.exit(tokens)
            thrown = None
            call.chunk(item)
            try:
                sent = yield item
            except GeneratorExit:  # close(), break out of a for loop, garbage collection
                _close(call, inner.close)
                raise
            except BaseException as exc:  # gen.throw(): hand it to the inner generator
                thrown, sent = exc, None

    return traced


def _close(call: _Traced, close: Callable[[], Any]) -> None:
    tokens = call.enter()
    try:
        close()
    except BaseException as exc:
        call.end(tokens, error=exc)
        raise
    call.end(tokens)


def _async_generator_wrapper(fn: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def traced(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        call = _Traced(spec, args, kwargs, streaming=True)
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
                call.end(tokens)
                return
            except BaseException as exc:
                call.end(tokens, error=exc)
                raise
            call.exit(tokens)
            thrown = None
            call.chunk(item)
            try:
                sent = yield item
            except GeneratorExit:  # aclose(), break, or the event loop finalising it
                tokens = call.enter()
                try:
                    await inner.aclose()
                except BaseException as exc:
                    call.end(tokens, error=exc)
                    raise
                call.end(tokens)
                raise
            except BaseException as exc:
                thrown, sent = exc, None

    return traced
