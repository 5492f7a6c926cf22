"""Terminal output of the views: when to colour, tables and charts.

How a span reads as text (numbers, times, the tree) is ``noveum_trace._render``, shared with
the console exporter. Colour is on only for a terminal (and never with ``NO_COLOR`` or
``TERM=dumb``), so piped output stays plain text that ``grep`` and ``diff`` can use.
"""

from __future__ import annotations

import bisect
import math
import os
from collections.abc import Sequence
from typing import TextIO

from noveum_trace._render import Style, duration, pad, visible_len


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


def percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


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
