"""One OTLP/HTTP trace client: body encoding, the POST, and the spec's retry rules.

Shared by the live exporter (on its sender thread) and ``noveum-trace send``. Only the
standard library's ``http.client``: no dependency for the application to resolve, and full
control over timeouts, keep-alive and aborting a request from another thread.

Retry rules (OTLP spec, "Failures"): 429, 502, 503 and 504 and connection errors are retried
with exponential backoff and jitter, honouring ``Retry-After``; every other non-2xx reply is
final. All attempts for one body share one deadline, so the time spent on it is bounded.
Once someone is waiting on the sender (flush, shutdown: see ``Interrupt.hurry``), an endpoint
that cannot even be connected to gets no more retries: a dead collector must not hold up
interpreter exit for the whole budget.
"""

from __future__ import annotations

import contextlib
import email.utils
import enum
import gzip
import http.client
import random
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from noveum_trace._version import __version__

RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
PROTOCOLS = ("http/protobuf", "http/json")
COMPRESSIONS = ("gzip", "none")
_CONTENT_TYPES = {"http/protobuf": "application/x-protobuf", "http/json": "application/json"}
_MAX_REPLY = 1 << 20  # a reply body larger than this is not read (nor is the connection kept)
_USER_AGENT = f"noveum-trace/{__version__}"
_HOLDING_OFF = "holding off as the server asked (Retry-After)"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with "equal jitter": each wait is random in [d/2, d]."""

    initial: float = 0.5
    maximum: float = 16.0
    multiplier: float = 2.0

    def delay(self, retry: int) -> float:
        ceiling = min(self.maximum, self.initial * self.multiplier**retry)
        return random.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def display_url(url: str) -> str:
    """``url`` for logs: any ``user:password@`` and query string left out."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class EndpointUnreachable(ConnectionError):
    """No connection could be made (refused, unknown host, unroutable, connect timeout)."""


