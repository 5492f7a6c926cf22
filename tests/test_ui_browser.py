"""`noveum-trace ui` in a real browser: Playwright driving the system's Chromium.

On the demo's traces: the list, a filter, a search, a trace with its waterfall, an LLM span's
conversation and numbers, the overview, both themes; and a trace that appears while an
application writes. Each test saves screenshots into ``screenshot_dir()`` and fails on any
console error. Skipped without the [ui] extra, playwright or chromium (a failure under CI=true).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_cli import line, sample_lines, write
from tests.ui_support import CHROMIUM, CHROMIUM_ARGS, need_browser, screenshot_dir, serve

# Generous bounds for a loaded machine: they only end a hang, they time nothing.
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    need_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_browser()
    directory = tmp_path_factory.mktemp("ui-demo") / "traces"
    result = subprocess.run(
        [sys.executable, "-m", "noveum_trace.cli", "demo", "--log-directory", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return directory


class Page:
    """A browser page that records console errors and failed requests."""

    def __init__(self, browser: Any, theme: str = "light") -> None:
        self.page = browser.new_page(viewport={"width": 1400, "height": 900}, color_scheme=theme)
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on(
            "response",
            lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )

    def shot(self, name: str) -> None:
        path = screenshot_dir() / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")

    def close(self) -> None:
        self.page.close()
        assert self.errors == [], self.errors


def test_traces_filter_open_a_trace_and_an_llm_span(browser: Any, demo_dir: Path) -> None:
    with serve(demo_dir) as url:
        view = Page(browser)
        page = view.page
        page.goto(url)
        rows = page.locator("tbody tr")
        rows.first.wait_for()
        assert rows.count() == 12  # the demo's traces, on one page
        headers = page.locator("thead th").all_inner_texts()
        assert headers[:2] == ["Start", "Root"] and "Cost" in headers
        assert page.locator("link[rel=icon]").count() == 1
        # the demo's spans carry a conversation id, no session or user: only that filter shows
        assert page.get_by_label("Conversation").count() == 1
        assert page.get_by_label("Session").count() == 0 and page.get_by_label("User").count() == 0
        view.shot("traces")

        page.get_by_label("Errors only").check()
        page.wait_for_function("document.querySelectorAll('tbody tr').length === 2")
        assert "2 matching" in page.get_by_test_id("trace-count").inner_text()
        page.get_by_label("Errors only").uncheck()
        page.wait_for_function("document.querySelectorAll('tbody tr').length === 12")

        page.get_by_label("Search traces").fill("conversation_turn")
        page.wait_for_function("document.querySelectorAll('tbody tr').length === 1")
        view.shot("traces-search")
        page.keyboard.press("Escape")
        page.keyboard.press("j")  # keyboard: first row, then Enter opens it
        page.keyboard.press("Enter")

        page.locator(".wrow").first.wait_for()
        assert page.locator("h1").inner_text() == "conversation"
        waterfall = page.locator(".wrow")
        assert waterfall.count() == 7
        assert page.locator(".wrow.llm").count() == 3
        page.locator(".wrow.llm").nth(1).click()
        details = page.get_by_test_id("span-details")
        assert details.locator("h2").first.inner_text() == "chat gpt-4o-mini"
        metrics = details.get_by_test_id("llm-metrics").inner_text()
        for label in ("Model", "gpt-4o-mini", "Tokens in", "Cost", "Latency", "Tokens/s"):
            assert label in metrics
        roles = details.locator(".msg[data-role]").evaluate_all("ms => ms.map(m => m.dataset.role)")
        assert roles[0] == "system" and "user" in roles and roles[-1] == "assistant"
        assert (
            "noveum_trace fake provider" in details.locator(".msg.role-assistant").last.inner_text()
        )
        page.keyboard.press("ArrowDown")  # the waterfall follows the keyboard too
        view.shot("trace")
        view.close()


def test_overview_and_dark_theme(browser: Any, demo_dir: Path) -> None:
    with serve(demo_dir) as url:
        view = Page(browser, theme="dark")
        page = view.page
        page.goto(url + "#/overview")
        page.locator(".chart svg rect").first.wait_for()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        text = page.locator("main").inner_text()
        for needle in ("LLM calls", "Error rate", "Latency p50", "TTFT p50", "Slowest calls"):
            assert needle in text
        models = page.locator("table[aria-label='Per model'] tbody tr")
        assert models.count() == 2
        view.shot("overview-dark")
        page.get_by_role("button", name="Light theme").click()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        view.shot("overview-light")
        page.goto(url + "#/")
        page.locator("tbody tr").first.wait_for()
        assert page.evaluate("document.documentElement.dataset.theme") == "light"  # remembered
        view.close()


def test_empty_directory_says_what_to_do(browser: Any, tmp_path: Path) -> None:
    with serve(tmp_path / "traces") as url:
        view = Page(browser)
        view.page.goto(url)
        empty = view.page.get_by_test_id("empty")
        empty.wait_for()
        assert "yet: run noveum-trace demo" in empty.inner_text()
        view.shot("empty")
        view.close()


def test_a_new_trace_appears_while_the_application_writes(browser: Any, tmp_path: Path) -> None:
    directory = tmp_path / "traces"
    write(directory / "old.jsonl", sample_lines()[:2])
    app = (
        "import sys, noveum_trace\n"
        "noveum_trace.init('live-app', log_directory=sys.argv[1])\n"
        "with noveum_trace.get_tracer('app').start_as_current_span('live request'):\n"
        "    pass\n"
        "noveum_trace.shutdown()\n"
    )
    with serve(directory) as url:
        view = Page(browser)
        page = view.page
        page.goto(url)
        page.locator("tbody tr").first.wait_for()
        assert page.locator("tbody tr").count() == 1
        result = subprocess.run(
            [sys.executable, "-c", app, str(directory)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        # no reload: the page's polling brings it in
        page.get_by_text("live request").wait_for()
        assert page.locator("tbody tr").first.inner_text().find("live request") >= 0
        view.shot("live")
        view.close()


def test_a_torn_line_shows_up_once_complete(browser: Any, tmp_path: Path) -> None:
    directory = tmp_path / "traces"
    lines = sample_lines()
    path = write(directory / "t.jsonl", [lines[0], lines[1]], torn=lines[3][:50])
    with serve(directory) as url:
        view = Page(browser)
        page = view.page
        page.goto(url)
        page.locator("tbody tr").first.wait_for()
        with path.open("a") as handle:
            handle.write(lines[3][50:] + "\n" + line("app", []) + "\n")
        page.get_by_text("batch_llm_processing").wait_for()
        assert page.locator("tbody tr").count() == 2
        view.close()
