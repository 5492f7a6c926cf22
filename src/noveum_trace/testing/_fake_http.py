"""The fake provider's HTTP/1.1 server: keep-alive, Content-Length JSON, chunked SSE streams."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from noveum_trace.testing._fake_routes import answer, parse_json
from noveum_trace.testing._fake_scenario import Settings
from noveum_trace.testing._fake_wire import JsonReply, Reply, StreamReply, dumps

THREAD_PREFIX = "FakeProvider"
_DISCONNECTS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError, TimeoutError)
_REASONS = {529: "Overloaded"}

# (method, path, query, lower-case headers, raw body, parsed JSON) of every request served.
Recorder = Callable[[str, str, str, dict[str, str], bytes, Any], None]


class FakeServer(ThreadingHTTPServer):
    # Daemon threads so a provider that is never stopped cannot hold the interpreter open;
    # ThreadingMixIn does not join daemon threads, so stop() joins them through join_workers().
    daemon_threads = True
    block_on_close = False

    def __init__(
        self, address: tuple[str, int], settings: Settings, record: Recorder, verbose: bool
    ) -> None:
        self.settings = settings
        self.record = record
        self.verbose = verbose
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._workers: list[threading.Thread] = []
        self._lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Tracked here, in the serving thread, so stop() never misses a just-accepted connection.
        worker = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"{THREAD_PREFIX}-connection",
            daemon=True,
        )
        with self._lock:
            self._connections.add(request)
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(worker)
        worker.start()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def join_workers(self) -> None:
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join()

    def close_connections(self) -> None:
        """Wake handler threads idling on keep-alive connections so they can be joined."""
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], _DISCONNECTS):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer

    def finish(self) -> None:
        with contextlib.suppress(*_DISCONNECTS):
            super().finish()

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _serve(self) -> None:
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            raw = self._read_body()
        except (ValueError, *_DISCONNECTS):
            self.close_connection = True
            return
        body = parse_json(raw)
        self.server.record(self.command, path, query, headers, raw, body)
        reply = answer(self.command, path, headers, body, self.server.settings)
        try:
            self._send(reply)
        except _DISCONNECTS:
            self.close_connection = True  # the client went away mid-reply; that is its right

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _send(self, reply: Reply) -> None:
        if isinstance(reply, JsonReply):
            self._send_json(reply)
        else:
            self._send_stream(reply)

    def _start(self, status: int, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(status, _REASONS.get(status))
        self.send_header("Content-Type", content_type)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Connection", "close" if self.close_connection else "keep-alive")

    def _send_json(self, reply: JsonReply) -> None:
        if reply.delay and self.server.stopping.wait(reply.delay):
            self.close_connection = True
            return
        payload = dumps(reply.body).encode()
        self._start(reply.status, "application/json", reply.headers)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def _send_stream(self, reply: StreamReply) -> None:
        # HTTP/1.0 has no chunked encoding: the end of the body is the end of the connection.
        chunked = self.request_version == "HTTP/1.1"
        self.close_connection = self.close_connection or not chunked
        self._start(200, "text/event-stream; charset=utf-8", reply.headers)
        self.send_header("Cache-Control", "no-cache")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        for index, burst in enumerate(reply.bursts):
            delay = reply.first_delay if index == 0 else reply.delay
            if delay and self.server.stopping.wait(delay):
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(burst), burst) if chunked else burst)
            self.wfile.flush()
        if chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
