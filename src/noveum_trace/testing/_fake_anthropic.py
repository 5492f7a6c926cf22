"""Anthropic wire formats: messages (plain and streamed) and count_tokens."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from noveum_trace.testing._fake_scenario import (
    Plan,
    Prompt,
    Tool,
    as_int,
    new_id,
    pieces,
    text_of,
)
from noveum_trace.testing._fake_wire import FrameList, JsonReply, Reply, StreamReply, sse

SIGNATURE = "ZmFrZS10aGlua2luZy1zaWduYXR1cmU="

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request (fake provider)."),
    401: ("authentication_error", "invalid x-api-key"),
    403: ("permission_error", "Your API key does not have permission to use this resource."),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed the rate limit for your organization "
        "of 50 requests per minute. Please try again later.",
    ),
    500: ("api_error", "Internal server error"),
    529: ("overloaded_error", "Overloaded"),
}


def unknown_model(model: str) -> JsonReply:
    return error_reply(404, model)


def headers(request_id: str) -> dict[str, str]:
    return {
        "request-id": request_id,
        "anthropic-organization-id": "00000000-0000-0000-0000-00000000fake",
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
    }


def error_body(
    status: int, model: str = "", message: str | None = None, request_id: str | None = None
) -> dict[str, Any]:
    kind, template = _ERRORS.get(status, _ERRORS[500] if status >= 500 else _ERRORS[400])
    return {
        "type": "error",
        "error": {"type": kind, "message": message or template.format(model=model or "unknown")},
        "request_id": request_id or new_id("req_"),
    }


def error_reply(status: int, model: str = "", message: str | None = None) -> JsonReply:
    request_id = new_id("req_")
    extra = {"retry-after-ms": "10"} if status in (429, 529) else {}
    body = error_body(status, model, message, request_id)
    return JsonReply(status, body, {**headers(request_id), **extra})


def prompt(body: Mapping[str, Any]) -> Prompt:
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    result = Prompt(model=str(body.get("model") or ""))
    result.texts.append(text_of(body.get("system")))
    result.texts.extend(text_of(m.get("content")) for m in messages)
    users = [m for m in messages if m.get("role") == "user"]
    if users:
        content = users[-1].get("content")
        blocks = content if isinstance(content, list) else [content]
        # Only the user's own words carry directives, not a tool result's text.
        result.last_user_text = text_of(
            [
                b
                for b in blocks
                if isinstance(b, str) or (isinstance(b, Mapping) and b.get("type") == "text")
            ]
        )
        result.after_tool_result = messages[-1] is users[-1] and any(
            isinstance(b, Mapping) and b.get("type") == "tool_result" for b in blocks
        )
    for tool in body.get("tools") or []:
        if isinstance(tool, Mapping) and tool.get("name") and "input_schema" in tool:
            result.tools.append(Tool(str(tool["name"]), tool.get("input_schema") or {}))
    choice = body.get("tool_choice")
    if isinstance(choice, Mapping):
        if choice.get("type") == "any":
            result.forced_tool = ""
        elif choice.get("type") == "tool":
            result.forced_tool = str(choice.get("name") or "")
        result.tools_disabled = choice.get("type") == "none"
    result.max_tokens = as_int(body.get("max_tokens"))
    result.announces_tools = True
    thinking = body.get("thinking")
    result.wants_thinking = isinstance(thinking, Mapping) and thinking.get("type") in (
        "enabled",
        "adaptive",
    )
    return result


def _usage(plan: Plan, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": plan.cache_write_tokens,
        "cache_read_input_tokens": plan.cached_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": plan.cache_write_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "output_tokens": output_tokens,
        "service_tier": "standard",
        "inference_geo": "global",
    }


def _blocks(plan: Plan) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if plan.thinking:
        blocks.append({"type": "thinking", "thinking": plan.thinking, "signature": SIGNATURE})
    if plan.text or not plan.tool_calls:
        blocks.append({"type": "text", "text": plan.text})
    for call in plan.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": call.id.replace("call_", "toolu_", 1),
                "name": call.name,
                "input": json.loads(call.arguments),
                "caller": {"type": "direct"},
            }
        )
    return blocks


def _stop_reason(plan: Plan) -> str:
    return "tool_use" if plan.tool_calls else "max_tokens" if plan.truncated else "end_turn"


def messages(body: Mapping[str, Any], plan: Plan) -> Reply:
    request_id = new_id("req_")
    blocks = _blocks(plan)
    usage = _usage(plan, plan.output_tokens)
    message = {
        "model": plan.model,
        "id": new_id("msg_"),
        "type": "message",
        "role": "assistant",
        "content": blocks,
        "stop_reason": _stop_reason(plan),
        "stop_sequence": None,
        "usage": usage,
    }
    if not body.get("stream"):
        return JsonReply(200, message, headers(request_id), delay=plan.scenario.first_chunk_delay)
    frames = FrameList()

    def event(kind: str, output: bool = False, **fields: Any) -> None:
        frames.add(sse({"type": kind, **fields}, kind), output)

    # Real streams report a token or so in message_start and the cumulative count at the end.
    start = {**message, "content": [], "stop_reason": None, "usage": _usage(plan, 1)}
    event("message_start", message=start)
    for index, block in enumerate(blocks):
        _block_events(event, index, block)
        if index == 0:
            event("ping")
    if plan.scenario.stream_error:
        frames.cut_with_error(sse(error_body(529, request_id=request_id), "error"))
    else:
        final_usage = {
            k: v
            for k, v in usage.items()
            if k not in ("cache_creation", "service_tier", "inference_geo")
        }
        event(
            "message_delta",
            delta={"stop_reason": message["stop_reason"], "stop_sequence": None},
            usage=final_usage,
        )
        event("message_stop")
    return StreamReply(
        frames.bursts(),
        plan.scenario.first_chunk_delay,
        plan.scenario.chunk_delay,
        headers(request_id),
    )


def _block_events(event: Any, index: int, block: dict[str, Any]) -> None:
    kind = block["type"]
    if kind == "text":
        event("content_block_start", index=index, content_block={"type": "text", "text": ""})
        for piece in pieces(block["text"]):
            event(
                "content_block_delta",
                True,
                index=index,
                delta={"type": "text_delta", "text": piece},
            )
    elif kind == "thinking":
        event(
            "content_block_start",
            index=index,
            content_block={"type": "thinking", "thinking": "", "signature": ""},
        )
        for piece in pieces(block["thinking"]):
            event(
                "content_block_delta",
                True,
                index=index,
                delta={"type": "thinking_delta", "thinking": piece},
            )
        event(
            "content_block_delta",
            index=index,
            delta={"type": "signature_delta", "signature": block["signature"]},
        )
    else:
        event("content_block_start", index=index, content_block={**block, "input": {}})
        event(
            "content_block_delta",
            index=index,
            delta={"type": "input_json_delta", "partial_json": ""},
        )
        for piece in pieces(json.dumps(block["input"])):
            event(
                "content_block_delta",
                True,
                index=index,
                delta={"type": "input_json_delta", "partial_json": piece},
            )
    event("content_block_stop", index=index)


def count_tokens(plan: Plan) -> Reply:
    return JsonReply(200, {"input_tokens": plan.input_tokens}, headers(new_id("req_")))
