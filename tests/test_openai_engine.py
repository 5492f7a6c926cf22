"""The instrumentation engine on its own: patching, the guard, stream following.

A provider is a ``begin``/``end`` pair plus an accumulator; these tests write small ones
that misbehave on purpose, over small client classes shaped like the Stainless clients
(a ``Stream`` iterated through ``_iterator``, closed by closing its ``response``).
"""

from __future__ import annotations

import gc
import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import noveum_trace
from noveum_trace import semconv
from noveum_trace.instrumentation._engine import Call, patch, unpatch
from noveum_trace.instrumentation._streams import follow, trace_stream

from .conftest import Traces


class Response:
    def __init__(self) -> None:
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


class Stream:
    def __init__(self, items: list[Any]) -> None:
        self.response = Response()
        self._iterator = self.__stream__(items)

    def __stream__(self, items: list[Any]) -> Iterator[Any]:
        try:
            for item in items:
                if isinstance(item, Exception):
                    raise item
                yield item
        finally:
            self.response.close()

    def __iter__(self) -> Iterator[Any]:
        # as the clients do (not `yield from`): a dropped loop leaves the stream open
        for item in self._iterator:  # noqa: UP028
            yield item

    def close(self) -> None:
        self.response.close()


class Base:
    def ask(self, prompt: str) -> str:
        return prompt.upper()


class Client(Base):
    def stream(self, items: list[Any]) -> Stream:
        return Stream(items)

    def fail(self) -> None:
        raise LookupError("provider says no")

    def fail_oddly(self, error: BaseException) -> None:
        raise error

    def later(self, value: int) -> Any:  # not a coroutine function; returns an awaitable
        async def run() -> int:
            return value * 2

        return run()


class Accumulator:
    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.seen: list[Any] = []

    def add(self, chunk: Any) -> str | None:
        if self.broken:
            raise RuntimeError("our bug in add")
        self.seen.append(chunk)
        return str(chunk)

    def apply(self, call: Call) -> None:
        if self.broken:
            raise RuntimeError("our bug in apply")
        call.usage({semconv.GEN_AI_USAGE_OUTPUT_TOKENS: len(self.seen)})


def _begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
    return Call(noveum_trace.get_tracer("test.engine"), "toy", "chat", "m1", {"x.arg": 1})


def _end(call: Call, result: Any) -> Any:
    if isinstance(result, Stream):
        call.acc = Accumulator()
        trace_stream(result, call, is_async=False, iterator="_iterator")
    else:
        call.finish()
    return result


def _boom(*_: Any) -> Any:
    raise RuntimeError("our bug")


@pytest.fixture
def patched() -> Iterator[None]:
    names = ("ask", "stream", "fail", "fail_oddly")
    for name in names:
        assert patch(Client, name, _begin, _end, is_async=False)
    assert patch(Client, "later", _begin, _end, is_async=True)
    yield
    for name in (*names, "later"):
        unpatch(Client, name)


def _errors() -> int:
    return int(noveum_trace.get_stats().get("internal_errors", 0))


def test_patch_is_idempotent_and_undoable(traced: Traces, patched: None) -> None:
    assert patch(Client, "ask", _begin, _end, is_async=False) is False
    assert Client().ask("hi") == "HI"
    (span,) = traced.spans()
    assert span["name"] == "chat m1"
    assert span["kind"] == 3
    assert span["attributes"]["x.arg"] == 1
    assert span["attributes"][semconv.GEN_AI_PROVIDER_NAME] == "toy"
    assert unpatch(Client, "ask") is True
    assert "ask" not in Client.__dict__  # inherited again, as before
    assert unpatch(Client, "ask") is False
    assert Client().ask("x") == "X"
    assert len(traced.spans()) == 1


def test_async_wrapper_chosen_by_the_caller_not_by_inspect(traced: Traces, patched: None) -> None:
    import asyncio

    assert not inspect.iscoroutinefunction(Client.__dict__["later"].__wrapped__)
    assert asyncio.run(Client().later(21)) == 42
    assert len(traced.spans()) == 1


def test_a_failing_begin_leaves_the_call_alone(traced: Traces) -> None:
    patch(Client, "ask", _boom, _end, is_async=False)
    try:
        before = _errors()
        assert Client().ask("hi") == "HI"
        assert _errors() == before + 1
        assert traced.spans() == []
    finally:
        unpatch(Client, "ask")


