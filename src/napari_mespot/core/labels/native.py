"""The native CSV: one row per interval, every field of the Interval model.

Columns ``video,onset,apex,offset,type,aus,score,source,status`` (docs/architecture.md §5), plus the
optional ``id``, ``note``, ``aus_raw``, ``fps``, ``subject`` and ``extra`` (a JSON object)
columns, so that review state and dataset metadata round-trip. Frames are 0-based with inclusive
offsets; AUs are written ``1+2+4`` (the FACS way) and an empty apex, score or fps means
"not known".

Reading needs only ``video,onset,offset`` (the CSV a user most often has): every other column
may be missing. Without a type, an interval is typed by its duration, which needs the fps (the
``fps`` column or the reader's ``fps``). A defect a dataset file can have (an apex outside the
interval, fractional frames) is repaired as the quirk options say and logged.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.intervals import Interval, VideoIntervals, sort_intervals, type_by_duration
from napari_mespot.core.labels._rows import RowContext
from napari_mespot.core.labels.aus import format_aus
from napari_mespot.core.labels.base import (
    Labels,
    LabelSet,
    QuirkOptions,
    format_error,
    report_duplicates,
    report_quirks,
)

__all__ = [
    "COLUMNS",
    "OPTIONAL_COLUMNS",
    "LabelSet",
    "format_aus",
    "load_native_csv",
    "parse_aus",
    "read_native_csv",
    "save_native_csv",
    "write_native_csv",
]

COLUMNS = ("video", "onset", "apex", "offset", "type", "aus", "score", "source", "status")
OPTIONAL_COLUMNS = ("id", "note", "aus_raw", "fps", "subject", "extra")
#: The columns a file must have to be read; the rest of :data:`COLUMNS` may be missing.
REQUIRED_COLUMNS = ("video", "onset", "offset")


def parse_aus(text: str) -> tuple[int, ...]:
    """Strict parse of the native ``1+2+4`` form (``ValueError`` on anything else)."""
    text = text.strip()
    if not text:
        return ()
    return tuple(int(part) for part in text.replace(",", "+").split("+") if part.strip())


def write_native_csv(path: str | os.PathLike, labels: LabelSet | Labels) -> None:
    """Write ``labels`` atomically, videos in name order, intervals in time order."""
    save_native_csv(path, labels if isinstance(labels, Labels) else Labels.from_label_set(labels))


def csv_writer(buf: io.StringIO):
    """A ``writerow`` that quotes every field of rows holding a lone carriage return.

    With newline line ends the csv module leaves it unquoted, which splits the row on reading.
    """
    minimal = csv.writer(buf, lineterminator="\n")
    quote_all = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(row: list) -> None:
        (quote_all if any("\r" in str(v) for v in row) else minimal).writerow(row)

    return writerow


def save_native_csv(path: str | os.PathLike, labels: Labels) -> None:
    buf = io.StringIO()
    writerow = csv_writer(buf)
    writerow(list(COLUMNS + OPTIONAL_COLUMNS))
    for video in sorted(labels.videos):
        vi = labels.videos[video]
        for iv in sort_intervals(vi.intervals):
            writerow(
                [
                    video,
                    iv.onset,
                    "" if iv.apex is None else iv.apex,
                    iv.offset,
                    iv.type,
                    format_aus(iv.aus),
                    "" if iv.score is None else repr(float(iv.score)),
                    iv.source,
                    iv.status,
                    iv.id,
                    iv.note,
                    iv.aus_raw,
                    "" if vi.fps is None else repr(vi.fps),
                    vi.subject or "",
                    json.dumps(dict(iv.extra), ensure_ascii=False) if iv.extra else "",
                ]
            )
    atomic_write_text(path, buf.getvalue())


def read_native_csv(path: str | os.PathLike) -> LabelSet:
    """Read a native CSV; a malformed row raises :class:`LabelFormatError` naming row and column."""
    return load_native_csv(path).label_set()


def load_native_csv(
    path: str | os.PathLike, quirks: QuirkOptions | None = None, fps: float | None = None
) -> Labels:
    """Read a native CSV with its per-video fps and subject; ``fps`` types rows without a type
    (and without an fps column) by duration."""
    path = Path(path)
    options = quirks or QuirkOptions()
    try:
        text = path.read_bytes().decode("utf-8-sig")  # no newline translation inside quoted notes
    except (OSError, UnicodeDecodeError) as exc:
        raise format_error(path, f"cannot read as UTF-8 text ({exc})") from exc
    ctx = RowContext(path, None, options, [])
    read: list[tuple[int, str, Interval]] = []
    meta: dict[str, tuple[float | None, str | None, int]] = {}
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise format_error(path, f"not a native mespot CSV, missing column(s) {', '.join(missing)}")
        width = len(header)
        for row_no, cells in enumerate(reader, start=2):
            if len(cells) < width:
                if not cells:
                    continue
                cells = cells + [""] * (width - len(cells))
            row = dict(zip(header, cells, strict=False))
            video = row["video"].strip()
            if not video:
                raise format_error(path, "empty video name", row=row_no, column="video")
            video_fps = _merge_meta(path, row_no, row, video, meta) or fps
            interval = _row_to_interval(ctx, row_no, row, video, video_fps)
            if interval is not None:
                read.append((row_no, video, interval))
    except csv.Error as exc:
        raise format_error(path, f"malformed CSV ({exc})") from None
    report_quirks(path, ctx.quirks, options)
    report_duplicates(path, read)
    rows: dict[str, list[Interval]] = {}
    for _, video, interval in read:
        rows.setdefault(video, []).append(interval)
    videos = {v: VideoIntervals(v, tuple(ivs), meta[v][0], meta[v][1]) for v, ivs in rows.items()}
    return Labels(videos, "native-csv", ctx.quirks)


def _merge_meta(
    path: Path, row_no: int, row: dict, video: str, meta: dict[str, tuple[float | None, str | None, int]]
) -> float | None:
    """fps and subject belong to the video: rows of one video must agree on them. Returns the fps."""
    fps_text = row.get("fps", "").strip()
    fps = None
    if fps_text:
        try:
            fps = float(fps_text)
        except ValueError:
            fps = math.nan
        if not (math.isfinite(fps) and fps > 0):
            raise format_error(
                path, f"fps must be a positive number, got {fps_text!r}", row=row_no, column="fps"
            )
    subject = row.get("subject", "").strip() or None
    if video not in meta:
        meta[video] = (fps, subject, row_no)
        return fps
    old_fps, old_subject, first = meta[video]
    for name, old, new in (("fps", old_fps, fps), ("subject", old_subject, subject)):
        if old != new:
            raise format_error(
                path,
                f"video {video!r} has {name} {old!r} on row {first} but {new!r} here",
                row=row_no,
                column=name,
            )
    return fps


def _cell(path: Path, row_no: int, row: dict[str, str], name: str, convert, optional: bool = False):
    raw = row.get(name, "").strip()
    if optional and raw == "":
        return None
    try:
        return convert(raw)
    except ValueError:
        raise format_error(path, f"cannot read {raw!r}", row=row_no, column=name) from None


def _row_to_interval(
    ctx: RowContext, row_no: int, row: dict[str, str], video: str, fps: float | None
) -> Interval | None:
    """The interval of one row (``None`` when a quirk option drops it)."""
    path = ctx.path
    frames = ctx.frames0(
        row_no, video, (row["onset"], row.get("apex", ""), row["offset"]), ("onset", "apex", "offset")
    )
    if frames is None:
        return None
    onset, apex, offset = frames
    kind = row.get("type", "").strip()
    if not kind:
        if fps is None:
            raise format_error(
                path, "no type: give the fps (--fps) to type by duration", row=row_no, column="type"
            )
        kind = type_by_duration(offset - onset + 1, fps)
    values = {
        "onset": onset,
        "offset": offset,
        "apex": apex,
        "type": kind,
        "aus": _cell(path, row_no, row, "aus", parse_aus),
        "score": _cell(path, row_no, row, "score", _finite_float, optional=True),
        "source": row.get("source", "").strip() or "gt",
        "status": row.get("status", "").strip() or "candidate",
        "note": row.get("note", ""),
        "aus_raw": row.get("aus_raw", ""),
        "extra": _cell(path, row_no, row, "extra", _extra, optional=True) or (),
    }
    if row.get("id", "").strip():
        values["id"] = row["id"].strip()
    try:
        return Interval(**values)
    except ValueError as exc:
        raise LabelFormatError(f"{path}: row {row_no}: {exc}") from None


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _extra(text: str) -> dict[str, str]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(text) from exc
    if not isinstance(value, dict):
        raise ValueError(text)
    return {str(k): str(v) for k, v in value.items()}
