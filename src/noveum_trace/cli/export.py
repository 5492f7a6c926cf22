"""``noveum-trace export``: one flat row per span, as JSON lines or CSV, for pandas and jq.

Columns: ids, name, kind, service, times, duration, status, then ``attr.<key>`` for every
span attribute and ``resource.<key>`` for every resource attribute; ``events`` holds the
span's events (a list in JSON lines, a JSON string in CSV). CSV needs its columns before the
first row, so it reads the files twice rather than holding them in memory.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as _dt
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from noveum_trace import _render as render
from noveum_trace.cli.source import CliError, Scan, SpanFilter, Subcommands
from noveum_trace.reader import SpanDict

FIXED_COLUMNS = [
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "kind",
    "service",
    "scope",
    "start_time",
    "end_time",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "duration_ms",
    "status_code",
    "status_message",
]


def _iso(unix_nano: int) -> str:
    moment = _dt.datetime.fromtimestamp(unix_nano // 1_000_000_000, tz=_dt.timezone.utc)
    micros = (unix_nano // 1000) % 1_000_000
    return moment.replace(microsecond=micros).isoformat().replace("+00:00", "Z")


def flat_row(span: SpanDict) -> dict[str, Any]:
    row: dict[str, Any] = {
        "trace_id": span["trace_id"],
        "span_id": span["span_id"],
        "parent_span_id": span["parent_span_id"],
        "name": span["name"],
        "kind": span["kind"],
        "service": span["service_name"],
        "scope": span["scope"]["name"],
        "start_time": _iso(span["start_time_unix_nano"]),
        "end_time": _iso(span["end_time_unix_nano"]),
        "start_time_unix_nano": span["start_time_unix_nano"],
        "end_time_unix_nano": span["end_time_unix_nano"],
        "duration_ms": span["duration_ms"],
        "status_code": span["status"]["code"],
        "status_message": span["status"]["message"],
    }
    for key, value in span["attributes"].items():
        row[f"attr.{key}"] = value
    for key, value in span["resource"].items():
        row[f"resource.{key}"] = value
    row["events"] = span["events"]
    return row


def _csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return render.dumps(value)
    return value


def _rows(scan: Scan, filt: SpanFilter) -> Iterator[dict[str, Any]]:
    for span in scan.spans():
        if filt.accepts(span):
            yield flat_row(span)


def write_jsonl(scan: Scan, filt: SpanFilter, out: TextIO) -> int:
    written = 0
    for row in _rows(scan, filt):
        out.write(render.dumps(row) + "\n")
        written += 1
    return written


def write_csv(path: str, filt: SpanFilter, out: TextIO) -> int:
    # First pass: the columns (attribute keys are few, spans are many). Warnings come once,
    # from the second pass.
    keys: dict[str, None] = {}
    for row in _rows(Scan(path, warn=lambda _message: None, progress=True), filt):
        keys.update(dict.fromkeys(key for key in row if key not in keys))
    attr_columns = sorted(k for k in keys if k.startswith("attr."))
    resource_columns = sorted(k for k in keys if k.startswith("resource."))
    columns = [*FIXED_COLUMNS, *attr_columns, *resource_columns, "events"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    written = 0
    for row in _rows(Scan(path), filt):
        writer.writerow({key: _csv_cell(value) for key, value in row.items()})
        written += 1
    return written


def run(args: argparse.Namespace) -> int:
    filt = SpanFilter.from_args(args)
    scan = Scan(args.path)  # checks the path before creating the output file
    with contextlib.ExitStack() as stack:
        out: TextIO = sys.stdout
        if args.output and args.output != "-":
            try:
                out = stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        if args.format == "csv":
            written = write_csv(args.path, filt, out)
        else:
            written = write_jsonl(scan, filt, out)
    if args.output and args.output != "-":
        print(f"wrote {written} spans to {args.output}", file=sys.stderr)
    return 0


def add_parser(sub: Subcommands, common: list[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "export",
        parents=common,
        help="flat rows (JSON lines or CSV) for pandas/jq",
        description="One flat row per span: ids, name, times, duration, status, service, "
        "attr.<key> per attribute, resource.<key> per resource attribute, and events.",
    )
    parser.add_argument(
        "--format", "-f", choices=["flat-jsonl", "csv"], default="flat-jsonl", help="row format"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    parser.set_defaults(run=run)
