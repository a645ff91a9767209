"""CASME II coding workbook (read).

Header ``Subject, Filename, OnsetFrame, ApexFrame, OffsetFrame, Action Units, Estimated Emotion,
…``. Each row is one short clip ``sub<NN>/<Filename>`` whose images are ``img<n>.jpg`` numbered
like the frames of the row (converted 1-based → 0-based). Every clip is a micro-expression by the
dataset's definition (a few last up to 0.7 s at 200 fps, so they are not retyped by duration).
An apex written ``/`` is not annotated (quirk ``apex_missing``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels._rows import RowContext
from napari_mespot.core.labels._xlsx import cell_text, column_label, data_rows, sheet_with_header
from napari_mespot.core.labels.aus import au_raw_text, parse_au_string
from napari_mespot.core.labels.base import Labels, QuirkOptions, group_intervals, report_quirks

FPS = 200.0
REQUIRED = ("Subject", "Filename", "OnsetFrame", "ApexFrame", "OffsetFrame")


def read_casme2_xlsx(path: str | os.PathLike, quirks: QuirkOptions | None = None) -> Labels:
    path = Path(path)
    options = quirks or QuirkOptions()
    sheet, rows, (header_index, columns) = sheet_with_header(path, REQUIRED, "CASME II coding workbook")

    def label(name: str) -> str:
        return column_label(columns, name)

    ctx = RowContext(path, sheet, options, [])
    out: list[tuple[str, Interval]] = []
    subject_of: dict[str, str] = {}
    for row_no, cell in data_rows(rows, header_index, columns):
        subject_text = cell_text(cell("Subject"))
        if not re.fullmatch(r"\d{1,3}", subject_text):
            raise ctx.error(row_no, label("Subject"), f"expected a subject number, got {subject_text!r}")
        filename = cell_text(cell("Filename"))
        if not filename or "/" in filename or "\\" in filename:
            raise ctx.error(row_no, label("Filename"), f"expected a clip folder name, got {filename!r}")
        subject = f"sub{int(subject_text):02d}"
        video = f"{subject}/{filename}"
        frames = ctx.frames(
            row_no,
            video,
            (cell("OnsetFrame"), cell("ApexFrame"), cell("OffsetFrame")),
            (label("OnsetFrame"), label("ApexFrame"), label("OffsetFrame")),
        )
        if frames is None:
            continue
        onset, apex, offset = frames
        raw = au_raw_text(cell("Action Units"))
        extra = {
            k: v
            for k, v in (
                ("emotion", cell_text(cell("Estimated Emotion"))),
                ("objective_class", cell_text(cell("Objective Classes"))),
            )
            if v
        }
        if video in subject_of:
            raise ctx.error(row_no, label("Filename"), f"clip {video!r} appears twice")
        subject_of[video] = subject
        out.append(
            (video, Interval(onset, offset, "me", apex, parse_au_string(raw), aus_raw=raw, extra=extra))
        )
    report_quirks(path, ctx.quirks, options)
    return Labels(group_intervals(out, FPS, subject_of), "casme2-xlsx", ctx.quirks)
