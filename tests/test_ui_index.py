"""The viewer's index and queries, on trace files written here (no browser): offsets, torn
lines, replaced files, search and filters, one trace read back, the overview, the HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import noveum_trace
from tests.test_cli import line, llm, sample_lines, span, write
from tests.ui_support import need_ui_extra


@pytest.fixture(autouse=True)
def _ui_extra() -> None:
    need_ui_extra()


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Any]:
    from noveum_trace.ui.index import Index

    found = Index(str(tmp_path / "traces"))
    yield found
    found.close()


def counts(index: Any) -> tuple[int, int]:
    index.refresh()
    spans, traces = index.query("SELECT (SELECT count(*) FROM spans), count(*) FROM traces")[0]
    return spans, traces


def test_a_missing_directory_is_empty_not_an_error(index: Any) -> None:
    from noveum_trace.ui import queries

    assert counts(index) == (0, 0)
    assert queries.traces_page(index, queries.Filters())["total"] == 0


def test_appended_lines_are_read_once_and_a_torn_line_when_complete(
    index: Any, tmp_path: Path
) -> None:
    path = tmp_path / "traces" / "t.jsonl"
    lines = sample_lines()
    write(path, lines[:2], torn=lines[2][:40])
    assert counts(index) == (3, 1)  # the conversation; the torn line waits
    version = index.version
    assert counts(index) == (3, 1) and index.version == version  # nothing new: no change
    with path.open("a") as handle:
        handle.write(lines[2][40:] + "\n" + lines[3] + "\n")
    assert counts(index) == (8, 3)  # each span once: no line read twice
    assert index.version > version


def test_a_replaced_file_is_read_again(index: Any, tmp_path: Path) -> None:
    path = tmp_path / "traces" / "t.jsonl"
    write(path, sample_lines())
    assert counts(index) == (8, 3)
    write(path, sample_lines()[3:])
    assert counts(index) == (4, 1)


def test_traces_page_newest_first_with_totals(index: Any, tmp_path: Path) -> None:
    from noveum_trace.ui import queries

    write(tmp_path / "traces" / "t.jsonl", sample_lines())
    index.refresh()
    page = queries.traces_page(index, queries.Filters())
    assert [row["root_name"] for row in page["rows"]] == [
        "batch_llm_processing",
        "chat claude-3-haiku",
        "conversation",
    ]
    conversation = page["rows"][2]
    assert conversation["llm_calls"] == 2 and conversation["spans"] == 3
    assert (conversation["tokens_in"], conversation["tokens_out"]) == (42, 48)
    assert conversation["models"] == ["gpt-4o-mini"] and conversation["service"] == "app"
    assert page["rows"][1]["errors"] == 1


@pytest.mark.parametrize(
    ("params", "roots"),
    [
        ({"q": "MACHINE learning"}, ["conversation"]),  # content, any case
        ({"q": "rate limit"}, ["chat claude-3-haiku"]),  # the error message
        ({"q": "batch_item_1"}, ["batch_llm_processing"]),  # a child's name
        ({"service": "worker"}, ["batch_llm_processing"]),
        ({"model": "gpt-4o-mini"}, ["conversation"]),
        ({"errors": "1"}, ["chat claude-3-haiku"]),
        ({"vendor": "openai"}, ["batch_llm_processing", "conversation"]),
    ],
)
def test_search_and_filters(
    index: Any, tmp_path: Path, params: dict[str, str], roots: list[str]
) -> None:
    from noveum_trace.ui import queries

    write(tmp_path / "traces" / "t.jsonl", sample_lines())
    index.refresh()
    page = queries.traces_page(index, queries.Filters.from_query(params))
    assert [row["root_name"] for row in page["rows"]] == roots


def test_a_wrapped_call_counts_once(index: Any, tmp_path: Path) -> None:
    from noveum_trace.ui import queries

    spans = [
        span(5, 2, "chat gpt-4o", 1, 10, 1, llm("gpt-4o", 3, 4)),
        span(5, 1, "chat gpt-4o", 0, 12, attrs={"gen_ai.request.model": "gpt-4o"}),
    ]
    write(tmp_path / "traces" / "t.jsonl", [line("svc", spans)])
    index.refresh()
    row = queries.traces_page(index, queries.Filters())["rows"][0]
    assert row["llm_calls"] == 1 and row["tokens_out"] == 4
    assert queries.overview(index, queries.Filters())["calls"] == 1


def test_one_trace_is_what_the_reader_reads(index: Any, tmp_path: Path) -> None:
    from noveum_trace.ui import queries

    directory = tmp_path / "traces"
    write(directory / "t.jsonl", sample_lines())
    index.refresh()
    trace_id = f"{1:032x}"
    found = queries.trace(index, trace_id)
    assert found is not None
    expected = {s["span_id"]: s for s in noveum_trace.read_traces(directory)}
    assert [s["name"] for s in found["spans"]] == [
        "conversation",
        "chat gpt-4o-mini",
        "chat gpt-4o-mini",
    ]
    assert [s["depth"] for s in found["spans"]] == [0, 1, 1]
    for shown in found["spans"]:
        assert shown["attributes"] == expected[shown["span_id"]]["attributes"]
    first = found["spans"][1]
    assert first["llm"] and first["cost"] == 0.000123
    assert first["tokens"]["input"] == 12 and first["tokens"]["output"] == 40
    assert [(m["role"], m["content"]) for m in first["messages"]] == [
        ("user", "What is machine learning?"),
        ("assistant", "A kind of AI."),
    ]
    assert found["spans"][2]["ttft_ms"] == 81.5
    assert found["spans"][2]["tokens"]["cached"] == 16
    assert queries.trace(index, "0" * 32) is None


def test_overview_per_model(index: Any, tmp_path: Path) -> None:
    from noveum_trace.ui import queries

    write(tmp_path / "traces" / "t.jsonl", sample_lines())
    index.refresh()
    view = queries.overview(index, queries.Filters())
    assert view["calls"] == 6 and view["errors"] == 1
    by_model = {m["model"]: m for m in view["by_model"]}
    assert by_model["gpt-4o-mini"]["latency_ms"] == pytest.approx([300.0, 390.0, 398.0])
    assert by_model["claude-3-haiku"]["errors"] == 1
    assert view["slowest"][0]["duration_ms"] == 400.0
    assert view["most_expensive"][0]["cost"] == 0.000123
    assert sum(row["calls"] for row in view["series"]) == 6


def test_http_api_and_assets(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from noveum_trace.ui.index import Index
    from noveum_trace.ui.server import create_app

    write(tmp_path / "traces" / "t.jsonl", sample_lines())
    index = Index(str(tmp_path / "traces"))
    index.refresh()
    with TestClient(create_app(index), base_url="http://127.0.0.1:8765") as client:
        assert client.get("/api/status").json()["traces"] == 3
        # DNS rebinding: a page served as attacker.example on 127.0.0.1 gets nothing
        rebound = client.get("/api/traces", headers={"host": "attacker.example:8765"})
        assert rebound.status_code == 400 and "rate limit" not in rebound.text
        for loopback in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
            assert client.get("/api/status", headers={"host": loopback}).status_code == 200
        # a page number past the end (or past any integer DuckDB takes) shows the last page
        huge = client.get("/api/traces", params={"page": "9" * 30})
        assert huge.status_code == 200 and huge.json()["page"] == 1
        assert len(huge.json()["rows"]) == 3
        assert client.get("/api/traces", params={"q": "rate limit"}).json()["total"] == 1
        assert client.get("/api/traces", params={"since": "yesterday"}).status_code == 400
        assert client.get(f"/api/trace/{1:032x}").json()["spans"][0]["name"] == "conversation"
        assert client.get(f"/api/trace/{9:032x}").status_code == 404
        favicon = client.get("/favicon.ico")
        assert favicon.status_code == 200 and favicon.headers["content-type"] == "image/svg+xml"
        page = client.get("/")
        assert page.status_code == 200 and "/static/app.js" in page.text
        for asset in ("app.js", "app.css", "favicon.svg"):
            assert client.get(f"/static/{asset}").status_code == 200
    index.close()


def test_session_user_and_conversation_filters_when_the_spans_carry_them(
    index: Any, tmp_path: Path
) -> None:
    from noveum_trace import semconv
    from noveum_trace.ui import queries

    path = tmp_path / "traces" / "t.jsonl"
    write(path, sample_lines())
    index.refresh()
    offered = queries.facets(index)
    assert (offered["session"], offered["user"], offered["conversation"]) == ([], [], [])

    who = {semconv.SESSION_ID: "sess-1", semconv.USER_ID: "ada"}
    tagged = [
        span(21, 212, "chat gpt-4o", 1, 10, 211, llm("gpt-4o", 3, 4, **who)),
        span(21, 211, "support_chat", 0, 12, attrs={semconv.USER_ID: "ada"}),
        span(22, 221, "other_chat", 0, 12, attrs={semconv.SESSION_ID: "sess-2"}),
        span(23, 231, "threaded", 0, 5, attrs={semconv.GEN_AI_CONVERSATION_ID: "conv-9"}),
    ]
    write(path, [*sample_lines(), line("app", tagged)])
    index.refresh()
    offered = queries.facets(index)
    assert offered["session"] == ["sess-1", "sess-2"] and offered["user"] == ["ada"]
    assert offered["conversation"] == ["conv-9"]

    def roots(**params: str) -> list[str]:
        page = queries.traces_page(index, queries.Filters.from_query(params))
        return [row["root_name"] for row in page["rows"]]

    assert roots(session="sess-1") == ["support_chat"]
    assert roots(session="sess-2") == ["other_chat"]
    assert roots(user="ada") == ["support_chat"]
    assert roots(user="ada", session="sess-2") == []
    assert roots(conversation="conv-9") == ["threaded"]
    assert queries.overview(index, queries.Filters(user="ada"))["calls"] == 1
    assert queries.overview(index, queries.Filters(session="sess-2"))["calls"] == 0


def test_a_line_longer_than_the_first_read_bound_is_indexed(index: Any, tmp_path: Path) -> None:
    """DuckDB's line bound follows the batch's longest line (16 MB at least)."""
    from noveum_trace.ui import queries

    answer = ("gen_ai.content.completion", {"gen_ai.completion": "long " * (8 << 20)})
    big = span(31, 311, "long_answer", 0, 50, attrs=llm("gpt-4o", 7, 9), events=[answer])
    write(tmp_path / "traces" / "t.jsonl", [*sample_lines(), line("big", [big])])
    assert counts(index) == (9, 4)
    assert [
        r["root_name"] for r in queries.traces_page(index, queries.Filters(q="long"))["rows"]
    ] == ["long_answer"]
