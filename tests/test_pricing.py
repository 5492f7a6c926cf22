"""The bundled price table, model-name matching, cost arithmetic and user overrides."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import noveum_trace
from noveum_trace import semconv
from noveum_trace._diagnostics.stats import STATS
from noveum_trace.pricing import Price, PriceTable, cost_from_attributes

from .conftest import Traces

TABLE = PriceTable.default()
_USAGE = {
    "input_tokens": semconv.GEN_AI_USAGE_INPUT_TOKENS,
    "output_tokens": semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
    "cache_read_tokens": semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    "cache_write_tokens": semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    "reasoning_tokens": semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
}


def usd(table: PriceTable, model: str, **tokens: int) -> float | None:
    """USD for one call, the way the export worker prices a span: from its attributes."""
    attrs: dict[str, object] = {_USAGE[name]: count for name, count in tokens.items()}
    attrs[semconv.GEN_AI_REQUEST_MODEL] = model
    return cost_from_attributes(attrs, table)


# ---- the data file ----------------------------------------------------------------------


def test_bundled_file_is_dated_and_covers_the_current_families() -> None:
    data_file = Path(noveum_trace.__file__).parent / "data" / "prices.json"
    raw = json.loads(data_file.read_text())
    assert "openai" in raw["note"].lower() and "anthropic" in raw["note"].lower()
    for name, entry in raw["models"].items():
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["checked"]), name
        assert entry["input"] >= 0 and entry["output"] >= 0, name
    required = [
        "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5.1", "gpt-5.2", "gpt-4.1", "gpt-4.1-mini",
        "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o1", "o3", "o3-mini", "o4-mini",
        "gpt-3.5-turbo", "text-embedding-3-small", "text-embedding-3-large",
        "text-embedding-ada-002", "claude-opus-4-5", "claude-opus-4-1", "claude-opus-4",
        "claude-sonnet-4-5", "claude-sonnet-4", "claude-haiku-4-5", "claude-3-7-sonnet",
        "claude-3-5-sonnet", "claude-3-5-haiku", "claude-3-opus", "claude-3-sonnet",
        "claude-3-haiku",
    ]  # fmt: skip
    missing = [name for name in required if name not in raw["models"]]
    assert not missing


# ---- name matching -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("gpt-3.5-turbo-0125", "gpt-3.5-turbo"),
        ("gpt-4-0613", "gpt-4"),
        ("o3-2025-04-16", "o3"),
        ("openai/gpt-4o", "gpt-4o"),
        ("models/gpt-4.1", "gpt-4.1"),
        ("gpt-5-chat-latest", "gpt-5"),
        ("gpt-5.1-codex", "gpt-5.1"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("anthropic/claude-3-haiku-20240307", "claude-3-haiku"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
    ],
)
def test_lookup_matches_snapshots_and_provider_prefixes(model: str, expected: str) -> None:
    assert TABLE.lookup(model) == TABLE.lookup(expected)
    assert TABLE.lookup(model) is not None


def test_dated_snapshot_with_its_own_price_beats_the_alias() -> None:
    assert TABLE.lookup("gpt-4o-2024-05-13") != TABLE.lookup("gpt-4o")


@pytest.mark.parametrize(
    "model",
    [
        "llama-3-70b",
        "claude-opus-4-9",  # a newer version is not the old one's price
        "gpt-4o-realtime-preview",  # differently priced variants are not guessed
        "gpt-4o-mini-tts",
        "o3-deep-research",
        "ft:gpt-4o-mini:acme::abc123",
        "gpt-6",
        "",
    ],
)
def test_unknown_models_are_never_guessed(model: str) -> None:
    assert TABLE.lookup(model) is None
    assert usd(TABLE, model, input_tokens=10, output_tokens=10) is None


# ---- arithmetic ----------------------------------------------------------------------------


def test_plain_cost() -> None:
    # gpt-4o: $2.50 in, $10 out per 1M
    assert usd(TABLE, "gpt-4o", input_tokens=1_000_000, output_tokens=500_000) == 7.5
    assert usd(TABLE, "gpt-4o", input_tokens=150, output_tokens=75) == pytest.approx(0.001125)


def test_cached_input_is_priced_at_its_own_rates() -> None:
    # claude-3-5-sonnet: in 3, out 15, cache read 0.30, cache write 3.75. OpenTelemetry's
    # input_tokens includes both cache parts: 1000 = 200 plain + 500 read + 300 written.
    cost = usd(
        TABLE,
        "claude-3-5-sonnet-20241022",
        input_tokens=1000,
        output_tokens=100,
        cache_read_tokens=500,
        cache_write_tokens=300,
    )
    expected = (200 * 3 + 500 * 0.30 + 300 * 3.75 + 100 * 15) / 1e6
    assert cost == pytest.approx(expected, rel=1e-12)
    # gpt-4o has no cache-write price: written tokens are billed as plain input.
    openai = usd(TABLE, "gpt-4o", input_tokens=1000, output_tokens=0, cache_read_tokens=400)
    assert openai == pytest.approx((600 * 2.5 + 400 * 1.25) / 1e6, rel=1e-12)


def test_reasoning_tokens_default_to_the_output_rate_and_can_have_their_own() -> None:
    # output_tokens includes reasoning: without a reasoning rate the split changes nothing.
    with_reasoning = usd(TABLE, "o3", input_tokens=0, output_tokens=1000, reasoning_tokens=800)
    assert with_reasoning == usd(TABLE, "o3", input_tokens=0, output_tokens=1000)
    table = TABLE.with_overrides({"o3": {"reasoning": 4.0}})
    cost = usd(table, "o3", input_tokens=0, output_tokens=1000, reasoning_tokens=800)
    assert cost == pytest.approx((200 * 8 + 800 * 4) / 1e6, rel=1e-12)


def test_parts_larger_than_the_total_never_give_a_negative_charge() -> None:
    cost = usd(TABLE, "gpt-4o", input_tokens=10, output_tokens=5, cache_read_tokens=50)
    assert cost is not None and cost > 0


def test_cost_from_attributes_prefers_the_response_model() -> None:
    attrs: dict[str, object] = {
        semconv.GEN_AI_REQUEST_MODEL: "gpt-4o",
        semconv.GEN_AI_RESPONSE_MODEL: "gpt-4o-mini-2024-07-18",
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 1_000_000,
    }
    assert cost_from_attributes(attrs, TABLE) == pytest.approx(0.75)
    del attrs[semconv.GEN_AI_RESPONSE_MODEL]
    assert cost_from_attributes(attrs, TABLE) == pytest.approx(12.5)


def test_cost_from_attributes_without_usage_or_for_unknown_model() -> None:
    STATS.reset()
    assert cost_from_attributes({semconv.GEN_AI_REQUEST_MODEL: "gpt-4o"}, TABLE) is None
    unknown = {semconv.GEN_AI_REQUEST_MODEL: "my-own-llm", semconv.GEN_AI_USAGE_INPUT_TOKENS: 3}
    assert cost_from_attributes(unknown, TABLE) is None
    assert "my-own-llm" in STATS.snapshot()["unknown_models"]


# ---- overrides --------------------------------------------------------------------------


def test_overrides_add_models_and_merge_into_known_ones(tmp_path: Path) -> None:
    table = TABLE.with_overrides(
        {"my-llm": {"input": 1, "output": 2, "checked": "2026-01-01"}, "gpt-4o": {"input": 1}}
    )
    assert table.lookup("my-llm") == Price(1.0, 2.0, checked="2026-01-01")
    assert table.lookup("my-llm-2025-01-01") == table.lookup("my-llm")
    merged = table.lookup("gpt-4o")
    assert merged is not None and (merged.input, merged.output) == (1.0, 10.0)
    assert TABLE.lookup("gpt-4o") is not None and TABLE.lookup("gpt-4o").input == 2.5  # type: ignore[union-attr]

    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"other-llm": {"input": 5, "output": 6}}}))
    from_file = TABLE.with_overrides(str(path))
    assert usd(from_file, "other-llm", input_tokens=1_000_000, output_tokens=0) == 5.0
    assert TABLE.with_overrides(path).lookup("other-llm") is not None


@pytest.mark.parametrize(
    "bad",
    [
        {"new-model": {"input": 1}},  # a new model needs input and output
        {"gpt-4o": {"input": -1}},
        {"gpt-4o": {"inptu": 1}},
        {"gpt-4o": "cheap"},
        ["gpt-4o"],
        "/nonexistent/prices.json",
    ],
)
def test_bad_overrides_raise_naming_prices(bad: Any) -> None:
    with pytest.raises(ValueError, match="prices"):
        TABLE.with_overrides(bad)


# ---- end to end: the cost lands in the trace file --------------------------------------


def _usage_span(model: str, **tokens: int) -> None:
    tracer = noveum_trace.get_tracer("test")
    with tracer.start_span("chat " + model) as span:
        span.set_attribute(semconv.GEN_AI_REQUEST_MODEL, model)
        for key, value in tokens.items():
            span.set_attribute(key, value)


def test_cost_attribute_in_trace_file_and_unknown_model_in_stats(traces: Traces) -> None:
    traces.init()
    _usage_span(
        "claude-3-5-haiku-20241022",
        **{
            semconv.GEN_AI_USAGE_INPUT_TOKENS: 2000,
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 300,
            semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 1000,
            semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: 500,
        },
    )
    _usage_span("mystery-model-7b", **{semconv.GEN_AI_USAGE_INPUT_TOKENS: 10})
    spans = {span["name"]: span for span in traces.spans()}
    cost = spans["chat claude-3-5-haiku-20241022"]["attributes"][semconv.GEN_AI_USAGE_COST]
    assert isinstance(cost, float)
    assert cost == pytest.approx((500 * 0.8 + 1000 * 0.08 + 500 * 1.0 + 300 * 4) / 1e6)
    assert semconv.GEN_AI_USAGE_COST not in spans["chat mystery-model-7b"]["attributes"]
    assert "mystery-model-7b" in noveum_trace.get_stats()["unknown_models"]


def test_init_prices_override_from_dict_and_file(traces: Traces) -> None:
    traces.init(
        prices={"mystery-model-7b": {"input": 1.0, "output": 1.0}, "gpt-4o": {"output": 0}},
    )
    _usage_span("mystery-model-7b", **{semconv.GEN_AI_USAGE_INPUT_TOKENS: 1_000_000})
    _usage_span("gpt-4o", **{semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 1_000_000})
    spans = {span["name"]: span for span in traces.spans()}
    assert spans["chat mystery-model-7b"]["attributes"][semconv.GEN_AI_USAGE_COST] == 1.0
    assert spans["chat gpt-4o"]["attributes"][semconv.GEN_AI_USAGE_COST] == 0.0
    assert "mystery-model-7b" not in noveum_trace.get_stats()["unknown_models"]


def test_init_rejects_bad_prices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="prices"):
        noveum_trace.init(log_directory=str(tmp_path), prices={"x": {"input": "free"}})
