"""OpenAI requests, responses and stream chunks -> span attributes. Pure mapping, no patching.

Three request kinds, by URL: ``chat`` (``/chat/completions``), ``responses`` (``/responses``)
and ``embeddings``. Requests are read from the JSON body the client is about to send (the
client has already dropped unset parameters); responses and chunks are the client's pydantic
models or, for a raw response read by hand, its JSON body: both are read through
``_fields.get``, so that openai 1.x, 2.x and 3.x alike work. Structured values (messages, tool
definitions) are handed to the span as they are: the span encodes them.

The last section is what the Stainless seam (``_stainless``) asks of this map.
"""

from __future__ import annotations

import binascii
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from noveum_trace import semconv
from noveum_trace._pipeline import active_config
from noveum_trace.instrumentation._engine import NOT_OUTPUT, Accumulator, NotOutput
from noveum_trace.instrumentation._fields import as_int, get

if TYPE_CHECKING:
    from noveum_trace.instrumentation._engine import Call
    from noveum_trace.instrumentation._stainless import Request

CHAT = "chat"
RESPONSES = "responses"
EMBEDDINGS = "embeddings"
ROUTES: Mapping[str, str] = {
    "/chat/completions": CHAT,
    "/responses": RESPONSES,
    "/embeddings": EMBEDDINGS,
}
OPERATIONS: Mapping[str, str] = {
    CHAT: semconv.OPERATION_CHAT,
    RESPONSES: semconv.OPERATION_CHAT,
    EMBEDDINGS: semconv.OPERATION_EMBEDDINGS,
}

# body parameter -> attribute, copied when present and a number
_NUMBERS: Mapping[str, Mapping[str, str]] = {
    CHAT: {
        "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": semconv.GEN_AI_REQUEST_TOP_P,
        "max_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
        "max_completion_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
        "frequency_penalty": semconv.GEN_AI_REQUEST_FREQUENCY_PENALTY,
        "presence_penalty": semconv.GEN_AI_REQUEST_PRESENCE_PENALTY,
        "seed": semconv.GEN_AI_REQUEST_SEED,
    },
    RESPONSES: {
        "temperature": semconv.GEN_AI_REQUEST_TEMPERATURE,
        "top_p": semconv.GEN_AI_REQUEST_TOP_P,
        "max_output_tokens": semconv.GEN_AI_REQUEST_MAX_TOKENS,
    },
    EMBEDDINGS: {"dimensions": semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT},
}
_FINISH_BY_STATUS = {"max_output_tokens": "length", "content_filter": "content_filter"}


# ---- requests -----------------------------------------------------------------------


def request_attributes(kind: str, body: Mapping[str, Any], capture: bool = True) -> dict[str, Any]:
    """The request's attributes; with ``capture`` off, tool definitions keep names only."""
    attrs: dict[str, Any] = {}
    for key, attribute in _NUMBERS[kind].items():
        value = body.get(key)
        if type(value) in (int, float):
            attrs[attribute] = value
    if kind == EMBEDDINGS:
        fmt = body.get("encoding_format")
        if isinstance(fmt, str):
            attrs[semconv.GEN_AI_REQUEST_ENCODING_FORMATS] = [fmt]
        return attrs
    stop = body.get("stop")
    if isinstance(stop, str):
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = [stop]
    elif isinstance(stop, list) and stop:
        attrs[semconv.GEN_AI_REQUEST_STOP_SEQUENCES] = stop
    n = body.get("n")
    if type(n) is int and n != 1:
        attrs[semconv.GEN_AI_REQUEST_CHOICE_COUNT] = n
    tier = body.get("service_tier")
    if isinstance(tier, str):
        attrs[semconv.OPENAI_REQUEST_SERVICE_TIER] = tier
    output_type = _output_type(kind, body)
    if output_type:
        attrs[semconv.GEN_AI_OUTPUT_TYPE] = output_type
    tools = body.get("tools")
    if tools:
        attrs[semconv.GEN_AI_TOOL_DEFINITIONS] = tools if capture else _tool_names(tools)
    return attrs


