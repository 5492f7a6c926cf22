"""Auto-instrumentation of the official ``openai`` client (1.x, 2.x and 3.x).

    from noveum_trace.instrumentation import openai
    openai.instrument_openai()      # idempotent; returns True when it changed anything
    openai.uninstrument_openai()

Through the one seam of the clients Stainless generates (``_stainless``): ``OpenAI.request``
and ``AsyncOpenAI.request`` (and so Azure's clients), which every call shape goes through
(``create``, ``parse``, ``.stream(...)`` helpers, ``with_raw_response``,
``with_streaming_response``, sync and async, clients built before or after instrumenting).
``chat.completions``, ``responses`` and ``embeddings`` POSTs are traced; other routes pass
through untouched. This module and ``_openai_map`` are the map.

Streams: ``llm.chunks_count`` counts the chunks that carried model output (a non-empty
content or refusal delta, or a tool-call delta, in any choice; for the Responses API, an
event whose type ends in ``.delta``). The time to first token is the first such chunk: the
role-only first chunk, finish-reason or usage-only chunks, Azure's ``prompt_filter_results``
chunk and ``response.created`` are bookkeeping and count for neither. A Responses stream
that ends with ``response.failed`` or an ``error`` event ends its span with error status and
``error.type`` the error's code; a chat stream's error makes the client raise, and the span
records that exception.

``openai_include_usage`` (off by default) asks a streamed chat call for its token usage
(``stream_options.include_usage``) when the user did not, and keeps that extra usage-only
chunk out of the user's iteration. It is never added to ``with_raw_response`` or
``with_streaming_response`` calls, whose users can read the raw SSE lines: those streams
carry token usage only when the user asks for it.
"""

from __future__ import annotations

from noveum_trace import semconv
from noveum_trace.instrumentation import _openai_map as m
from noveum_trace.instrumentation._stainless import ClientShape, Seam, Vendor

__all__ = ["instrument_openai", "uninstrument_openai"]

_SEAM = Seam(
    Vendor(
        name=semconv.PROVIDER_OPENAI,
        scope="noveum_trace.instrumentation.openai",
        routes=m.ROUTES,
        operations=m.OPERATIONS,
        request=m.attributes,
        started=m.started,
        record=m.record_response,
        accumulator=m.accumulator,
    )
)


def instrument_openai() -> bool:
    """Trace every chat, responses and embeddings call of ``openai`` clients.

    Returns True when it changed anything (False: already instrumented, or no ``openai``).
    """
    try:
        import openai
    except ImportError:
        return False
    from noveum_trace._compat import openai as compat

    return _SEAM.instrument(
        ClientShape(
            clients=((openai.OpenAI, False), (openai.AsyncOpenAI, True)),
            stream=openai.Stream,
            async_stream=openai.AsyncStream,
            iterator=compat.STREAM_ITERATOR,
            raw_header=compat.raw_response_header(),
            version=getattr(openai, "__version__", None),
        )
    )


def uninstrument_openai() -> bool:
    """Undo ``instrument_openai``; True when it changed anything (False: not instrumented)."""
    return _SEAM.uninstrument()
