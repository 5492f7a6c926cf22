"""Every attribute and event name the SDK writes, in one place.

The guide's names (``gen_ai.system``, ``gen_ai.content.*`` events, ``llm.*``) are
kept for compatibility; the current OpenTelemetry GenAI names (semconv v1.41)
are written beside them. No other module spells an attribute name as a literal.

Helpers adding a name: append to this file (``cat >> semconv.py``), never rewrite it.
"""

from __future__ import annotations

from typing import Final

# --- GenAI: who and what -------------------------------------------------------
GEN_AI_SYSTEM: Final = "gen_ai.system"  # the guide's name; kept beside provider.name
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"  # set by applications (docs/guide.md)
# Who a trace belongs to (OpenTelemetry general registry), set by applications
SESSION_ID: Final = "session.id"
USER_ID: Final = "user.id"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"

# --- GenAI: request ------------------------------------------------------------
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS: Final = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_TOOL_DEFINITIONS: Final = "gen_ai.tool.definitions"

# --- GenAI: response -----------------------------------------------------------
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"  # seconds
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"

# --- GenAI: usage --------------------------------------------------------------
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_TOTAL_TOKENS: Final = "gen_ai.usage.total_tokens"  # the guide's name
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"  # USD, float

# --- GenAI: content (the guide's events and their attribute keys) -------------
EVENT_CONTENT_PROMPT: Final = "gen_ai.content.prompt"
EVENT_CONTENT_COMPLETION: Final = "gen_ai.content.completion"
EVENT_CONTENT_CHUNK: Final = "gen_ai.content.chunk"
GEN_AI_PROMPT: Final = "gen_ai.prompt"
GEN_AI_COMPLETION: Final = "gen_ai.completion"
GEN_AI_COMPLETION_CHUNK: Final = "gen_ai.completion.chunk"
CHUNK_INDEX: Final = "chunk.index"
CHUNK_TIMESTAMP: Final = "chunk.timestamp"
GEN_AI_TOOL_CALLS: Final = "gen_ai.completion.tool_calls"  # JSON list of tool calls
GEN_AI_SYSTEM_PROMPT: Final = "gen_ai.system_prompt"  # anthropic's separate `system`
# The model's visible reasoning (anthropic `thinking` blocks), on the completion event.
GEN_AI_COMPLETION_REASONING: Final = "gen_ai.completion.reasoning"

# Current semconv content attributes (OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental)
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"

# Suffix of the marker set beside a truncated content value: "<key>.truncated".
TRUNCATED_SUFFIX: Final = ".truncated"

# --- Our own LLM metrics (the guide's "Custom Attributes") ---------------------
LLM_LATENCY_MS: Final = "llm.latency_ms"
LLM_STREAMING: Final = "llm.streaming"
LLM_CHUNKS_COUNT: Final = "llm.chunks_count"
LLM_TIME_TO_FIRST_TOKEN_MS: Final = "llm.time_to_first_token_ms"
LLM_TOKENS_PER_SECOND: Final = "llm.tokens_per_second"

# --- General OpenTelemetry ------------------------------------------------------
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"
ERROR_MESSAGE: Final = "error.message"
SERVICE_NAME: Final = "service.name"
SERVICE_VERSION: Final = "service.version"
TELEMETRY_SDK_NAME: Final = "telemetry.sdk.name"
TELEMETRY_SDK_LANGUAGE: Final = "telemetry.sdk.language"
TELEMETRY_SDK_VERSION: Final = "telemetry.sdk.version"
PROCESS_PID: Final = "process.pid"

EVENT_EXCEPTION: Final = "exception"
EXCEPTION_TYPE: Final = "exception.type"
EXCEPTION_MESSAGE: Final = "exception.message"
EXCEPTION_STACKTRACE: Final = "exception.stacktrace"
EXCEPTION_ESCAPED: Final = "exception.escaped"

# --- Values --------------------------------------------------------------------
OPERATION_CHAT: Final = "chat"
OPERATION_EMBEDDINGS: Final = "embeddings"
OPERATION_COUNT_TOKENS: Final = "count_tokens"  # not in semconv; anthropic's messages.count_tokens
PROVIDER_OPENAI: Final = "openai"
PROVIDER_ANTHROPIC: Final = "anthropic"

# Keys whose values are prompt/completion content. The capture switch and the
# redaction hook apply to exactly these, wherever they are set (span attribute or
# event attribute, by instrumentation or by hand).
CONTENT_KEYS: Final = frozenset(
    {
        GEN_AI_PROMPT,
        GEN_AI_COMPLETION,
        GEN_AI_COMPLETION_CHUNK,
        GEN_AI_TOOL_CALLS,
        GEN_AI_SYSTEM_PROMPT,
        GEN_AI_COMPLETION_REASONING,
        GEN_AI_INPUT_MESSAGES,
        GEN_AI_OUTPUT_MESSAGES,
        GEN_AI_SYSTEM_INSTRUCTIONS,
    }
)

# --- The guide's application-level names (multi-turn and batch examples); used by the demo
CONVERSATION_ID: Final = "conversation.id"
CONVERSATION_TURN: Final = "conversation.turn"
BATCH_ID: Final = "batch.id"
BATCH_SIZE: Final = "batch.size"
BATCH_ITEM_INDEX: Final = "batch.item_index"


# --- OpenAI-specific (OpenTelemetry semconv `openai.*` registry) --------------------------
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
# messages.count_tokens: the count it returns. Not gen_ai.usage.*: nothing was generated or
# billed, so no cost and no usage for an enclosing decorator span. Same name as the client's own.
ANTHROPIC_COUNT_TOKENS_INPUT_TOKENS: Final = "anthropic.message.count_tokens.input_tokens"

# --- Set by noveum_trace itself --------------------------------------------------------------
# An instrumentation span (a stream or raw response the application still held, unfinished)
# that shutdown() or interpreter exit ended, at its last activity, so that it is not lost.
NOVEUM_ENDED_AT_SHUTDOWN: Final = "noveum.ended_at_shutdown"
# The namespace every GenAI attribute name starts with (the CLI shows names without it)
GEN_AI_PREFIX: Final = "gen_ai."
