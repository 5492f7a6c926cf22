"""What the fake provider answers: directives, the reply plan and its deterministic token counts.

Provider modules turn a request body into a :class:`Prompt`; :func:`make_plan` decides the reply
(text, tool calls, usage) the same way for every provider, so usage numbers are predictable.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFAULT_REPLY = "Hello! This is a deterministic reply from the noveum_trace fake provider."
THINKING_TEXT = "Let me think about this request step by step before answering."
DEFAULT_REASONING_TOKENS = 8
SLOW_FIRST_CHUNK_DELAY = 0.5
SLOW_CHUNK_DELAY = 0.05

SCENARIO_HEADER = "x-fake-scenario"
REPLY_HEADER = "x-fake-reply"
_DIRECTIVE = re.compile(r"\[fake:([^\]]*)\]")
_PIECE = re.compile(r"\s*\S+|\s+$")


class DirectiveError(ValueError):
    """A scenario directive the fake provider does not understand (answered with HTTP 400)."""


@dataclass(frozen=True)
class Settings:
    """Server-wide defaults, overridable per request by directives."""

    chunk_delay: float = 0.0
    first_chunk_delay: float = 0.0
    reply: str | None = None


@dataclass
class Scenario:
    tool: bool = False
    all_tools: bool = False
    error: int | None = None
    stream_error: bool = False
    error_event: bool = False  # a Responses stream ends with `error`, not `response.failed`
    cached: int = 0
    cache_write: int = 0
    reasoning: int | None = None
    words: int | None = None
    reply: str | None = None
    chunk_delay: float = 0.0
    first_chunk_delay: float = 0.0


@dataclass(frozen=True)
class Tool:
    name: str
    schema: Mapping[str, Any]


@dataclass
class Prompt:
    """The provider-neutral facts of a request that shape the reply."""

    model: str
    texts: list[str] = field(default_factory=list)
    last_user_text: str = ""
    after_tool_result: bool = False
    tools: list[Tool] = field(default_factory=list)
    forced_tool: str | None = None  # "" = any tool, a name = that tool, None = not forced
    tools_disabled: bool = False
    max_tokens: int | None = None
    wants_reasoning: bool = False
    wants_thinking: bool = False
    announces_tools: bool = False  # Claude says what it is about to call before calling it


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the providers send it


@dataclass
class Plan:
    model: str
    scenario: Scenario
    text: str
    tool_calls: list[ToolCall]
    thinking: str
    truncated: bool
    input_tokens: int
    text_tokens: int  # text + tool-call arguments + thinking, without hidden reasoning
    reasoning_tokens: int
    cached_tokens: int  # Anthropic adds them to input; OpenAI counts them within it
    cache_write_tokens: int

    @property
    def output_tokens(self) -> int:
        return self.text_tokens + self.reasoning_tokens


def token_count(text: str) -> int:
    """The fake tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def pieces(text: str) -> list[str]:
    """Split text into stream deltas the way real APIs do: ``"Hi", " there", "!"``."""
    return _PIECE.findall(text)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def strip_directives(text: str) -> str:
    return _DIRECTIVE.sub("", text)


def parse_scenario(headers: Mapping[str, str], last_user_text: str, settings: Settings) -> Scenario:
    """Combine the ``x-fake-scenario`` header and ``[fake:...]`` tags in the last user message."""
    scenario = Scenario(
        reply=headers.get(REPLY_HEADER) or settings.reply,
        chunk_delay=settings.chunk_delay,
        first_chunk_delay=settings.first_chunk_delay,
    )
    sources = [headers.get(SCENARIO_HEADER, ""), *_DIRECTIVE.findall(last_user_text)]
    for source in sources:
        for item in re.split(r"[,\s]+", source.strip()):
            if item:
                _apply(scenario, item.lower())
    return scenario


