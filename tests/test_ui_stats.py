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
