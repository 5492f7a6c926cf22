"""Request routing for the fake provider: path -> provider module, scenario -> reply or error."""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from noveum_trace.testing import _fake_anthropic as anthropic_wire
from noveum_trace.testing import _fake_openai as openai_wire
from noveum_trace.testing._fake_scenario import (
    DirectiveError,
    Plan,
    Prompt,
    Settings,
    make_plan,
    parse_scenario,
)
from noveum_trace.testing._fake_wire import JsonReply, Reply

ErrorReply = Callable[..., JsonReply]
# Model names the real APIs would not know, as the recorded error cassettes use them.
UNKNOWN_MODEL_MARKERS = ("does-not-exist", "non-existent")


@dataclass(frozen=True)
class _Route:
    error: ErrorReply
    prompt: Callable[[Mapping[str, Any]], Prompt]
    answer: Callable[[Mapping[str, Any], Plan], Reply]
    unknown_model: Callable[[str], JsonReply]
    # The status a non-streamed "stream-error" request gets: the provider's typical overload.
    failure_status: int


def _count_tokens(_body: Mapping[str, Any], plan: Plan) -> Reply:
    return anthropic_wire.count_tokens(plan)


_OPENAI = openai_wire.error_reply
_ANTHROPIC = anthropic_wire.error_reply
# Keys are paths without the "/v1" prefix, so a base URL with or without it both work.
_ROUTES: dict[str, _Route] = {
    "/chat/completions": _Route(
        _OPENAI, openai_wire.chat_prompt, openai_wire.chat, openai_wire.unknown_model, 500
    ),
    "/responses": _Route(
        _OPENAI,
        openai_wire.responses_prompt,
        openai_wire.responses,
        openai_wire.unknown_model_responses,
        500,
    ),
    "/embeddings": _Route(
        _OPENAI,
        openai_wire.embeddings_prompt,
        openai_wire.embeddings,
        openai_wire.unknown_model,
        500,
    ),
    "/messages": _Route(
        _ANTHROPIC,
        anthropic_wire.prompt,
        anthropic_wire.messages,
        anthropic_wire.unknown_model,
        529,
    ),
    "/messages/count_tokens": _Route(
        _ANTHROPIC, anthropic_wire.prompt, _count_tokens, anthropic_wire.unknown_model, 529
    ),
}


def answer(
    method: str, path: str, headers: Mapping[str, str], body: Any, settings: Settings
) -> Reply:
    """The reply to one request. ``body`` is the parsed JSON, or None if it was not JSON."""
    key = path[3:] if path.startswith("/v1/") else path
    route = _ROUTES.get(key)
    if route is None or method != "POST":
        error = _ANTHROPIC if key.startswith("/messages") else _OPENAI
        return error(404, message=f"Invalid URL ({method} {path})")
    if not isinstance(body, Mapping):
        return route.error(400, message="We could not parse the JSON body of your request.")
    try:
        return _answer(route, headers, body, settings)
    except DirectiveError as exc:
        return route.error(400, message=str(exc))
    except Exception as exc:  # a bug here must reach the client as a 500, not kill the thread
        traceback.print_exc(file=sys.stderr)
        return route.error(500, message=f"fake provider failed: {exc!r}")


def _answer(
    route: _Route, headers: Mapping[str, str], body: Mapping[str, Any], settings: Settings
) -> Reply:
    prompt = route.prompt(body)
    scenario = parse_scenario(headers, prompt.last_user_text, settings)
    if scenario.error is not None:
        return route.error(scenario.error, prompt.model)
    if any(marker in prompt.model for marker in UNKNOWN_MODEL_MARKERS):
        return route.unknown_model(prompt.model)
    if scenario.stream_error and not body.get("stream"):
        return route.error(route.failure_status, prompt.model)
    return route.answer(body, make_plan(prompt, scenario))


def parse_json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
