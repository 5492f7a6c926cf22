"""Token cost from a bundled price table (``data/prices.json``); nothing is fetched at run time.

Token semantics follow OpenTelemetry's GenAI conventions, which the instrumentation writes:

* ``gen_ai.usage.input_tokens`` INCLUDES cache-read and cache-creation tokens;
* ``gen_ai.usage.output_tokens`` INCLUDES reasoning tokens.

So a span is priced as::

    (input - cache_read - cache_write) * input_rate
    + cache_read * cache_read_rate + cache_write * cache_write_rate
    + (output - reasoning) * output_rate + reasoning * reasoning_rate

all divided by 1e6 (rates are USD per million tokens). A missing reasoning rate means the
output rate (every current provider bills reasoning as output); a missing cache rate means
the input rate (OpenAI does not bill cache writes). A model the table does not know gets no
cost at all, never a guess; its name is reported in ``noveum_trace.get_stats()``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from typing import Any

from noveum_trace import semconv
from noveum_trace._diagnostics.guard import internal_error
from noveum_trace._diagnostics.stats import STATS


@dataclass(frozen=True)
class Price:
    """USD per 1M tokens; ``checked`` is the ISO date the price was last verified."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    checked: str = ""

    def usd(
        self,
        input_tokens: int,
        output_tokens: int,
        cache_read: int,
        cache_write: int,
        reasoning: int,
    ) -> float:
        """USD for these token counts (the module docstring has the rules)."""
        # Clamp: a provider that reports the parts larger than the total must not yield a
        # negative charge.
        plain_input = max(input_tokens - cache_read - cache_write, 0)
        plain_output = max(output_tokens - reasoning, 0)
        read_rate = self.input if self.cache_read is None else self.cache_read
        write_rate = self.input if self.cache_write is None else self.cache_write
        reasoning_rate = self.output if self.reasoning is None else self.reasoning
        total = (
            plain_input * self.input
            + cache_read * read_rate
            + cache_write * write_rate
            + plain_output * self.output
            + reasoning * reasoning_rate
        )
        return round(total / 1e6, 12)  # drop float noise such as 0.30000000000000004


_RATE_FIELDS = ("input", "output", "cache_read", "cache_write", "reasoning")
_FIELDS = frozenset(f.name for f in fields(Price))

# Suffixes that name a snapshot of the same model: -2024-08-06, -20241022, -0613, -latest,
# plus cloud decorations: Bedrock's -v2:0 / :0, Vertex's @20241022.
_SNAPSHOT_RE = re.compile(
    r"(?:-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|-latest|@\d{8}|@latest|-v\d+(?::\d+)?|:\d+)$"
)
# Prefix matching ("gpt-4o-mini-foo" -> "gpt-4o-mini") stops at these words: such variants
# are priced differently (audio, realtime, search...), so matching them would be a guess.
_UNPRICED_VARIANT_WORDS = frozenset(
    {"realtime", "audio", "tts", "transcribe", "image", "search", "research", "instruct"}
)
_MEMO_LIMIT = 4096


# ``init(prices=...)``: model -> rates (``Price`` fields), or a JSON file (path or inline text).
PriceOverrides = Mapping[str, Mapping[str, float | str | None]] | str | os.PathLike[str]


def _bad(message: str) -> ValueError:
    return ValueError(f"noveum_trace: option 'prices' {message}")


def _price_from(name: str, entry: Any, base: Price | None) -> Price:
    """Validate one entry; fields missing from an override keep ``base``'s values."""
    if not isinstance(entry, Mapping):
        raise _bad(f"entry {name!r} must be a mapping of rates, got {entry!r}")
    unknown = set(entry) - _FIELDS
    if unknown:
        raise _bad(
            f"entry {name!r} has unknown field(s) {sorted(unknown)}; "
            f"valid fields are {sorted(_FIELDS)}"
        )
    values: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "checked":
            if not isinstance(value, str):
                raise _bad(f"entry {name!r}: 'checked' must be an ISO date string")
            values[key] = value
        elif value is None and key not in ("input", "output"):
            values[key] = None
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise _bad(f"entry {name!r}: {key!r} must be a non-negative number, got {value!r}")
        else:
            values[key] = float(value)
    if base is not None:
        return replace(base, **values)
    if "input" not in values or "output" not in values:
        raise _bad(f"entry {name!r} needs at least 'input' and 'output' rates (USD per 1M)")
    return Price(**values)


def _load_overrides(overrides: Any) -> Mapping[str, Any]:
    if isinstance(overrides, (str, os.PathLike)):
        text = os.fspath(overrides)
        try:
            if text.lstrip().startswith("{"):  # inline JSON, e.g. from NOVEUM_TRACE_PRICES
                loaded = json.loads(text)
            else:
                with open(text, encoding="utf-8") as handle:
                    loaded = json.load(handle)
        except (OSError, ValueError) as exc:
            raise _bad(f"could not be read as a JSON price file ({text!r}): {exc}") from None
        overrides = loaded
    if not isinstance(overrides, Mapping):
        raise _bad(f"must be a mapping of model -> rates or a JSON file path, got {overrides!r}")
    # The bundled file's own shape ({"models": {...}}) is accepted too.
    models = overrides.get("models")
    return models if isinstance(models, Mapping) else overrides


