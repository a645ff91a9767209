"""The ``mespot`` command.

Each sub-command lives in its own module under :mod:`napari_mespot.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are discovered, so adding a command touches no
shared file. Errors meant for the user (:class:`MespotError`, and the ``OSError`` of a file the
user named: a full disk, a permission) become one readable line on stderr and exit code 2;
``mespot --debug COMMAND`` also prints their traceback. Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
import traceback

from napari_mespot import __version__, commands
from napari_mespot.core.errors import MespotError


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line: the usage of a command with many options (a dozen lines) would
    bury the one that says what was wrong. Sub-command parsers are of the same class."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mespot",
        description="Spot, explain, review and export facial micro- and macro-expressions.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="print the traceback of an error as well as its message"
    )
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
    _report_our_warnings()
    try:
        parser = build_parser()
    except MespotError as exc:  # e.g. two installed plugins register the same spotter name
        print(f"mespot: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (MespotError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"mespot {args.command}: error: {_message(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mespot {args.command}: interrupted", file=sys.stderr)
        return 130


def _report_our_warnings() -> None:
    """Warnings of napari-mespot (assumed fps, repaired label rows, truncated files) reach the
    user as ``mespot: warning: ...``; other libraries' log records (dask's cluster chatter) are
    theirs to show, and are not dressed up as ours."""
    logger = logging.getLogger("napari_mespot")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("mespot: warning: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record arrives (a handler created once per
    process would keep the stream of the first call)."""

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _message(exc: BaseException) -> str:
    """One line: a MespotError says it all; an OSError names its file and the system's reason."""
    if isinstance(exc, OSError) and not isinstance(exc, MespotError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
