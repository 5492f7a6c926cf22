"""The fast encoder (JSON text built directly) writes what the readable reference encoder
(``encode_span``: dicts, then JSON) writes, for any span the API can make."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.context import Context

import noveum_trace
from noveum_trace.export.otlp_json import Encoder, encode_span

from .conftest import Traces

_primitive = (
    st.text(max_size=80)
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=True, allow_infinity=True)
)
_value = _primitive | st.lists(_primitive, max_size=4)
_key = st.sampled_from(["gen_ai.request.model", "k", "llm.latency_ms", "ü.key", 'q"uote'])
_attributes = st.dictionaries(_key | st.text(max_size=12), _value, max_size=6)
_events = st.lists(st.tuples(st.text(max_size=30), _attributes), max_size=3)


def _normal(document: Any) -> Any:
    """Decoded JSON with NaN spelled the same on both sides (NaN != NaN)."""
    return orjson.loads(orjson.dumps(document, option=orjson.OPT_SORT_KEYS).replace(b"NaN", b"n"))


@settings(
    max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    name=st.text(max_size=40),
    attributes=_attributes,
    events=_events,
    status=st.sampled_from([None, ("error", ""), ("error", "boom"), ("ok", "")]),
    parent=st.booleans(),
)
def test_fast_encoder_matches_the_reference_encoder_for_any_span(
    traced: Traces,
    name: str,
    attributes: dict[str, Any],
    events: list[tuple[str, dict[str, Any]]],
    status: tuple[str, str] | None,
    parent: bool,
) -> None:
    tracer = noveum_trace.get_tracer("prop", "0.1")
    with tracer.start_span("parent") as outer:
        # a child of "parent", or a root span (an empty context has no parent)
        context = None if parent else Context()
        with tracer.start_span(name, context, attributes=attributes) as span:
            for event_name, event_attributes in events:
                span.add_event(event_name, event_attributes)
            span.add_link(outer.get_span_context(), {"link.n": len(events)})
            if status is not None:
                span.set_status(*status)
    encoded = Encoder({"service.name": "x"})([span, outer])
    assert encoded is not None
    fast = orjson.loads(encoded.line)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert _normal(fast) == _normal([encode_span(span), encode_span(outer)])
