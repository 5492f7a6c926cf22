"""Attribute values: keep what OpenTelemetry can carry, coerce the rest, never raise.

Primitives (str, bool, int, float) and homogeneous lists of them are kept. Anything else
becomes a JSON string; what cannot even be turned into a string is dropped (returns
``_DROP``) and counted by the caller.
"""

from __future__ import annotations

from typing import Any

import orjson

_DROP: Any = object()
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_PRIMITIVES = (str, bool, int, float)


def type_name(exc: BaseException) -> str:
    """An exception's class name, module-qualified unless a builtin (``openai.RateLimitError``).

    The value of ``exception.type`` and ``error.type``.
    """
    kind = type(exc)
    module = kind.__module__
    return kind.__qualname__ if module == "builtins" else f"{module}.{kind.__qualname__}"


def safe_str(value: object) -> str:
    """``str(value)``, or a placeholder when its ``__str__`` raises: an application's odd
    exception must reach it unchanged, and its span still records the error."""
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def as_text(value: object) -> str:
    """A name-like field as text. Our spans always hold a str there; a span or scope from
    another library's tracer may hold None, a number or bytes, which are coerced, not fatal."""
    if type(value) is str:
        return value
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return safe_str(value)


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit]


def _json_default(value: Any) -> Any:
    # Called by orjson for unknown types: sets become lists, pydantic models dicts, else str().
    if isinstance(value, (set, frozenset)):
        return list(value)
    # Only a real pydantic model (its class declares the fields): a Mock answers any attribute,
    # and recursing through its endless model_dump() results would cost ~0.5 s per value.
    if isinstance(getattr(type(value), "model_fields", None), dict):
        dump = getattr(value, "model_dump", None)
        if callable(dump):
            return dump()
    return str(value)


def to_json(value: Any) -> str:
    """Best-effort JSON text for any value; falls back to ``repr``."""
    try:
        return orjson.dumps(
            value,
            default=_json_default,
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        ).decode()
    except Exception:
        try:
            return repr(value)
        except Exception:
            return _DROP  # type: ignore[no-any-return]


def _primitive(value: Any, limit: int) -> Any:
    """Exact primitive for a primitive subclass (IntEnum, str subclasses), else _DROP."""
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        number = int(value)
        return number if INT64_MIN <= number <= INT64_MAX else str(number)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return truncate(str.__str__(value), limit)
    return _DROP


def coerce(value: Any, limit: int) -> Any:
    """Turn a non-exact-primitive value into an attribute value, or ``_DROP``."""
    try:
        if value is None:
            return _DROP
        if isinstance(value, _PRIMITIVES):
            return _primitive(value, limit)
        if isinstance(value, (list, tuple)):
            return _sequence(value, limit)
        if isinstance(value, (bytes, bytearray, memoryview)):
            return truncate(bytes(value).decode("utf-8", "replace"), limit)
        text = to_json(value)
        return _DROP if text is _DROP else truncate(text, limit)
    except Exception:
        return _DROP


def _sequence(items: list[Any] | tuple[Any, ...], limit: int) -> Any:
    if not items:
        return []
    first = type(items[0])
    if first in _PRIMITIVES and all(type(item) is first for item in items):
        if first is str:
            return [truncate(item, limit) for item in items]
        if first is int and not all(INT64_MIN <= item <= INT64_MAX for item in items):
            return [str(item) for item in items]
        return list(items)
    if all(type(item) in (int, float) for item in items):  # mixed numbers: widen to float
        return [float(item) for item in items]
    text = to_json(items)
    return _DROP if text is _DROP else truncate(text, limit)
