"""Action-unit strings as annotators write them, normalised to integer AU codes.

The datasets write AUs with side prefixes (``L12``, ``R4``), asymmetry and trace marks (``A7``,
``T18``, ``B18``), intensity letters (``4D``, ``12(B/C)``, ``1D/E``), references (``ref(10)``),
alternatives (``12A or 14A``, ``(23/24)``) and free words (``glare``, ``Chewing``). The codes
are every AU number that appears (alternatives contribute all their AUs, references count as
present); repetition counts such as ``2x`` and numbers outside FACS's 1–99 are not AUs.
The raw string is always kept beside the codes (``Interval.aus_raw``).
"""

from __future__ import annotations

import math
import re
from typing import Any

_REPEAT = re.compile(r"\b\d+\s*x\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")


def au_raw_text(value: Any) -> str:
    """A spreadsheet AU cell as text (``4`` rather than ``4.0``; empty for blank cells)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_au_string(raw: Any) -> tuple[int, ...]:
    """Sorted unique AU codes found in an annotator's AU string (never raises)."""
    text = _REPEAT.sub(" ", au_raw_text(raw))
    return tuple(sorted({int(m) for m in _NUMBER.findall(text) if len(m) <= 2 and int(m) > 0}))


def format_aus(aus: tuple[int, ...]) -> str:
    """The FACS way: ``1+2+4``."""
    return "+".join(str(a) for a in aus)


#: The face regions an occlusion can be annotated on and the AUs each one shows (FACS's upper
#: and lower face; AU9's nose wrinkle moves the upper lip and counts as the mouth's). The names
#: are the AU-prototype spotter's regions (``napari_mespot.core.face.regions``: ``eye`` holds
#: the eyes and brows, ``mouth`` the mouth, nose tip and chin): an unreliable span of one
#: region leaves the other one's AUs spottable.
REGION_AUS: dict[str, frozenset[int]] = {
    "eye": frozenset({1, 2, 4, 5, 6, 7, 41, 42, 43, 44, 45, 46}),
    "mouth": frozenset({9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 23, 24, 25, 26, 27, 28}),
}
