"""Export of the annotator's corrected track: what the GUI's Export button and ``mespot export`` share.

Only the intervals the annotator vouches for (accepted, edited, added) are exported unless all
statuses are asked for, because a rejected candidate or an undecided copy is not a label. The
output format follows the file's extension or an explicit format name (the label registry of
:mod:`napari_mespot.core.labels`). An existing file is never replaced unless the caller says so:
labels are hours of work, and a silent overwrite is the one way an export could destroy them.
Kept intervals of one type that overlap are refused too, naming them, unless allowed: they are
almost always one expression accepted from two runs (see :mod:`.events`), and exported they
count as one hit and one false positive.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from napari_mespot.core.atomic import check_output
from napari_mespot.core.errors import LabelFormatError, MespotError, OutputError
from napari_mespot.core.intervals import TYPE_NAMES, Interval, overlap, sort_intervals
from napari_mespot.core.labels import FORMATS, Labels, output_format, write_labels
from napari_mespot.core.review.model import KEPT_STATUSES, ReviewModel
from napari_mespot.core.review.session import SUFFIX, ReviewSession, session_path_for

#: Formats the export can write, in the order the GUI offers them.
EXPORT_FORMATS: tuple[str, ...] = tuple(name for name, f in FORMATS.items() if f.writer is not None)


class ExportError(MespotError):
    """An export that was refused (the file exists, nothing to export, no session)."""


class OverlapError(ExportError):
    """Kept intervals of one type overlap: ``pairs`` holds them, so a GUI can show them and ask."""

    def __init__(self, pairs: list[tuple[Interval, Interval]], fps: float) -> None:
        self.pairs = pairs
        shown = "; ".join(_describe_pair(a, b, fps) for a, b in pairs[:5])
        more = f"; and {len(pairs) - 5} more" if len(pairs) > 5 else ""
        super().__init__(
            f"{len(pairs)} pair(s) of kept intervals of one type overlap and would be exported as "
            f"separate expressions (one of each pair a false positive in MEGC scoring): {shown}{more}. "
            "Reject or merge the duplicates, or export them anyway (--allow-overlaps)"
        )


def _describe_pair(a: Interval, b: Interval, fps: float) -> str:
    return (
        f"{TYPE_NAMES[a.type]} {a.onset}–{a.offset} ({a.status}, id {a.id}) and "
        f"{b.onset}–{b.offset} ({b.status}, id {b.id}) share {overlap(a, b)} frame(s) "
        f"({overlap(a, b) / fps:.2f} s)"
    )


def overlapping_kept(intervals: Iterable[Interval]) -> list[tuple[Interval, Interval]]:
    """Pairs of kept (accepted, edited, added) intervals of one type that share a frame, in time
    order: one expression exported twice, the duplicate the review of several runs can leave."""
    kept = sort_intervals(iv for iv in intervals if iv.status in KEPT_STATUSES)
    pairs = []
    for i, a in enumerate(kept):
        for b in kept[i + 1 :]:
            if b.onset > a.offset:
                break  # sorted by onset: no later interval reaches back into ``a``
            if b.type == a.type:
                pairs.append((a, b))
    return pairs


@dataclass(frozen=True)
class ExportReport:
    """What an export wrote, for the one line the CLI prints and the dock shows."""

    path: Path
    format: str
    video: str
    n_written: int
    n_corrected: int
    counts: dict[str, int]

    def summary(self) -> str:
        return (
            f"wrote {self.path} ({self.format}): {self.n_written} interval(s) of video {self.video!r} "
            f"({self.counts['mae']} MaE + {self.counts['me']} ME) "
            f"from {self.n_corrected} in the corrected track"
        )


def exported_intervals(model: ReviewModel, all_statuses: bool = False) -> list[Interval]:
    """The corrected intervals to export: the kept ones, or every one with ``all_statuses``."""
    return model.corrected.sorted() if all_statuses else model.kept()


def default_video_name(identity_path: str | os.PathLike) -> str:
    """The video id written into label files: the file name without its extension (``15_0101``)."""
    path = Path(identity_path)
    return path.stem if path.suffix else path.name


def export_corrected(
    model: ReviewModel,
    out: str | os.PathLike,
    video: str,
    format: str | None = None,
    *,
    all_statuses: bool = False,
    force: bool = False,
    allow_overlaps: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
) -> ExportReport:
    """Write ``model``'s corrected track to ``out`` (atomically) under the output policy of
    :func:`~napari_mespot.core.atomic.check_output`: an existing file only with ``force``, one of
    ``inputs`` (the session file, its video) never; kept intervals of one type that overlap
    (:class:`OverlapError`) only with ``allow_overlaps``."""
    out = Path(out)
    fmt = output_format(out, format, option="--format")  # an unknown format fails before anything else
    if FORMATS[fmt].writer is None:
        writable = ", ".join(EXPORT_FORMATS)
        raise ExportError(f"format {fmt!r} can be read but not written (writable: {writable})")
    try:
        check_output(out, inputs=inputs, force=force)
    except OutputError as exc:
        raise ExportError(str(exc)) from None
    if not video.strip():
        raise ExportError("the video name written into the labels must not be empty")
    intervals = exported_intervals(model, all_statuses)
    if not allow_overlaps and (pairs := overlapping_kept(intervals)):
        raise OverlapError(pairs, model.fps)
    labels = Labels.from_label_set({video: intervals}, fps=model.fps, format=fmt)
    try:
        write_labels(out, labels, fmt)
    except OSError as exc:
        raise ExportError(f"{out}: cannot write ({exc.strerror or exc})") from None
    except LabelFormatError as exc:
        raise ExportError(str(exc)) from None
    counts = labels.counts()
    return ExportReport(out, fmt, video, len(intervals), len(model.corrected), counts)


def load_session(path: str | os.PathLike) -> ReviewSession:
    """The review session of a sidecar file, or of a video (its sidecar found as the GUI finds it).

    A sidecar is read on its own, without its video, so labels can be exported on a machine that
    does not hold the (often licensed) video. The session is opened read-only (no autosave).
    """
    path = Path(path)
    if not path.exists():
        raise ExportError(f"{path}: no such session file or video")
    if path.name.endswith(SUFFIX) or path.suffix.lower() == ".json":
        return ReviewSession.read(path)
    from napari_mespot.core.media.video import open_video

    video = open_video(path)
    for candidate in (session_path_for(video), session_path_for(video, beside_video=False)):
        if candidate.exists():
            return ReviewSession.open(video, candidate, autosave=False)
    raise ExportError(f"{path}: this video has no review session yet (looked for {session_path_for(video)})")
