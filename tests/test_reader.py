"""The one reader of trace files (offsets, torn lines, reasons) and the one span renderer."""

from __future__ import annotations

import io
import re
from pathlib import Path

import noveum_trace
from noveum_trace.export.console import ConsoleExporter
from noveum_trace.reader import BadLine, complete_end, decode_line, lines, read_traces

from .conftest import Traces
from .test_cli import line, ok, span


def _line(name: str, span_id: int) -> str:
    return line("svc", [span(1, span_id, name, span_id, 1)]) + "\n"


def test_lines_carry_offsets_and_a_torn_line_is_followed_once_complete(tmp_path: Path) -> None:
    third = _line("third", 3)
    path = tmp_path / "t.jsonl"
    path.write_text(_line("first", 1) + _line("second", 2) + third[:30])
    with path.open("rb") as handle:
        every = list(lines(handle))
        followed = list(lines(handle, complete_only=True))
    assert [item.number for item in every] == [1, 2, 3]
    assert [item.complete for item in every] == [True, True, False]
    assert every[1].start == every[0].end and every[2].end == path.stat().st_size
    assert followed == every[:2]  # a follower leaves the writer's partial line alone
    resume = followed[-1].end
    with path.open("ab") as handle:
        handle.write(third[30:].encode())
    with path.open("rb") as handle:
        (completed,) = lines(handle, resume, complete_only=True)
        assert complete_end(handle, path.stat().st_size) == completed.end
    assert completed.start == resume and completed.raw == third.encode()
    assert [s["name"] for s in decode_line(completed.raw)] == ["third"]


def test_a_line_without_spans_says_why() -> None:
    reasons = {}
    for raw in (b"{oops\n", b'{"event": "signup"}\n', b'{"resourceSpans": [{"scopeSpans": 3}]}\n'):
        try:
            decode_line(raw)
        except BadLine as exc:
            reasons[raw] = str(exc)
    assert list(reasons.values())[:2] == [
        "not JSON",
        "JSON but not OTLP trace data (no 'resourceSpans')",
    ]
    assert list(reasons.values())[2].startswith("malformed span (")


def test_read_traces_skips_bad_and_torn_lines_and_reports_them(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(_line("first", 1) + "{oops\n" + _line("second", 2) + _line("torn", 3)[:40])
    problems: list[tuple[int, str]] = []
    spans = read_traces(path, on_problem=lambda _file, number, why: problems.append((number, why)))
    assert [s["name"] for s in spans] == ["first", "second"]
    assert problems == [(2, "not JSON; line skipped"), (4, "torn last line skipped")]


_TREE = re.compile(r"^[│├└─ ]*\S+")


def test_the_console_and_show_draw_the_same_tree(traces: Traces) -> None:
    stream = io.StringIO()
    traces.init(exporters=[ConsoleExporter(stream)])
    tracer = noveum_trace.get_tracer()
    with tracer.start_span("root"):
        with tracer.start_span("a"), tracer.start_span("a1") as a1:
            a1.set_attribute("gen_ai.request.model", "gpt-4o")
            a1.set_attribute("gen_ai.usage.input_tokens", 12)
        with tracer.start_span("b") as b:
            b.set_status(noveum_trace.StatusCode.ERROR, "it broke")
    assert noveum_trace.flush(30)
    console = stream.getvalue().splitlines()
    shown = ok("show", traces.directory).splitlines()[1:]  # under the trace's header
    tree = ["root", "├─ a", "│  └─ a1", "└─ b"]
    assert [_TREE.match(text[2:]).group() for text in console] == tree  # type: ignore[union-attr]
    assert [_TREE.match(text[2:]).group() for text in shown] == tree  # type: ignore[union-attr]
    assert console[0].startswith("● root")
    # the same details, labelled on the console's one-line log
    assert "model=gpt-4o in=12 out=-" in console[2] and "gpt-4o  in 12 out -" in shown[2]
    assert "ERROR it broke" in console[3] and "ERROR it broke" in shown[3]
