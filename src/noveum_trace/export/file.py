"""Trace files: one OTLP/JSON ``TracesData`` per line, one file per process, rotated by size.

Files are created with mode 0600 (prompts are private). A directory that cannot be written
gives one warning and a failure count; the application keeps running, and the exporter tries
again on the next batch in case the directory becomes writable.
"""

from __future__ import annotations

import contextlib
import os
import re
import time

from noveum_trace._diagnostics.guard import warn_once
from noveum_trace._diagnostics.stats import STATS
from noveum_trace.export.base import EncodedBatch

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileExporter:
    name = "file"

    def __init__(self, directory: str, service_name: str, max_bytes: int) -> None:
        self.directory = os.path.abspath(os.path.expanduser(directory))
        self.service = _UNSAFE.sub("_", service_name)[:64] or "service"
        self.max_bytes = max_bytes
        self._fd = -1
        self._written = 0
        self._sequence = 0
        self._stamp = ""
        self._torn = False  # the file ends in part of a line that could not be cut away
        self.path: str | None = None

    def _file_name(self) -> str:
        if not self._stamp:
            self._stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
        suffix = f".{self._sequence}" if self._sequence else ""
        return f"traces-{self.service}-{os.getpid()}-{self._stamp}{suffix}.jsonl"

    def _open(self) -> int:
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        path = os.path.join(self.directory, self._file_name())
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o600
        )
        self.path = path
        self._written = os.fstat(fd).st_size
        return fd

    def export(self, batch: EncodedBatch) -> None:
        stats = STATS.exporter(self.name)
        start = done = 0
        try:
            size = len(batch.line) + 1
            if self._fd >= 0 and self._written and self._written + size > self.max_bytes:
                self._close()
                self._sequence += 1
                self._torn = False  # a new file has no tail to end
            if self._fd < 0:
                self._fd = self._open()
            # After a write that failed halfway and could not be cut back, the torn tail
            # gets a line of its own: the reader skips it, this batch stays readable.
            data = (b"\n" if self._torn else b"") + batch.line + b"\n"
            start = self._written
            view = memoryview(data)
            while done < len(data):
                done += os.write(self._fd, view[done:])
            self._written += len(data)
            self._torn = False
            stats.exported += batch.span_count
        except OSError as exc:
            if done:
                self._cut(start)
            stats.failed += batch.span_count
            STATS.incr("file_write_errors")
            warn_once(
                "file_export",
                "noveum_trace: cannot write trace files in %s (%s); spans are being dropped and "
                "counted in get_stats(). The application is unaffected.",
                self.directory,
                exc.strerror or exc,
            )
            self._close()

    def _cut(self, size: int) -> None:
        """Remove the part of a line a failed write left (a full disk writes what fits), so
        the next batch starts on a clean line and every line counted exported can be read."""
        try:
            os.ftruncate(self._fd, size)
        except OSError:
            self._torn = True

    def _close(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1

    def flush(self, timeout: float) -> bool:
        return True  # every write goes straight to the OS; nothing is buffered here

    def shutdown(self, timeout: float) -> None:
        self._close()

    def reset_after_fork(self) -> None:
        # The child writes its own file (new pid in the name); closing the child's copy of
        # the descriptor leaves the parent's untouched.
        self._close()
        self._sequence = 0
        self._stamp = ""
        self._torn = False
        self.path = None
