"""An LLM span's content as chat messages: system, user, assistant, tool calls and results.

The prompt is the JSON list of messages the instrumentation recorded (OpenAI shape, or
Anthropic's with content blocks); anything else is shown as one message of its own. Nothing
is cut: the page folds long text, it never drops it.
"""

from __future__ import annotations

from typing import Any, TypedDict

import orjson

from noveum_trace import _render as render
from noveum_trace import semconv
from noveum_trace.reader import Attributes, SpanDict


class Message(TypedDict):
    role: str  # system | user | assistant | tool | reasoning | ...
    content: str
    tool_calls: list[dict[str, str]]  # {"id", "name", "arguments"}
    source: str  # the attribute it came from


def _content_text(content: Any) -> tuple[str, list[dict[str, str]]]:
    """(text, tool calls) of one message's content: a string or a list of blocks."""
    if isinstance(content, str):
        return content, []
    if not isinstance(content, list):
        return ("" if content is None else render.dumps(content, indent=True)), []
    texts: list[str] = []
    calls: list[dict[str, str]] = []
    for block in content:
        if not isinstance(block, dict):
            texts.append(str(block))
        elif block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(_tool_call(block))
        elif block.get("type") == "tool_result":
            inner, _ = _content_text(block.get("content"))
            texts.append(f"[result of {block.get('tool_use_id', '?')}]\n{inner}")
        else:
            texts.append(render.dumps(block, indent=True))
    return "\n\n".join(texts), calls


def _tool_call(call: dict[str, Any]) -> dict[str, str]:
    function = call.get("function") if isinstance(call.get("function"), dict) else None
    name = (function or call).get("name", "?")
    arguments = (function or {}).get("arguments", call.get("input", call.get("arguments", "")))
    if not isinstance(arguments, str):
        arguments = render.dumps(arguments, indent=True)
    return {"id": str(call.get("id", "")), "name": str(name), "arguments": arguments}


def _message(role: str, content: str, source: str) -> Message:
    return {"role": role, "content": content, "tool_calls": [], "source": source}


def _parse_list(text: str) -> list[Any] | None:
    if not text.lstrip().startswith("["):
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, list) else None


def _messages(text: str, source: str, default_role: str) -> list[Message]:
    parsed = _parse_list(text)
    if parsed is None or not all(isinstance(m, dict) and "role" in m for m in parsed):
        return [_message(default_role, text, source)]
    out: list[Message] = []
    for item in parsed:
        content, calls = _content_text(item.get("content"))
        calls += [_tool_call(c) for c in item.get("tool_calls") or [] if isinstance(c, dict)]
        role = str(item["role"])
        if item.get("tool_call_id"):
            content = f"[result of {item['tool_call_id']}]\n{content}"
        out.append({"role": role, "content": content, "tool_calls": calls, "source": source})
    return out


def _content(span: SpanDict) -> Attributes:
    """Content keys from the span and its events (the first value of each wins)."""
    found: Attributes = {}
    for attrs in [span["attributes"]] + [event["attributes"] for event in span["events"]]:
        for key, value in attrs.items():
            if key in semconv.CONTENT_KEYS and key not in found:
                found[key] = value
    return found


def conversation(span: SpanDict) -> list[Message]:
    """The span's messages in order: instructions, prompt, then the reply."""
    content = _content(span)
    out: list[Message] = []
    for key in (semconv.GEN_AI_SYSTEM_PROMPT, semconv.GEN_AI_SYSTEM_INSTRUCTIONS):
        if isinstance(content.get(key), str):
            out.append(_message("system", content[key], key))
    for key in (semconv.GEN_AI_PROMPT, semconv.GEN_AI_INPUT_MESSAGES):
        if isinstance(content.get(key), str):
            out.extend(_messages(content[key], key, "user"))
    if isinstance(content.get(semconv.GEN_AI_COMPLETION_REASONING), str):
        reasoning = content[semconv.GEN_AI_COMPLETION_REASONING]
        out.append(_message("reasoning", reasoning, semconv.GEN_AI_COMPLETION_REASONING))
    for key in (semconv.GEN_AI_COMPLETION, semconv.GEN_AI_OUTPUT_MESSAGES):
        if isinstance(content.get(key), str):
            out.extend(_messages(content[key], key, "assistant"))
    calls = content.get(semconv.GEN_AI_TOOL_CALLS)
    parsed = _parse_list(calls) if isinstance(calls, str) else None
    if parsed:
        reply = _message("assistant", "", semconv.GEN_AI_TOOL_CALLS)
        reply["tool_calls"] = [_tool_call(c) for c in parsed if isinstance(c, dict)]
        out.append(reply)
    return out
