"""Anthropic Messages API -> span attributes and content: pure functions, no I/O, no spans.

Works on the client's pydantic models and on plain dicts alike (``_fields.get``), so the same
code reads a ``Message``, a raw stream event, a raw response's JSON body, or a cassette.
The last section is what the Stainless seam (``_stainless``) asks of this map.

Token usage follows the current OpenTelemetry GenAI rule: ``gen_ai.usage.input_tokens`` is
ALL the prompt tokens, i.e. anthropic's ``input_tokens`` (which excludes the cache) PLUS
``cache_read_input_tokens`` PLUS ``cache_creation_input_tokens``; the two cache counts are
also recorded on their own. ``pricing.py`` prices spans on exactly that rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from noveum_trace import semconv
from noveum_trace._core.values import to_json
from noveum_trace.instrumentation._engine import NOT_OUTPUT, Accumulator, NotOutput
from noveum_trace.instrumentation._fields import as_int, get

if TYPE_CHECKING:
    from noveum_trace.instrumentation._engine import Call
    from noveum_trace.instrumentation._stainless import Request

CHAT = "chat"
COUNT_TOKENS = "count_tokens"
ROUTES: Mapping[str, str] = {"/v1/messages": CHAT, "/v1/messages/count_tokens": COUNT_TOKENS}
OPERATIONS: Mapping[str, str] = {
    CHAT: semconv.OPERATION_CHAT,
    COUNT_TOKENS: semconv.OPERATION_COUNT_TOKENS,
}

_SEQUENCES = (list, tuple)

# Request parameter -> attribute, for the plain scalar ones.
_REQUEST_SCALARS: tuple[tuple[str, str], ...] = (
    ("max_tokens", semconv.GEN_AI_REQUEST_MAX_TOKENS),
    ("temperature", semconv.GEN_AI_REQUEST_TEMPERATURE),
    ("top_p", semconv.GEN_AI_REQUEST_TOP_P),
    ("top_k", semconv.GEN_AI_REQUEST_TOP_K),
)


# ---- request ------------------------------------------------------------------------------


def _tool_name(tool: Any) -> dict[str, Any]:
    """A tool definition reduced to its (server tool) type and name."""
    entry: dict[str, Any] = {}
    for key in ("type", "name"):
        value = get(tool, key)
        if isinstance(value, str):
            entry[key] = value
    return entry


def request_attributes(
    body: Mapping[str, Any],
    *,
    stream: bool,
    capture: bool = True,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Attributes known before the call: the sampling parameters, tools and streaming (who
    and what, system, operation and model, the engine's ``Call`` sets itself).

    ``body`` is the request's body (or the method's keyword arguments), ``extra`` its
    ``extra_body``: anthropic 2.x dropped temperature/top_p/top_k from the signature, so they
    travel there (as keyword arguments on 1.x).
    """
    attrs: dict[str, Any] = {}
    extra = extra or {}
    for param, key in _REQUEST_SCALARS:
        value = body.get(param, extra.get(param))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attrs[key] = value
    stops = body.get("stop_sequences", extra.get("stop_sequences"))
    if isinstance(stops, _SEQUENCES) and stops:
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [str(s) for s in stops]
    tools = body.get("tools")
    if isinstance(tools, _SEQUENCES) and tools:
        # Descriptions and schemas are prompt content: capture off keeps the names only.
        attrs[semconv.GEN_AI_TOOL_DEFINITIONS] = to_json(
            list(tools) if capture else [_tool_name(tool) for tool in tools]
        )
    attrs[semconv.GEN_AI_REQUEST_STREAM] = stream
    attrs[semconv.LLM_STREAMING] = stream
    return attrs


def system_text(system: Any) -> str | None:
    """The ``system`` parameter as text: a string, or the text of its blocks joined."""
    if isinstance(system, str):
        return system or None
    if isinstance(system, _SEQUENCES):
        texts = [t for t in (get(block, "text") for block in system) if isinstance(t, str)]
        return "\n".join(texts) if texts else to_json(list(system))
    return None


def messages_list(body: Mapping[str, Any]) -> list[Any] | None:
    """The request's messages, only when they can be read without consuming them.

    ``messages`` is typed ``Iterable``: a generator read here would reach the client empty.
    """
    messages = body.get("messages")
    return list(messages) if isinstance(messages, _SEQUENCES) else None


