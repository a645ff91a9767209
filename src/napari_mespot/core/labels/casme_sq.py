"""CAS(ME)² ``code_final`` workbook (read and write).

Three sheets without header rows:

- ``CASFEcode_final``: subject index, clip name (``anger1_1``), onset, apex, offset (1-based image
  numbers; offset 0 = not annotated), AUs, emotion, type (``micro-expression`` /
  ``macro-expression``), self-reported emotion;
- ``naming rule1``: subject folder number, subject folder name (``s15``), subject index;
- ``naming rule2``: video code (``101``), stimulus name (``disgust1``).

A video is identified as ``<subject folder number>_<4-digit code>`` (``15_0101``), the prefix of
its ``rawpic/s15/15_0101disgustingteeth`` folder. The dataset is recorded at 30 fps.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

from napari_mespot.core.atomic import atomic_write_bytes
from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.intervals import Interval, sort_intervals
from napari_mespot.core.labels._rows import RowContext
from napari_mespot.core.labels._xlsx import Row, cell_text, column_letter, is_blank_row, read_sheets
from napari_mespot.core.labels.aus import au_raw_text, format_aus, parse_au_string
from napari_mespot.core.labels.base import (
    Labels,
    QuirkOptions,
    format_error,
    group_intervals,
    report_duplicates,
    report_quirks,
)

FPS = 30.0
MAIN_SHEET = "CASFEcode_final"
RULE1_SHEET = "naming rule1"
RULE2_SHEET = "naming rule2"
COLUMNS = ("subject", "clip", "onset", "apex", "offset", "aus", "emotion", "type", "self_report")
_TYPES = {"micro-expression": "me", "macro-expression": "mae"}
_TYPE_NAMES = {v: k for k, v in _TYPES.items()}
_VIDEO_ID = re.compile(r"^(\d{2})_(\d{4})$")


def _col(index: int) -> str:
    return f"{column_letter(index)} ({COLUMNS[index]})" if index < len(COLUMNS) else column_letter(index)


def _int_cell(ctx: RowContext, value, row: int, column: str) -> int:
    text = cell_text(value)
    if not re.fullmatch(r"\d{1,9}", text):
        raise ctx.error(row, column, f"expected a whole number, got {text!r}")
    return int(text)


def read_cas_me2_xlsx(path: str | os.PathLike, quirks: QuirkOptions | None = None) -> Labels:
    path = Path(path)
    options = quirks or QuirkOptions()
    sheets = read_sheets(path)
    for name in (MAIN_SHEET, RULE1_SHEET, RULE2_SHEET):
        if name not in sheets:
            raise format_error(
                path,
                f"no sheet {name!r} (sheets: {', '.join(map(repr, sheets)) or 'none'}); "
                "not a CAS(ME)² code_final workbook",
            )
    subjects = _rule1(path, sheets[RULE1_SHEET], options)
    codes = _rule2(path, sheets[RULE2_SHEET], options)
    ctx = RowContext(path, MAIN_SHEET, options, [])
    rows: list[tuple[int, str, Interval]] = []
    subject_of: dict[str, str] = {}
    for i, row in enumerate(sheets[MAIN_SHEET]):
        if is_blank_row(row):
            continue
        parsed = _main_row(ctx, i + 1, tuple(row) + (None,) * (len(COLUMNS) - len(row)), subjects, codes)
        if parsed is not None:
            video, subject, iv = parsed
            subject_of[video] = subject
            rows.append((i + 1, video, iv))
    report_quirks(path, ctx.quirks, options)
    report_duplicates(path, rows)
    return Labels(group_intervals([r[1:] for r in rows], FPS, subject_of), "cas-me2-xlsx", ctx.quirks)


def _rule1(path: Path, rows: list[Row], options: QuirkOptions) -> dict[int, tuple[int, str]]:
    """Subject index → (folder number, folder name); one row per code row, so repeats agree."""
    ctx = RowContext(path, RULE1_SHEET, options, [])
    out: dict[int, tuple[int, str]] = {}
    for i, row in enumerate(rows):
        if is_blank_row(row):
            continue
        row = tuple(row) + (None,) * (3 - len(row))
        number = _int_cell(ctx, row[0], i + 1, "A (folder number)")
        name = cell_text(row[1])
        index = _int_cell(ctx, row[2], i + 1, "C (subject index)")
        if not name:
            raise ctx.error(i + 1, "B (folder name)", "empty subject folder name")
        if out.setdefault(index, (number, name)) != (number, name):
            raise ctx.error(
                i + 1, None, f"subject index {index} maps to {out[index]} and to {(number, name)}"
            )
    return out


def _rule2(path: Path, rows: list[Row], options: QuirkOptions) -> dict[str, int]:
    """Stimulus name → video code."""
    ctx = RowContext(path, RULE2_SHEET, options, [])
    out: dict[str, int] = {}
    for i, row in enumerate(rows):
        if is_blank_row(row):
            continue
        row = tuple(row) + (None,) * (2 - len(row))
        code = _int_cell(ctx, row[0], i + 1, "A (video code)")
        name = cell_text(row[1])
        if not name or code > 9999:
            raise ctx.error(i + 1, None, f"bad naming rule {code!r} → {name!r}")
        if out.setdefault(name, code) != code:
            raise ctx.error(i + 1, None, f"stimulus {name!r} has codes {out[name]} and {code}")
    return out


def _main_row(
    ctx: RowContext, row_no: int, row: Row, subjects: dict[int, tuple[int, str]], codes: dict[str, int]
) -> tuple[str, str, Interval] | None:
    index = _int_cell(ctx, row[0], row_no, _col(0))
    if index not in subjects:
        raise ctx.error(row_no, _col(0), f"subject index {index} is not in sheet {RULE1_SHEET!r}")
    number, subject = subjects[index]
    if number > 99:
        raise ctx.error(row_no, _col(0), f"subject folder number {number} has more than 2 digits")
    clip = cell_text(row[1])
    stimulus = clip.rsplit("_", 1)[0]
    if stimulus not in codes:
        raise ctx.error(
            row_no, _col(1), f"clip {clip!r}: stimulus {stimulus!r} is not in sheet {RULE2_SHEET!r}"
        )
    video = f"{number:02d}_{codes[stimulus]:04d}"
    kind = _TYPES.get(cell_text(row[7]).lower())
    if kind is None:
        raise ctx.error(
            row_no, _col(7), f"expected micro-expression or macro-expression, got {cell_text(row[7])!r}"
        )
    frames = ctx.frames(row_no, video, (row[2], row[3], row[4]), (_col(2), _col(3), _col(4)))
    if frames is None:
        return None
    onset, apex, offset = frames
    raw = au_raw_text(row[5])
    extra = {
        k: v
        for k, v in (("clip", clip), ("emotion", cell_text(row[6])), ("self_report", cell_text(row[8])))
        if v
    }
    iv = Interval(onset, offset, kind, apex, parse_au_string(raw), aus_raw=raw, extra=extra)
    return video, subject, iv


def write_cas_me2_xlsx(path: str | os.PathLike, labels: Labels) -> None:
    """Write a code_final workbook the reader (and the MEGC loaders) accept.

    Videos must be named ``NN_CCCC``. Stimulus and clip names come from each interval's
    ``clip`` extra when present (so a read file is written back unchanged), else are generated
    (``v0101``, ``v0101_1``). A missing apex is written as 0, the file's "not annotated".
    """
    import openpyxl

    parsed = {}
    for video in labels.videos:
        match = _VIDEO_ID.match(video)
        if match is None:
            raise LabelFormatError(
                f"{path}: cannot write video {video!r} to a CAS(ME)² code_final workbook: "
                "video ids must look like 15_0101 (subject folder number _ 4-digit code)"
            )
        parsed[video] = (int(match[1]), int(match[2]))
    numbers = sorted({n for n, _ in parsed.values()})
    index_of = {n: i + 1 for i, n in enumerate(numbers)}
    names = _stimulus_names(labels, parsed)

    wb = openpyxl.Workbook()
    main = wb.active
    main.title = MAIN_SHEET
    rule1 = wb.create_sheet(RULE1_SHEET)
    rule2 = wb.create_sheet(RULE2_SHEET)
    for video in sorted(labels.videos, key=lambda v: (parsed[v], v)):
        number, code = parsed[video]
        counter = 0
        for iv in sort_intervals(labels.videos[video].intervals):
            clip = iv.get_extra("clip")
            if clip.rsplit("_", 1)[0] != names[code]:
                counter += 1
                clip = f"{names[code]}_{counter}"
            values = [
                index_of[number],
                clip,
                iv.onset + 1,
                0 if iv.apex is None else iv.apex + 1,
                iv.offset + 1,
                _au_cell(iv),
                iv.get_extra("emotion"),
                _TYPE_NAMES[iv.type],
                iv.get_extra("self_report"),
            ]
            _append(path, main, values, video)
            rule1.append([number, f"s{number:02d}", index_of[number]])
    for code in sorted(names):
        _append(path, rule2, [code, names[code]], names[code])
    buf = io.BytesIO()
    wb.save(buf)
    atomic_write_bytes(path, buf.getvalue())


def _append(path, ws, values: list, video: str) -> None:
    """Append a row whose text cells stay text (no formulas), refusing characters xlsx cannot hold."""
    from openpyxl.utils.exceptions import IllegalCharacterError

    try:
        ws.append(values)
    except IllegalCharacterError:
        raise LabelFormatError(
            f"{path}: video {video!r}: text with control characters cannot be written to xlsx"
        ) from None
    for cell in ws[ws.max_row]:
        if cell.data_type == "f":  # text starting with '=' is data here, not a formula
            cell.data_type = "s"


def _stimulus_names(labels: Labels, parsed: dict[str, tuple[int, int]]) -> dict[int, str]:
    """Video code → stimulus name, taken from clip names where they agree, else generated."""
    names: dict[int, str] = {}
    taken: set[str] = set()
    for video in sorted(labels.videos):
        code = parsed[video][1]
        for iv in labels.videos[video].intervals:
            stem = iv.get_extra("clip").rsplit("_", 1)[0]
            if stem and code not in names and stem not in taken and "_" in iv.get_extra("clip"):
                names[code] = stem
                taken.add(stem)
    for _, code in parsed.values():
        if code not in names:
            name = f"v{code:04d}"
            while name in taken:
                name += "x"
            names[code] = name
            taken.add(name)
    return names


def _au_cell(iv: Interval) -> int | str:
    text = iv.aus_raw if iv.aus_raw and parse_au_string(iv.aus_raw) == iv.aus else format_aus(iv.aus)
    # a lone AU is a number in the dataset's file; "04" stays text so that it reads back as written
    if text.isascii() and text.isdigit() and len(text) < 10 and str(int(text)) == text:
        return int(text)
    return text
