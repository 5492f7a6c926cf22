"""The ``openai`` client's private names we rely on, in this module only.

A client release that moves one breaks this file, and CI's version matrix says which.
Imported by ``instrument_openai()`` only, so ``openai`` loads when asked for.
"""

from __future__ import annotations

# The attribute through which a ``Stream`` / ``AsyncStream`` iterates (Stainless-generated):
# the stream is followed in place by swapping it.
STREAM_ITERATOR = "_iterator"


def raw_response_header() -> str:
    """The request header ``with_raw_response`` / ``with_streaming_response`` set."""
    from openai._constants import RAW_RESPONSE_HEADER

    return RAW_RESPONSE_HEADER
