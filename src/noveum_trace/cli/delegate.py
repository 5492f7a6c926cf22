"""``fake-provider`` and ``send``: thin doors to commands that live in their own modules.

Imported only when used, so a missing optional dependency affects only that command.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from noveum_trace.cli.source import CliError

_TARGETS = {
    "fake-provider": ("noveum_trace.testing.fake_provider", ""),
    "send": ("noveum_trace.export.send", "pip install 'noveum-trace[otlp]'"),
}


def run(args: argparse.Namespace) -> int:
    module_name, hint = _TARGETS[args.command]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = f"; {hint}" if hint and exc.name != module_name else ""
        raise CliError(f"`{args.command}` is unavailable ({exc}){extra}") from None
    result = module.main(list(args.rest))
    return int(result or 0)


def add_parsers(sub: Any) -> None:
    helps = {
        "fake-provider": "run the local fake OpenAI/Anthropic server (see its --help)",
        "send": "send trace files to an OTLP endpoint (see its --help)",
    }
    for name, text in helps.items():
        # The target parses its own options, --help included.
        parser = sub.add_parser(name, help=text, add_help=False, prefix_chars="\0")
        parser.add_argument("rest", nargs=argparse.REMAINDER)
        parser.set_defaults(run=run, command=name)
