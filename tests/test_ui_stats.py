"""`noveum-trace stats` through the DuckDB query layer says what the streamed scan says."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import cli, line, llm, sample_lines, span, write
from tests.ui_support import need_ui_extra

ENGINE = "NOVEUM_TRACE_STATS_ENGINE"


def both(*args: str | Path) -> tuple[dict[str, object], dict[str, object]]:
    results = []
    for engine in ("python", "duckdb"):
        result = cli("stats", *args, "--json", env={ENGINE: engine})
        assert result.returncode == 0, result.stderr
        results.append(json.loads(result.stdout))
    return results[0], results[1]


@pytest.mark.parametrize(
    "filters",
    [[], ["--model", "gpt-4o*"], ["--service", "w*"], ["--errors"], ["--trace-id", "0000"]],
)
def test_the_query_layer_matches_the_scan(tmp_path: Path, filters: list[str]) -> None:
    need_ui_extra()
    wrapped = [
        span(5, 2, "chat gpt-4o", 1, 10, 1, llm("gpt-4o", 3, 4)),
        span(5, 1, "chat gpt-4o", 0, 12, attrs={"gen_ai.request.model": "gpt-4o"}),
    ]
    path = write(tmp_path / "traces" / "t.jsonl", [*sample_lines(), line("svc", wrapped)])
    scanned, indexed = both(path.parent, *filters)
    assert indexed == scanned


def test_the_demo_summary_is_the_same(tmp_path: Path) -> None:
    need_ui_extra()
    directory = tmp_path / "traces"
    result = cli("demo", "--log-directory", directory)
    assert result.returncode == 0, result.stderr
    scanned, indexed = both(directory)
    assert indexed == scanned and scanned["llm_calls"] == 16


def test_errors_still_come_from_the_scan(tmp_path: Path) -> None:
    need_ui_extra()
    other = write(tmp_path / "other.jsonl", ['{"not": "traces"}'])
    result = cli("stats", other, env={ENGINE: "duckdb"})
    assert result.returncode == 1 and "JSON but not OTLP trace data" in result.stderr


def test_odd_values_are_read_as_the_scan_reads_them(tmp_path: Path) -> None:
    """An empty request model falls back to the response model, an empty service is "?",
    token counts sent as doubles are truncated per call, a bool is no number."""
    need_ui_extra()
    odd = [
        span(
            7,
            71,
            "chat",
            0,
            30,
            attrs={
                "gen_ai.request.model": "",
                "gen_ai.response.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 2.7,
                "gen_ai.usage.output_tokens": 3.9,
                "gen_ai.usage.cost": 1,
            },
        ),
        span(
            7,
            72,
            "chat",
            40,
            30,
            attrs={
                "gen_ai.request.model": "",
                "gen_ai.usage.input_tokens": 5,
            },
        ),
        span(
            7,
            73,
            "chat",
            80,
            30,
            attrs={
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": True,
                "llm.time_to_first_token_ms": 12,
            },
        ),
    ]
    path = write(tmp_path / "traces" / "t.jsonl", [*sample_lines(), line("", odd)])
    scanned, indexed = both(path.parent)
    assert indexed == scanned
    assert [g["key"] for g in scanned["by_service"]] == ["app", "worker", "?"]


def test_a_line_longer_than_the_first_read_bound(tmp_path: Path) -> None:
    """DuckDB is first asked for lines of at most 16 MB; a longer one is read on a second try."""
    need_ui_extra()
    long_answer = ("gen_ai.content.completion", {"gen_ai.completion": "x" * (40 << 20)})
    big = span(9, 91, "chat gpt-4o", 0, 50, attrs=llm("gpt-4o", 7, 9), events=[long_answer])
    path = write(tmp_path / "traces" / "t.jsonl", [*sample_lines(), line("big", [big])])
    scanned, indexed = both(path.parent)
    assert indexed == scanned and scanned["llm_calls"] == 7
