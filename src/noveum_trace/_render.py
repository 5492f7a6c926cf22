"""Spans as text: the one tree and the one line of details, for the console exporter and the CLI.

What a span says (model, tokens, cost, time to first token, status, content) is read here
once, and the same tree layout serves ``noveum-trace show`` and the ``console=True`` exporter.
Below the span engine (it reads ``SpanDict``s), so both layers can use it.
"""

from __future__ import annotations

import base64
import time

import orjson

from noveum_trace import semconv
from noveum_trace.reader import Attributes, SpanDict

_CODES = {
    "bold": "1",
    "dim": "2",
    "red": "31",
    "green": "32",
    "yellow": "33",
    "blue": "34",
    "magenta": "35",
    "cyan": "36",
}


class Style:
    """Wraps text in ANSI codes when enabled; a no-op otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles or not text:
            return text
        codes = ";".join(_CODES[name] for name in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


PLAIN = Style(False)


# --- text --------------------------------------------------------------------------------


def visible_len(text: str) -> int:
    """Length without ANSI escapes, for alignment."""
    length = 0
    in_escape = False
    for char in text:
        if in_escape:
            in_escape = char != "m"
        elif char == "\x1b":
            in_escape = True
        else:
            length += 1
    return length


def pad(text: str, width: int, right: bool = False) -> str:
    fill = " " * max(0, width - visible_len(text))
    return fill + text if right else text + fill


def one_line(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"


def duration(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms < 1:
        return f"{ms * 1000:.0f}µs"
    if ms < 1000:
        return f"{ms:.1f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.2f}s"
    return f"{ms / 60_000:.1f}m"


def cost(usd: float | None) -> str:
    if usd is None:
        return "-"
    if usd == 0:
        return "$0"
    return f"${usd:.6f}" if usd < 0.01 else f"${usd:.4f}"


def count(value: float | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def clock(unix_nano: int, with_date: bool = True) -> str:
    seconds = unix_nano / 1e9
    layout = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return time.strftime(layout, time.localtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}"


def short_id(hex_id: str) -> str:
    return hex_id[:8]


def as_text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_default(value: object) -> str:
    if isinstance(value, bytes):  # bytesValue attributes
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def dumps(value: object, indent: bool = False) -> str:
    """JSON text for output; bytes become base64 as in OTLP/JSON."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(value, default=_json_default, option=option).decode()


# --- what a span says --------------------------------------------------------------------


def model_of(span: SpanDict) -> str | None:
    attrs = span["attributes"]
    model = attrs.get(semconv.GEN_AI_REQUEST_MODEL) or attrs.get(semconv.GEN_AI_RESPONSE_MODEL)
    return str(model) if model is not None else None


def is_error(span: SpanDict) -> bool:
    return span["status"]["code"] == "ERROR"


def number(attrs: Attributes, key: str) -> float | None:
    value = attrs.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def ttft_ms(span: SpanDict) -> float | None:
    """Time to first token: ours in ms, else the semconv one (in seconds)."""
    attrs = span["attributes"]
    value = number(attrs, semconv.LLM_TIME_TO_FIRST_TOKEN_MS)
    if value is None:
        seconds = number(attrs, semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK)
        value = seconds * 1000 if seconds is not None else None
    return value


def error_message(span: SpanDict) -> str:
    message = span["status"]["message"]
    if message:
        return str(message)
    attrs = span["attributes"]
    for key in (semconv.ERROR_MESSAGE, semconv.ERROR_TYPE):
        if attrs.get(key):
            return str(attrs[key])
    for event in span["events"]:
        if event["name"] == semconv.EVENT_EXCEPTION:
            exc = event["attributes"]
            return (
                f"{exc.get(semconv.EXCEPTION_TYPE, '')}: {exc.get(semconv.EXCEPTION_MESSAGE, '')}"
            )
    return ""


def content_items(span: SpanDict) -> list[tuple[str, str]]:
    """(label, text) for each prompt/completion recorded on the span or its events."""
    items: list[tuple[str, str]] = []
    sources = [span["attributes"]] + [event["attributes"] for event in span["events"]]
    for attrs in sources:
        for key, value in attrs.items():
            if key in semconv.CONTENT_KEYS and key != semconv.GEN_AI_COMPLETION_CHUNK:
                text = _readable(value) if isinstance(value, str) else as_text(value)
                item = (key.removeprefix(semconv.GEN_AI_PREFIX), text)
                if item not in items:
                    items.append(item)
    return items


