"""The spotter runs' evidence beside a review session, so a reopened session shows its curves.

A run's intervals are a track of the session sidecar; its curves and thresholds (what the
Curves and Compare docks plot) are arrays, too large for JSON, so each run's are written with
:meth:`~napari_mespot.core.spotters.base.SpotResult.save_curves` into a folder beside the
sidecar, ``<video>.mespot-runs/<run>/`` (atomic writes), and the run's track records where,
relative to the sidecar's folder, in its ``curves`` meta entry. The files are evidence a
reviewer looks at, not the review itself: a missing or damaged one costs its plot, with a
one-line reason, and never the session.
"""

from __future__ import annotations

import re
from pathlib import Path

from napari_mespot.core.review.model import Track
from napari_mespot.core.review.session import SUFFIX
from napari_mespot.core.spotters.base import CurvesFileError, SpotResult

RUNS_SUFFIX = ".mespot-runs"
#: The track meta entry that names a run's curves file.
CURVES_KEY = "curves"


def runs_folder(session_path: str | Path) -> Path:
    """``clip.mp4.mespot.json`` → ``clip.mp4.mespot-runs`` beside it."""
    path = Path(session_path)
    return path.with_name(path.name.removesuffix(SUFFIX) + RUNS_SUFFIX)


def _folder_name(run: str) -> str:
    """``run`` as one folder name (no separators, no leading dot that would hide it)."""
    return re.sub(r"[\\/:*?\"<>|]+", "_", run).strip(". ") or "run"


def save_run(session_path: str | Path, run: str, result: SpotResult) -> str:
    """Write ``result``'s curves for ``run`` beside the session; return the path to record in
    the run's track (relative to the session's folder, so the pair can be moved together)."""
    session_path = Path(session_path)
    npz, _ = result.save_curves(runs_folder(session_path) / _folder_name(run))
    return npz.relative_to(session_path.parent).as_posix()


def load_run(session_path: str | Path, track: Track, n_frames: int) -> SpotResult | None:
    """The result of the run shown as ``track``, read back from its curves file; ``None`` for a
    track that names none (a run from before curves were kept, a scripted track).

    Raises :class:`~napari_mespot.core.spotters.base.CurvesFileError` (one line naming the run
    and the file) when the file is missing, damaged or for a video of another length.
    """
    relative = track.meta.get(CURVES_KEY)
    if not relative:
        return None
    path = Path(session_path).parent / relative
    try:
        result = SpotResult.load_curves(path, track.sorted())
    except CurvesFileError as exc:
        raise CurvesFileError(f"run {track.name!r}: {exc}") from None
    if result.n_frames != n_frames:
        raise CurvesFileError(
            f"run {track.name!r}: {path} holds curves of {result.n_frames} frames, the video has {n_frames}"
        )
    return result