class PriceTable:
    """Model name -> ``Price``, with forgiving name matching (see ``lookup``)."""

    _default: PriceTable | None = None

    def __init__(self, prices: Mapping[str, Price]) -> None:
        self._prices = {name.lower(): price for name, price in prices.items()}
        self._memo: dict[str, Price | None] = {}

    @classmethod
    def default(cls) -> PriceTable:
        """The bundled table, parsed once per process."""
        if cls._default is None:
            text = resources.files("noveum_trace").joinpath("data/prices.json").read_text("utf-8")
            models = json.loads(text)["models"]
            cls._default = cls({name: _price_from(name, e, None) for name, e in models.items()})
        return cls._default

    def with_overrides(self, overrides: PriceOverrides | None) -> PriceTable:
        """A new table with ``overrides`` (a mapping or a JSON file) added or merged in.

        An override of a known model may give only some fields; a new model needs at least
        ``input`` and ``output``. A bad shape raises ``ValueError`` naming ``prices``.
        """
        if overrides is None:
            return self
        merged = dict(self._prices)
        for name, entry in _load_overrides(overrides).items():
            key = str(name).strip().lower()
            if not key:
                raise _bad("has an empty model name")
            merged[key] = _price_from(key, entry, merged.get(key))
        return PriceTable(merged)

    def lookup(self, model: str) -> Price | None:
        """The price for ``model``, or None when it is not known.

        Tried in order: the exact name; the name without a provider prefix ("openai/gpt-4o",
        Bedrock's "us.anthropic.claude-...", "models/..."); without snapshot suffixes
        ("gpt-4o-2024-08-06" -> "gpt-4o", "claude-3-5-sonnet-20241022", "-latest", "-v2:0");
        then the longest known prefix on a "-" boundary ("gpt-4o-mini-custom" ->
        "gpt-4o-mini"), unless what follows is a version number or a differently-priced
        variant ("claude-opus-4-9" is not "claude-opus-4"; "gpt-4o-realtime" is not "gpt-4o").
        """
        found = self._memo.get(model)
        if found is None and model not in self._memo:
            found = self._resolve(model)
            if len(self._memo) < _MEMO_LIMIT:
                self._memo[model] = found
        return found

    def _resolve(self, model: str) -> Price | None:
        prices = self._prices
        name = model.strip().lower()
        if name in prices:
            return prices[name]
        name = name.rsplit("/", 1)[-1]  # "openai/gpt-4o", "models/gpt-4o", "azure/gpt-4o"
        for provider in ("anthropic.", "openai."):  # Bedrock, with optional region prefix
            if provider in name:
                name = name.split(provider, 1)[1]
        if name in prices:
            return prices[name]
        while True:
            shorter = _SNAPSHOT_RE.sub("", name)
            if shorter == name or not shorter:
                break
            name = shorter
            if name in prices:
                return prices[name]
        parts = name.split("-")
        for end in range(len(parts) - 1, 0, -1):
            candidate = "-".join(parts[:end])
            if candidate in prices:
                rest = parts[end:]
                if rest[0][:1].isdigit() or _UNPRICED_VARIANT_WORDS.intersection(rest):
                    return None
                return prices[candidate]
        return None


def _tokens(value: object) -> int | None:
    """A token-count attribute value as an int; None when absent or not a whole number."""
    if type(value) is int:  # the usual case, first: this runs for every LLM span
        return value
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def cost_from_attributes(attrs: Mapping[str, object], table: PriceTable) -> float | None:
    """``gen_ai.usage.cost`` for a span's attributes, or None.

    None when the span has no token usage or no model; None for a model the table does not
    know, whose name then goes to ``get_stats()["unknown_models"]``. Runs on the export
    worker for every span with usage, so it reads each attribute once.
    """
    get = attrs.get
    input_tokens = _tokens(get(semconv.GEN_AI_USAGE_INPUT_TOKENS))
    output_tokens = _tokens(get(semconv.GEN_AI_USAGE_OUTPUT_TOKENS))
    if input_tokens is None and output_tokens is None:
        return None
    model = get(semconv.GEN_AI_RESPONSE_MODEL) or get(semconv.GEN_AI_REQUEST_MODEL)
    if not isinstance(model, str) or not model:
        return None
    price = table.lookup(model)
    if price is None:
        STATS.note_unknown_model(model)
        return None
    return price.usd(
        input_tokens or 0,
        output_tokens or 0,
        _tokens(get(semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)) or 0,
        _tokens(get(semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)) or 0,
        _tokens(get(semconv.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)) or 0,
    )


_USAGE_KEYS = (semconv.GEN_AI_USAGE_INPUT_TOKENS, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)


def span_cost(attrs: Mapping[str, Any], table: PriceTable) -> float | None:
    """``gen_ai.usage.cost`` for a span that carries token usage and has no cost yet."""
    if semconv.GEN_AI_USAGE_COST in attrs or not (
        _USAGE_KEYS[0] in attrs or _USAGE_KEYS[1] in attrs
    ):
        return None
    try:
        return cost_from_attributes(attrs, table)
    except Exception as exc:
        internal_error("pricing", exc)
        return None
