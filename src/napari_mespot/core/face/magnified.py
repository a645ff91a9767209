"""The aligned face of a stretch of video with its motion magnified: what an annotator loops to
see a 1-px movement (docs/architecture.md §3, core/media/magnify.py for the method).

The face is held still first (:mod:`.align`), so a head turn is not magnified along with the
expression. The landmarks to align on come from the video's landmark cache when there is one;
otherwise they are found on the stretch only — seconds, not the minutes a whole long video
takes. The stretch is checked before anything is computed: it must be long enough to hold one
period of the band's high edge (shorter, no motion of the band can show), and short enough for
its frames to be held in memory for looping.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np

from napari_mespot.core.face.align import DEFAULT_SIZE, aligned_frames, alignment_warps
from napari_mespot.core.face.cache import load_cached
from napari_mespot.core.face.landmarks import FaceLandmarks, LandmarkProvider
from napari_mespot.core.media.magnify import MagnifyError, MagnifySettings, magnify_frames
from napari_mespot.core.media.span import FrameSpan
from napari_mespot.core.progress import Progress

#: The most bytes of magnified frames one stretch may hold (they are kept for looping).
MAX_BYTES = 2**30


def frames_needed(fps: float, settings: MagnifySettings) -> int:
    """The fewest frames that hold one period of the band's high edge (and at least 3)."""
    return max(3, math.ceil(fps / settings.high_hz) + 1)


def check_stretch(video: Any, start: int, stop: int, settings: MagnifySettings, size: int) -> None:
    """Refuse frames ``start..stop-1`` of ``video`` when they cannot be magnified, in one line
    that names the frames (outside the video, too short for the band, too long to hold)."""
    n = stop - start
    if not 0 <= start < stop <= len(video):
        raise MagnifyError(f"frames {start}–{stop - 1} are not inside the video's {len(video)} frames")
    settings.check(video.fps, (size, size))
    needed = frames_needed(video.fps, settings)
    if n < needed:
        raise MagnifyError(
            f"frames {start}–{stop - 1} ({n}) are too short to show motion up to {settings.high_hz:g} Hz: "
            f"take at least {needed} frames (one period of the band's high edge), or add context"
        )
    most = MAX_BYTES // (size * size * 3)
    if n > most:
        raise MagnifyError(
            f"frames {start}–{stop - 1} ({n}) are too many to loop in memory: take at most {most}"
        )


def stretch_landmarks(
    video: Any, provider: LandmarkProvider, start: int, stop: int
) -> Generator[Progress, None, tuple[FaceLandmarks, range]]:
    """Landmarks to align frames ``start..stop-1`` on, and those frames' indices in them: the
    video's cached landmarks when valid, else detected on the stretch alone."""
    cached = load_cached(video, provider)
    if cached is not None:
        return cached[0], range(start, stop)
    landmarks = yield from provider.detect(FrameSpan(video, start, stop))
    return landmarks, range(stop - start)


def face_warps(
    video: Any, provider: LandmarkProvider, start: int, stop: int, size: int = DEFAULT_SIZE
) -> Generator[Progress, None, np.ndarray]:
    """The maps of frames ``start..stop-1`` into the aligned face crop (:func:`alignment_warps`)."""
    landmarks, frames = yield from stretch_landmarks(video, provider, start, stop)
    return alignment_warps(landmarks, frames, video.fps, size=size)


def magnified_face(
    video: Any,
    start: int,
    stop: int,
    settings: MagnifySettings,
    provider: LandmarkProvider,
    size: int = DEFAULT_SIZE,
) -> Generator[Progress, None, np.ndarray]:
    """The aligned face of frames ``start..stop-1`` with their motion in the band magnified:
    (n, size, size, 3) uint8 RGB. Raises :class:`MagnifyError` for a stretch it cannot do and
    :class:`~napari_mespot.core.face.regions.NoFaceError` when no frame of it has a face."""
    check_stretch(video, start, stop, settings, size)
    n = stop - start
    yield Progress(0, n, "finding the face")
    warps = yield from face_warps(video, provider, start, stop, size)
    out = np.empty((n, size, size, 3), np.uint8)
    faces = aligned_frames(video.iter_frames(start, stop), warps, size)
    for i, frame in enumerate(magnify_frames(faces, video.fps, settings)):
        out[i] = frame
        yield Progress(i + 1, n, "magnifying")
    return out