def test_a_failing_end_returns_the_result_and_ends_the_span(traced: Traces) -> None:
    patch(Client, "ask", _begin, _boom, is_async=False)
    try:
        before = _errors()
        assert Client().ask("hi") == "HI"
        assert _errors() == before + 1
        (span,) = traced.spans()
        assert span["status"]["code"] == "UNSET"
    finally:
        unpatch(Client, "ask")


def test_provider_errors_pass_through_unchanged(traced: Traces, patched: None) -> None:
    client = Client()
    with pytest.raises(LookupError) as caught:
        client.fail()
    assert str(caught.value) == "provider says no"
    (span,) = traced.spans()
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"][semconv.ERROR_TYPE] == "LookupError"


def test_stream_followed_in_place(traced: Traces, patched: None) -> None:
    stream = Client().stream(["a", "b", "c"])
    assert type(stream) is Stream
    assert list(stream) == ["a", "b", "c"]
    assert stream.response.closed == 1
    (span,) = traced.spans()
    attrs = span["attributes"]
    assert attrs[semconv.LLM_CHUNKS_COUNT] == 3
    assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    assert attrs[semconv.LLM_TOKENS_PER_SECOND] > 0


def test_hidden_items_are_accumulated_not_delivered(traced: Traces) -> None:
    def end(call: Call, result: Any) -> Any:
        call.acc = Accumulator()
        call.hide = lambda item: item == "usage"
        trace_stream(result, call, is_async=False, iterator="_iterator")
        return result

    patch(Client, "stream", _begin, end, is_async=False)
    try:
        assert list(Client().stream(["a", "usage", "b"])) == ["a", "b"]
        (span,) = traced.spans()
        assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == 2
        assert span["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
    finally:
        unpatch(Client, "stream")


def test_a_failing_accumulator_never_touches_the_items(traced: Traces) -> None:
    def end(call: Call, result: Any) -> Any:
        call.acc = Accumulator(broken=True)
        trace_stream(result, call, is_async=False, iterator="_iterator")
        return result

    patch(Client, "stream", _begin, end, is_async=False)
    try:
        before = _errors()
        assert list(Client().stream([1, 2, 3])) == [1, 2, 3]
        assert _errors() >= before + 2  # add() and apply() both failed, both reported
        (span,) = traced.spans()
        assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == 3
    finally:
        unpatch(Client, "stream")


def test_error_mid_stream_ends_once_with_error(traced: Traces, patched: None) -> None:
    stream = Client().stream(["a", ValueError("cut"), "b"])
    got = []
    with pytest.raises(ValueError, match="cut"):
        for item in stream:
            got.append(item)
    stream.close()
    del stream
    gc.collect()
    (span,) = traced.spans()
    assert got == ["a"]
    assert span["status"]["code"] == "ERROR"
    assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == 1


def test_close_from_outside_ends_the_span(traced: Traces, patched: None) -> None:
    stream = Client().stream(["a", "b", "c"])
    assert next(iter(stream)) == "a"
    stream.close()
    assert stream.response.closed == 1
    (span,) = traced.spans()
    assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == 1


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_an_exception_whose_str_raises_passes_through_and_fails_the_span(
    traced: Traces, patched: None
) -> None:
    error = Unprintable()
    with pytest.raises(Unprintable) as caught:
        Client().fail_oddly(error)
    assert caught.value is error
    (span,) = traced.spans()
    assert span["status"]["code"] == "ERROR"
    assert span["status"]["message"].startswith("Unprintable: ")
    assert span["attributes"][semconv.ERROR_TYPE] == f"{__name__}.Unprintable"


def test_a_client_of_another_shape_plugs_in_with_follow(traced: Traces) -> None:
    # Not a Stainless client: its stream is a plain generator, which `end` replaces by ours.
    class Plain:
        def chunks(self, n: int) -> Iterator[str]:
            yield from (f"w{i}" for i in range(n))

    def end(call: Call, result: Any) -> Any:
        call.acc = Accumulator()
        return follow(result, call, is_async=False)

    assert patch(Plain, "chunks", _begin, end, is_async=False)
    try:
        assert list(Plain().chunks(3)) == ["w0", "w1", "w2"]
    finally:
        unpatch(Plain, "chunks")
    (span,) = traced.spans()
    assert span["attributes"][semconv.LLM_CHUNKS_COUNT] == 3
    assert span["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 3
