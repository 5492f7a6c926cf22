"""``noveum-trace ui [PATH]``: index the trace files and serve the viewer on loopback.

Imported by the CLI without the ``[ui]`` extra: the server, DuckDB and uvicorn are imported
only when the command runs, and their absence is one line saying what to install.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import webbrowser

from noveum_trace.cli.source import DEFAULT_PATH, CliError, Subcommands

DEFAULT_PORT = 8765
INSTALL_HINT = "pip install 'noveum-trace[ui]'"


def _hosts(host: str) -> frozenset[str] | None:
    """The Host names the server answers: loopback, plus the one ``--host`` names. Listening
    on every interface (``0.0.0.0``, ``::``) was asked for on purpose: any name then."""
    from noveum_trace.ui.server import LOOPBACK_HOSTS

    if host in ("0.0.0.0", "::", ""):
        return None
    return LOOPBACK_HOSTS | {host.strip("[]").lower()}


def _socket(host: str, port: int) -> socket.socket:
    """A listening socket on ``port``, or on a free one when that is taken and not asked for."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in (port, 0) if port == DEFAULT_PORT else (port,):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
        except OSError as exc:
            sock.close()
            if candidate == 0 or port != DEFAULT_PORT:
                raise CliError(f"cannot listen on {host}:{candidate}: {exc.strerror}") from None
            continue
        sock.listen(128)
        return sock
    raise CliError(f"cannot listen on {host}")  # pragma: no cover - the loop returns or raises


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from noveum_trace.ui.index import Index
        from noveum_trace.ui.server import create_app
    except ImportError as exc:
        missing = f"{exc.name} is missing"
        raise CliError(f"`ui` needs the [ui] extra ({missing}): {INSTALL_HINT}") from None
    started = time.monotonic()
    print(f"noveum-trace ui: indexing {args.path} ...", file=sys.stderr, flush=True)
    index = Index(args.path)
    index.refresh()
    spans, traces = index.query("SELECT (SELECT count(*) FROM spans), count(*) FROM traces")[0]
    print(
        f"noveum-trace ui: {spans:,} spans in {traces:,} traces "
        f"({time.monotonic() - started:.1f}s)",
        file=sys.stderr,
    )
    sock = _socket(args.host, args.port)
    url = url_of(sock)
    print(f"noveum-trace ui: {url}  (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
    config = uvicorn.Config(
        create_app(index, args.poll, _hosts(args.host)), log_level="warning", lifespan="on"
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        index.close()
    return 0


def add_parser(sub: Subcommands) -> None:
    parser = sub.add_parser(
        "ui",
        help="browse the trace files in a local web viewer (the [ui] extra)",
        description="Serve a trace viewer for the trace files under PATH on "
        "http://127.0.0.1:PORT/: traces, one trace's waterfall and conversation, and an "
        "overview of calls, tokens, cost and latency. New traces appear as they are written.",
    )
    parser.add_argument(
        "path", nargs="?", default=DEFAULT_PATH, help="trace file or directory (default ./traces)"
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}, or a free one if it is taken; 0 = any free port)",
    )
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument(
        "--poll", type=float, default=1.0, metavar="SECONDS", help="how often to read new lines"
    )
    parser.set_defaults(run=run)
