"""Terminal formatting shared by the views: colour, numbers, times, tables and charts.

Colour is on only for a terminal (and never with ``NO_COLOR`` or ``TERM=dumb``), so piped
output stays plain text that ``grep`` and ``diff`` can use.
"""

from __future__ import annotations

import base64
import bisect
import math
import os
import time
from collections.abc import Sequence
from typing import Any, TextIO

import orjson

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


def colour_wanted(mode: str, stream: TextIO) -> bool:
    if mode == "always":
        return True
    if mode == "never" or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return isatty(stream)


def isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Style:
    """Wraps text in ANSI codes when enabled; a no-op otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, text: str, *styles: str) -> str:
        if not self.enabled or not styles or not text:
            return text
        codes = ";".join(_CODES[name] for name in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"


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


def count(value: float | int | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{int(value):,}"


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def clock(unix_nano: int, with_date: bool = True) -> str:
    seconds = unix_nano / 1e9
    fmt = "%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S"
    return time.strftime(fmt, time.localtime(seconds)) + f".{int(seconds * 1000) % 1000:03d}"


def short_id(hex_id: str) -> str:
    return hex_id[:8]


def one_line(text: str, limit: int) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: max(0, limit - 1)] + "…"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], style: Style, numeric_from: int = 1
) -> list[str]:
    """Aligned columns; columns from ``numeric_from`` on are right-aligned."""
    widths = [visible_len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], visible_len(cell))

    def render(cells: Sequence[str]) -> str:
        parts = [pad(cell, widths[i], right=i >= numeric_from) for i, cell in enumerate(cells)]
        return "  ".join(parts).rstrip()

    lines = [style(render(headers), "bold")]
    lines.extend(render(row) for row in rows)
    return lines


_EIGHTHS = " ▏▎▍▌▋▊▉█"
_SPARKS = "▁▂▃▄▅▆▇█"


def bar(value: float, maximum: float, width: int) -> str:
    """A horizontal bar of ``width`` cells at full scale, in eighth-of-a-cell steps."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / maximum * width * 8))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def sparkline(values: Sequence[float]) -> str:
    top = max(values, default=0)
    if top <= 0:
        return _SPARKS[0] * len(values)
    return "".join(_SPARKS[min(7, int(v / top * 7.999))] if v > 0 else " " for v in values)


def histogram_edges(low: float, high: float, bins: int) -> list[float]:
    """Bin edges: logarithmic when the data spans more than a decade, linear otherwise."""
    if high <= low:
        return [low, low + 1]
    if low > 0 and high / low > 10:
        step = math.log(high / low) / bins
        return [low * math.exp(step * i) for i in range(bins + 1)]
    step = (high - low) / bins
    return [low + step * i for i in range(bins + 1)]


def bin_counts(values: Sequence[float], bins: int) -> tuple[list[float], list[int]]:
    """(edges, counts): ``len(edges) == len(counts) + 1``; the last bin includes its top."""
    if not values:
        return [], []
    edges = histogram_edges(min(values), max(values), bins)
    counts = [0] * (len(edges) - 1)
    for value in values:
        index = bisect.bisect_right(edges, value) - 1
        counts[min(max(index, 0), len(counts) - 1)] += 1
    return edges, counts


def histogram(edges: Sequence[float], counts: Sequence[int], width: int, style: Style) -> list[str]:
    """Histogram lines: ``low - high │████▍ count``."""
    if not counts:
        return []
    labels = [f"{duration(edges[i])} - {duration(edges[i + 1])}" for i in range(len(counts))]
    label_width = max(len(label) for label in labels)
    top = max(counts)
    lines = []
    for label, n in zip(labels, counts, strict=True):
        drawn = pad(style(bar(n, top, width), "cyan"), width)
        lines.append(f"{pad(label, label_width, right=True)} │{drawn} {n}")
    return lines


def as_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):  # bytesValue attributes
        return base64.b64encode(value).decode()
    raise TypeError(type(value).__name__)


def dumps(value: Any, indent: bool = False) -> str:
    """JSON text for ``--json`` output; bytes become base64 as in OTLP/JSON."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(value, default=_json_default, option=option).decode()