def _readable(text: str) -> str:
    """A JSON list of chat messages as ``role: content`` lines; anything else as it is."""
    if not text.startswith("[{"):
        return text
    try:
        messages = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    if not all(isinstance(m, dict) and "role" in m for m in messages):
        return text
    lines = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, str):
            rest = {k: v for k, v in message.items() if k != "role"}
            content = dumps(rest)
        lines.append(f"{message['role']}: {content}")
    return "\n".join(lines)


def strip_content(span: SpanDict) -> SpanDict:
    """The span without its content keys (events stay, without those attributes)."""

    def clean(attrs: Attributes) -> Attributes:
        return {k: v for k, v in attrs.items() if k not in semconv.CONTENT_KEYS}

    stripped = span.copy()
    stripped["attributes"] = clean(span["attributes"])
    stripped["events"] = [
        {**event, "attributes": clean(event["attributes"])} for event in span["events"]
    ]
    return stripped


# --- the tree and the details line -------------------------------------------------------

Row = tuple[str, str, SpanDict]


def tree(spans: list[SpanDict]) -> list[Row]:
    """(prefix for the span's line, prefix for lines under it, span), depth first.

    Children sit under their parent in start order; a span whose parent is not in ``spans``
    is a root.
    """
    ids = {span["span_id"] for span in spans}
    children: dict[str | None, list[SpanDict]] = {}
    for span in sorted(spans, key=lambda s: (s["start_time_unix_nano"], s["end_time_unix_nano"])):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    rows: list[Row] = []

    def walk(parent: str | None, indent: str) -> None:
        kids = children.get(parent, [])
        for index, span in enumerate(kids):
            last = index == len(kids) - 1
            if parent is None:
                head, below = "", ""
            else:
                head = indent + ("└─ " if last else "├─ ")
                below = indent + ("   " if last else "│  ")
            rows.append((head, below, span))
            walk(span["span_id"], below)

    walk(None, "")
    return rows


def span_details(span: SpanDict, style: Style = PLAIN, labelled: bool = False) -> str:
    """Model, tokens, cost, time to first token and status.

    ``labelled`` names each one (``model=gpt-4o in=12 out=40``) for the one-line console log;
    otherwise they are laid out for ``show``'s aligned columns (``gpt-4o  in 12 out 40``).
    """
    attrs = span["attributes"]
    sep = "=" if labelled else " "
    parts: list[str] = []
    model = model_of(span)
    if model:
        parts.append(style(f"model={model}" if labelled else model, "cyan"))
    tokens_in = number(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS)
    tokens_out = number(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)
    cached = number(attrs, semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
    if tokens_in is not None or tokens_out is not None:
        text = f"in{sep}{count(tokens_in)} out{sep}{count(tokens_out)}"
        if cached:
            text += f" cached{sep}{count(cached)}"
        parts.append(text)
    usd = number(attrs, semconv.GEN_AI_USAGE_COST)
    if usd is not None:
        parts.append(style(("cost=" if labelled else "") + cost(usd), "yellow"))
    ttft = ttft_ms(span)
    if ttft is not None:
        parts.append(f"ttft{sep}{duration(ttft)}")
    code = span["status"]["code"]
    if code == "ERROR":
        message = one_line(error_message(span), 160)
        parts.append(style(f"ERROR {message}".rstrip(), "red", "bold"))
    elif code == "OK":
        parts.append(style("ok", "green"))
    return (" " if labelled else "  ").join(parts)


def log_tree(spans: list[SpanDict]) -> list[str]:
    """One batch for the console exporter: ``● root`` lines, children indented under them."""
    lines: list[str] = []
    for head, _below, span in tree(spans):
        mark = "  " + head if head else "● "
        details = span_details(span, labelled=True)
        lines.append(f"{mark}{span['name']} {duration(span['duration_ms'])} {details}".rstrip())
    return lines