class Interrupt:
    """How other threads cut a ``post()`` short: ``stop()`` ends it now; while anyone is
    in ``hurry()`` (a flush or shutdown waiting), an unreachable endpoint is not retried."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._hurrying = 0
        self.stopped = False

    @property
    def hurried(self) -> bool:
        return self._hurrying > 0

    def stop(self) -> None:
        with self._cond:
            self.stopped = True
            self._cond.notify_all()

    def hurry(self) -> None:
        with self._cond:
            self._hurrying += 1
            self._cond.notify_all()

    def calm(self) -> None:
        with self._cond:
            self._hurrying = max(self._hurrying - 1, 0)

    def wait(self, seconds: float, *, hurry_ends_it: bool) -> None:
        """Sleep up to ``seconds``; a stop (or a hurry, if it ends the wait) wakes us early."""
        with self._cond:
            self._cond.wait_for(
                lambda: self.stopped or (hurry_ends_it and self._hurrying > 0), max(seconds, 0.0)
            )


class Outcome(enum.Enum):
    DELIVERED = "delivered"  # 2xx (some spans may still be rejected: see Result.rejected)
    REFUSED = "refused"  # a final, non-retryable status
    EXHAUSTED = "exhausted"  # retryable failures until the deadline
    STOPPED = "stopped"  # aborted by the caller (shutdown)


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    status: int | None = None
    rejected: int = 0
    message: str = ""
    attempts: int = 0


class OtlpHttpClient:
    """POSTs encoded bodies to one endpoint over one keep-alive connection (one thread)."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str] | None = None,
        protocol: str = "http/protobuf",
        compression: str = "none",
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"noveum_trace: OTLP protocol must be one of {PROTOCOLS}")
        if compression not in COMPRESSIONS:
            raise ValueError(f"noveum_trace: OTLP compression must be one of {COMPRESSIONS}")
        url = urllib.parse.urlsplit(endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError(f"noveum_trace: OTLP endpoint must be an http(s) URL: {endpoint!r}")
        self.endpoint = endpoint
        self.protocol = protocol
        self.compression = compression
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self._scheme = url.scheme
        self._host = url.hostname
        self._port = url.port
        self._path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        self._headers = {"User-Agent": _USER_AGENT, **dict(headers or {})}
        self._headers["Content-Type"] = _CONTENT_TYPES[protocol]
        if compression == "gzip":
            self._headers["Content-Encoding"] = "gzip"
        self._encode_proto: Callable[[Mapping[str, Any]], bytes] | None = None
        if protocol == "http/protobuf":
            from noveum_trace.export._otlp_proto import encode_request  # clear ImportError

            self._encode_proto = encode_request
        self._conn: http.client.HTTPConnection | None = None
        self.not_before = 0.0  # monotonic time before which the server asked us not to send

    # ---- bodies -------------------------------------------------------------------------

    def encode(self, line: bytes, data: Callable[[], Mapping[str, Any]]) -> bytes:
        """The request body: the JSON line as is, or protobuf built from the decoded dict."""
        body = line if self._encode_proto is None else self._encode_proto(data())
        if self.compression == "gzip":
            body = gzip.compress(body, compresslevel=6)
        return body

    # ---- sending ------------------------------------------------------------------------

    def post(
        self,
        body: bytes,
        deadline: float,
        interrupt: Interrupt | None = None,
        on_retry: Callable[[], None] | None = None,
    ) -> Result:
        """Send ``body`` until delivered, refused, stopped, or ``deadline`` (monotonic)."""
        interrupt = interrupt or Interrupt()
        attempt = 0
        last = Result(Outcome.EXHAUSTED)
        unreachable = False  # the last attempt could not even connect
        delay = 0.0
        while True:
            if attempt:
                # Back off; a flush or shutdown waiting on a dead endpoint ends that at once.
                interrupt.wait(delay, hurry_ends_it=unreachable)
                if interrupt.stopped:
                    return Result(Outcome.STOPPED, attempts=attempt)
                if unreachable and interrupt.hurried:
                    return last
            wait = self.not_before - time.monotonic()
            if wait > 0:
                if time.monotonic() + wait > deadline:
                    return last if attempt else Result(Outcome.EXHAUSTED, message=_HOLDING_OFF)
                interrupt.wait(wait, hurry_ends_it=False)
            remaining = deadline - time.monotonic()
            if interrupt.stopped:
                return Result(Outcome.STOPPED, attempts=attempt)
            if remaining <= 0:
                return last
            if attempt and on_retry is not None:
                on_retry()  # counted only when the body really goes out again
            attempt += 1
            retry_after: float | None = None
            try:
                status, headers, reply = self._request(body, min(self.timeout, remaining))
            except (OSError, http.client.HTTPException) as exc:
                if interrupt.stopped:
                    return Result(Outcome.STOPPED, attempts=attempt)
                unreachable = isinstance(exc, EndpointUnreachable)
                cause = exc.__cause__ if unreachable and exc.__cause__ else exc
                message = f"{type(cause).__name__}: {cause}"
                last = Result(Outcome.EXHAUSTED, message=message, attempts=attempt)
                if unreachable and interrupt.hurried:
                    return last  # no retries for a dead endpoint while someone waits
            else:
                unreachable = False
                if 200 <= status < 300:
                    rejected, message = self._partial_success(headers, reply)
                    return Result(Outcome.DELIVERED, status, rejected, message, attempt)
                message = reply[:200].decode("utf-8", "replace")
                if status not in RETRYABLE_STATUS:
                    return Result(Outcome.REFUSED, status, message=message, attempts=attempt)
                last = Result(Outcome.EXHAUSTED, status, message=message, attempts=attempt)
                retry_after = parse_retry_after(headers.get("retry-after"))
            delay = retry_after if retry_after is not None else self.policy.delay(attempt - 1)
            if time.monotonic() + delay >= deadline:
                if retry_after is not None:  # the server's wish outlives this body: keep it
                    self.not_before = time.monotonic() + retry_after
                return last

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is None:
            if self._scheme == "https":
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=timeout, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout)
            self._conn = conn
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _request(self, body: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        reused = self._conn is not None and self._conn.sock is not None
        try:
            return self._request_once(body, timeout)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
        # The server closed an idle keep-alive connection: not a failure, so no backoff.
        return self._request_once(body, timeout)

    def _request_once(self, body: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
        conn = self._connection(timeout)
        if conn.sock is None:  # connect apart from the request: tells "down" from "failed"
            try:
                conn.connect()
            except OSError as exc:
                self.close()
                raise EndpointUnreachable(str(exc)) from exc
        try:
            conn.request("POST", self._path, body=body, headers=self._headers)
            response = conn.getresponse()
            reply = response.read(_MAX_REPLY)
            headers = {k.lower(): v for k, v in response.getheaders()}
            if not response.isclosed():  # reply too large to drain: don't reuse the socket
                self.close()
        except BaseException:
            self.close()
            raise
        return response.status, headers, reply

    def _partial_success(self, headers: Mapping[str, str], reply: bytes) -> tuple[int, str]:
        """Spans the server says it rejected in a 2xx reply (JSON or protobuf body)."""
        if not reply:
            return 0, ""
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if content_type == "application/json" or (
                not content_type and self.protocol == "http/json"
            ):
                partial = orjson.loads(reply).get("partialSuccess") or {}
                return int(partial.get("rejectedSpans") or 0), str(partial.get("errorMessage", ""))
            if content_type in ("application/x-protobuf", "application/protobuf") or (
                not content_type and self.protocol == "http/protobuf"
            ):
                from noveum_trace.export._otlp_proto import rejected_spans_from_protobuf

                return rejected_spans_from_protobuf(reply)
        except Exception:  # an unreadable success reply is still a success
            return 0, ""
        return 0, ""

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def abort(self) -> None:
        """From another thread: make a request blocked on this connection fail now."""
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def forget(self) -> None:
        """After fork: drop the parent's connection without touching its socket state."""
        self._conn = None