def prompt_content(body: Mapping[str, Any], *, latest: bool) -> tuple[dict[str, Any], str | None]:
    """Content of the request: (span attributes, the guide's ``gen_ai.prompt`` text).

    Call only when capture is on: it serialises the conversation.
    """
    attrs: dict[str, Any] = {}
    system = system_text(body.get("system"))
    if system is not None:
        attrs[semconv.GEN_AI_SYSTEM_PROMPT] = system
        if latest:
            attrs[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = to_json(
                [{"type": "text", "content": system}]
            )
    messages = messages_list(body)
    if messages is None:
        return attrs, None
    if latest:
        attrs[semconv.GEN_AI_INPUT_MESSAGES] = to_json(
            [{"role": get(m, "role"), "parts": _parts(get(m, "content"))} for m in messages]
        )
    return attrs, to_json(messages)


def _parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic content (a string or blocks) as OpenTelemetry GenAI message parts."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if not isinstance(content, _SEQUENCES):
        return []
    parts: list[dict[str, Any]] = []
    for block in content:
        kind = get(block, "type")
        if kind == "text":
            parts.append({"type": "text", "content": get(block, "text")})
        elif kind in ("tool_use", "server_tool_use"):
            parts.append(
                {
                    "type": "tool_call",
                    "id": get(block, "id"),
                    "name": get(block, "name"),
                    "arguments": get(block, "input"),
                }
            )
        elif kind == "tool_result":
            parts.append(
                {
                    "type": "tool_call_response",
                    "id": get(block, "tool_use_id"),
                    "response": get(block, "content"),
                }
            )
        elif kind == "thinking":
            parts.append({"type": "reasoning", "content": get(block, "thinking")})
        else:  # images, documents, redacted thinking: the kind only, never the payload
            parts.append({"type": str(kind)})
    return parts


# ---- response -----------------------------------------------------------------------------


def usage_attributes(usage: Any) -> dict[str, int]:
    """Token counts from a ``Usage`` / ``MessageDeltaUsage`` (see the module docstring).

    The one Anthropic usage normaliser: client spans and ``@trace_llm_call`` both use it.
    """
    if usage is None:
        return {}
    fresh = as_int(get(usage, "input_tokens"))
    read = as_int(get(usage, "cache_read_input_tokens"))
    written = as_int(get(usage, "cache_creation_input_tokens"))
    output = as_int(get(usage, "output_tokens"))
    attrs: dict[str, int] = {}
    if fresh is not None:
        attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = fresh + (read or 0) + (written or 0)
    if read is not None:
        attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = read
    if written is not None:
        attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = written
    if output is not None:
        attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = output
        if fresh is not None:
            attrs[semconv.GEN_AI_USAGE_TOTAL_TOKENS] = (
                attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] + output
            )
    thinking = as_int(get(get(usage, "output_tokens_details"), "thinking_tokens"))
    if thinking is not None:
        attrs[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thinking
    return attrs


def response_attributes(message: Any) -> dict[str, Any]:
    """Id, model and finish reason of a ``Message`` or a stream's total (usage: see above)."""
    attrs: dict[str, Any] = {}
    ident = get(message, "id")
    if isinstance(ident, str):
        attrs[semconv.GEN_AI_RESPONSE_ID] = ident
    model = get(message, "model")
    if isinstance(model, str):
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = model
    stop = get(message, "stop_reason")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [stop]
    return attrs


def count_tokens_response_attributes(result: Any) -> dict[str, Any]:
    tokens = as_int(get(result, "input_tokens"))
    return {} if tokens is None else {semconv.ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS: tokens}


def completion_content(message: Any, *, latest: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """Content of a response: (span attributes, the guide's completion event attributes).

    Call only when capture is on.
    """
    blocks = get(message, "content")
    blocks = list(blocks) if isinstance(blocks, _SEQUENCES) else []
    texts: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        kind = get(block, "type")
        if kind == "text":
            texts.append(get(block, "text") or "")
        elif kind == "thinking":
            thinking.append(get(block, "thinking") or "")
        elif kind in ("tool_use", "server_tool_use"):
            calls.append(
                {
                    "id": get(block, "id"),
                    "type": kind,
                    "name": get(block, "name"),
                    "input": get(block, "input"),
                }
            )
    event: dict[str, Any] = {semconv.GEN_AI_COMPLETION: "".join(texts)}
    if calls:
        event[semconv.GEN_AI_TOOL_CALLS] = to_json(calls)
    if thinking:
        event[semconv.GEN_AI_COMPLETION_REASONING] = "\n".join(thinking)
    attrs: dict[str, Any] = {}
    if latest:
        message_out: dict[str, Any] = {"role": "assistant", "parts": _parts(blocks)}
        stop = get(message, "stop_reason")
        if isinstance(stop, str):
            message_out["finish_reason"] = stop
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = to_json([message_out])
    return attrs, event


# ---- streams ------------------------------------------------------------------------------


# Delta type -> (block field it extends, whether the joined fragments are JSON).
_DELTA_FIELDS: dict[str, tuple[str, bool]] = {
    "text_delta": ("text", False),
    "thinking_delta": ("thinking", False),
    "input_json_delta": ("input", True),
}
_DELTA_VALUE_KEY = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}


class StreamAccumulator:
    """Rebuilds the final message from raw stream events, as plain dicts.

    ``message_start`` carries the id, model, and the input and cache tokens; ``message_delta``
    the stop reason and the CUMULATIVE output tokens (and, on newer APIs, updated input
    counts). Text, thinking and tool-argument (``input_json_delta``) fragments are kept per
    block index and joined once at the end (joining per chunk would be quadratic); with
    ``keep_content=False`` (capture off) they are not kept at all. Unknown event types
    (``ping``, the helper's synthesized ``text`` events) are ignored.
    """

    __slots__ = ("_fragments", "blocks", "keep_content", "message", "usage")

    def __init__(self, keep_content: bool = True) -> None:
        self.keep_content = keep_content
        self.message: dict[str, Any] = {}
        self.usage: dict[str, Any] = {}
        self.blocks: dict[int, dict[str, Any]] = {}
        self._fragments: dict[int, tuple[str, list[str]]] = {}

    def add(self, event: Any) -> str | NotOutput | None:
        """The engine's ``Accumulator``: take one event; a content delta's text (None for
        thinking and tool-argument deltas), NOT_OUTPUT for every other event, so that
        llm.chunks_count and the time to first token measure model output."""
        kind = get(event, "type")
        if kind == "content_block_delta":
            delta = get(event, "delta")
            if self.keep_content:
                self._delta(get(event, "index"), delta)
            text = get(delta, "text")
            return text if isinstance(text, str) else None
        if kind == "content_block_start":
            index = get(event, "index")
            block = get(event, "content_block")
            if isinstance(index, int) and block is not None and self.keep_content:
                self.blocks[index] = _block_dict(block)
        elif kind == "message_start":
            start = get(event, "message")
            for name in ("id", "model", "role"):
                value = get(start, name)
                if value is not None:
                    self.message[name] = value
            self._take_usage(get(start, "usage"))
        elif kind == "message_delta":
            delta = get(event, "delta")
            stop = get(delta, "stop_reason")
            if stop is not None:
                self.message["stop_reason"] = stop
            self._take_usage(get(event, "usage"))
        return NOT_OUTPUT

    def apply(self, call: Call) -> None:
        record_message(call, self.final_message())

    def _take_usage(self, usage: Any) -> None:
        if usage is None:
            return
        for name in (
            "input_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
            "output_tokens",
        ):
            value = as_int(get(usage, name))
            if value is not None:  # message_delta sends null for counts it does not update
                self.usage[name] = value
        thinking = as_int(get(get(usage, "output_tokens_details"), "thinking_tokens"))
        if thinking is not None:
            self.usage["output_tokens_details"] = {"thinking_tokens": thinking}

    def _delta(self, index: Any, delta: Any) -> None:
        kind = get(delta, "type")
        value_key = _DELTA_VALUE_KEY.get(kind)
        if value_key is None or not isinstance(index, int):
            return  # signatures, citations: not content we record
        value = get(delta, value_key)
        if not isinstance(value, str):
            return
        entry = self._fragments.get(index)
        if entry is None:
            entry = self._fragments[index] = (kind, [])
        entry[1].append(value)

    def final_message(self) -> dict[str, Any]:
        """The message as far as the stream got (a stream cut short gives a partial one)."""
        blocks = []
        for index in sorted(self.blocks.keys() | self._fragments.keys()):
            block = dict(self.blocks.get(index) or {})
            entry = self._fragments.get(index)
            if entry is not None:
                field, is_json = _DELTA_FIELDS[entry[0]]
                prefix = "" if is_json else str(block.get(field) or "")
                joined = prefix + "".join(entry[1])
                block[field] = _parse_json(joined) if is_json else joined
            blocks.append(block)
        return {**self.message, "content": blocks, "usage": dict(self.usage)}


_BLOCK_FIELDS = ("type", "id", "name", "text", "thinking", "input")


def _block_dict(block: Any) -> dict[str, Any]:
    """The fields of a starting content block that the span uses (cheaper than a dump)."""
    out: dict[str, Any] = {}
    for name in _BLOCK_FIELDS:
        value = get(block, name)
        if value is not None:
            out[name] = value
    return out


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a stream cut mid-arguments: keep what arrived


# ---- the Stainless seam's map (see _stainless.Vendor) --------------------------------------


def attributes(request: Request, capture: bool) -> dict[str, Any]:
    if request.kind != CHAT:
        return {}
    return request_attributes(
        request.body, stream=request.stream, capture=capture, extra=request.extra
    )


def started(call: Call, request: Request) -> None:
    """A recorded call begins: the system prompt and messages (capture on)."""
    if call.capture and request.kind == CHAT:
        attrs, prompt = prompt_content(request.body, latest=call.semconv_latest)
        call.set_attributes(attrs)
        if prompt is not None:
            call.event(semconv.EVENT_CONTENT_PROMPT, {semconv.GEN_AI_PROMPT: prompt})


def record(call: Call, kind: str, result: Any) -> None:
    """A ``Message`` (or ``MessageTokensCount``), parsed or as its JSON body."""
    if kind == CHAT:
        record_message(call, result)
    else:
        call.set_attributes(count_tokens_response_attributes(result))


def record_message(call: Call, message: Any) -> None:
    call.set_attributes(response_attributes(message))
    call.usage(usage_attributes(get(message, "usage")))
    if call.capture:
        attrs, event = completion_content(message, latest=call.semconv_latest)
        call.set_attributes(attrs)
        call.event(semconv.EVENT_CONTENT_COMPLETION, event)


def accumulator(call: Call, kind: str) -> Accumulator:
    return StreamAccumulator(keep_content=call.capture)
