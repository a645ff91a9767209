"""Drive a core generator (docs/architecture.md §3: long work yields progress) with a terminal bar."""

from __future__ import annotations

import sys
from collections.abc import Generator
from typing import TypeVar

from tqdm import tqdm

from napari_mespot.core.progress import Progress

R = TypeVar("R")


def drive(gen: Generator[Progress, None, R], desc: str, quiet: bool = False) -> R:
    """Run ``gen`` to completion, showing its progress; return what it returns."""
    bar = tqdm(desc=desc, unit="frame", disable=quiet or not sys.stderr.isatty(), leave=False)
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            if p.total is not None and bar.total != p.total:
                bar.total = p.total
            bar.n = p.done
            if p.message:
                bar.set_postfix_str(p.message, refresh=False)
            bar.refresh()
    finally:
        bar.close()
        gen.close()
