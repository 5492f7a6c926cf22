"""``noveum-trace tail``: print spans as they land in the trace files.

Polls the directory, and waits for it when it does not exist yet (the application creates it
on its first write). Offsets are kept per inode, so a renamed file keeps its place and a new
file (the writer's next rotation, another process) is read from its start. Only complete
lines are consumed (the reader's ``complete_only``): a line still being written is read on a
later poll. Children end (and are written) before their parents, so spans are printed as
flat lines, not trees.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from typing import TextIO

from noveum_trace import _render as render
from noveum_trace.cli import fmt
from noveum_trace.cli.source import CliError, SpanFilter, Subcommands, Warn, warn_to_stderr
from noveum_trace.reader import BadLine, SpanDict, complete_end, decode_line, lines, trace_files


class Follower:
    """Yields the spans appended to the trace files under ``path`` since the last poll.

    ``from_start=False`` skips what the files hold at the first poll. A path that does not
    exist yet yields nothing until it appears.
    """

    def __init__(self, path: str, from_start: bool, warn: Warn = warn_to_stderr) -> None:
        self.path = path
        self.from_start = from_start
        self.warn = warn
        self.offsets: dict[tuple[int, int], int] = {}
        self._first_poll = True
        self._warned: set[str] = set()

    def poll(self) -> Iterator[SpanDict]:
        try:
            names = trace_files(self.path)
        except FileNotFoundError:
            names = []
        seen: dict[tuple[int, int], int] = {}
        for name in names:
            try:
                stat = os.stat(name)
            except OSError:  # removed between the listing and now
                continue
            key = (stat.st_dev, stat.st_ino)
            offset = self.offsets.get(key)
            if offset is None:
                at_end = self._first_poll and not self.from_start
                offset = _complete_end(name, stat.st_size) if at_end else 0
            elif stat.st_size < offset:  # truncated in place
                offset = 0
            if stat.st_size > offset:
                for spans, end in self._read(name, offset):
                    offset = seen[key] = end
                    yield from spans
            seen[key] = offset
        # Forget files that are gone, so a reused inode starts from 0.
        self.offsets = seen
        self._first_poll = False

    def _read(self, name: str, offset: int) -> Iterator[tuple[list[SpanDict], int]]:
        """(spans, offset just past them) per complete line from ``offset``."""
        try:
            handle = open(name, "rb")  # noqa: SIM115 - closed below; yields in between
        except OSError as exc:
            self._warn_once(name, f"cannot read {name}: {exc.strerror or exc}")
            return
        with handle:
            for line in lines(handle, offset, complete_only=True):
                spans: list[SpanDict] = []
                if not line.blank:
                    try:
                        spans = decode_line(line.raw, name)
                    except BadLine as exc:
                        self._warn_once(name, f"{name}: {exc}; skipping such lines")
                yield spans, line.end

    def _warn_once(self, name: str, message: str) -> None:
        if name not in self._warned:
            self._warned.add(name)
            self.warn(message)


def _complete_end(name: str, size: int) -> int:
    """Where the last complete line of ``name`` ends, to start following from there."""
    try:
        with open(name, "rb") as handle:
            return complete_end(handle, size)
    except OSError:
        return 0


def span_line(span: SpanDict, style: render.Style) -> str:
    name = render.one_line(span["name"], 48)
    parts = [
        style(render.clock(span["end_time_unix_nano"], with_date=False), "dim"),
        style(span["service_name"] or "?", "magenta"),
        f"trace {render.short_id(span['trace_id'])}",
        style(name, "red") if render.is_error(span) else style(name, "bold"),
        render.duration(span["duration_ms"]),
        render.span_details(span, style),
    ]
    return "  ".join(part for part in parts if part)


def write_span(
    span: SpanDict, out: TextIO, style: render.Style, as_json: bool, content: bool
) -> None:
    if as_json:
        out.write(render.dumps(span if content else render.strip_content(span)) + "\n")
        return
    out.write(span_line(span, style) + "\n")
    if content:
        for key, text in render.content_items(span):
            out.write(f"    {style(key + ':', 'dim')} {render.one_line(text, 400)}\n")


def run(args: argparse.Namespace) -> int:
    filt = SpanFilter.from_args(args)
    style = render.Style(fmt.colour_wanted(args.color, sys.stdout))
    exists = os.path.exists(args.path)
    if not exists and args.once:
        raise CliError(f"no such file or directory: {args.path}")
    # Files that appear under a path that did not exist yet are all new: read them whole.
    follower = Follower(args.path, from_start=args.from_start or args.once or not exists)
    if not exists:
        warn_to_stderr(f"{args.path} does not exist yet; waiting for it (Ctrl-C to stop)")
    elif fmt.isatty(sys.stderr) and not args.once:
        print(f"following {args.path} (Ctrl-C to stop)", file=sys.stderr)
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    printed = 0
    try:
        while True:
            for span in follower.poll():
                if filt.accepts(span):
                    write_span(span, sys.stdout, style, args.json, args.content)
                    printed += 1
                    if args.max_spans and printed >= args.max_spans:
                        return 0
            sys.stdout.flush()
            if args.once or (deadline is not None and time.monotonic() >= deadline):
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 0
    finally:
        sys.stdout.flush()


def add_parser(sub: Subcommands, common: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "tail",
        parents=common,
        help="follow the trace files as spans arrive",
        description="Print spans as they are written, across file rotation and new files. "
        "Starts at the end of the existing files unless --from-start is given.",
    )
    parser.add_argument("--interval", type=float, default=0.5, help="poll every S seconds")
    parser.add_argument("--from-start", action="store_true", help="print existing spans first")
    parser.add_argument("--content", action="store_true", help="show prompts and completions")
    parser.add_argument("--once", action="store_true", help="print what is there now and exit")
    parser.add_argument("--max-spans", type=int, default=0, help="exit after N spans")
    parser.add_argument("--max-seconds", type=float, default=0, help="exit after S seconds")
    parser.set_defaults(run=run)
