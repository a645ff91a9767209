"""Frame numbers of one label row: parsing, quirk repair, and 1-based → 0-based conversion.

CAS(ME)², SAMM-LV and CASME II number images from 1 (``img1.jpg``), so frame = number − 1, as
the MEGC baseline loader does (:meth:`RowContext.frames`); the native and MEGC files are 0-based
already (:meth:`RowContext.frames0`). Every defect goes through :class:`~.base.QuirkOptions`,
whatever the format that carries it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_mespot.core.labels.base import Quirk, QuirkOptions, format_error

#: Cell texts that mean "no apex annotated" (CASME II writes '/').
_NO_APEX_TEXT = {"", "/", "-"}


@dataclass
class RowContext:
    """Where a row lives and where its repairs are recorded."""

    path: Path
    sheet: str | None
    options: QuirkOptions
    quirks: list[Quirk]
    #: What a row is called in messages ("interval" in a JSON file, which has no rows).
    row_word: str = "row"

    def error(self, row: int, column: str | None, message: str):
        where = {"sheet": self.sheet, "row": row, "column": column, "row_word": self.row_word}
        return format_error(self.path, message, **where)

    def number(self, value: Any, row: int, column: str, *, apex: bool = False) -> float | None:
        """A frame number cell as a float; ``None`` only for an empty apex (or '/')."""
        if isinstance(value, bool):
            raise self.error(row, column, f"expected a frame number, got {value!r}")
        if isinstance(value, int | float):
            number = float(value)
        else:
            text = "" if value is None else str(value).strip()
            if apex and text in _NO_APEX_TEXT:
                return None
            try:
                number = float(text)
            except ValueError:
                raise self.error(row, column, f"expected a frame number, got {text!r}") from None
        if not math.isfinite(number):
            raise self.error(row, column, f"expected a frame number, got {value!r}")
        nearest = round(number)
        # spreadsheet arithmetic leaves 3322.9999999999995 for 3323: float noise, not a fraction
        return float(nearest) if abs(number - nearest) < 1e-6 else number

    def _quirk(self, kind: str, row: int, video: str, action: str, column: str | None = None) -> bool:
        """Record a defect; return False when the row is to be dropped; raise on ``error``."""
        choice = getattr(self.options, kind)
        if choice == "error":
            raise self.error(row, column, f"{kind.replace('_', ' ')} (quirk option {kind}='error')")
        dropped = f"{self.row_word} dropped"
        self.quirks.append(
            Quirk(kind, row, video, action if choice != "drop" else dropped, self.sheet)
        )
        return choice != "drop"

    def _integral(
        self, values: list[float | None], row: int, video: str, columns: tuple[str, str, str]
    ) -> list[int | None] | None:
        if all(v is None or v.is_integer() for v in values):
            return [None if v is None else int(v) for v in values]
        mode = self.options.fractional
        column = next(c for v, c in zip(values, columns, strict=True) if v is not None and not v.is_integer())
        actions = {"truncate": "truncated", "round": "rounded", "widen": "widened"}
        if not self._quirk("fractional", row, video, f"frame numbers {actions.get(mode, mode)}", column):
            return None
        if mode == "truncate":
            return [None if v is None else math.trunc(v) for v in values]
        if mode == "round":
            return [None if v is None else math.floor(v + 0.5) for v in values]
        onset, apex, offset = values
        return [math.floor(onset), None if apex is None else math.floor(apex + 0.5), math.ceil(offset)]

    def _whole_frames(
        self, row: int, video: str, cells: tuple[Any, Any, Any], columns: tuple[str, str, str]
    ) -> list[int | None] | None:
        """The three cells as whole frame numbers (fractions repaired), ``None`` if dropped."""
        on_col, apex_col, off_col = columns
        values = [
            self.number(cells[0], row, on_col),
            self.number(cells[1], row, apex_col, apex=True),
            self.number(cells[2], row, off_col),
        ]
        return self._integral(values, row, video, columns)

    def _apex_inside(
        self, row: int, video: str, frames: tuple[int, int | None, int], apex_col: str
    ) -> tuple[int, int | None, int] | None:
        """``frames`` with an apex outside [onset, offset] repaired, or ``None`` if dropped."""
        onset, apex, offset = frames
        if apex is None or onset <= apex <= offset:
            return frames
        choice = self.options.apex_outside
        action = "apex cleared" if choice == "clear-apex" else "interval extended to the apex"
        if not self._quirk("apex_outside", row, video, action, apex_col):
            return None
        if choice == "clear-apex":
            return onset, None, offset
        return min(onset, apex), apex, max(offset, apex)

    def frames0(
        self, row: int, video: str, cells: tuple[Any, Any, Any], columns: tuple[str, str, str]
    ) -> tuple[int, int | None, int] | None:
        """``(onset, apex, offset)`` of a row of a 0-based file, or ``None`` when a quirk option drops it."""
        integral = self._whole_frames(row, video, cells, columns)
        if integral is None:
            return None
        onset, apex, offset = integral
        for value, col in ((onset, columns[0]), (apex, columns[1]), (offset, columns[2])):
            if value is not None and value < 0:
                raise self.error(row, col, f"negative frame number {value}")
        if offset < onset:
            raise self.error(row, columns[2], f"offset {offset} is before onset {onset}")
        return self._apex_inside(row, video, (onset, apex, offset), columns[1])

    def frames(
        self, row: int, video: str, cells: tuple[Any, Any, Any], columns: tuple[str, str, str]
    ) -> tuple[int, int | None, int] | None:
        """0-based ``(onset, apex, offset)`` of a row of a 1-based dataset file, or ``None`` when
        a quirk option drops it."""
        on_col, apex_col, off_col = columns
        integral = self._whole_frames(row, video, cells, columns)
        if integral is None:
            return None
        onset, apex, offset = integral
        for value, col in ((onset, on_col), (offset, off_col)):
            if value < 0:
                raise self.error(row, col, f"negative frame number {value}")
        if apex is not None and apex < -1:
            raise self.error(row, apex_col, f"negative frame number {apex}")
        if onset == 0:
            if not self._quirk("onset_zero", row, video, "onset = first frame", on_col):
                return None
            onset = 1
        if apex is None or apex in (0, -1):
            if not self._quirk("apex_missing", row, video, "no apex", apex_col):
                return None
            apex = None
        if offset == 0:
            if not self._quirk("offset_zero", row, video, "offset = apex", off_col):
                return None
            if apex is None:
                raise self.error(row, off_col, "offset 0 and no apex to repair it with")
            offset = apex
        if offset < onset:
            raise self.error(row, off_col, f"offset {offset} is before onset {onset}")
        repaired = self._apex_inside(row, video, (onset, apex, offset), apex_col)
        if repaired is None:
            return None
        onset, apex, offset = repaired
        return onset - 1, None if apex is None else apex - 1, offset - 1
