"""Entry point: ``noveum-trace`` / ``python -m noveum_trace.cli``.

Every failure ends as one line on stderr and a non-zero status; ``NOVEUM_TRACE_DEBUG=1``
adds the traceback for unexpected ones.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from noveum_trace.cli import demo, export, show, stats, tail
from noveum_trace.cli.source import DEFAULT_PATH, CliError, Subcommands
from noveum_trace.ui import command as ui

_PROG = "noveum-trace"

# Commands that parse their own options (``main(argv)``), imported only when run: `send` pulls
# in the HTTP client, and `fake-provider` may need what a minimal install lacks.
_OWN_PARSERS = {
    "fake-provider": (
        "noveum_trace.testing.fake_provider",
        "run the local fake OpenAI/Anthropic server (see its --help)",
    ),
    "send": ("noveum_trace.cli.send", "send trace files to an OTLP endpoint (see its --help)"),
}


def _parents() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """(path + filters, output options) shared by the views."""
    scope = argparse.ArgumentParser(add_help=False)
    scope.add_argument(
        "path", nargs="?", default=DEFAULT_PATH, help="trace file or directory (default ./traces)"
    )
    group = scope.add_argument_group("filters")
    group.add_argument("--trace-id", metavar="ID", help="only this trace (a prefix is enough)")
    group.add_argument("--service", metavar="NAME", help="only this service (glob)")
    group.add_argument("--model", metavar="NAME", help="only this model (glob, e.g. 'gpt-4o*')")
    group.add_argument("--errors", action="store_true", help="only errors")
    group.add_argument("--since", metavar="WHEN", help="start after: 10m, 2h, 3d or an ISO time")
    group.add_argument("--until", metavar="WHEN", help="start before: 10m, 2h, 3d or an ISO time")
    output = argparse.ArgumentParser(add_help=False)
    _output_options(output, default=argparse.SUPPRESS)
    return scope, output


def _output_options(parser: argparse.ArgumentParser, default: object) -> None:
    # Accepted before and after the subcommand; SUPPRESS keeps the subparser from
    # overwriting a value given before it.
    parser.add_argument(
        "--json",
        action="store_true",
        default=False if default is None else default,
        help="machine-readable output",
    )
    parser.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto" if default is None else default,
        help="colour: auto (a terminal without NO_COLOR), always or never",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="Look at noveum_trace trace files, or run the offline demo.",
        epilog="examples:\n"
        "  noveum-trace demo                      # no API key, no network\n"
        "  noveum-trace show --errors --since 1h  # recent failed traces\n"
        "  noveum-trace stats --model 'gpt-4o*'   # latency, tokens and cost\n"
        "  noveum-trace export --format csv -o spans.csv\n"
        "  noveum-trace ui                        # browse them (the [ui] extra)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _output_options(parser, default=None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    scope, output = _parents()
    demo.add_parser(sub)
    show.add_parser(sub, [scope, output])
    tail.add_parser(sub, [scope, output])
    stats.add_parser(sub, [scope, output])
    export.add_parser(sub, [scope])
    ui.add_parser(sub)
    _add_own_parsers(sub)
    return parser


def _add_own_parsers(sub: Subcommands) -> None:
    for name, (_module, text) in _OWN_PARSERS.items():
        # The command parses its own options, --help included.
        parser = sub.add_parser(name, help=text, add_help=False, prefix_chars="\0")
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        parser.set_defaults(run=_run_own_parser)


def _run_own_parser(args: argparse.Namespace) -> int:
    module_name = _OWN_PARSERS[args.command][0]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CliError(f"`{args.command}` is unavailable ({exc})") from None
    return int(module.main(list(args.rest)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except CliError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): not an error. Point stdout at devnull so the
        # interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("NOVEUM_TRACE_DEBUG"):
            traceback.print_exc()
            hint = ""
        else:
            hint = " (set NOVEUM_TRACE_DEBUG=1 for the traceback)"
        print(f"{_PROG}: error: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        return 1
