"""``@trace_llm_call``: every function shape, what each span carries, and the nesting rule.

Spans are read back from the trace files (``noveum_trace.read_traces``). Provider objects are
the real ``openai`` / ``anthropic`` types, built from the recorded responses in
``/work/shared/cassettes`` or returned by the real clients over ``httpx2.MockTransport``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import inspect
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import noveum_trace
from noveum_trace import semconv
from noveum_trace.instrumentation import trace_llm_call

from .conftest import Traces
from .shared_paths import CASSETTES
from .test_guide_manual import guide_block

CLIENT = 3  # OTLP SpanKind CLIENT


def _spans(traces: Traces) -> list[dict[str, Any]]:
    return sorted(traces.spans(), key=lambda s: s["start_time_unix_nano"])


def _one(traces: Traces) -> dict[str, Any]:
    spans = _spans(traces)
    assert len(spans) == 1, [s["name"] for s in spans]
    return spans[0]


def _event(span: dict[str, Any], name: str) -> dict[str, Any]:
    found = [e["attributes"] for e in span["events"] if e["name"] == name]
    assert len(found) == 1, span["events"]
    return found[0]


def _has_event(span: dict[str, Any], name: str) -> bool:
    return any(e["name"] == name for e in span["events"])


# ---- the guide's snippet, verbatim --------------------------------------------------------


def test_guide_llm_decorators_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the snippet logs to the default ./traces
    monkeypatch.delenv("NOVEUM_TRACE_LOG_DIRECTORY", raising=False)
    namespace: dict[str, Any] = {"__name__": "guide_snippet"}
    try:
        exec(compile(guide_block("LLM Decorators"), "guide", "exec"), namespace)
        assert namespace["answer"] == "Answer to: What is Python?"
        assert namespace["text"] == "Generated text for: Write a poem about AI"
        noveum_trace.flush()
        spans = {span["name"]: span for span in noveum_trace.read_traces(tmp_path / "traces")}
    finally:
        noveum_trace.shutdown()
    assert set(spans) == {"chat gpt-3.5-turbo", "completion claude-3-haiku"}
    ask = spans["chat gpt-3.5-turbo"]
    assert ask["kind"] == CLIENT and ask["service_name"] == "decorator-app"
    assert ask["attributes"][semconv.GEN_AI_SYSTEM] == "openai"
    assert ask["attributes"][semconv.GEN_AI_PROVIDER_NAME] == "openai"
    assert ask["attributes"][semconv.GEN_AI_REQUEST_MODEL] == "gpt-3.5-turbo"
    assert ask["attributes"][semconv.GEN_AI_OPERATION_NAME] == "chat"
    assert ask["attributes"][semconv.LLM_LATENCY_MS] >= 0
    prompt = _event(ask, semconv.EVENT_CONTENT_PROMPT)[semconv.GEN_AI_PROMPT]
    assert json.loads(prompt) == {"question": "What is Python?"}
    completion = _event(ask, semconv.EVENT_CONTENT_COMPLETION)[semconv.GEN_AI_COMPLETION]
    assert completion == "Answer to: What is Python?"
    generate = spans["completion claude-3-haiku"]
    assert generate["attributes"][semconv.GEN_AI_SYSTEM] == "anthropic"
    assert generate["attributes"][semconv.GEN_AI_OPERATION_NAME] == "completion"
    assert json.loads(_event(generate, semconv.EVENT_CONTENT_PROMPT)[semconv.GEN_AI_PROMPT]) == {
        "prompt": "Write a poem about AI"
    }
    assert semconv.GEN_AI_USAGE_COST not in generate["attributes"]  # no usage, no cost


# ---- the four shapes ------------------------------------------------------------------------


def _assert_basics(span: dict[str, Any], name: str) -> None:
    assert span["name"] == name
    assert span["kind"] == CLIENT
    assert span["scope"]["name"] == "noveum_trace.decorators"
    assert span["attributes"][semconv.LLM_LATENCY_MS] >= 0
    assert span["status"]["code"] == "UNSET"


def test_plain_function(traced: Traces) -> None:
    @trace_llm_call(system="openai", model="gpt-4o", attributes={"app.user_tier": "gold"})
    def ask(question: str, temperature: float = 0.2, **extra: Any) -> dict[str, str]:
        return {"answer": question.upper()}

    assert ask("why?", temperature=0.5, tag="x") == {"answer": "WHY?"}
    span = _one(traced)
    _assert_basics(span, "chat gpt-4o")
    assert span["attributes"]["app.user_tier"] == "gold"
    assert semconv.LLM_STREAMING not in span["attributes"]
    prompt = json.loads(_event(span, semconv.EVENT_CONTENT_PROMPT)[semconv.GEN_AI_PROMPT])
    assert prompt == {"question": "why?", "temperature": 0.5, "extra": {"tag": "x"}}
    completion = _event(span, semconv.EVENT_CONTENT_COMPLETION)[semconv.GEN_AI_COMPLETION]
    assert json.loads(completion) == {"answer": "WHY?"}


async def test_async_function(traced: Traces) -> None:
    @trace_llm_call(system="anthropic", model="claude-3-5-haiku", operation="chat")
    async def ask(question: str) -> str:
        await asyncio.sleep(0)
        assert noveum_trace.get_current_span().get_span_context().is_valid
        return "async " + question

    assert await ask("hello") == "async hello"
    span = _one(traced)
    _assert_basics(span, "chat claude-3-5-haiku")
    assert _event(span, semconv.EVENT_CONTENT_COMPLETION) == {
        semconv.GEN_AI_COMPLETION: "async hello"
    }


def test_generator_covers_the_whole_iteration(traced: Traces) -> None:
    @trace_llm_call(system="openai", model="gpt-4o-mini")
    def stream(prompt: str) -> Iterator[str]:
        yield from ("Once", " upon", " a", " time")
        return None

    chunks = []
    for chunk in stream("story"):
        chunks.append(chunk)
        assert not _spans(traced)  # still open while the consumer iterates
    assert "".join(chunks) == "Once upon a time"
    span = _one(traced)
    _assert_basics(span, "chat gpt-4o-mini")
    attrs = span["attributes"]
    assert attrs[semconv.LLM_STREAMING] is True
    assert attrs[semconv.LLM_CHUNKS_COUNT] == 4
    assert 0 <= attrs[semconv.LLM_TIME_TO_FIRST_TOKEN_MS] <= attrs[semconv.LLM_LATENCY_MS]
    assert attrs[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] == pytest.approx(
        attrs[semconv.LLM_TIME_TO_FIRST_TOKEN_MS] / 1000
    )
    assert _event(span, semconv.EVENT_CONTENT_COMPLETION) == {
        semconv.GEN_AI_COMPLETION: "Once upon a time"
    }


async def test_async_generator(traced: Traces) -> None:
    @trace_llm_call(system="anthropic", model="claude-haiku-4-5")
    async def stream(prompt: str) -> AsyncIterator[str]:
        for word in ("a", "b", "c"):
            await asyncio.sleep(0)
            yield word

    @trace_llm_call(name="empty")
    async def empty() -> AsyncIterator[str]:
        return
        yield  # an async generator that yields nothing

    assert [chunk async for chunk in empty()] == []
    assert [chunk async for chunk in stream("p")] == ["a", "b", "c"]
    spans = traced.by_name()
    assert spans["empty"]["attributes"][semconv.LLM_CHUNKS_COUNT] == 0
    assert semconv.LLM_TIME_TO_FIRST_TOKEN_MS not in spans["empty"]["attributes"]
    span = spans["chat claude-haiku-4-5"]
    _assert_basics(span, "chat claude-haiku-4-5")
    assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == 3
    assert span["attributes"][semconv.LLM_STREAMING] is True
    assert semconv.LLM_TIME_TO_FIRST_TOKEN_MS in span["attributes"]


def test_generator_send_and_return_value_pass_through(traced: Traces) -> None:
    @trace_llm_call(model="gpt-4o")
    def echo() -> Any:
        received = yield "ready"
        while received != "stop":
            received = yield f"got {received}"
        return "finished"

    gen = echo()
    assert next(gen) == "ready"
    assert gen.send("x") == "got x"
    with pytest.raises(StopIteration) as stop:
        gen.send("stop")
    assert stop.value.value == "finished"
    assert _one(traced)["attributes"][semconv.LLM_CHUNKS_COUNT] == 2


@pytest.mark.parametrize("how", ["break", "close", "gc", "throw"])
def test_generator_span_ends_exactly_once_on_early_exit(traced: Traces, how: str) -> None:
    finalised: list[str] = []

    @trace_llm_call(model="gpt-4o")
    def stream() -> Iterator[int]:
        try:
            yield from range(100)
        finally:
            finalised.append("inner cleanup ran")

    gen = stream()
    assert next(gen) == 0
    if how == "break":
        for _ in gen:
            break
        del gen
    elif how == "close":
        gen.close()
        gen.close()  # idempotent
    elif how == "gc":
        del gen
        gc.collect()
    else:
        with pytest.raises(KeyError):
            gen.throw(KeyError("stop"))
    gc.collect()
    spans = _spans(traced)
    assert len(spans) == 1
    assert finalised == ["inner cleanup ran"]
    assert spans[0]["attributes"][semconv.LLM_CHUNKS_COUNT] >= 1
    expected = "ERROR" if how == "throw" else "UNSET"
    assert spans[0]["status"]["code"] == expected


async def test_async_generator_ends_once_on_aclose_and_break(traced: Traces) -> None:
    @trace_llm_call(model="gpt-4o")
    async def stream() -> AsyncIterator[int]:
        for i in range(100):
            yield i

    gen = stream()
    assert await gen.__anext__() == 0
    await gen.aclose()
    await gen.aclose()
    agen = stream()
    async for _ in agen:
        break
    await agen.aclose()
    spans = _spans(traced)
    assert len(spans) == 2
    assert all(span["status"]["code"] == "UNSET" for span in spans)


def test_error_mid_stream_is_recorded_and_propagates(traced: Traces) -> None:
    boom = ConnectionError("stream cut")

    @trace_llm_call(model="gpt-4o")
    def stream() -> Iterator[str]:
        yield "partial"
        raise boom

    gen = stream()
    assert next(gen) == "partial"
    with pytest.raises(ConnectionError) as caught:
        next(gen)
    assert caught.value is boom
    span = _one(traced)
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"][semconv.ERROR_TYPE] == "ConnectionError"
    assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == 1


# ---- errors, naming, metadata -----------------------------------------------------------------


class ProviderDown(Exception):
    pass


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_exceptions_are_recorded_and_reraised_unchanged(traced: Traces, kind: str) -> None:
    error = ProviderDown("503 from upstream")

    @trace_llm_call(system="openai", model="gpt-4o")
    def sync_call(q: str) -> str:
        raise error

    @trace_llm_call(system="openai", model="gpt-4o")
    async def async_call(q: str) -> str:
        raise error

    with pytest.raises(ProviderDown) as caught:
        if kind == "sync":
            sync_call("q")
        else:
            asyncio.run(async_call("q"))
    assert caught.value is error
    span = _one(traced)
    assert span["status"] == {"code": "ERROR", "message": "ProviderDown: 503 from upstream"}
    assert span["attributes"][semconv.ERROR_TYPE] == f"{__name__}.ProviderDown"
    exception = _event(span, semconv.EVENT_EXCEPTION)
    assert exception[semconv.EXCEPTION_MESSAGE] == "503 from upstream"
    assert not _has_event(span, semconv.EVENT_CONTENT_COMPLETION)


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


@pytest.mark.parametrize("kind", ["function", "coroutine", "generator"])
def test_an_exception_whose_str_raises_passes_through_and_fails_the_span(
    traced: Traces, kind: str
) -> None:
    error = Unprintable()

    @trace_llm_call(model="gpt-4o")
    def function() -> None:
        raise error

    @trace_llm_call(model="gpt-4o")
    async def coroutine() -> None:
        raise error

    @trace_llm_call(model="gpt-4o")
    def generator() -> Iterator[str]:
        yield "partial"
        raise error

    with pytest.raises(Unprintable) as caught:
        if kind == "function":
            function()
        elif kind == "coroutine":
            asyncio.run(coroutine())
        else:
            list(generator())
    assert caught.value is error
    span = _one(traced)
    assert span["status"]["code"] == "ERROR"
    assert span["status"]["message"].startswith("Unprintable: ")
    assert span["attributes"][semconv.ERROR_TYPE] == f"{__name__}.Unprintable"


def test_span_names(traced: Traces) -> None:
    @trace_llm_call(system="openai")
    def no_model() -> str:
        return "x"

    @trace_llm_call(model="text-embedding-3-small", operation="embeddings")
    def embed() -> list[float]:
        return [0.1]

    @trace_llm_call(model="gpt-4o", name="summarise-ticket")
    def named() -> str:
        return "x"

    no_model(), embed(), named()
    names = [span["name"] for span in _spans(traced)]
    assert names == [
        "test_span_names.<locals>.no_model",
        "embeddings text-embedding-3-small",
        "summarise-ticket",
    ]


def test_wraps_keeps_name_doc_signature_and_kind() -> None:
    def plain(a: int, b: str = "x") -> str:
        """Plain doc."""
        return b * a

    async def coro(a: int) -> int:
        """Coro doc."""
        return a

    def gen(n: int) -> Iterator[int]:
        yield n

    async def agen(n: int) -> AsyncIterator[int]:
        yield n

    for fn, check in [
        (plain, inspect.isfunction),
        (coro, inspect.iscoroutinefunction),
        (gen, inspect.isgeneratorfunction),
        (agen, inspect.isasyncgenfunction),
    ]:
        wrapped = trace_llm_call(model="gpt-4o")(fn)
        assert check(wrapped), fn
        assert wrapped.__name__ == fn.__name__ and wrapped.__qualname__ == fn.__qualname__
        assert wrapped.__doc__ == fn.__doc__ and wrapped.__wrapped__ is fn  # type: ignore[attr-defined]
        assert inspect.signature(wrapped) == inspect.signature(fn)
    assert not inspect.iscoroutinefunction(trace_llm_call()(plain))
    assert not inspect.isgeneratorfunction(trace_llm_call()(coro))


def test_self_and_cls_are_left_out_of_the_prompt(traced: Traces) -> None:
    class Assistant:
        secret_state = "internal"

        @trace_llm_call(model="gpt-4o", name="method")
        def ask(self, question: str) -> str:
            return question

        @classmethod
        @trace_llm_call(model="gpt-4o", name="classmethod")
        def make(cls, seed: int) -> int:
            return seed

    assert Assistant().ask("q1") == "q1"
    assert Assistant.make(7) == 7
    prompts = {
        span["name"]: json.loads(_event(span, semconv.EVENT_CONTENT_PROMPT)[semconv.GEN_AI_PROMPT])
        for span in _spans(traced)
    }
    assert prompts == {"method": {"question": "q1"}, "classmethod": {"seed": 7}}


def test_arguments_are_bound_by_name_for_every_parameter_kind(traced: Traces) -> None:
    @trace_llm_call(name="simple")
    def simple(question: str, model: str = "m") -> str:
        return question

    @trace_llm_call(name="kinds")
    def kinds(pos: int, /, *rest: int, flag: bool = False) -> int:
        return pos

    simple("q", model="x")
    simple(question="q2")
    kinds(1, 2, 3, flag=True)
    with pytest.raises(TypeError):
        simple("a", "b", "c")  # a wrong call still raises exactly as without the decorator
    prompts = [
        json.loads(_event(span, semconv.EVENT_CONTENT_PROMPT)[semconv.GEN_AI_PROMPT])
        for span in _spans(traced)
    ]
    assert prompts == [
        {"question": "q", "model": "x"},
        {"question": "q2"},
        {"pos": 1, "rest": [2, 3], "flag": True},
        {"args": ["a", "b", "c"]},
    ]


def test_capture_switches(traced: Traces) -> None:
    @trace_llm_call(model="gpt-4o", name="no-args", capture_args=False)
    def a(q: str) -> str:
        return "result-a"

    @trace_llm_call(model="gpt-4o", name="no-result", capture_result=False)
    def b(q: str) -> str:
        return "result-b"

    a("arg-a"), b("arg-b")
    spans = {span["name"]: span for span in _spans(traced)}
    assert not _has_event(spans["no-args"], semconv.EVENT_CONTENT_PROMPT)
    assert _has_event(spans["no-args"], semconv.EVENT_CONTENT_COMPLETION)
    assert _has_event(spans["no-result"], semconv.EVENT_CONTENT_PROMPT)
    assert not _has_event(spans["no-result"], semconv.EVENT_CONTENT_COMPLETION)


def test_capture_content_off_records_no_arguments_or_result(traces: Traces) -> None:
    traces.init(capture_content=False)

    @trace_llm_call(model="gpt-4o")
    def ask(question: str) -> str:
        return "the hidden answer"

    @trace_llm_call(model="gpt-4o")
    def stream(question: str) -> Iterator[str]:
        yield "hidden chunk"

    ask("the hidden question")
    list(stream("the hidden stream question"))
    spans = _spans(traces)
    assert len(spans) == 2 and all(span["events"] == [] for span in spans)
    assert "hidden" not in traces.raw_text()
    assert spans[1]["attributes"][semconv.LLM_CHUNKS_COUNT] == 1


def test_works_before_init_and_records_nothing(traces: Traces) -> None:

    @trace_llm_call(model="gpt-4o")
    def ask(q: str) -> str:
        return q * 2

    @trace_llm_call(model="gpt-4o")
    def stream() -> Iterator[int]:
        yield 1

    assert ask("ab") == "abab"
    assert list(stream()) == [1]
    traces.init()  # nothing was queued for it to write
    assert traces.spans() == []


def test_sdk_failures_never_reach_the_call(traced: Traces) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no str")

        __repr__ = __str__

    def broken_usage(result: Any) -> dict[str, int]:
        raise RuntimeError("bad extractor")

    @trace_llm_call(model="gpt-4o", usage=broken_usage)
    def ask(thing: Any) -> Any:
        return thing

    value = Unprintable()
    assert ask(value) is value
    span = _one(traced)
    assert span["name"] == "chat gpt-4o"
    assert noveum_trace.get_stats()["internal_errors"] >= 1


def test_the_span_is_current_inside_the_call_only(traced: Traces) -> None:
    tracer = noveum_trace.get_tracer("test")
    seen: dict[str, Any] = {}

    @trace_llm_call(model="gpt-4o", name="outer-llm")
    def ask() -> str:
        with tracer.start_span("inside") as child:
            seen["inside"] = child.get_span_context().span_id
        return "x"

    @trace_llm_call(model="gpt-4o", name="gen-llm")
    def stream() -> Iterator[int]:
        seen["in-gen"] = noveum_trace.get_current_span().get_span_context().span_id
        yield 1

    ask()
    for _ in stream():
        # between yields the consumer's context is its own
        assert not noveum_trace.get_current_span().get_span_context().is_valid
    spans = {span["name"]: span for span in _spans(traced)}
    assert spans["inside"]["parent_span_id"] == spans["outer-llm"]["span_id"]
    assert f"{seen['in-gen']:016x}" == spans["gen-llm"]["span_id"]


# ---- token usage ----------------------------------------------------------------------------


def test_usage_callable(traced: Traces) -> None:
    def usage(result: dict[str, Any]) -> dict[str, int]:
        return {
            "input_tokens": result["in"],
            "output_tokens": result["out"],
            "cache_read_tokens": 40,
            "reasoning_tokens": 10,
        }

    @trace_llm_call(system="openai", model="o4-mini", usage=usage)
    def ask() -> dict[str, Any]:
        return {"in": 100, "out": 50}

    ask()
    attrs = _one(traced)["attributes"]
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 100
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert attrs[semconv.GEN_AI_USAGE_TOTAL_TOKENS] == 150
    assert attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 40
    assert attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 10
    # o4-mini: 1.10 in, 0.275 cached, 4.40 out (reasoning at the output rate)
    assert attrs[semconv.GEN_AI_USAGE_COST] == pytest.approx(
        (60 * 1.10 + 40 * 0.275 + 50 * 4.40) / 1e6
    )


def _cassette_body(relative: str, index: int = 0) -> str:
    data = yaml.safe_load((CASSETTES / relative).read_text())
    body = data["interactions"][index]["response"]["body"]["string"]
    return str(body)


def test_openai_and_anthropic_results_are_read_automatically(traced: Traces) -> None:
    from anthropic.types import Message
    from openai.types import CreateEmbeddingResponse
    from openai.types.chat import ChatCompletion
    from openai.types.responses import Response

    completion = ChatCompletion.model_validate_json(
        _cassette_body("otel-contrib/test_chat_completion_with_content.yaml")
    )
    # openai 3.x requires a field the 2024 recording predates; zero is what it would say.
    raw = json.loads(_cassette_body("otel-contrib/test_responses_create_basic[content_mode0].yaml"))
    raw["usage"]["input_tokens_details"].setdefault("cache_write_tokens", 0)
    response = Response.model_validate(raw)
    response.usage.input_tokens_details.cached_tokens = 4  # type: ignore[union-attr]
    response.usage.output_tokens_details.reasoning_tokens = 2  # type: ignore[union-attr]
    embedding = CreateEmbeddingResponse.model_validate_json(
        _cassette_body("otel-contrib/test_embeddings_with_content.yaml")
    )
    message = Message.model_validate_json(
        _cassette_body("openinference/test_anthropic_instrumentation_messages.yaml")
    )
    message.usage.cache_read_input_tokens = 30  # exercise the Anthropic cache arithmetic
    message.usage.cache_creation_input_tokens = 20
    for name, result in [
        ("chat", completion),
        ("responses", response),
        ("embeddings", embedding),
        ("messages", message),
    ]:
        trace_llm_call(name=name)(lambda r=result: r)()
    spans = {span["name"]: span["attributes"] for span in _spans(traced)}

    chat = spans["chat"]
    assert chat[semconv.GEN_AI_USAGE_INPUT_TOKENS] == completion.usage.prompt_tokens  # type: ignore[union-attr]
    assert chat[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == completion.usage.completion_tokens  # type: ignore[union-attr]
    assert chat[semconv.GEN_AI_RESPONSE_MODEL] == "gpt-4o-mini-2024-07-18"
    assert chat[semconv.GEN_AI_RESPONSE_ID] == completion.id
    assert semconv.GEN_AI_USAGE_COST in chat  # priced by the response model
    responses = spans["responses"]
    assert responses[semconv.GEN_AI_USAGE_INPUT_TOKENS] == response.usage.input_tokens  # type: ignore[union-attr]
    assert responses[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 4
    assert responses[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] == 2
    assert spans["embeddings"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == embedding.usage.prompt_tokens
    assert semconv.GEN_AI_USAGE_OUTPUT_TOKENS not in spans["embeddings"]
    messages = spans["messages"]
    # Anthropic's input_tokens excludes the cache; OpenTelemetry's includes it.
    assert messages[semconv.GEN_AI_USAGE_INPUT_TOKENS] == message.usage.input_tokens + 50
    assert messages[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] == 30
    assert messages[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] == 20
    assert messages[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == message.usage.output_tokens


def test_usage_from_stream_chunks(traced: Traces) -> None:
    from openai.types.chat import ChatCompletionChunk

    lines = [
        line[len("data: ") :]
        for line in _cassette_body("otel-contrib/test_chat_completion_streaming.yaml").splitlines()
        if line.startswith("data: {")
    ]
    chunks = [ChatCompletionChunk.model_validate_json(line) for line in lines]
    assert chunks[-1].usage is not None, "the cassette asked for include_usage"

    @trace_llm_call(system="openai", model="gpt-4")
    def stream() -> Iterator[ChatCompletionChunk]:
        yield from chunks

    list(stream())
    attrs = _one(traced)["attributes"]
    assert attrs[semconv.LLM_CHUNKS_COUNT] == len(chunks)
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == chunks[-1].usage.completion_tokens
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    span = _one(traced)
    assert _event(span, semconv.EVENT_CONTENT_COMPLETION)[semconv.GEN_AI_COMPLETION] == text


def test_anthropic_stream_events_total_is_input_plus_final_output(traced: Traces) -> None:
    # The real API's message_delta carries only output_tokens: message_start's total (input
    # plus the first output token) must not survive it.
    from anthropic.types import RawMessageDeltaEvent, RawMessageStartEvent

    start = RawMessageStartEvent.model_validate(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": "claude-x",
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 20, "output_tokens": 1},
            },
        }
    )
    delta = RawMessageDeltaEvent.model_validate(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 50},
        }
    )

    @trace_llm_call(system="anthropic", model="claude-x")
    def stream() -> Iterator[Any]:
        yield start
        yield delta

    list(stream())
    attrs = _one(traced)["attributes"]
    assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == 20
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 50
    assert attrs[semconv.GEN_AI_USAGE_TOTAL_TOKENS] == 70


def test_usage_with_zero_output_tokens_still_has_a_total(traced: Traces) -> None:
    @trace_llm_call(system="openai", model="gpt-4o", usage=lambda r: r)
    def ask() -> dict[str, int]:
        return {"input_tokens": 5, "output_tokens": 0}

    ask()
    attrs = _one(traced)["attributes"]
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 0
    assert attrs[semconv.GEN_AI_USAGE_TOTAL_TOKENS] == 5


# ---- the nesting rule -----------------------------------------------------------------------


def test_nested_decorators_never_count_tokens_twice(traced: Traces) -> None:
    @trace_llm_call(system="openai", model="gpt-4o", name="inner", usage=lambda r: r)
    def inner() -> dict[str, int]:
        return {"input_tokens": 7, "output_tokens": 3}

    @trace_llm_call(name="outer", usage=lambda r: {"input_tokens": 7, "output_tokens": 3})
    def outer() -> str:
        inner()
        return "done"

    @trace_llm_call(name="gen-outer", usage=lambda r: {"input_tokens": 1})
    def gen_outer() -> Iterator[str]:
        inner()
        yield "x"

    outer()
    list(gen_outer())
    spans = {span["name"]: span for span in _spans(traced)}
    assert spans["inner"]["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == 7
    for parent in ("outer", "gen-outer"):
        assert semconv.GEN_AI_USAGE_INPUT_TOKENS not in spans[parent]["attributes"]
        assert semconv.GEN_AI_USAGE_COST not in spans[parent]["attributes"]
    inner_parents = {s["parent_span_id"] for s in _spans(traced) if s["name"] == "inner"}
    assert inner_parents == {spans["outer"]["span_id"], spans["gen-outer"]["span_id"]}


def _openai_client(body: str) -> Any:
    import openai
    import openai._base_client as base

    # openai 3.x speaks httpx2, 1.x and 2.x httpx: use whichever the installed client imports
    http = getattr(base, "httpx2", None) or base.httpx

    def handler(request: Any) -> Any:
        return http.Response(200, content=body, headers={"content-type": "application/json"})

    return openai.OpenAI(
        api_key="test-key-not-real",
        base_url="http://127.0.0.1:9/v1",
        max_retries=0,
        http_client=http.Client(transport=http.MockTransport(handler)),
    )


def test_decorating_a_real_client_call_counts_tokens_exactly_once(traced: Traces) -> None:
    # Whether or not the openai instrumentation is active, the tokens of the one request
    # appear once across the decorator's span and any client span beneath it.
    client = _openai_client(_cassette_body("otel-contrib/test_chat_completion_with_content.yaml"))

    @trace_llm_call(system="openai", model="gpt-4o-mini", name="app-call")
    def ask(question: str) -> Any:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )

    result = ask("Say this is a test")
    assert result.choices[0].message.content == "This is a test."
    spans = _spans(traced)
    counted = [s for s in spans if semconv.GEN_AI_USAGE_INPUT_TOKENS in s["attributes"]]
    assert len(counted) == 1
    assert counted[0]["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == 12
    app = next(s for s in spans if s["name"] == "app-call")
    assert all(s["parent_span_id"] == app["span_id"] for s in spans if s is not app)


def _instrumented(provider: str) -> Iterator[Any]:
    """Instrument ``provider`` for one test, against a fresh fake provider."""
    module = importlib.import_module(f"noveum_trace.instrumentation.{provider}")
    fake_module = importlib.import_module("noveum_trace.testing.fake_provider")
    instrument = getattr(module, f"instrument_{provider}")
    uninstrument = getattr(module, f"uninstrument_{provider}", None)
    instrument()
    try:
        with fake_module.FakeProvider() as fake:
            yield fake
    finally:
        if uninstrument is not None:
            uninstrument()


@pytest.fixture
def openai_fake() -> Iterator[Any]:
    yield from _instrumented("openai")


@pytest.fixture
def anthropic_fake() -> Iterator[Any]:
    yield from _instrumented("anthropic")


# A key that matches no built-in pattern: only the client's own registration can mask it.
CLIENT_KEY = "fake-client-key-7Qm2xR9vL4"


def _assert_nested_once(traces: Traces, parent_name: str) -> dict[str, Any]:
    spans = traces.by_name()
    parent = spans.pop(parent_name)
    (child,) = spans.values()
    assert child["parent_span_id"] == parent["span_id"]
    assert child["kind"] == CLIENT
    assert child["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] > 0
    for key in (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS):
        assert key not in parent["attributes"]
    assert semconv.GEN_AI_USAGE_COST not in parent["attributes"]
    assert CLIENT_KEY not in traces.raw_text()
    return child


def test_decorated_openai_call_nests_and_counts_tokens_once(
    traced: Traces, openai_fake: Any
) -> None:
    import openai

    client = openai.OpenAI(api_key=CLIENT_KEY, base_url=openai_fake.openai_base_url, max_retries=0)

    @trace_llm_call(system="openai", model="gpt-4o-mini", name="app-call")
    def ask(question: str) -> Any:
        return client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        )

    result = ask("Say this is a test")
    child = _assert_nested_once(traced, "app-call")
    assert child["attributes"][semconv.GEN_AI_USAGE_INPUT_TOKENS] == result.usage.prompt_tokens


def test_decorated_anthropic_call_nests_and_counts_tokens_once(
    traced: Traces, anthropic_fake: Any
) -> None:
    import anthropic

    client = anthropic.Anthropic(
        api_key=CLIENT_KEY,
        base_url=anthropic_fake.anthropic_base_url,
        max_retries=0,
        open_telemetry=False,  # the SDK's own spans would be a third span here
    )

    @trace_llm_call(system="anthropic", model="claude-haiku-4-5", name="app-call")
    async def ask(question: str) -> Any:
        return client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=64,
            messages=[{"role": "user", "content": question}],
        )

    result = asyncio.run(ask("Say this is a test"))
    child = _assert_nested_once(traced, "app-call")
    assert child["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == result.usage.output_tokens


def test_decorated_generator_over_an_instrumented_stream(traced: Traces, openai_fake: Any) -> None:
    import openai

    client = openai.OpenAI(api_key=CLIENT_KEY, base_url=openai_fake.openai_base_url, max_retries=0)

    @trace_llm_call(system="openai", model="gpt-4o-mini", name="app-stream")
    def stream(question: str) -> Iterator[str]:
        chunks = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": question}],
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    text = "".join(stream("Tell me a story"))
    assert text
    child = _assert_nested_once(traced, "app-stream")
    assert child["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] > 0
    parent = traced.by_name()["app-stream"]
    assert parent["attributes"][semconv.LLM_CHUNKS_COUNT] >= 1
    completion = _event(parent, semconv.EVENT_CONTENT_COMPLETION)[semconv.GEN_AI_COMPLETION]
    assert completion == text
