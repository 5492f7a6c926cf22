"""OpenAI wire formats: chat completions, responses and embeddings, plain and streamed."""

from __future__ import annotations

import base64
import random
import struct
import time
from collections.abc import Mapping
from typing import Any

from noveum_trace.testing._fake_scenario import (
    Plan,
    Prompt,
    Scenario,
    Tool,
    as_int,
    new_id,
    pieces,
    text_of,
    token_count,
)
from noveum_trace.testing._fake_wire import FrameList, JsonReply, Reply, StreamReply, sse

FINGERPRINT = "fp_fake0001"
EMBEDDING_DIMENSIONS = 1536

_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (fake provider)."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided: test. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} in organization org-fake on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


def headers(request_id: str | None = None) -> dict[str, str]:
    return {
        "x-request-id": request_id or new_id("req_"),
        "openai-organization": "org-fake",
        "openai-processing-ms": "1",
        "openai-version": "2020-10-01",
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-remaining-requests": "9999",
    }


def error_body(
    status: int,
    model: str = "",
    message: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    kind, default_code, template = _ERRORS.get(
        status,
        ("server_error", None, _ERRORS[500][2])
        if status >= 500
        else ("invalid_request_error", None, _ERRORS[400][2]),
    )
    text = message or template.format(model=model or "unknown")
    return {"error": {"message": text, "type": kind, "param": param, "code": code or default_code}}


def error_reply(
    status: int,
    model: str = "",
    message: str | None = None,
    code: str | None = None,
    param: str | None = None,
) -> JsonReply:
    extra = {"retry-after-ms": "10"} if status == 429 else {}
    body = error_body(status, model, message, code, param)
    return JsonReply(status, body, {**headers(), **extra})


def unknown_model(model: str) -> JsonReply:
    return error_reply(404, model)


def unknown_model_responses(model: str) -> JsonReply:
    # The Responses API answers an unknown model with 400, naming the parameter.
    message = f"The requested model '{model}' does not exist."
    return error_reply(400, model, message, code="model_not_found", param="model")


# --- chat completions -------------------------------------------------------------------------


def chat_prompt(body: Mapping[str, Any]) -> Prompt:
    messages = [m for m in body.get("messages") or [] if isinstance(m, Mapping)]
    prompt = Prompt(model=str(body.get("model") or ""))
    for message in messages:
        prompt.texts.append(text_of(message.get("content")))
        for call in message.get("tool_calls") or []:
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                prompt.texts.append(str(call["function"].get("arguments") or ""))
    users = [m for m in messages if m.get("role") == "user"]
    prompt.last_user_text = text_of(users[-1].get("content")) if users else ""
    prompt.after_tool_result = bool(messages) and messages[-1].get("role") == "tool"
    for tool in body.get("tools") or []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and function.get("name"):
            prompt.tools.append(Tool(str(function["name"]), function.get("parameters") or {}))
    choice = body.get("tool_choice")
    if choice == "required":
        prompt.forced_tool = ""
    elif isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        prompt.forced_tool = str(choice["function"].get("name") or "")
    prompt.tools_disabled = choice == "none"
    prompt.max_tokens = as_int(body.get("max_completion_tokens")) or as_int(body.get("max_tokens"))
    prompt.wants_reasoning = body.get("reasoning_effort") not in (None, "none", "minimal")
    return prompt


def _chat_usage(plan: Plan, n: int) -> dict[str, Any]:
    completion = plan.text_tokens * n + plan.reasoning_tokens
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": completion,
        "total_tokens": plan.input_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": _cached(plan), "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": plan.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _cached(plan: Plan) -> int:
    return min(plan.cached_tokens, plan.input_tokens)  # OpenAI's cached tokens are part of input


def _finish_reason(plan: Plan) -> str:
    return "tool_calls" if plan.tool_calls else "length" if plan.truncated else "stop"


def chat(body: Mapping[str, Any], plan: Plan) -> Reply:
    n = max(as_int(body.get("n")) or 1, 1)
    base = {
        "id": new_id("chatcmpl-"),
        "created": int(time.time()),
        "model": plan.model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }
    if body.get("stream"):
        return _chat_stream(body, plan, n, base)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": plan.text if not plan.tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if plan.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in plan.tool_calls
        ]
    choices = [
        {"index": i, "message": message, "logprobs": None, "finish_reason": _finish_reason(plan)}
        for i in range(n)
    ]
    usage = _chat_usage(plan, n)
    result = {**base, "object": "chat.completion", "choices": choices, "usage": usage}
    return JsonReply(200, result, headers(), delay=plan.scenario.first_chunk_delay)


