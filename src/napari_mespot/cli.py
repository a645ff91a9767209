"""The ``mespot`` command.

Each sub-command lives in its own module under :mod:`napari_mespot.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are discovered, so adding a command touches no
shared file. Errors meant for the user (:class:`MespotError`) become one readable line on stderr
and exit code 2; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys

from napari_mespot import __version__, commands
from napari_mespot.core.errors import MespotError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mespot",
        description="Spot, explain, review and export facial micro- and macro-expressions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # MediaPipe's C++ logging (TFLite delegate notices) would drown the command's own output.
    os.environ.setdefault("GLOG_minloglevel", "2")
    # Warnings from the core (assumed fps, repaired label rows, truncated files) reach the user.
    logging.basicConfig(format="mespot: warning: %(message)s", level=logging.WARNING)
    try:
        parser = build_parser()
    except MespotError as exc:  # e.g. two installed plugins register the same spotter name
        print(f"mespot: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MespotError as exc:
        print(f"mespot {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mespot {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
