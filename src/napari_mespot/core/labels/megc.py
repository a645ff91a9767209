"""The MEGC submission CSV: ``vid,pred_onset,pred_offset,type``.

What MEGC spotting challenges collect from participants and score. It carries only the video,
the 0-based inclusive frame range and the type (``me``/``mae``); extra columns are ignored on
reading. Without a type column (or with an empty type) the interval is typed by its duration,
which needs the fps.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.intervals import Interval, VideoIntervals, sort_intervals, type_by_duration
from napari_mespot.core.labels._rows import RowContext
from napari_mespot.core.labels.base import (
    Labels,
    QuirkOptions,
    format_error,
    report_duplicates,
    report_quirks,
)
from napari_mespot.core.labels.native import csv_writer

COLUMNS = ("vid", "pred_onset", "pred_offset", "type")
_TYPES = {
    "me": "me",
    "mae": "mae",
    "micro": "me",
    "macro": "mae",
    "micro-expression": "me",
    "macro-expression": "mae",
}


def write_megc_csv(path: str | os.PathLike, labels: Labels) -> None:
    buf = io.StringIO()
    writerow = csv_writer(buf)
    writerow(list(COLUMNS))
    for video in sorted(labels.videos):
        for iv in sort_intervals(labels.videos[video].intervals):
            writerow([video, iv.onset, iv.offset, iv.type])
    atomic_write_text(path, buf.getvalue())


def read_megc_csv(
    path: str | os.PathLike, fps: float | None = None, quirks: QuirkOptions | None = None
) -> Labels:
    """Read a submission; ``fps`` types untyped rows by duration and is kept with the videos;
    fractional frames are repaired as ``quirks`` say (and logged)."""
    path = Path(path)
    options = quirks or QuirkOptions()
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise format_error(path, f"cannot read as UTF-8 text ({exc})") from None
    ctx = RowContext(path, None, options, [])
    read: list[tuple[int, str, Interval]] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in COLUMNS[:3] if c not in header]
        if missing:
            raise format_error(path, f"not a MEGC submission CSV, missing column(s) {', '.join(missing)}")
        v_col, on_col, off_col = (header.index(c) for c in COLUMNS[:3])
        type_col = header.index("type") if "type" in header else None
        width = len(header)
        for row_no, row in enumerate(reader, start=2):
            if len(row) < width:
                if not row:
                    continue
                row = row + [""] * (width - len(row))
            video = row[v_col].strip()
            if not video:
                raise format_error(path, "empty video name", row=row_no, column="vid")
            kind = row[type_col].strip() if type_col is not None else ""
            frames = ctx.frames0(row_no, video, (row[on_col], None, row[off_col]), _FRAME_COLUMNS)
            if frames is not None:
                read.append((row_no, video, _interval(path, row_no, frames[0], frames[2], kind, fps)))
    except csv.Error as exc:
        raise format_error(path, f"malformed CSV ({exc})") from None
    report_quirks(path, ctx.quirks, options)
    report_duplicates(path, read)
    rows: dict[str, list[Interval]] = {}
    for _, video, iv in read:
        rows.setdefault(video, []).append(iv)
    videos = {v: VideoIntervals(v, tuple(ivs), fps) for v, ivs in rows.items()}
    return Labels(videos, "megc-csv", ctx.quirks)


#: The frame columns as :meth:`RowContext.frames0` names them (a submission has no apex).
_FRAME_COLUMNS = ("pred_onset", "apex", "pred_offset")


def _interval(
    path: Path, row_no: int, onset: int, offset: int, type_text: str, fps: float | None
) -> Interval:
    if type_text:
        kind = _TYPES.get(type_text.lower())
        if kind is None:
            raise format_error(
                path, f"unknown type {type_text!r} (expected me or mae)", row=row_no, column="type"
            )
    elif fps is not None:
        kind = type_by_duration(offset - onset + 1, fps)
    else:
        raise format_error(path, "no type: give the fps to type by duration", row=row_no, column="type")
    return Interval(onset, offset, kind, id=f"row{row_no}")