def _chat_stream(body: Mapping[str, Any], plan: Plan, n: int, base: dict[str, Any]) -> Reply:
    options = body.get("stream_options")
    include_usage = isinstance(options, Mapping) and options.get("include_usage") is True
    chunk_base = {**base, "object": "chat.completion.chunk"}
    if include_usage:
        chunk_base["usage"] = None
    frames = FrameList()

    def chunk(index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse({**chunk_base, "choices": [choice]})

    content = None if plan.tool_calls else ""
    for i in range(n):
        frames.add(chunk(i, {"role": "assistant", "content": content, "refusal": None}))
    for piece in pieces(plan.text):
        for i in range(n):
            frames.add(chunk(i, {"content": piece}), output=True)
    for position, call in enumerate(plan.tool_calls):
        for i in range(n):
            start = {
                "index": position,
                "id": call.id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            frames.add(chunk(i, {"tool_calls": [start]}))
        for piece in pieces(call.arguments):
            for i in range(n):
                delta = {"tool_calls": [{"index": position, "function": {"arguments": piece}}]}
                frames.add(chunk(i, delta), output=True)
    for i in range(n):
        frames.add(chunk(i, {}, _finish_reason(plan)))
    if include_usage:
        frames.add(sse({**chunk_base, "choices": [], "usage": _chat_usage(plan, n)}))
    frames.add(sse("[DONE]"))
    if plan.scenario.stream_error:
        frames.cut_with_error(sse(error_body(500)))
    return _stream(frames, plan.scenario)


def _stream(frames: FrameList, scenario: Scenario) -> StreamReply:
    return StreamReply(frames.bursts(), scenario.first_chunk_delay, scenario.chunk_delay, headers())


# --- responses ----------------------------------------------------------------------------------


def responses_prompt(body: Mapping[str, Any]) -> Prompt:
    prompt = Prompt(model=str(body.get("model") or ""))
    if isinstance(body.get("instructions"), str):
        prompt.texts.append(body["instructions"])
    raw = body.get("input")
    items: list[Any] = [{"role": "user", "content": raw}] if isinstance(raw, str) else raw or []
    items = [item for item in items if isinstance(item, Mapping)]
    for item in items:
        prompt.texts.append(text_of(item.get("content")) or text_of([item]))
    users = [item for item in items if item.get("role") == "user"]
    prompt.last_user_text = text_of(users[-1].get("content")) if users else ""
    prompt.after_tool_result = bool(items) and items[-1].get("type") == "function_call_output"
    for tool in body.get("tools") or []:
        if isinstance(tool, Mapping) and tool.get("type") == "function" and tool.get("name"):
            prompt.tools.append(Tool(str(tool["name"]), tool.get("parameters") or {}))
    choice = body.get("tool_choice")
    if choice == "required":
        prompt.forced_tool = ""
    elif isinstance(choice, Mapping) and choice.get("type") == "function":
        prompt.forced_tool = str(choice.get("name") or "")
    prompt.tools_disabled = choice == "none"
    prompt.max_tokens = as_int(body.get("max_output_tokens"))
    reasoning = body.get("reasoning")
    prompt.wants_reasoning = isinstance(reasoning, Mapping) and reasoning.get("effort") not in (
        None,
        "none",
        "minimal",
    )
    return prompt


def _output_items(plan: Plan) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if plan.reasoning_tokens:
        items.append({"id": new_id("rs_"), "type": "reasoning", "summary": []})
    if plan.text or not plan.tool_calls:
        items.append(
            {
                "id": new_id("msg_"),
                "type": "message",
                "status": "incomplete" if plan.truncated else "completed",
                "content": [_output_text(plan.text)],
                "role": "assistant",
            }
        )
    for call in plan.tool_calls:
        items.append(
            {
                "id": new_id("fc_"),
                "type": "function_call",
                "status": "completed",
                "arguments": call.arguments,
                "call_id": call.id,
                "name": call.name,
            }
        )
    return items


def _output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _response(body: Mapping[str, Any], plan: Plan, rid: str, created: int) -> dict[str, Any]:
    """The Response object in its final state; streaming copies it with status/output changed."""
    return {
        "id": rid,
        "object": "response",
        "created_at": created,
        "status": "incomplete" if plan.truncated else "completed",
        "background": False,
        "billing": {"payer": "developer"},
        "completed_at": int(time.time()),
        "error": None,
        "frequency_penalty": 0.0,
        "incomplete_details": {"reason": "max_output_tokens"} if plan.truncated else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "model": plan.model,
        "output": _output_items(plan),
        "parallel_tool_calls": True,
        "presence_penalty": 0.0,
        "previous_response_id": body.get("previous_response_id"),
        "prompt_cache_key": body.get("prompt_cache_key"),
        "prompt_cache_retention": "in_memory",
        "reasoning": {"effort": (body.get("reasoning") or {}).get("effort"), "summary": None},
        "safety_identifier": None,
        "service_tier": "default",
        "store": True,
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_logprobs": 0,
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": {
            "input_tokens": plan.input_tokens,
            "input_tokens_details": {"cached_tokens": _cached(plan)},
            "output_tokens": plan.output_tokens,
            "output_tokens_details": {"reasoning_tokens": plan.reasoning_tokens},
            "total_tokens": plan.input_tokens + plan.output_tokens,
        },
        "user": None,
        "metadata": body.get("metadata") or {},
    }


def responses(body: Mapping[str, Any], plan: Plan) -> Reply:
    final = _response(body, plan, new_id("resp_"), int(time.time()))
    if not body.get("stream"):
        return JsonReply(200, final, headers(), delay=plan.scenario.first_chunk_delay)
    frames = FrameList()
    sequence = iter(range(1_000_000))

    def event(kind: str, output: bool = False, **fields: Any) -> None:
        data = {"type": kind, **fields, "sequence_number": next(sequence)}
        frames.add(sse(data, kind), output)

    pending = {
        **final,
        "status": "in_progress",
        "completed_at": None,
        "output": [],
        "incomplete_details": None,
        "usage": None,
    }
    event("response.created", response=pending)
    event("response.in_progress", response=pending)
    for index, item in enumerate(final["output"]):
        _item_events(event, index, item)
    if plan.scenario.error_event:
        error = {"type": "error", "code": "server_error", "param": None}
        error["message"] = error_body(500)["error"]["message"]
        frames.cut_with_error(sse({**error, "sequence_number": next(sequence)}, "error"))
    elif plan.scenario.stream_error:
        failed = {
            **final,
            "status": "failed",
            "completed_at": None,
            "error": {"code": "server_error", "message": error_body(500)["error"]["message"]},
        }
        frames.cut_with_error(
            sse(
                {"type": "response.failed", "response": failed, "sequence_number": next(sequence)},
                "response.failed",
            )
        )
    else:
        kind = "response.incomplete" if plan.truncated else "response.completed"
        event(kind, response=final)
    return _stream(frames, plan.scenario)


def _item_events(event: Any, index: int, item: dict[str, Any]) -> None:
    item_id = item["id"]
    if item["type"] == "message":
        text = item["content"][0]["text"]
        event(
            "response.output_item.added",
            output_index=index,
            item={**item, "status": "in_progress", "content": []},
        )
        event(
            "response.content_part.added",
            item_id=item_id,
            output_index=index,
            content_index=0,
            part=_output_text(""),
        )
        for piece in pieces(text):
            event(
                "response.output_text.delta",
                True,
                item_id=item_id,
                output_index=index,
                content_index=0,
                delta=piece,
                logprobs=[],
            )
        event(
            "response.output_text.done",
            item_id=item_id,
            output_index=index,
            content_index=0,
            text=text,
            logprobs=[],
        )
        event(
            "response.content_part.done",
            item_id=item_id,
            output_index=index,
            content_index=0,
            part=_output_text(text),
        )
    elif item["type"] == "function_call":
        event(
            "response.output_item.added",
            output_index=index,
            item={**item, "status": "in_progress", "arguments": ""},
        )
        for piece in pieces(item["arguments"]):
            event(
                "response.function_call_arguments.delta",
                True,
                item_id=item_id,
                output_index=index,
                delta=piece,
            )
        event(
            "response.function_call_arguments.done",
            item_id=item_id,
            output_index=index,
            arguments=item["arguments"],
            name=item["name"],
        )
    else:
        event("response.output_item.added", output_index=index, item=item)
    event("response.output_item.done", output_index=index, item=item)


# --- embeddings ---------------------------------------------------------------------------------


def embeddings_prompt(body: Mapping[str, Any]) -> Prompt:
    return Prompt(model=str(body.get("model") or ""))


def embeddings(body: Mapping[str, Any], plan: Plan) -> Reply:
    raw = body.get("input")
    inputs: list[Any] = [raw] if isinstance(raw, str) or _is_tokens(raw) else list(raw or [])
    dimensions = as_int(body.get("dimensions")) or EMBEDDING_DIMENSIONS
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    for index, item in enumerate(inputs):
        vector = _vector(str(item), dimensions)
        encoded: Any = vector
        if as_base64:
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(len(i) if _is_tokens(i) else token_count(str(i)) for i in inputs)
    result = {
        "object": "list",
        "data": data,
        "model": plan.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
    return JsonReply(200, result, headers(), delay=plan.scenario.first_chunk_delay)


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) for v in value) and bool(value)


def _vector(text: str, dimensions: int) -> list[float]:
    """A unit vector seeded by the text: the same input always embeds the same way."""
    rng = random.Random(text)
    values = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    # Round through float32 so the float and base64 encodings carry the same numbers.
    return [struct.unpack("<f", struct.pack("<f", v / norm))[0] for v in values]
