"""A fake OpenAI and Anthropic API on loopback, for testing traced apps offline.

Fake provider
=============

``noveum_trace.testing.FakeProvider`` is a local HTTP server that speaks the real wire formats of
OpenAI (``/v1/chat/completions``, ``/v1/responses``, ``/v1/embeddings``) and Anthropic
(``/v1/messages``, ``/v1/messages/count_tokens``): JSON replies, SSE streams with token usage,
tool calls, and errors with each provider's own error body and status. Point the real ``openai``
and ``anthropic`` clients at it; no API key and no network are needed.

In a test, as a context manager::

    import anthropic, openai
    from noveum_trace.testing import FakeProvider

    with FakeProvider() as fake:
        oai = openai.OpenAI(base_url=fake.openai_base_url, api_key="test", max_retries=0)
        claude = anthropic.Anthropic(base_url=fake.anthropic_base_url, api_key="test",
                                     max_retries=0)
        reply = oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi there"}])
        print(reply.choices[0].message.content, reply.usage.prompt_tokens)  # ..., 2
        print(fake.requests[-1].json["model"])                               # gpt-4o-mini
        message = claude.messages.create(
            model="claude-sonnet-4-6", max_tokens=100,
            messages=[{"role": "user", "content": "Weather? [fake:tool]"}],
            tools=[{"name": "get_weather", "input_schema": {"type": "object"}}])
        print(message.stop_reason)                                           # tool_use

From the command line (serves until Ctrl-C; ``--help`` lists the options)::

    noveum-trace fake-provider --port 8080 [--chunk-delay 0.02]
    # or: python -m noveum_trace.testing.fake_provider --port 8080
    export OPENAI_BASE_URL=http://127.0.0.1:8080/v1 OPENAI_API_KEY=test
    export ANTHROPIC_BASE_URL=http://127.0.0.1:8080 ANTHROPIC_API_KEY=test

Timing: ``first_chunk_delay`` (``--first-chunk-delay``) passes before the first token of a stream,
or before a plain reply; ``chunk_delay`` (``--chunk-delay``) passes between streamed tokens. So
time to first token and stream duration are real and measurable.

Replies are deterministic. The reply text is ``reply=`` (``--reply``), else a fixed sentence;
streams send it one word at a time. The response ``model`` echoes the request's. Token usage counts
words: input tokens = words in all message text (system prompt / instructions, tool results and
earlier tool-call arguments included, ``[fake:...]`` tags excluded); output tokens = words in the
reply, in tool-call argument JSON and in Anthropic thinking text, plus any reasoning tokens.
``max_tokens`` / ``max_completion_tokens`` / ``max_output_tokens`` cut the reply at that many
words with the provider's "length" finish reason.

Scenarios. Choose one per request with a ``[fake:...]`` tag in the last user message text
(``"What's the weather? [fake:tool]"``) or with a request header, which the clients pass through
``extra_headers={"x-fake-scenario": "tool"}``. Combine them with commas (``[fake:tool,slow]``).

``tool``            call the first tool of the request, with arguments built from its JSON schema
                    (required properties; strings "sample", numbers 1, enums their first value).
                    ``tool_choice`` "required"/"any" or a named tool force a call without a tag;
                    a request whose last message is a tool result always gets a text reply.
                    Anthropic replies put a short text block first ("I'll call get_weather."),
                    as Claude does; its words count as output tokens.
``tools``           call every tool of the request in parallel.
``error=<status>``  fail before any body with that status (400, 401, 403, 404, 429, 500, 503,
                    529 for Anthropic overloaded, ...) and the provider's real error body.
                    A model name containing ``does-not-exist`` or ``non-existent`` gets the
                    real "model not found" error (404; 400 from the Responses API).
``stream-error``    a stream sends about half its tokens, then fails: OpenAI chat with a
                    ``data: {"error": {...}}`` event (the client raises ``openai.APIError``),
                    Responses with a ``response.failed`` event, Anthropic with
                    ``event: error`` carrying an ``overloaded_error`` (the client raises
                    ``anthropic.APIStatusError``).
                    A request that is not streamed gets a 500 (OpenAI) / 529 (Anthropic).
``error-event``     as ``stream-error``, but a Responses stream ends with an ``error`` event
                    (``code`` ``server_error``), which the client yields rather than raises.
``cached=<n>``      report n cached input tokens: OpenAI ``cached_tokens`` (part of the input
                    tokens, at most all of them), Anthropic ``cache_read_input_tokens`` (on top
                    of ``input_tokens``, as Anthropic counts them).
``cache-write=<n>`` report n Anthropic ``cache_creation_input_tokens``.
``reasoning=<n>``   report n OpenAI reasoning tokens (8 by default when the request sets
                    ``reasoning_effort`` / ``reasoning.effort``). Anthropic requests with
                    ``thinking`` enabled get a thinking block before the answer.
``words=<n>``       reply with exactly n words (the reply sentence, repeated).
``slow``            at least 0.5 s before the first token and 0.05 s between tokens.
``delay=<s>``, ``first-delay=<s>``  set the chunk delays for this request.

Header ``x-fake-reply: <text>`` replaces the reply text for one request. Unknown directives get a
400 naming them. Every request is kept in ``fake.requests`` (method, path, lower-case headers,
parsed JSON body) for assertions.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from noveum_trace.testing._fake_http import THREAD_PREFIX, FakeServer
from noveum_trace.testing._fake_scenario import Settings

__all__ = ["FakeProvider", "RecordedRequest", "main"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake provider received."""

    method: str
    path: str  # without the query string
    headers: dict[str, str]  # names in lower case
    json: Any  # the parsed body, or None when it was empty or not JSON
    query: str = ""
    body: bytes = b""


class FakeProvider:
    """A loopback OpenAI + Anthropic API server; see the module documentation."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        chunk_delay: float = 0.0,
        first_chunk_delay: float = 0.0,
        reply: str | None = None,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.settings = Settings(chunk_delay, first_chunk_delay, reply)
        self.verbose = verbose
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: FakeServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeProvider is not running; call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    def start(self) -> FakeProvider:
        if self._server is not None:
            raise RuntimeError("FakeProvider is already running")
        server = FakeServer((self.host, self.port), self.settings, self._record, self.verbose)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"{THREAD_PREFIX}-serve",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.stopping.set()  # ends any delay a streaming reply is waiting in
        server.shutdown()
        server.close_connections()
        server.server_close()
        server.join_workers()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _record(
        self, method: str, path: str, query: str, headers: dict[str, str], raw: bytes, body: Any
    ) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, headers, body, query, raw))


def main(argv: list[str] | None = None) -> int:
    """``python -m noveum_trace.testing.fake_provider``: serve until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m noveum_trace.testing.fake_provider",
        description="A fake OpenAI + Anthropic API on loopback, for offline tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument(
        "--chunk-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds between streamed tokens",
    )
    parser.add_argument(
        "--first-chunk-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="seconds before the first token (or a plain reply)",
    )
    parser.add_argument("--reply", default=None, help="the reply text")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    provider = FakeProvider(
        args.host,
        args.port,
        chunk_delay=args.chunk_delay,
        first_chunk_delay=args.first_chunk_delay,
        reply=args.reply,
        verbose=args.verbose,
    )
    try:
        provider.start()
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    print(f"Fake provider listening on {provider.url}")
    print(f"  OPENAI_BASE_URL={provider.openai_base_url}")
    print(f"  ANTHROPIC_BASE_URL={provider.anthropic_base_url}")
    print("Press Ctrl-C to stop.", flush=True)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        provider.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
