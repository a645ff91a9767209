"""The native CSV: one row per interval, every field of the Interval model.

Columns ``video,onset,apex,offset,type,aus,score,source,status`` (DESIGN.md §5), plus the
optional ``id`` and ``note`` columns that round-trip the review state. Frames are 0-based with
inclusive offsets; AUs are written ``1+2+4`` (the FACS way) and an empty apex or score means
"not known".
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ..atomic import atomic_write_text
from ..errors import LabelFormatError
from ..intervals import Interval, sort_intervals

COLUMNS = ("video", "onset", "apex", "offset", "type", "aus", "score", "source", "status")
OPTIONAL_COLUMNS = ("id", "note")

#: Intervals grouped by video name (the file stem, or the dataset's video id).
LabelSet = dict[str, list[Interval]]


def format_aus(aus: tuple[int, ...]) -> str:
    return "+".join(str(a) for a in aus)


def parse_aus(text: str) -> tuple[int, ...]:
    text = text.strip()
    if not text:
        return ()
    return tuple(int(part) for part in text.replace(",", "+").split("+") if part.strip())


def write_native_csv(path: str | os.PathLike, labels: LabelSet) -> None:
    """Write ``labels`` atomically, videos in name order, intervals in time order."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS + OPTIONAL_COLUMNS)
    for video in sorted(labels):
        for iv in sort_intervals(labels[video]):
            writer.writerow(
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
                ]
            )
    atomic_write_text(path, buf.getvalue())


def read_native_csv(path: str | os.PathLike) -> LabelSet:
    """Read a native CSV; a malformed row raises :class:`LabelFormatError` naming row and column."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise LabelFormatError(f"{path}: cannot read ({exc.strerror})") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise LabelFormatError(f"{path}: not a native mespot CSV, missing column(s) {', '.join(missing)}")
    labels: LabelSet = {}
    for row_no, row in enumerate(reader, start=2):
        labels.setdefault(row["video"], []).append(_row_to_interval(path, row_no, row))
    return labels


def _row_to_interval(path: Path, row_no: int, row: dict[str, str]) -> Interval:
    def field(name: str, convert, optional: bool = False):
        raw = (row.get(name) or "").strip()
        if optional and raw == "":
            return None
        try:
            return convert(raw)
        except ValueError:
            raise LabelFormatError(
                f"{path}: row {row_no}, column {name!r}: cannot read {raw!r}"
            ) from None

    values = dict(
        onset=field("onset", int),
        offset=field("offset", int),
        apex=field("apex", int, optional=True),
        type=(row["type"] or "").strip(),
        aus=field("aus", parse_aus),
        score=field("score", float, optional=True),
        source=(row["source"] or "").strip() or "gt",
        status=(row["status"] or "").strip() or "candidate",
        note=row.get("note") or "",
    )
    if row.get("id"):
        values["id"] = row["id"].strip()
    try:
        return Interval(**values)
    except ValueError as exc:
        raise LabelFormatError(f"{path}: row {row_no}: {exc}") from None
