"""``noveum-trace send PATH --endpoint URL``: ship trace files to an OTLP/HTTP endpoint.

Each line of a trace file is already one OTLP ``TracesData``; lines are grouped into
requests of about ``--batch-bytes`` and sent with the live exporter's client (same retry
rules). Progress goes to stderr. The lines are forwarded as our encoder wrote them (already
masked); a line that is not trace data is counted and skipped.

Resumable: ``.noveum-send-state.json`` beside the traces records, per endpoint and file,
how many bytes were delivered and a hash of the file's first line (its identity: a file
replaced under the same name starts again from zero). Only newline-terminated lines are
sent (the reader's ``complete_only``), so a file still being written is picked up where it
stopped on the next run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from noveum_trace._config import resolve
from noveum_trace.export._otlp_http import OtlpHttpClient, Outcome, display_url
from noveum_trace.reader import BadLine, lines, trace_files, traces_data

STATE_FILE = ".noveum-send-state.json"
_HEAD_BYTES = 4096  # how much of a file's start identifies it


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="noveum-trace send",
        description="Send trace files (OTLP/JSON lines) to an OTLP/HTTP endpoint. A second run "
        f"resumes where the first stopped ({STATE_FILE} beside the traces).",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trace file or directory")
    parser.add_argument(
        "--endpoint",
        help="OTLP endpoint; a base URL gets /v1/traces appended "
        "(default: $OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)",
    )
    parser.add_argument(
        "--protocol",
        choices=("http/protobuf", "http/json"),
        help="wire format (default http/protobuf, or $OTEL_EXPORTER_OTLP_PROTOCOL)",
    )
    parser.add_argument("--headers", help="k=v,k2=v2 request headers (e.g. authorization)")
    parser.add_argument("--compression", choices=("gzip", "none"), help="default none")
    parser.add_argument("--timeout", type=float, help="seconds per request attempt (default 10)")
    parser.add_argument(
        "--retry-time",
        type=float,
        default=60.0,
        help="seconds of retries per request before giving up (default 60)",
    )
    parser.add_argument(
        "--batch-bytes", type=int, default=1 << 20, help="target request size (default 1 MiB)"
    )
    parser.add_argument("--restart", action="store_true", help="ignore the state; send all")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    return parser


# ---- resume state -----------------------------------------------------------------------


def _head_hash(handle: BinaryIO, length: int) -> str:
    handle.seek(0)
    return hashlib.sha256(handle.read(length)).hexdigest()


@dataclass
class _State:
    path: str
    data: dict[str, Any]

    @classmethod
    def load(cls, directory: str) -> _State:
        path = os.path.join(directory, STATE_FILE)
        try:
            with open(path, "rb") as handle:
                data = orjson.loads(handle.read())
            if not isinstance(data, dict) or data.get("version") != 1:
                raise ValueError("unknown state format")
        except FileNotFoundError:
            data = {"version": 1, "endpoints": {}}
        except (OSError, ValueError) as exc:
            print(f"send: ignoring unreadable {path} ({exc}); sending everything", file=sys.stderr)
            data = {"version": 1, "endpoints": {}}
        return cls(path, data)

    def files(self, endpoint: str) -> dict[str, Any]:
        found: dict[str, Any] = self.data["endpoints"].setdefault(endpoint, {})
        return found

    def save(self) -> None:
        tmp = f"{self.path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(orjson.dumps(self.data, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.path)  # atomic: a crash leaves the old or the new state


# ---- reading ----------------------------------------------------------------------------


@dataclass
class _Chunk:
    resource_spans: list[dict[str, Any]] = field(default_factory=list)
    spans: int = 0
    start: int = 0
    end: int = 0  # file offset just past the last line in this chunk
    bad_lines: int = 0

    def traces_data(self) -> dict[str, Any]:
        return {"resourceSpans": self.resource_spans}


def _chunks(handle: BinaryIO, start: int, batch_bytes: int) -> Iterator[_Chunk]:
    """Groups of complete lines from ``start``; a torn (unterminated) tail is left alone."""
    chunk, size = _Chunk(start=start, end=start), 0
    for line in lines(handle, start, complete_only=True):
        chunk.end = line.end
        if line.blank:
            continue
        try:
            resource_spans = traces_data(line.raw)["resourceSpans"]
            chunk.spans += sum(
                len(scope.get("spans", ()))
                for rs in resource_spans
                for scope in rs.get("scopeSpans", ())
            )
        except (BadLine, TypeError, AttributeError):
            chunk.bad_lines += 1
            continue
        chunk.resource_spans.extend(resource_spans)
        size += len(line.raw)
        if size >= batch_bytes:
            yield chunk
            chunk, size = _Chunk(start=line.end, end=line.end), 0
    if chunk.end > chunk.start:
        yield chunk


class _Progress:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.last = 0.0

    def update(self, name: str, done: int, total: int, spans: int, final: bool = False) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if not final and now - self.last < (0.2 if self.tty else 2.0):
            return
        self.last = now
        scale, unit = (1e6, "MB") if total >= 1e6 else (1e3, "kB")
        text = f"send: {name}: {done / scale:.1f}/{total / scale:.1f} {unit}, {spans} spans"
        end = "\n" if final or not self.tty else ""
        print(("\r" if self.tty else "") + text, end=end, file=sys.stderr, flush=True)


# ---- sending ----------------------------------------------------------------------------


@dataclass
class _Totals:
    spans: int = 0
    rejected: int = 0
    bad_lines: int = 0
    files: int = 0


def _send_file(
    file: str,
    entry: dict[str, Any],
    client: OtlpHttpClient,
    args: argparse.Namespace,
    state: _State,
    totals: _Totals,
    progress: _Progress,
) -> str | None:
    """Send one file from its saved offset; None on success, else why it stopped."""
    name = os.path.basename(file)
    with open(file, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head_len = int(entry.get("head_len") or 0)
        offset = int(entry.get("offset") or 0)
        same = head_len > 0 and size >= offset and _head_hash(handle, head_len) == entry.get("head")
        if not same:
            offset = 0
        # Identity and offset are recorded together, so a failed first request can never
        # pair a new file's identity with an old file's offset.
        entry["offset"] = offset
        entry["head_len"] = min(size, _HEAD_BYTES)
        entry["head"] = _head_hash(handle, entry["head_len"])
        sent = 0
        for chunk in _chunks(handle, offset, args.batch_bytes):
            totals.bad_lines += chunk.bad_lines
            if chunk.resource_spans:
                line = orjson.dumps(chunk.traces_data())
                body = client.encode(line, chunk.traces_data)
                result = client.post(body, time.monotonic() + args.retry_time)
                if result.outcome is not Outcome.DELIVERED:
                    progress.update(name, offset, size, sent, final=True)
                    why = f"HTTP {result.status}" if result.status else "no connection"
                    return f"{why} ({result.outcome.value}): {result.message or 'no detail'}"
                totals.rejected += result.rejected
                sent += chunk.spans
                totals.spans += chunk.spans
            offset = entry["offset"] = chunk.end
            state.save()
            progress.update(name, offset, size, sent)
        entry["offset"] = offset
        state.save()
        progress.update(name, offset, size, sent, final=True)
    totals.files += 1
    return None


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    options = {
        "otlp_endpoint": args.endpoint,
        "otlp_protocol": args.protocol,
        "otlp_headers": args.headers,
        "otlp_compression": args.compression,
        "otlp_timeout": args.timeout,
    }
    try:
        config = resolve({k: v for k, v in options.items() if v is not None})
        if not config.otlp_endpoint:
            raise ValueError("no endpoint: pass --endpoint URL or set OTEL_EXPORTER_OTLP_ENDPOINT")
        client = OtlpHttpClient(
            config.otlp_endpoint,
            headers=config.otlp_headers,
            protocol=config.otlp_protocol,
            compression=config.otlp_compression,
            timeout=config.otlp_timeout,
        )
        groups = [(path, trace_files(path)) for path in args.paths]
    except (ValueError, ImportError, FileNotFoundError) as exc:
        print(f"send: {exc}", file=sys.stderr)
        return 2
    totals = _Totals()
    progress = _Progress(args.quiet)
    try:
        for path, files in groups:
            directory = path if os.path.isdir(path) else os.path.dirname(path) or "."
            state = _State.load(directory)
            entries = state.files(config.otlp_endpoint)
            for file in files:
                key = os.path.relpath(file, directory)
                entry = {} if args.restart else entries.get(key, {})
                entries[key] = entry
                failure = _send_file(file, entry, client, args, state, totals, progress)
                if failure:
                    print(
                        f"send: stopped at {file}: {failure}; run again to resume", file=sys.stderr
                    )
                    return 1
    except OSError as exc:
        print(f"send: {exc}", file=sys.stderr)
        return 1
    finally:
        client.close()
    if not args.quiet:
        bad = f", {totals.bad_lines} unreadable line(s) skipped" if totals.bad_lines else ""
        print(
            f"send: done: {totals.spans} spans from {totals.files} file(s) to "
            f"{display_url(config.otlp_endpoint)} ({totals.rejected} rejected by the server{bad})",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
