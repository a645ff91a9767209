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

from ..atomic import atomic_write_text
from ..intervals import Interval, VideoIntervals, sort_intervals, type_by_duration
from .base import Labels, format_error
from .native import csv_writer

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


def read_megc_csv(path: str | os.PathLike, fps: float | None = None) -> Labels:
    """Read a submission; ``fps`` types untyped rows by duration and is kept with the videos."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise format_error(path, f"cannot read as UTF-8 text ({exc})") from None
    rows: dict[str, list[Interval]] = {}
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        fields = [f.strip() for f in reader.fieldnames or ()]
        reader.fieldnames = fields
        missing = [c for c in COLUMNS[:3] if c not in fields]
        if missing:
            raise format_error(path, f"not a MEGC submission CSV, missing column(s) {', '.join(missing)}")
        for row_no, row in enumerate(reader, start=2):
            video = (row.get("vid") or "").strip()
            if not video:
                raise format_error(path, "empty video name", row=row_no, column="vid")
            rows.setdefault(video, []).append(_interval(path, row_no, row, fps))
    except csv.Error as exc:
        raise format_error(path, f"malformed CSV ({exc})") from None
    return Labels({v: VideoIntervals(v, tuple(ivs), fps) for v, ivs in rows.items()}, "megc-csv")


def _interval(path: Path, row_no: int, row: dict, fps: float | None) -> Interval:
    frames = []
    for col in ("pred_onset", "pred_offset"):
        raw = (row.get(col) or "").strip()
        try:
            frames.append(int(raw))
        except ValueError:
            raise format_error(
                path, f"expected an integer frame, got {raw!r}", row=row_no, column=col
            ) from None
    onset, offset = frames
    if onset < 0:
        raise format_error(path, f"negative frame {onset}", row=row_no, column="pred_onset")
    if offset < onset:
        raise format_error(path, f"offset {offset} is before onset {onset}", row=row_no, column="pred_offset")
    raw_type = (row.get("type") or "").strip().lower()
    if raw_type:
        if raw_type not in _TYPES:
            raise format_error(
                path, f"unknown type {raw_type!r} (expected me or mae)", row=row_no, column="type"
            )
        kind = _TYPES[raw_type]
    elif fps is not None:
        kind = type_by_duration(offset - onset + 1, fps)
    else:
        raise format_error(path, "no type: give the fps to type by duration", row=row_no, column="type")
    return Interval(onset, offset, kind, id=f"row{row_no}")
