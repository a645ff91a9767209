"""Export of the annotator's corrected track: what the GUI's Export button and ``mespot export`` share.

Only the intervals the annotator vouches for (accepted, edited, added) are exported unless all
statuses are asked for, because a rejected candidate or an undecided copy is not a label. The
output format follows the file's extension or an explicit format name (the label registry of
:mod:`napari_mespot.core.labels`). An existing file is never replaced unless the caller says so:
labels are hours of work, and a silent overwrite is the one way an export could destroy them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from napari_mespot.core.errors import LabelFormatError, MespotError
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import FORMATS, Labels, output_format, write_labels
from napari_mespot.core.review.model import ReviewModel
from napari_mespot.core.review.session import SUFFIX, ReviewSession, session_path_for

#: Formats the export can write, in the order the GUI offers them.
EXPORT_FORMATS: tuple[str, ...] = tuple(name for name, f in FORMATS.items() if f.writer is not None)


class ExportError(MespotError):
    """An export that was refused (the file exists, nothing to export, no session)."""


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
) -> ExportReport:
    """Write ``model``'s corrected track to ``out`` (atomically); refuse an existing file unless ``force``."""
    out = Path(out)
    fmt = output_format(out, format)  # an unknown format or extension fails before anything else
    if FORMATS[fmt].writer is None:
        writable = ", ".join(EXPORT_FORMATS)
        raise ExportError(f"format {fmt!r} can be read but not written (writable: {writable})")
    if out.is_dir():
        raise ExportError(f"{out} is a folder; give a file name to export to")
    if out.exists() and not force:
        raise ExportError(f"{out} already exists; choose another name or overwrite it explicitly (--force)")
    if not video.strip():
        raise ExportError("the video name written into the labels must not be empty")
    intervals = exported_intervals(model, all_statuses)
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
