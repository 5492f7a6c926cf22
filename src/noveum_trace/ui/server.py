"""The viewer's web app: a JSON API over ``queries`` and the static page, on Starlette.

A background thread refreshes the index every ``poll`` seconds, so the page's own polling of
``/api/status`` sees new traces while the application writes them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from noveum_trace import _render as render
from noveum_trace.ui import queries
from noveum_trace.ui.index import Index

STATIC = resources.files("noveum_trace.ui") / "static"


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render.dumps(content).encode()


class Refresher:
    """Calls ``index.refresh()`` every ``poll`` seconds until stopped."""

    def __init__(self, index: Index, poll: float) -> None:
        self.index = index
        self.poll = poll
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="noveum-ui-index", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            with contextlib.suppress(Exception):  # a file mid-rotation: the next round reads it
                self.index.refresh()


# The names a browser on this machine uses for a loopback server. Any other Host header is
# refused: a web page whose name an attacker rebinds to 127.0.0.1 (DNS rebinding) could
# otherwise read the traces, prompts included, through the visitor's browser.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def host_name(header: str) -> str:
    """The host of a Host header, without its port (``[::1]:8765`` -> ``::1``)."""
    if header.startswith("["):
        return header[1 : header.find("]")] if "]" in header else header
    return header.rpartition(":")[0] if header.count(":") == 1 else header


class HostCheck:
    """Answer only requests addressed to an allowed host name (None: any)."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.allowed is not None and scope["type"] in ("http", "websocket"):
            headers = dict(scope["headers"])
            host = host_name(headers.get(b"host", b"").decode("latin-1").lower())
            if host not in self.allowed:
                response = JSONResponse({"error": "unknown Host header"}, status_code=400)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _filters(request: Request) -> queries.Filters:
    return queries.Filters.from_query(request.query_params)


def create_app(
    index: Index, poll: float = 1.0, hosts: Iterable[str] | None = LOOPBACK_HOSTS
) -> ASGIApp:
    """The app over ``index`` (already refreshed once by the caller), answering requests for
    ``hosts`` only (None: any host, for a server the user exposed on purpose)."""

    def page(_request: Request) -> Response:
        return FileResponse(str(STATIC / "index.html"), headers={"Cache-Control": "no-cache"})

    def favicon(_request: Request) -> Response:
        return FileResponse(str(STATIC / "favicon.svg"), media_type="image/svg+xml")

    def api_status(_request: Request) -> Response:
        return JSONResponse(queries.status(index))

    def api_facets(_request: Request) -> Response:
        return JSONResponse(queries.facets(index))

    def api_traces(request: Request) -> Response:
        try:
            filters = _filters(request)
            number = int(request.query_params.get("page", "1") or 1)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(queries.traces_page(index, filters, number))

    def api_trace(request: Request) -> Response:
        found = queries.trace(index, str(request.path_params["trace_id"]).lower())
        if found is None:
            return JSONResponse({"error": "no such trace"}, status_code=404)
        return JSONResponse(found)

    def api_overview(request: Request) -> Response:
        try:
            filters = _filters(request)
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(queries.overview(index, filters))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        refresher = Refresher(index, poll)
        refresher.start()
        try:
            yield
        finally:
            refresher.stop()

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/favicon.ico", favicon),
            Route("/api/status", api_status),
            Route("/api/facets", api_facets),
            Route("/api/traces", api_traces),
            Route("/api/trace/{trace_id}", api_trace),
            Route("/api/overview", api_overview),
            Mount("/static", StaticFiles(directory=str(STATIC)), name="static"),
        ],
        lifespan=lifespan,
    )
    return HostCheck(app, None if hosts is None else frozenset(h.lower() for h in hosts))
