"""Unreliable spans: frames where a video shows no usable face (a hand over it, say).

The file is a CSV ``video,start,end,reason[,region]``, frames 0-based with inclusive ends like
intervals. ``region`` (``eye`` or ``mouth``, :data:`~napari_mespot.core.labels.aus.REGION_AUS`)
says that only that part of the face is covered — a hand over the mouth leaves the brows
readable; empty, or a file without the column, means the whole face. Annotators write one for
real clips, the warped generator writes one for its hand passes, and the cross-domain
evaluation counts the predicted intervals that start inside a span (nothing should: motion
there is not an expression; in a region's span, an interval showing none of the region's AUs
may).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels.aus import REGION_AUS
from napari_mespot.core.labels.base import format_error

COLUMNS = ("video", "start", "end", "reason", "region")


@dataclass(frozen=True)
class UnreliableSpan:
    start: int
    end: int
    reason: str = ""
    region: str = ""

    def __contains__(self, frame: int) -> bool:
        return self.start <= frame <= self.end

    def hides(self, interval: Interval) -> bool:
        """Whether ``interval`` starts where this span covers what it shows: anywhere in a
        whole-face span; in a region's, when it has one of the region's AUs or none named."""
        if interval.onset not in self:
            return False
        return not self.region or not interval.aus or bool(set(interval.aus) & REGION_AUS[self.region])


def read_unreliable_csv(path: str | os.PathLike) -> dict[str, list[UnreliableSpan]]:
    """Spans per video; a LabelFormatError names the file, row and column of a bad cell."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise format_error(path, f"cannot read as UTF-8 text ({exc})") from exc
    try:
        return _spans(path, csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise format_error(path, f"malformed CSV ({exc})") from None


def _spans(path: Path, reader: csv.DictReader) -> dict[str, list[UnreliableSpan]]:
    missing = [c for c in COLUMNS[:3] if c not in (reader.fieldnames or [])]
    if missing:
        raise format_error(path, f"not an unreliable-span CSV, missing column(s) {', '.join(missing)}")
    spans: dict[str, list[UnreliableSpan]] = {}
    for row_no, row in enumerate(reader, start=2):
        video = (row["video"] or "").strip()
        if not video:
            raise format_error(path, "empty video name", row=row_no, column="video")
        bounds = []
        for column in ("start", "end"):
            raw = (row[column] or "").strip()
            try:
                bounds.append(int(raw))
            except ValueError:
                message = f"cannot read {raw!r} as a frame"
                raise format_error(path, message, row=row_no, column=column) from None
        start, end = bounds
        if start < 0 or end < start:
            raise format_error(path, f"span {start}-{end} is not 0 <= start <= end", row=row_no, column="end")
        region = (row.get("region") or "").strip()
        if region and region not in REGION_AUS:
            known = " or ".join(sorted(REGION_AUS))
            raise format_error(
                path,
                f"unknown region {region!r} (use {known}, or leave it empty for the whole face)",
                row=row_no,
                column="region",
            )
        spans.setdefault(video, []).append(
            UnreliableSpan(start, end, (row.get("reason") or "").strip(), region)
        )
    return spans


def unreliable_csv(spans: Mapping[str, Iterable[UnreliableSpan]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for video in sorted(spans):
        for s in sorted(spans[video], key=lambda s: (s.start, s.end)):
            writer.writerow((video, s.start, s.end, s.reason, s.region))
    return buf.getvalue()


def write_unreliable_csv(path: str | os.PathLike, spans: Mapping[str, Iterable[UnreliableSpan]]) -> None:
    atomic_write_text(path, unreliable_csv(spans))


def starting_inside(intervals: Iterable[Interval], spans: Iterable[UnreliableSpan]) -> list[Interval]:
    """The intervals that start where one of ``spans`` covers what they show
    (:meth:`UnreliableSpan.hides`)."""
    spans = list(spans)
    return [iv for iv in intervals if any(s.hides(iv) for s in spans)]
