"""The ``anthropic`` client's private names we rely on, in this module only.

A client release that moves one breaks this file, and CI's version matrix says which.
Imported by ``instrument_anthropic()`` only, so ``anthropic`` loads when asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# The attribute through which a ``Stream`` / ``AsyncStream`` iterates (Stainless-generated):
# the stream is followed in place by swapping it.
STREAM_ITERATOR = "_iterator"


def raw_response_header() -> str:
    """The request header ``with_raw_response`` / ``with_streaming_response`` set."""
    from anthropic._constants import RAW_RESPONSE_HEADER

    return RAW_RESPONSE_HEADER


def wrap_client_spans(
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> Callable[[], None] | None:
    """Replace the function that starts the client's own span for each call (2.x:
    ``anthropic._base_client.start_api_call_span``) by ``wrap(original)``. Returns the undo,
    or None for a client without spans of its own (1.x)."""
    from anthropic import _base_client

    original = getattr(_base_client, "start_api_call_span", None)
    if original is None:
        return None
    _base_client.start_api_call_span = wrap(original)  # type: ignore[attr-defined]

    def undo() -> None:
        _base_client.start_api_call_span = original  # type: ignore[attr-defined]

    return undo