def _tool_names(tools: Any) -> list[dict[str, Any]]:
    """Capture off: each tool's type and name only (descriptions and schemas are content)."""
    out: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, (list, tuple)) else ():
        tool_type = get(tool, "type")
        name = get(tool, "name") or get(get(tool, "function"), "name")
        entry: dict[str, Any] = {}
        if isinstance(tool_type, str):
            entry["type"] = tool_type
        if isinstance(name, str):
            entry["name"] = name
        out.append(entry)
    return out


def _output_type(kind: str, body: Mapping[str, Any]) -> str | None:
    fmt = body.get("response_format") if kind == CHAT else get(body.get("text"), "format")
    fmt_type = get(fmt, "type")
    if fmt_type in ("json_object", "json_schema"):
        return "json"
    return "text" if fmt_type == "text" else None


def prompt_attributes(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``gen_ai.content.prompt`` event's attributes (build only with capture on)."""
    if kind == CHAT:
        return {semconv.GEN_AI_PROMPT: body.get("messages")}
    if kind == EMBEDDINGS:
        return {semconv.GEN_AI_PROMPT: body.get("input")}
    # Responses: the input as a message list, the instructions first as a system message.
    prompt = _as_items(body.get("input"))
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        prompt.insert(0, {"role": "system", "content": instructions})
    return {semconv.GEN_AI_PROMPT: prompt}


def _as_items(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return list(value) if isinstance(value, (list, tuple)) else []


# ---- the current semconv's parts-based messages (OTEL_SEMCONV_STABILITY_OPT_IN) --------


def _text(content: str) -> dict[str, Any]:
    return {"type": "text", "content": content}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [_text(content)]
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, (list, tuple)) else ():
        text = get(part, "text")
        if isinstance(text, str):
            parts.append(_text(text))
        else:
            parts.append({"type": str(get(part, "type") or "unknown")})
    return parts


def _tool_call_part(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": call_id, "name": name, "arguments": arguments}


def latest_input(kind: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``gen_ai.input.messages`` / ``gen_ai.system_instructions`` (parts format)."""
    if kind == EMBEDDINGS:
        return {}
    system: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    if kind == RESPONSES and isinstance(body.get("instructions"), str):
        system.append(_text(body["instructions"]))
    items = body.get("messages") if kind == CHAT else _as_items(body.get("input"))
    for item in items or ():
        role = get(item, "role")
        item_type = get(item, "type")
        if role in ("system", "developer"):
            system.extend(_content_parts(get(item, "content")))
        elif role == "tool" or item_type == "function_call_output":
            call_id = get(item, "tool_call_id") or get(item, "call_id")
            response = get(item, "content") if role == "tool" else get(item, "output")
            part = {"type": "tool_call_response", "id": call_id, "response": response}
            messages.append({"role": "tool", "parts": [part]})
        elif item_type == "function_call":
            part = _tool_call_part(get(item, "call_id"), get(item, "name"), item.get("arguments"))
            messages.append({"role": "assistant", "parts": [part]})
        else:
            parts = _content_parts(get(item, "content"))
            for tool_call in get(item, "tool_calls") or ():
                function = get(tool_call, "function")
                parts.append(
                    _tool_call_part(
                        get(tool_call, "id"), get(function, "name"), get(function, "arguments")
                    )
                )
            messages.append({"role": role or "user", "parts": parts})
    out: dict[str, Any] = {semconv.GEN_AI_INPUT_MESSAGES: messages}
    if system:
        out[semconv.GEN_AI_SYSTEM_INSTRUCTIONS] = system
    return out


def _output_message(
    text: str | None, tool_calls: list[dict[str, Any]], finish_reason: Any
) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [_text(text)] if text else []
    for tool_call in tool_calls:
        function = tool_call.get("function") or {}
        parts.append(
            _tool_call_part(tool_call.get("id"), function.get("name"), function.get("arguments"))
        )
    return {"role": "assistant", "parts": parts, "finish_reason": finish_reason or "stop"}


# ---- usage ----------------------------------------------------------------------------


def usage_attributes(usage: Any) -> dict[str, int]:
    """OpenAI usage (chat, embeddings or responses) in OpenTelemetry terms; absent stays absent.

    OpenAI counts cached (and cache-written) tokens inside the input, as OpenTelemetry does.
    The one OpenAI usage normaliser: client spans and ``@trace_llm_call`` both use it.
    """
    out: dict[str, int] = {}
    if usage is None:
        return out
    inputs = as_int(get(usage, "prompt_tokens"))
    if inputs is not None:
        outputs = as_int(get(usage, "completion_tokens"))
        details = get(usage, "prompt_tokens_details")
        output_details = get(usage, "completion_tokens_details")
    else:
        inputs = as_int(get(usage, "input_tokens"))
        outputs = as_int(get(usage, "output_tokens"))
        details = get(usage, "input_tokens_details")
        output_details = get(usage, "output_tokens_details")
    if inputs is not None:
        out[semconv.GEN_AI_USAGE_INPUT_TOKENS] = inputs
    if outputs is not None:
        out[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = outputs
    total = as_int(get(usage, "total_tokens"))
    if total is not None:
        out[semconv.GEN_AI_USAGE_TOTAL_TOKENS] = total
    cached = as_int(get(details, "cached_tokens"))
    if cached is not None:
        out[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    written = as_int(get(details, "cache_write_tokens"))
    if written:  # reported as 0 by every response that wrote nothing
        out[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = written
    reasoning = as_int(get(output_details, "reasoning_tokens"))
    if reasoning is not None:
        out[semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return out


# ---- non-streamed responses -------------------------------------------------------------


def record_response(call: Call, kind: str, result: Any) -> None:
    """Everything a parsed response says, onto ``call`` (which the caller then finishes)."""
    if kind == CHAT:
        _record_chat(call, result)
    elif kind == RESPONSES:
        _record_responses(call, result)
    else:
        _record_embeddings(call, result)


def _record_common(call: Call, result: Any) -> None:
    call.set(semconv.GEN_AI_RESPONSE_ID, get(result, "id"))
    call.set(semconv.GEN_AI_RESPONSE_MODEL, get(result, "model"))
    call.set(semconv.OPENAI_RESPONSE_SERVICE_TIER, get(result, "service_tier"))
    call.set(semconv.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, get(result, "system_fingerprint"))
    call.usage(usage_attributes(get(result, "usage")))


def _record_chat(call: Call, result: Any) -> None:
    _record_common(call, result)
    choices = get(result, "choices") or ()
    reasons = [str(get(choice, "finish_reason") or "") for choice in choices]
    if reasons:
        call.set(semconv.GEN_AI_RESPONSE_FINISH_REASONS, reasons)
    if not call.capture:
        return
    outputs = []
    for choice in choices:
        message = get(choice, "message")
        text = get(message, "content")
        tool_calls = [_tool_call_dict(tc) for tc in get(message, "tool_calls") or ()]
        _completion_event(call, text if isinstance(text, str) else None, tool_calls)
        if call.semconv_latest:
            outputs.append(_output_message(text, tool_calls, get(choice, "finish_reason")))
    if outputs:
        call.set(semconv.GEN_AI_OUTPUT_MESSAGES, outputs)


def _tool_call_dict(tool_call: Any) -> dict[str, Any]:
    function = get(tool_call, "function")
    return {
        "id": get(tool_call, "id"),
        "type": get(tool_call, "type") or "function",
        "function": {"name": get(function, "name"), "arguments": get(function, "arguments")},
    }


def _completion_event(call: Call, text: str | None, tool_calls: list[dict[str, Any]]) -> None:
    attrs: dict[str, Any] = {}
    if text is not None:
        attrs[semconv.GEN_AI_COMPLETION] = text
    if tool_calls:
        attrs[semconv.GEN_AI_TOOL_CALLS] = tool_calls
    if attrs:
        call.event(semconv.EVENT_CONTENT_COMPLETION, attrs)


def _record_responses(call: Call, result: Any) -> None:
    _record_common(call, result)
    text_parts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    for item in get(result, "output") or ():
        item_type = get(item, "type")
        if item_type == "message":
            for part in get(item, "content") or ():
                text = get(part, "text")
                if isinstance(text, str):
                    text_parts.append(text)
        elif item_type == "function_call":
            tool_calls.append(
                {
                    "id": get(item, "call_id"),
                    "type": "function",
                    "function": {"name": get(item, "name"), "arguments": get(item, "arguments")},
                }
            )
    status = get(result, "status")
    reason: str | None = None
    if status == "completed":
        reason = "tool_calls" if tool_calls else "stop"
    elif status == "incomplete":
        detail = get(get(result, "incomplete_details"), "reason")
        reason = _FINISH_BY_STATUS.get(str(detail), str(detail or status))
    elif isinstance(status, str):
        reason = status
    if reason:
        call.set(semconv.GEN_AI_RESPONSE_FINISH_REASONS, [reason])
    if status == "failed":  # a stream's response.failed, or a background response's end
        _fail(call, get(result, "error"))
    if call.capture:
        text = "".join(text_parts) if text_parts else None
        _completion_event(call, text, tool_calls)
        if call.semconv_latest:
            call.set(semconv.GEN_AI_OUTPUT_MESSAGES, [_output_message(text, tool_calls, reason)])


def _record_embeddings(call: Call, result: Any) -> None:
    call.set(semconv.GEN_AI_RESPONSE_MODEL, get(result, "model"))
    call.usage(usage_attributes(get(result, "usage")))
    data = get(result, "data")
    if data:
        vector = get(data[0], "embedding")
        if isinstance(vector, list):
            call.set(semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, len(vector))
        elif isinstance(vector, str):  # a raw body: base64 float32s, as the client asks for
            count = len(binascii.a2b_base64(vector)) // 4
            call.set(semconv.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, count)


def _fail(call: Call, error: Any) -> None:
    """An error the API reported in-band: error.type is its code (OpenTelemetry's ``_OTHER``
    when it has none), the status message its message."""
    code = get(error, "code")
    message = get(error, "message")
    call.fail(
        code if isinstance(code, str) and code else "_OTHER",
        message if isinstance(message, str) else None,
    )


# ---- streams ----------------------------------------------------------------------------


class ChatAccumulator:
    """Running total of a streamed chat completion: text and tool calls by choice index."""

    __slots__ = ("finish", "id", "keep_text", "model", "texts", "tier", "tools", "usage")

    def __init__(self, keep_text: bool) -> None:
        self.keep_text = keep_text
        self.id: Any = None
        self.model: Any = None
        self.tier: Any = None
        self.usage: Any = None
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[int, dict[int, dict[str, Any]]] = {}
        self.finish: dict[int, str] = {}

    def add(self, chunk: Any) -> str | NotOutput | None:
        """The chunk's choice-0 text; NOT_OUTPUT when no choice carries output (the role-only
        first chunk, finish-reason or usage-only chunks, Azure's prompt_filter_results)."""
        # The per-chunk hot path: plain attribute reads, no allocation for the common chunk.
        if self.id is None:
            self.id = chunk.id
            self.model = chunk.model
            self.tier = getattr(chunk, "service_tier", None)
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        first: str | None = None
        output = False
        for choice in chunk.choices:
            index = choice.index
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if content:
                    output = True
                    if index == 0:
                        first = content
                    if self.keep_text:
                        texts = self.texts.get(index)
                        if texts is None:
                            texts = self.texts[index] = []
                        texts.append(content)
                if delta.tool_calls:
                    output = True
                    self._tool_deltas(index, delta.tool_calls)
                elif not output and getattr(delta, "refusal", None):
                    output = True
            reason = choice.finish_reason
            if reason:
                self.finish[index] = reason
        return first if output else NOT_OUTPUT

    def _tool_deltas(self, choice: int, deltas: Any) -> None:
        calls = self.tools.setdefault(choice, {})
        for delta in deltas:
            entry = calls.get(delta.index)
            function = delta.function
            if entry is None:
                entry = calls[delta.index] = {
                    "id": delta.id,
                    "type": delta.type or "function",
                    "function": {"name": None, "arguments": ""},
                }
            elif delta.id and not entry["id"]:
                entry["id"] = delta.id
            if function is not None:
                if function.name:
                    entry["function"]["name"] = function.name
                if function.arguments:
                    entry["function"]["arguments"] += function.arguments

    def apply(self, call: Call) -> None:
        call.set(semconv.GEN_AI_RESPONSE_ID, self.id)
        call.set(semconv.GEN_AI_RESPONSE_MODEL, self.model)
        call.set(semconv.OPENAI_RESPONSE_SERVICE_TIER, self.tier)
        if self.finish:
            call.set(
                semconv.GEN_AI_RESPONSE_FINISH_REASONS,
                [self.finish[index] for index in sorted(self.finish)],
            )
        call.usage(usage_attributes(self.usage))
        if not call.capture:
            return
        outputs = []
        for index in sorted(set(self.texts) | set(self.tools)):
            text = "".join(self.texts.get(index, ()))
            tool_calls = [calls for _, calls in sorted(self.tools.get(index, {}).items())]
            _completion_event(call, text, tool_calls)
            outputs.append(_output_message(text, tool_calls, self.finish.get(index)))
        if call.semconv_latest and outputs:
            call.set(semconv.GEN_AI_OUTPUT_MESSAGES, outputs)


class ResponsesAccumulator:
    """Running total of a streamed Responses API call: the final ``response`` it carries,
    else (an abandoned stream) the text deltas seen so far.

    A terminal ``response.failed`` (its response's ``error``) or ``error`` event ends the
    call with error status, ``error.type`` the error's code; ``response.incomplete`` records
    its reason as the finish reason.
    """

    __slots__ = ("error", "final", "keep_text", "texts")

    _FINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})

    def __init__(self, keep_text: bool) -> None:
        self.keep_text = keep_text
        self.final: Any = None
        self.error: Any = None
        self.texts: list[str] = []

    def add(self, event: Any) -> str | NotOutput | None:
        """The text of an output_text delta; None for other ``*.delta`` events (function
        arguments, reasoning, refusal: output without text); NOT_OUTPUT for the rest."""
        event_type = getattr(event, "type", None)
        if event_type == "response.output_text.delta":
            delta: str = event.delta
            if self.keep_text:
                self.texts.append(delta)
            return delta
        if event_type in self._FINAL or (event_type == "response.created" and self.final is None):
            self.final = event.response
        elif event_type == "error":
            self.error = event
        if isinstance(event_type, str) and event_type.endswith(".delta"):
            return None
        return NOT_OUTPUT

    def apply(self, call: Call) -> None:
        final = self.final
        if final is not None and get(final, "status") in ("completed", "incomplete", "failed"):
            _record_responses(call, final)
        else:
            if final is not None:
                call.set(semconv.GEN_AI_RESPONSE_ID, get(final, "id"))
                call.set(semconv.GEN_AI_RESPONSE_MODEL, get(final, "model"))
            if call.capture and self.texts:
                _completion_event(call, "".join(self.texts), [])
        if self.error is not None:
            _fail(call, self.error)


def is_usage_only_chunk(chunk: Any) -> bool:
    """The extra last chunk that ``stream_options.include_usage`` adds."""
    return not chunk.choices and chunk.usage is not None


# ---- the Stainless seam's map (see _stainless.Vendor) --------------------------------------


def attributes(request: Request, capture: bool) -> dict[str, Any]:
    return request_attributes(request.kind, request.body, capture)


def started(call: Call, request: Request) -> None:
    """A recorded call begins: the prompt (capture on), and the opt-in streamed usage."""
    kind = request.kind
    body = request.body
    if request.stream and kind == CHAT and active_config().openai_include_usage:
        _include_usage(call, request)
    if call.capture:
        call.event(semconv.EVENT_CONTENT_PROMPT, prompt_attributes(kind, body))
        if call.semconv_latest:
            call.set_attributes(latest_input(kind, body))


def _include_usage(call: Call, request: Request) -> None:
    """``openai_include_usage``: ask for the usage chunk and keep it from the user. Never on a
    raw response, whose user may read the SSE lines: an added line could not be hidden."""
    body = request.body
    stream_options = body.get("stream_options")
    if request.raw or (isinstance(stream_options, Mapping) and stream_options.get("include_usage")):
        return  # the user asked for it: they see the usage chunk, as without us
    request.set_body({**body, "stream_options": {**(stream_options or {}), "include_usage": True}})
    call.hide = is_usage_only_chunk


def accumulator(call: Call, kind: str) -> Accumulator:
    if kind == CHAT:
        return ChatAccumulator(call.capture)
    return ResponsesAccumulator(call.capture)
