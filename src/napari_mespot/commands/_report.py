"""The ``--json [PATH]`` convention of the commands that report numbers."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any


def emit(report: dict[str, Any], json_dest: str | None, summary: Callable[[], str]) -> None:
    """Print the summary; with ``--json`` print the report as JSON instead (``-``), or write it
    to the file ``json_dest`` (atomically) and still print the summary."""
    from napari_mespot.core.atomic import atomic_write_text

    if json_dest is None:
        print(summary())
        return
    text = json.dumps(report, indent=1) + "\n"
    if json_dest == "-":
        sys.stdout.write(text)
        return
    atomic_write_text(json_dest, text)
    print(summary())
