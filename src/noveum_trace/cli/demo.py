"""``noveum-trace demo``: the guide's scenarios, offline, with the real clients.

Starts the bundled fake provider on loopback, instruments ``openai`` and ``anthropic``,
points real clients at it (a dummy key; nothing leaves the machine), runs a chat call, a
streamed call, a tool call, a caught error, a multi-turn conversation, a batch and a
decorated function, then prints the resulting traces and a summary from the trace files.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TextIO

from noveum_trace import _api, semconv
from noveum_trace import _render as render
from noveum_trace.cli import fmt
from noveum_trace.cli.show import collect, print_traces
from noveum_trace.cli.source import DEFAULT_PATH, CliError, Scan, SpanFilter, Subcommands
from noveum_trace.cli.stats import print_summary, summarize
from noveum_trace.instrumentation import trace_llm_call

SERVICE = "noveum-demo"
_KEY = "demo-key-not-a-secret"
_SYSTEM = "You are a helpful assistant."
_CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
# Per-request behaviour of the fake provider (its ``x-fake-scenario`` header).
_SCENARIO = "x-fake-scenario"
_STREAMING = {_SCENARIO: "first-delay=0.15,delay=0.03"}
_TOOL = {_SCENARIO: "tool"}
_RATE_LIMITED = {_SCENARIO: "error=429"}
_CACHED = {_SCENARIO: "cached=8"}

Messages = list[dict[str, str]]


class Provider:
    """One real client pointed at the fake server; the scenarios only use these calls.

    Clients are typed ``Any``: the demo runs with two generations of each client, whose
    request TypedDicts differ.
    """

    name = ""
    model = ""
    errors: tuple[type[BaseException], ...] = ()
    client: Any

    def chat(self, messages: Messages, headers: dict[str, str] | None = None) -> str:
        raise NotImplementedError

    def stream(self, prompt: str) -> str:
        raise NotImplementedError

    def tool_call(self, prompt: str) -> str:
        raise NotImplementedError

    def failing_call(self) -> None:
        self.chat(_user("Hello?"), _RATE_LIMITED)


class OpenAIProvider(Provider):
    name = "openai"
    model = "gpt-4o-mini"

    def __init__(self, base_url: str) -> None:
        import openai

        self.errors = (openai.OpenAIError,)
        self.client = openai.OpenAI(api_key=_KEY, base_url=base_url, max_retries=0)

    def chat(self, messages: Messages, headers: dict[str, str] | None = None) -> str:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": _SYSTEM}, *messages],
            temperature=0.7,
            max_tokens=150,
            extra_headers=headers,
        )
        return str(response.choices[0].message.content or "")

    def stream(self, prompt: str) -> str:
        stream = self.client.chat.completions.create(
            model=self.model,
            messages=_user(prompt),
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=_STREAMING,
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    def tool_call(self, prompt: str) -> str:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=_user(prompt),
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Current weather for a city",
                        "parameters": _CITY_SCHEMA,
                    },
                }
            ],
            extra_headers=_TOOL,
        )
        calls = response.choices[0].message.tool_calls or []
        return ", ".join(f"{c.function.name}({c.function.arguments})" for c in calls)


class AnthropicProvider(Provider):
    name = "anthropic"
    model = "claude-3-5-haiku-20241022"

    def __init__(self, base_url: str) -> None:
        import anthropic

        self.errors = (anthropic.AnthropicError,)
        self.client = anthropic.Anthropic(api_key=_KEY, base_url=base_url, max_retries=0)

    def chat(self, messages: Messages, headers: dict[str, str] | None = None) -> str:
        response = self.client.messages.create(
            model=self.model,
            max_tokens=150,
            system=_SYSTEM,
            messages=messages,
            extra_headers=headers,
        )
        return "".join(getattr(block, "text", "") for block in response.content)

    def stream(self, prompt: str) -> str:
        with self.client.messages.stream(
            model=self.model, max_tokens=150, messages=_user(prompt), extra_headers=_STREAMING
        ) as stream:
            return "".join(stream.text_stream)

    def tool_call(self, prompt: str) -> str:
        response = self.client.messages.create(
            model=self.model,
            max_tokens=150,
            messages=_user(prompt),
            tools=[
                {
                    "name": "get_weather",
                    "description": "Current weather for a city",
                    "input_schema": _CITY_SCHEMA,
                }
            ],
            extra_headers=_TOOL,
        )
        return ", ".join(
            f"{block.name}({block.input})" for block in response.content if block.type == "tool_use"
        )


@dataclass
class Step:
    title: str
    action: Callable[[], Any]
    expect_error: tuple[type[BaseException], ...] = ()


def _steps(providers: list[Provider]) -> list[Step]:
    tracer = _api.get_tracer("noveum_trace.demo")

    def conversation(p: Provider) -> None:
        history: Messages = []
        with tracer.start_span("conversation") as span:
            span.set_attribute(semconv.CONVERSATION_ID, "conv_123")
            for turn, text in enumerate(["Hello!", "What's the weather?", "Thanks!"], 1):
                with tracer.start_span("conversation_turn") as turn_span:
                    turn_span.set_attribute(semconv.CONVERSATION_ID, "conv_123")
                    turn_span.set_attribute(semconv.CONVERSATION_TURN, turn)
                    history.append({"role": "user", "content": text})
                    # later turns resend the history: the provider serves it from its cache
                    reply = p.chat(history, _CACHED if turn > 1 else None)
                    history.append({"role": "assistant", "content": reply})

    def batch(p: Provider) -> None:
        prompts = ["What is AI?", "Explain ML", "Define NLP"]
        with tracer.start_span("batch_llm_processing") as span:
            span.set_attribute(semconv.BATCH_SIZE, len(prompts))
            span.set_attribute(semconv.BATCH_ID, "batch_123")
            for index, prompt in enumerate(prompts):
                with tracer.start_span(f"batch_item_{index}") as item:
                    item.set_attribute(semconv.BATCH_ITEM_INDEX, index)
                    p.chat(_user(prompt))

    steps: list[Step] = []
    for p in providers:
        steps += [
            Step(f"{p.name}: chat call", partial(p.chat, _user("What is machine learning?"))),
            Step(f"{p.name}: streamed call", partial(p.stream, "Tell me a short story")),
            Step(f"{p.name}: tool call", partial(p.tool_call, "What's the weather in Paris?")),
            Step(f"{p.name}: error, caught", p.failing_call, p.errors),
        ]
    first, last = providers[0], providers[-1]
    steps.append(Step(f"{first.name}: multi-turn conversation", partial(conversation, first)))
    steps.append(Step(f"{last.name}: batch of 3", partial(batch, last)))
    for p in providers:
        decorated = trace_llm_call(system=p.name, model=p.model, operation="chat")(_asker(p))
        steps.append(Step(f"{p.name}: decorated function", partial(decorated, "What is Python?")))
    return steps


def _asker(provider: Provider) -> Callable[[str], str]:
    def ask_question(question: str) -> str:
        return provider.chat(_user(question))

    return ask_question


def _user(text: str) -> Messages:
    return [{"role": "user", "content": text}]


def _instrument(name: str) -> str | None:
    """Instrument one client; the reason it cannot be used, or None."""
    try:
        importlib.import_module(name)
    except ImportError:
        return f"skipped: the {name} package is not installed (pip install 'noveum-trace[{name}]')"
    try:
        module = importlib.import_module(f"noveum_trace.instrumentation.{name}")
    except ImportError as exc:
        return f"skipped: noveum_trace.instrumentation.{name} cannot be imported ({exc})"
    try:
        getattr(module, f"instrument_{name}")()
    except Exception as exc:  # e.g. a client version it does not support
        return f"skipped: instrumenting {name} failed ({type(exc).__name__}: {exc})"
    return None


def run(args: argparse.Namespace) -> int:
    try:
        from noveum_trace.testing.fake_provider import FakeProvider
    except ImportError as exc:
        raise CliError(f"the fake provider cannot be imported ({exc})") from None
    out = sys.stdout
    style = render.Style(fmt.colour_wanted(args.color, out))
    directory = args.log_directory
    # Loopback only: keep any configured HTTP proxy out of the way.
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    available = []
    for name in ("openai", "anthropic"):
        problem = _instrument(name)
        if problem:
            out.write(f"{style(name, 'bold')}: {problem}\n")
        else:
            available.append(name)
    if not available:
        raise CliError(
            "the demo needs openai or anthropic: pip install 'noveum-trace[openai,anthropic]'"
        )
    started = time.time_ns()
    _api.init(service_name=SERVICE, log_directory=directory)
    failures = 0
    with FakeProvider(chunk_delay=0.01, first_chunk_delay=0.04) as fake:
        providers: list[Provider] = []
        if "openai" in available:
            providers.append(OpenAIProvider(fake.openai_base_url))
        if "anthropic" in available:
            providers.append(AnthropicProvider(fake.anthropic_base_url))
        out.write(
            style(f"running the guide's scenarios against the fake provider at {fake.url}", "bold")
            + "\n"
        )
        for step in _steps(providers):
            failures += not _run_step(step, out, style)
    _api.shutdown()
    out.write(f"\ntraces written to {os.path.abspath(directory)}\n")
    filt = SpanFilter(service=SERVICE, since_ns=started)
    out.write("\n" + style("── the traces (noveum-trace show) ──", "bold") + "\n\n")
    traces = collect(Scan(directory).spans(), filt, limit=0)
    print_traces(traces, out, style, args.content, False)
    out.write("\n" + style("── the summary (noveum-trace stats) ──", "bold") + "\n\n")
    print_summary(summarize(Scan(directory).spans(), filt), out, style, False)
    out.write(
        "\nlook again with:\n"
        f"  noveum-trace show {directory} --content\n"
        f"  noveum-trace stats {directory}\n"
        f"  noveum-trace export {directory} --format csv -o spans.csv\n"
        f"  noveum-trace ui {directory}    (the viewer, in your browser)\n"
    )
    return 1 if failures else 0


def _run_step(step: Step, out: TextIO, style: render.Style) -> bool:
    try:
        result = step.action()
    except step.expect_error as exc:  # the scenario's own error: recorded on its span
        out.write(f"  {style('✓', 'green')} {step.title}: {type(exc).__name__}\n")
        return True
    except Exception as exc:
        out.write(f"  {style('✗', 'red')} {step.title}: {type(exc).__name__}: {exc}\n")
        return False
    if step.expect_error:
        out.write(f"  {style('✗', 'red')} {step.title}: no error was raised\n")
        return False
    summary = render.one_line(str(result), 60) if isinstance(result, str) and result else "done"
    out.write(f"  {style('✓', 'green')} {step.title}: {summary}\n")
    return True


def add_parser(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the guide's scenarios offline and show the traces",
        description="Runs the guide's scenarios with the real openai/anthropic clients against "
        "a local fake provider (no API key, no network), then shows the traces and a summary.",
    )
    parser.add_argument(
        "--log-directory", default=DEFAULT_PATH, metavar="DIR", help="where to write (./traces)"
    )
    parser.add_argument("--content", action="store_true", help="show prompts and completions")
    parser.set_defaults(run=run)
