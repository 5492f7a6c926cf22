"""Where the views get their spans: a streamed scan of trace files, filters, user errors.

The scan reads with the reader's ``lines`` (a 1 GB directory costs the memory of one line),
shows byte progress, gives up on a file that is not a trace file at its first line, reports
problems as one-line warnings, and turns "nothing to show" into a ``CliError`` naming why.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import fnmatch
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TextIO, TypeAlias

from noveum_trace import _render as render
from noveum_trace import semconv
from noveum_trace.cli import fmt
from noveum_trace.reader import BadLine, SpanDict, decode_line, lines, trace_files

Warn = Callable[[str], None]
# What ``add_subparsers`` returns: each command module adds its parser to it.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
DEFAULT_PATH = "./traces"
_MAX_WARNINGS_PER_FILE = 5


class CliError(Exception):
    """A problem with the user's input: printed as one line, exit status 1."""


def warn_to_stderr(message: str) -> None:
    print(f"noveum-trace: warning: {message}", file=sys.stderr)


# --- filters -----------------------------------------------------------------------------

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float | None = None) -> int:
    """``10m``/``2h``/``3d`` ago, or an ISO time (local time when no zone is given): unix ns."""
    now = time.time() if now is None else now
    match = _RELATIVE.match(text)
    if match:
        return int((now - float(match.group(1)) * _UNITS[match.group(2).lower()]) * 1e9)
    try:
        moment = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"cannot read the time {text!r}: use e.g. 30s, 10m, 2h, 3d, 1w "
            "or an ISO time like 2026-01-31T14:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.astimezone()
    return int(moment.timestamp() * 1e9)


@dataclass
class SpanFilter:
    trace_id: str | None = None
    service: str | None = None
    model: str | None = None
    errors_only: bool = False
    since_ns: int | None = None
    until_ns: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> SpanFilter:
        since, until = getattr(args, "since", None), getattr(args, "until", None)
        trace_id = getattr(args, "trace_id", None)
        return cls(
            trace_id=trace_id.lower() if trace_id else None,
            service=getattr(args, "service", None),
            model=getattr(args, "model", None),
            errors_only=bool(getattr(args, "errors", False)),
            since_ns=parse_time(since) if since else None,
            until_ns=parse_time(until) if until else None,
        )

    def in_window(self, span: SpanDict) -> bool:
        """Trace id and time window: spans outside are never looked at."""
        if self.trace_id and not span["trace_id"].startswith(self.trace_id):
            return False
        start = span["start_time_unix_nano"]
        if self.since_ns is not None and start < self.since_ns:
            return False
        return self.until_ns is None or start <= self.until_ns

    def selects(self, span: SpanDict) -> bool:
        if self.errors_only and not render.is_error(span):
            return False
        if self.service and not fnmatch.fnmatchcase(span["service_name"] or "", self.service):
            return False
        if self.model:
            attrs = span["attributes"]
            names = (
                attrs.get(semconv.GEN_AI_REQUEST_MODEL),
                attrs.get(semconv.GEN_AI_RESPONSE_MODEL),
            )
            if not any(fnmatch.fnmatchcase(str(n), self.model) for n in names if n is not None):
                return False
        return True

    def accepts(self, span: SpanDict) -> bool:
        return self.in_window(span) and self.selects(span)


# --- the scan ----------------------------------------------------------------------------


class Progress:
    """``scanning 3/40 files  120 MB / 1.1 GB  11%`` on stderr, for terminals only."""

    def __init__(self, total_bytes: int, files: int, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = fmt.isatty(self.stream) and total_bytes > 8 * 1024 * 1024
        self.total = total_bytes
        self.files = files
        self._last = 0.0
        self._shown = False

    def update(self, done: int, file_index: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        share = done / self.total if self.total else 1.0
        self.stream.write(
            f"\rscanning {file_index}/{self.files} files  {_size(done)} / {_size(self.total)}"
            f"  {share * 100:.0f}% "
        )
        self.stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


def _size(n: float) -> str:
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            break
    return f"{n:.1f} {unit}"


class Scan:
    """Every span under ``path``, streamed. Raises ``CliError`` for nothing to read."""

    def __init__(self, path: str, warn: Warn = warn_to_stderr, progress: bool = True) -> None:
        self.path = path
        self.warn = warn
        try:
            self.files = trace_files(path)
        except FileNotFoundError:
            raise CliError(f"no such file or directory: {path}{_hint(path)}") from None
        except OSError as exc:
            raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not self.files:
            raise CliError(f"no trace files (*.jsonl) in {path}{_hint(path)}")
        self.single_file = os.path.isfile(path)
        self.show_progress = progress
        self.span_count = 0
        self.bad_files: list[str] = []  # "<file> (line N: why)"

    def spans(self) -> Iterator[SpanDict]:
        self.span_count = 0
        self.bad_files = []
        sizes = [_file_size(name) for name in self.files]
        progress = Progress(sum(sizes), len(self.files)) if self.show_progress else None
        done = 0
        try:
            for index, name in enumerate(self.files, 1):
                for raw_len, spans in self._read(name):
                    done += raw_len
                    if progress:
                        progress.update(done, index)
                    self.span_count += len(spans)
                    yield from spans
        finally:
            if progress:
                progress.finish()
        if self.span_count:
            # Reported at the end: when nothing else was found, the error says it instead.
            for bad in self.bad_files:
                self.warn(f"not a trace file, skipped: {bad}")
        else:
            if self.bad_files:
                raise CliError(
                    f"not a trace file: {self.bad_files[0]}"
                    if self.single_file or len(self.files) == 1
                    else f"no spans in {self.path}: {len(self.bad_files)} of "
                    f"{len(self.files)} files are not trace files"
                )
            raise CliError(f"no spans in {self.path} (the trace files are empty)")

    def _read(self, name: str) -> Iterator[tuple[int, list[SpanDict]]]:
        """(bytes read, spans) per line."""
        warnings = 0
        got_spans = False
        try:
            handle = open(name, "rb")  # noqa: SIM115 - closed below; yields in between
        except OSError as exc:
            self.warn(f"cannot read {name}: {exc.strerror or exc}")
            return
        with handle:
            for line in lines(handle):
                spans: list[SpanDict] = []
                if not line.blank:
                    try:
                        spans = decode_line(line.raw, name)
                    except BadLine as exc:
                        if not line.complete:
                            self.warn(
                                f"{name}: incomplete last line skipped "
                                "(still being written, or a torn write)"
                            )
                        elif not got_spans:
                            # The first line already fails: this is some other kind of file.
                            self.bad_files.append(f"{name} (line {line.number}: {exc})")
                            return
                        else:
                            warnings += 1
                            if warnings <= _MAX_WARNINGS_PER_FILE:
                                self.warn(f"{name}:{line.number}: {exc}; line skipped")
                            elif warnings == _MAX_WARNINGS_PER_FILE + 1:
                                self.warn(f"{name}: more bad lines; not reporting them")
                    else:
                        got_spans = True
                yield len(line.raw), spans


def _hint(path: str) -> str:
    if os.path.normpath(path) != os.path.normpath(DEFAULT_PATH):
        return ""
    return " (run `noveum-trace demo` to write some, or give the log_directory)"


def _file_size(name: str) -> int:
    try:
        return os.path.getsize(name)
    except OSError:
        return 0
