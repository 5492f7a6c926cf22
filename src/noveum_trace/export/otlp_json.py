"""Spans to one OTLP ``TracesData`` in the protobuf JSON mapping.

The mapping's rules (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding): trace
and span ids as lower-case hex, enums as integers, 64-bit integers as decimal strings, field
names in lowerCamelCase. The same bytes feed the trace files and OTLP/HTTP JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring as _json_string  # C: a JSON string literal
from typing import TYPE_CHECKING, Any

import orjson

from noveum_trace import privacy
from noveum_trace._core.values import as_text, safe_str
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace._diagnostics.stats import STATS
from noveum_trace.export.base import EncodedBatch

if TYPE_CHECKING:
    from noveum_trace._core.span import Span

AttributeHook = Callable[["Span"], None]

_mask = privacy.mask_secrets
_min_secret_length = privacy.min_secret_length


def _quote(text: str) -> str:
    """A JSON string literal with secrets masked (always on; see privacy.py).

    Masking string by string, and only strings long enough to hold a secret, costs a
    fraction of scanning every encoded byte.
    """
    if type(text) is not str:
        text = as_text(text)
    if len(text) >= _min_secret_length():
        text = _mask(text)
    return _json_string(text)


def any_value(value: Any) -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"stringValue": value}
    if kind is bool:
        return {"boolValue": value}
    if kind is int:
        return {"intValue": str(value)}
    if kind is float:
        if math.isfinite(value):
            return {"doubleValue": value}
        return {
            "doubleValue": "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")
        }
    if kind is list:
        return {"arrayValue": {"values": [any_value(item) for item in value]}}
    if isinstance(value, Mapping):
        return {"kvlistValue": {"values": key_values(value)}}
    return {"stringValue": safe_str(value)}


def key_values(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": key, "value": any_value(value)} for key, value in attributes.items()]


def encode_span(span: Span) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": f"{span.trace_id:032x}",
        "spanId": f"{span.span_id:016x}",
        "name": as_text(span.name),
        "kind": span.kind,
        "startTimeUnixNano": str(span.start_ns),
        "endTimeUnixNano": str(span.end_ns),
        "attributes": key_values(span.attributes),
        # W3C flags (sampled) plus the "has is_remote" bit and its value, per OTLP 1.1+
        "flags": 0x101 | (0x200 if span.parent_remote else 0),
    }
    if span.parent_id:
        out["parentSpanId"] = f"{span.parent_id:016x}"
    if span.trace_state is not None:
        out["traceState"] = span.trace_state.to_header()
    if span.events:
        out["events"] = [
            {"timeUnixNano": str(when), "name": as_text(name), "attributes": key_values(attrs)}
            for name, when, attrs in span.events
        ]
    if span.links:
        out["links"] = [
            {"traceId": f"{tid:032x}", "spanId": f"{sid:016x}", "attributes": key_values(attrs)}
            for tid, sid, attrs in span.links
        ]
    if span.status_code:
        status: dict[str, Any] = {"code": span.status_code}
        if span.status_message:
            status["message"] = as_text(span.status_message)
        out["status"] = status
    if span.dropped:
        out["droppedAttributesCount"] = span.dropped
    if span.dropped_events:
        out["droppedEventsCount"] = span.dropped_events
    return out


# ---- the fast path: JSON text built directly ------------------------------------------
# Building the nested dicts above and then serialising them costs ~3x more than writing the
# JSON text straight away. ``encode_span`` stays as the readable reference; a test checks
# that both produce the same document.

_KEY_PREFIX: dict[str, str] = {}


def _key_prefix(key: str) -> str:
    prefix = _KEY_PREFIX.get(key)
    if prefix is None:
        prefix = '{"key":' + _quote(key) + ',"value":'
        if len(_KEY_PREFIX) < 4096:  # bounded: keys are usually a small fixed set
            _KEY_PREFIX[key] = prefix
    return prefix


def _value_text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return '{"stringValue":' + _quote(value) + "}"
    if kind is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is int:
        return '{"intValue":"' + str(value) + '"}'
    if kind is float:
        if math.isfinite(value):
            return '{"doubleValue":' + repr(value) + "}"
        return orjson.dumps(any_value(value)).decode()
    if kind is list:
        return '{"arrayValue":{"values":[' + ",".join(map(_value_text, value)) + "]}}"
    return _mask(orjson.dumps(any_value(value), default=safe_str).decode())  # JSON-safe mask


# Attribute pairs repeat across spans (system, model, operation name, ...): their text is
# cached. Only short strings and bools are cached, and the cache is bounded.
_PAIR_CACHE: dict[tuple[str, Any], str] = {}
_PAIR_CACHE_MAX = 8192
_INF = math.inf


def _pair_text(key: str, value: str | bool) -> str:
    text = _key_prefix(key) + _value_text(value) + "}"
    if type(value) is bool or len(value) <= 64:
        if len(_PAIR_CACHE) >= _PAIR_CACHE_MAX:
            _PAIR_CACHE.clear()
        _PAIR_CACHE[key, value] = text
    return text


def _attributes_text(attributes: Mapping[str, Any]) -> str:
    # The common kinds inline: this loop runs for every attribute the worker writes.
    cache = _PAIR_CACHE
    prefixes = _KEY_PREFIX
    parts = []
    for key, value in attributes.items():
        kind = type(value)
        if kind is str or kind is bool:
            text = cache.get((key, value)) or _pair_text(key, value)
        elif kind is int:
            prefix = prefixes.get(key) or _key_prefix(key)
            text = prefix + '{"intValue":"' + str(value) + '"}}'
        elif kind is float and -_INF < value < _INF:  # NaN and infinities are spelled out
            prefix = prefixes.get(key) or _key_prefix(key)
            text = prefix + '{"doubleValue":' + repr(value) + "}}"
        else:
            text = _key_prefix(key) + _value_text(value) + "}"
        parts.append(text)
    return ",".join(parts)


# Span and event names repeat ("chat gpt-4o", "gen_ai.content.prompt"): their JSON text,
# masked, is cached. Bounded.
_NAME_TEXT: dict[str, str] = {}


def _name_text(name: str) -> str:
    if type(name) is not str:
        return _quote(name)
    text = _NAME_TEXT.get(name)
    if text is None:
        text = _quote(name)
        if len(name) <= 128:
            if len(_NAME_TEXT) >= 4096:
                _NAME_TEXT.clear()
            _NAME_TEXT[name] = text
    return text


def _events_text(events: list[tuple[str, int, dict[str, Any]]]) -> str:
    return ",".join(
        [
            f'{{"timeUnixNano":"{when}","name":{_name_text(name)},"attributes":['
            f"{_attributes_text(attrs)}]}}"
            for name, when, attrs in events
        ]
    )


def _links_text(links: list[tuple[int, int, dict[str, Any]]]) -> str:
    return ",".join(
        [
            f'{{"traceId":"{tid:032x}","spanId":"{sid:016x}","attributes":['
            f"{_attributes_text(attrs)}]}}"
            for tid, sid, attrs in links
        ]
    )


def span_text(span: Span) -> str:
    # int.to_bytes().hex() formats an id in half the time of f"{id:032x}"
    parent = (
        f'"parentSpanId":"{span.parent_id.to_bytes(8, "big").hex()}",' if span.parent_id else ""
    )
    text = (
        f'{{"traceId":"{span.trace_id.to_bytes(16, "big").hex()}",'
        f'"spanId":"{span.span_id.to_bytes(8, "big").hex()}",{parent}'
        f'"name":{_name_text(span.name)},"kind":{span.kind},"startTimeUnixNano":"{span.start_ns}",'
        f'"endTimeUnixNano":"{span.end_ns}","attributes":[{_attributes_text(span.attributes)}],'
        f'"flags":{0x301 if span.parent_remote else 0x101}'
    )
    if span.events:
        text += f',"events":[{_events_text(span.events)}]'
    if span.status_code:
        message = span.status_message
        text += (
            f',"status":{{"code":{span.status_code},"message":{_quote(message)}}}'
            if message
            else f',"status":{{"code":{span.status_code}}}'
        )
    if span.links:
        text += f',"links":[{_links_text(span.links)}]'
    if span.trace_state is not None:
        text += ',"traceState":' + _quote(span.trace_state.to_header())
    if span.dropped:
        text += f',"droppedAttributesCount":{span.dropped}'
    if span.dropped_events:
        text += f',"droppedEventsCount":{span.dropped_events}'
    return text + "}"


# The '{"scope":{...},"spans":[' text of each instrumentation scope, built once.
_SCOPE_HEAD: dict[tuple[str, str | None], str] = {}


def _scope_head(scope: tuple[str, str | None]) -> str:
    head = _SCOPE_HEAD.get(scope)
    if head is None:
        name, version = scope
        # Our tracer gives str or None; another library may pass a number (get_tracer("x", 2)).
        head = '{"scope":{"name":' + _quote(as_text(name))
        if version is not None and version != "":
            head += ',"version":' + _quote(as_text(version))
        head += '},"spans":['
        if len(_SCOPE_HEAD) < 1024:  # bounded: scopes are a small fixed set
            _SCOPE_HEAD[scope] = head
    return head


class Encoder:
    """Encodes batches for one process (one resource).

    A span that cannot be encoded costs only itself: it is counted in
    ``spans_dropped_encoding`` and the rest of its batch is written.
    """

    def __init__(
        self, resource: Mapping[str, Any], before_encode: AttributeHook | None = None
    ) -> None:
        self._secrets = privacy.secrets_generation()
        self.resource = resource
        self.before_encode = before_encode

    @property
    def resource(self) -> Mapping[str, Any]:
        return self._resource

    @resource.setter
    def resource(self, resource: Mapping[str, Any]) -> None:
        self._resource = resource
        self._head = '{"resourceSpans":[{"resource":{"attributes":[' + _attributes_text(resource)
        self._head += ']},"scopeSpans":['

    def __call__(self, spans: list[Span]) -> EncodedBatch | None:
        if privacy.secrets_generation() is not self._secrets:  # text cached before a new secret
            self._secrets = privacy.secrets_generation()
            _PAIR_CACHE.clear()
            _KEY_PREFIX.clear()
            _SCOPE_HEAD.clear()
            _NAME_TEXT.clear()
            self.resource = self._resource
        scopes: dict[str, list[str]] = {}
        hook = self.before_encode
        failed = 0
        last_scope: object = None
        texts: list[str] = []
        for span in spans:
            if hook is not None:
                try:
                    hook(span)
                except Exception as exc:  # the span is still written, without what it adds
                    internal_error("encoder hook", exc)
            try:
                text = span_text(span)
                if span.scope is not last_scope:  # runs of spans share their tracer's scope
                    head = _scope_head(span.scope)
                    texts = scopes.setdefault(head, [])
                    last_scope = span.scope
            except Exception as exc:
                internal_error("encoder", exc)
                failed += 1
                continue
            texts.append(text)
        if failed:
            STATS.incr("spans_dropped_encoding", failed)
        if not scopes:
            return None
        text = (
            self._head
            + ",".join([head + ",".join(texts) + "]}" for head, texts in scopes.items()])
            + "]}]}"
        )
        return EncodedBatch(line=text.encode("utf-8", "replace"), span_count=len(spans) - failed)
