"""SAMM Long Videos ground truth (read).

One sheet; notes rows above a header ``Subject, Filename, Inducement Code, Onset, Apex, Offset,
Duration, Type, Action Units, Notes``. ``Filename`` is ``<subject>_<video>_<n>`` (``006_1_3``) and
the video id is ``006_1`` (its image folder). Frame numbers follow the image file names and are
converted 1-based → 0-based like the MEGC baseline loader; some are fractional, some onsets are 0
and unannotated apexes are −1 (all repaired through :class:`QuirkOptions`). 200 fps.
"""

from __future__ import annotations

import os
from pathlib import Path

from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels._rows import RowContext
from napari_mespot.core.labels._xlsx import cell_text, column_label, data_rows, sheet_with_header
from napari_mespot.core.labels.aus import au_raw_text, parse_au_string
from napari_mespot.core.labels.base import (
    Labels,
    QuirkOptions,
    group_intervals,
    report_duplicates,
    report_quirks,
)

FPS = 200.0
REQUIRED = ("Filename", "Onset", "Apex", "Offset", "Type")


def read_samm_lv_xlsx(path: str | os.PathLike, quirks: QuirkOptions | None = None) -> Labels:
    path = Path(path)
    options = quirks or QuirkOptions()
    sheet, rows, (header_index, columns) = sheet_with_header(
        path, REQUIRED, "SAMM Long Videos ground-truth workbook"
    )

    def col(name: str) -> int | None:
        return columns.get(name.lower())

    def label(name: str) -> str:
        return column_label(columns, name)

    ctx = RowContext(path, sheet, options, [])
    out: list[tuple[int, str, Interval]] = []
    subject_of: dict[str, str] = {}
    for row_no, cell in data_rows(rows, header_index, columns):
        filename = cell_text(cell("Filename"))
        parts = filename.split("_")
        if len(parts) < 3 or not all(parts):
            raise ctx.error(row_no, label("Filename"), f"expected <subject>_<video>_<n>, got {filename!r}")
        video = f"{parts[0]}_{parts[1]}"
        subject = cell_text(cell("Subject")) or parts[0]
        type_text = cell_text(cell("Type")).lower()
        if type_text.startswith("macro"):
            kind = "mae"
        elif type_text.startswith("micro"):
            kind = "me"
        else:
            raise ctx.error(
                row_no, label("Type"), f"expected Macro or Micro, got {cell_text(cell('Type'))!r}"
            )
        frames = ctx.frames(
            row_no,
            video,
            (cell("Onset"), cell("Apex"), cell("Offset")),
            (label("Onset"), label("Apex"), label("Offset")),
        )
        if frames is None:
            continue
        onset, apex, offset = frames
        raw = au_raw_text(cell("Action Units"))
        extra = {
            k: v
            for k, v in (("clip", filename), ("inducement_code", cell_text(cell("Inducement Code"))))
            if v
        }
        out.append(
            (
                row_no,
                video,
                Interval(
                    onset,
                    offset,
                    kind,
                    apex,
                    parse_au_string(raw),
                    aus_raw=raw,
                    note=cell_text(cell("Notes")),
                    extra=extra,
                ),
            )
        )
        if subject_of.setdefault(video, subject) != subject:
            raise ctx.error(
                row_no,
                label("Subject") if col("Subject") is not None else None,
                f"video {video!r} belongs to subject {subject_of[video]!r} and {subject!r}",
            )
    report_quirks(path, ctx.quirks, options)
    report_duplicates(path, out)
    return Labels(group_intervals([r[1:] for r in out], FPS, subject_of), "samm-lv-xlsx", ctx.quirks)
