"""Options several commands share: checked numbers and the one ``--force``.

A number option takes one of the types below, so a value that is not finite or out of range is
refused by argparse with the option's name and the valid range before anything runs (``nan``
and ``inf`` parse as floats, and would otherwise travel on into a computation).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number (a whole one with ``integer``) within the bounds given."""
    bounds = []
    if low is not None:
        bounds.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        bounds.append(f"{'<' if high_open else '<='} {high:g}")
    wanted = f"a {'whole' if integer else 'finite'} number" + (f" {' and '.join(bounds)}" if bounds else "")

    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if not math.isfinite(value) or below or above:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text}")
        return value

    return parse


POSITIVE = number(0, low_open=True)
NON_NEGATIVE = number(0)
POSITIVE_INT = number(1, integer=True)
NON_NEGATIVE_INT = number(0, integer=True)
#: A probability or confidence.
UNIT = number(0, 1)


def add_force_option(p: argparse.ArgumentParser, what: str = "OUT") -> None:
    """``--force``: the only way any command replaces an existing file (never one of its inputs)."""
    p.add_argument(
        "--force", action="store_true", help=f"replace {what} if it exists (an input is never replaced)"
    )