def _apply(scenario: Scenario, item: str) -> None:
    name, _, value = item.partition("=")
    try:
        if name == "tool":
            scenario.tool = True
        elif name == "tools":
            scenario.tool = scenario.all_tools = True
        elif name == "error":
            scenario.error = int(value) if value else 500
        elif name == "stream-error":
            scenario.stream_error = True
        elif name == "error-event":
            scenario.stream_error = scenario.error_event = True
        elif name == "cached":
            scenario.cached = int(value)
        elif name == "cache-write":
            scenario.cache_write = int(value)
        elif name == "reasoning":
            scenario.reasoning = int(value)
        elif name == "words":
            scenario.words = int(value)
        elif name == "slow":
            scenario.first_chunk_delay = max(scenario.first_chunk_delay, SLOW_FIRST_CHUNK_DELAY)
            scenario.chunk_delay = max(scenario.chunk_delay, SLOW_CHUNK_DELAY)
        elif name == "delay":
            scenario.chunk_delay = float(value)
        elif name == "first-delay":
            scenario.first_chunk_delay = float(value)
        else:
            raise DirectiveError(f"unknown fake-provider directive {item!r}")
    except ValueError as exc:
        if isinstance(exc, DirectiveError):
            raise
        raise DirectiveError(f"bad value in fake-provider directive {item!r}") from exc
    if scenario.error is not None and not 400 <= scenario.error <= 599:
        raise DirectiveError(f"error status must be 400-599, got {scenario.error}")


def make_plan(prompt: Prompt, scenario: Scenario) -> Plan:
    """Decide the reply. Usage is derived from word counts so tests can assert exact numbers."""
    tool_calls = _tool_calls(prompt, scenario)
    text = _reply_text(scenario)
    if tool_calls:
        names = " and ".join(call.name for call in tool_calls)
        text = f"I'll call {names}." if prompt.announces_tools else ""
    truncated = False
    if prompt.max_tokens is not None and token_count(text) > prompt.max_tokens:
        text = " ".join(text.split()[: max(prompt.max_tokens, 0)])
        truncated = True
    thinking = THINKING_TEXT if prompt.wants_thinking else ""
    reasoning = scenario.reasoning
    if reasoning is None:
        reasoning = DEFAULT_REASONING_TOKENS if prompt.wants_reasoning else 0
    input_tokens = sum(token_count(strip_directives(t)) for t in prompt.texts)
    text_tokens = (
        token_count(text)
        + sum(token_count(call.arguments) for call in tool_calls)
        + token_count(thinking)
    )
    return Plan(
        model=prompt.model,
        scenario=scenario,
        text=text,
        tool_calls=tool_calls,
        thinking=thinking,
        truncated=truncated,
        input_tokens=input_tokens,
        text_tokens=text_tokens,
        reasoning_tokens=reasoning,
        cached_tokens=scenario.cached,
        cache_write_tokens=scenario.cache_write,
    )


def _reply_text(scenario: Scenario) -> str:
    text = scenario.reply if scenario.reply is not None else DEFAULT_REPLY
    if scenario.words is not None:
        source = text.split() or DEFAULT_REPLY.split()
        text = " ".join(source[i % len(source)] for i in range(max(scenario.words, 0)))
    return text


def _tool_calls(prompt: Prompt, scenario: Scenario) -> list[ToolCall]:
    # After a tool result the model answers in text, so a tool loop always terminates.
    if prompt.tools_disabled or prompt.after_tool_result or not prompt.tools:
        return []
    chosen: Sequence[Tool]
    if prompt.forced_tool:
        chosen = [t for t in prompt.tools if t.name == prompt.forced_tool][:1]
    elif scenario.all_tools:
        chosen = prompt.tools
    elif scenario.tool or prompt.forced_tool == "":
        chosen = prompt.tools[:1]
    else:
        return []
    return [
        ToolCall(new_id("call_"), tool.name, json.dumps(sample_arguments(tool.schema)))
        for tool in chosen
    ]


def sample_arguments(schema: Mapping[str, Any]) -> dict[str, Any]:
    """Deterministic arguments for a JSON-schema object: required properties, else all of them."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    required = schema.get("required")
    names = [n for n in required if n in properties] if isinstance(required, list) else []
    return {name: _sample_value(properties[name]) for name in names or list(properties)}


def _sample_value(schema: Any) -> Any:
    if not isinstance(schema, Mapping):
        return "sample"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return sample_arguments(schema)
    if kind == "null":
        return None
    return "sample"


def text_of(content: Any) -> str:
    """Text of a message content: a string, or a list of text-bearing parts/blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(filter(None, (_part_text(part) for part in content)))
    return ""


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, Mapping):
        return ""
    for key in ("text", "thinking", "output", "arguments"):
        value = part.get(key)
        if isinstance(value, str):
            return value
    if isinstance(part.get("content"), (str, list)):
        return text_of(part["content"])  # anthropic tool_result
    if isinstance(part.get("input"), Mapping):
        return json.dumps(part["input"])  # anthropic tool_use
    return ""


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
