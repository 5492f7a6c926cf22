"""What the `noveum-trace ui` tests share: skipping without the [ui] extra or a browser
(a failure under CI=true instead), a server on a free loopback port, and the screenshot folder.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("NOVEUM_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parent.parent


def need(reason: str, ok: bool) -> None:
    """Skip with ``reason`` when not ``ok``; under CI=true that is a failure."""
    if ok:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def need_ui_extra() -> None:
    missing = [m for m in ("duckdb", "starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    need(f"the [ui] extra is not installed ({', '.join(missing)} missing)", not missing)


def need_browser() -> None:
    need_ui_extra()
    need("playwright is not installed", importlib.util.find_spec("playwright") is not None)
    need(
        f"no chromium at {CHROMIUM} (apt-get install chromium)",
        os.path.exists(CHROMIUM) or shutil.which(CHROMIUM) is not None,
    )


def screenshot_dir() -> Path:
    """$NOVEUM_UI_SCREENSHOTS, else tests/.artifacts/ui; inside the repository, the folder
    ignores itself in git."""
    folder = Path(os.environ.get("NOVEUM_UI_SCREENSHOTS") or ROOT / "tests" / ".artifacts" / "ui")
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if folder.resolve().is_relative_to(ROOT) and not ignore.exists():
        ignore.write_text("*\n")
    return folder


def wait_for(condition: Any, what: str, bound: float = 60.0) -> Any:
    """Poll ``condition()`` until it is truthy; a generous bound, only so a hang ends."""
    deadline = time.monotonic() + bound
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.05)


@contextmanager
def serve(path: Path, poll: float = 0.2) -> Iterator[str]:
    """The viewer on ``path`` on a free loopback port, in this process: its URL."""
    import uvicorn

    from noveum_trace.ui.command import _socket, url_of
    from noveum_trace.ui.index import Index
    from noveum_trace.ui.server import create_app

    index = Index(str(path))
    index.refresh()
    sock = _socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(index, poll), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started, "the server started")
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
        index.close()
