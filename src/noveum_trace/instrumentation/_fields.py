"""Reading a client's response models and plain dicts alike: the one helper every map uses.

The same map code reads a parsed model (``usage.prompt_tokens``), the JSON body of a raw
response or a recorded cassette (``usage["prompt_tokens"]``) and a user's duck-typed result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ABSENT: Any = object()


def get(obj: Any, name: str) -> Any:
    """``obj[name]`` for a mapping, ``obj.name`` for anything else; None when absent."""
    if isinstance(obj, dict):  # a concrete check first: the Mapping ABC check is slow
        return obj.get(name)
    value = getattr(obj, name, _ABSENT)
    if value is _ABSENT:  # the ABC check only when there is no such attribute
        return obj.get(name) if isinstance(obj, Mapping) else None
    return value


def as_int(value: Any) -> int | None:
    """``value`` when it is an integer count (never a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
