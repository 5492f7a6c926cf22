"""Following a stream: the call's span ends exactly once, when the stream does.

    follow(iterator, call, *, is_async) -> iterator
    trace_stream(stream, call, *, is_async, iterator) -> bool
    hook(obj, name, *, before=None, after=None) -> None

``follow`` wraps any (async) iterator: what a vendor's ``end`` returns in place of a
client's own iterator. ``trace_stream`` serves clients whose stream object must stay theirs:
the Stainless ``Stream`` / ``AsyncStream`` iterate through one attribute (``iterator``, the
name comes from ``_compat``) and close by closing their HTTP ``response``. We swap a
``follow`` generator into that attribute and hook ``response.close`` (``aclose``) on that one
object. The user keeps the very object the client returned, so ``isinstance``/``type``
checks, ``with``/``async with``, ``.response``, ``.close()``, the ``.stream()`` helper
managers and ``with_raw_response(...).parse()`` all behave as before, and no proxy sits in
the per-chunk path.

The span ends exactly once, on the first of:
* the stream is exhausted (ok) or the vendor raises mid-stream (error, re-raised as is);
* the response is closed from outside the iteration: ``close()``, ``with`` exit, a helper's
  ``close()`` (an error raised in the user's loop body exits through one of these too);
* the stream is dropped unfinished (``break`` and forget, never iterated) and collected:
  the span then ends at the last chunk the user received;
* ``shutdown()`` or interpreter exit while the application still holds it (``Call.linger``).

``trace_stream`` returns False (nothing changed) for a stream of another shape; the caller
then finishes the call itself. ``hook`` runs our code around one method of one object.
"""

from __future__ import annotations

import inspect
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from noveum_trace._diagnostics.guard import internal_error
from noveum_trace.instrumentation._engine import Call, guarded

__all__ = ["follow", "hook", "trace_stream"]

_perf_ns = time.perf_counter_ns


def follow(iterator: Any, call: Call, *, is_async: bool) -> Any:
    """``iterator`` (async when ``is_async``), traced: see the module docstring."""
    call.streaming = True
    call.handed_off = True
    call.last_ns = _perf_ns()  # an unread stream "ends" when its response arrived
    call.linger()
    return _async_traced(iterator, call) if is_async else _sync_traced(iterator, call)


def trace_stream(stream: Any, call: Call, *, is_async: bool, iterator: str) -> bool:
    try:
        inner = getattr(stream, iterator)
        response = stream.response
        if not hasattr(inner, "__anext__" if is_async else "__next__"):
            return False
        # Weak: the response's own attribute must not keep the client's generator alive.
        inner_ref = weakref.ref(inner)
        hook(
            response,
            "aclose" if is_async else "close",
            after=lambda: _end_unless_running(call, inner_ref()),
        )
    except Exception:
        return False
    setattr(stream, iterator, follow(inner, call, is_async=is_async))
    return True


def _end_unless_running(call: Call, inner: Any) -> None:
    """A close from outside the iteration ends the call. While the client's own generator
    runs, its ``finally`` closing the response is part of an outcome (end, error) that our
    wrapper sees and records itself."""
    if call.live and not (
        getattr(inner, "gi_running", False) or getattr(inner, "ag_running", False)
    ):
        call.finish()


def hook(
    obj: Any,
    name: str,
    *,
    before: Callable[[], None] | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """Run ``before`` / ``after`` (in a ``finally``) around ``obj.name``, guarded, on that one
    object: an instance attribute shadowing the method, async when the method is.

    Holds ``obj`` weakly (a bound method stored on ``obj`` would make a reference cycle and
    leave a dropped response to the cyclic collector instead of ending its span as soon as it
    is released) and keeps an earlier instance hook.
    """
    own: Any = obj.__dict__.get(name)  # an earlier hook of ours, already unbound from obj
    method: Any = getattr(type(obj), name, None)
    if own is None and method is None:
        return
    ref = weakref.ref(obj)
    where = f"stream.{name}"

    def original(*args: Any, **kwargs: Any) -> Any:
        if own is not None:
            return own(*args, **kwargs)
        target = ref()
        # None: the object is being collected; nothing is left to call.
        return None if target is None else method(target, *args, **kwargs)

    # Two bodies because awaiting needs an `async def`; the steps are the same.
    if inspect.iscoroutinefunction(own or method):

        async def hooked_async(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                guarded(where, before)
            try:
                pending = original(*args, **kwargs)
                return None if pending is None else await pending
            finally:
                if after is not None:
                    guarded(where, after)

        setattr(obj, name, hooked_async)
    else:

        def hooked(*args: Any, **kwargs: Any) -> Any:
            if before is not None:
                guarded(where, before)
            try:
                return original(*args, **kwargs)
            finally:
                if after is not None:
                    guarded(where, after)

        setattr(obj, name, hooked)


# The per-chunk path: two generators because an async one cannot serve a sync loop.
def _sync_traced(inner: Iterator[Any], call: Call) -> Iterator[Any]:
    next_item = iter(inner).__next__
    on_chunk = call.on_chunk
    hide = call.hide
    try:
        while True:
            item = next_item()
            if hide is not None and _hidden(hide, item):
                call.on_hidden(item)
                continue
            on_chunk(item)
            yield item
    except StopIteration:
        call.finish()
    except GeneratorExit:  # collected while suspended (e.g. after a `break`)
        call.finish(abandoned=True)
        raise
    except BaseException as exc:  # the vendor's error mid-stream, or a timeout
        call.finish(exc)
        raise


async def _async_traced(inner: AsyncIterator[Any], call: Call) -> AsyncIterator[Any]:
    next_item = inner.__aiter__().__anext__
    on_chunk = call.on_chunk
    hide = call.hide
    try:
        while True:
            item = await next_item()
            if hide is not None and _hidden(hide, item):
                call.on_hidden(item)
                continue
            on_chunk(item)
            yield item
    except StopAsyncIteration:
        call.finish()
    except GeneratorExit:
        call.finish(abandoned=True)
        raise
    except BaseException as exc:
        call.finish(exc)
        raise


def _hidden(hide: Callable[[Any], bool], item: Any) -> bool:
    try:
        return hide(item)
    except Exception as exc:
        internal_error("stream.hide", exc)
        return False
