"""Walking a video window by window (paper eq. 19–20) around the frames spotting must not use.

The spotter and the calibration both walk a video this way; they differ only in where each
window after the first starts, which the caller's ``visit`` decides after seeing the window.

Without the reliability check (the paper) the walk is the paper's: windows of N frames inside
each face segment (frames without a face, or with a face partly outside the picture, end a
segment), curves against each window's first frame. With it (ours; see
:mod:`napari_mespot.core.face.reliability`):

1. Frames whose landmarks jump, whose head moves too fast, or whose eyes stay closed too long
   are unreliable before any flow is computed: they end face segments like frames without a
   face.
2. Within a window, each frame's share of a region its flow from the reference cannot explain
   is measured. Where an occlusion starts (:func:`~napari_mespot.core.face.reliability.occlusion_onset`)
   the window is cut: its frames before the occlusion stay a window of their own, the last of
   its run (so an interval there can only be reported, never deferred across the occlusion).
   The occlusion is followed against the same clean reference — past the window's end when
   needed — until the face is explained again for ``clear_s``, or for at most ``follow_s``.
   The next window starts on the first clear frame, so no window ever starts, and no interval
   can start or lie, inside an unreliable span: an expression cut by one is reported up to it
   or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from napari_mespot.core.face.border import face_at_border
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.reliability import (
    LIMITS,
    OCCLUDED,
    clear_index,
    landmark_spans,
    occlusion_onset,
)
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import SkippedSpan
from napari_mespot.core.spotters.prototype.curves import reference_matching
from napari_mespot.core.spotters.prototype.prototypes import PrototypeSet
from napari_mespot.core.spotters.prototype.settings import PrototypeSettings
from napari_mespot.core.spotters.prototype.windows import face_segments, frames_in


@dataclass(frozen=True, eq=False)  # holds an array: identity equality
class Window:
    """One analysed window: frames ``start..end`` (inclusive) and their raw matching curves
    (V, end − start + 1), column 0 the reference frame. ``final``: no window follows in the
    same run of usable frames (the segment ends, or an unreliable span cuts it here)."""

    start: int
    end: int
    raw: np.ndarray
    final: bool


@dataclass(frozen=True)
class Walk:
    """Every window of a video, the frames never analysed, and the unreliable spans."""

    windows: tuple[Window, ...]
    skipped: tuple[SkippedSpan, ...]
    unreliable: tuple[SkippedSpan, ...]


def walk(
    video: Any,
    landmarks: FaceLandmarks,
    prototypes: PrototypeSet,
    settings: PrototypeSettings,
    visit: Callable[[Window], int],
    device: str | None = None,
) -> Generator[Progress, None, Walk]:
    """Every window of ``video`` (see the module docstring); ``visit(window)`` sees each window
    as soon as it is computed and returns where the next one starts (ignored after a final one)."""
    fps, n = float(video.fps), len(video)
    length = frames_in(settings.window_s, fps, minimum=3)
    min_length = frames_in(settings.min_segment_s, fps, minimum=2)
    unreliable: list[SkippedSpan] = []
    unusable = None
    if settings.reliability:
        unusable, spans = landmark_spans(landmarks, fps, LIMITS)
        unreliable = [SkippedSpan(*span) for span in spans]
    at_border = face_at_border(landmarks, video.shape[1:3])
    segments, skipped = face_segments(landmarks.found, min_length, at_border, unusable)
    kappa = LIMITS.residual_kappa if settings.reliability else None
    windows: list[Window] = []
    follow = frames_in(LIMITS.follow_s, fps)
    clean: int | None = None  # the last reference no occlusion was found against
    for seg_start, seg_end in segments:
        start = seg_start
        if kappa is not None and clean is not None and start - clean < follow:
            # The face came back (after a gap, or an unusable stretch): compare it with the last
            # clean reference first, so that a segment starting under a hand is not taken for
            # a clean one.
            span = yield from _resume(video, landmarks, prototypes, settings, clean, start, seg_end, device)
            if span is not None:
                unreliable.append(span)
                start = span.end + 1
                if seg_end - start + 1 < min_length:
                    skipped += _short_rest(start, seg_end, min_length)
                    continue
        while start <= seg_end:
            end = min(start + length - 1, seg_end)
            later, shares = yield from reference_matching(
                video, landmarks, prototypes, start, start + 1, end, settings, n, device, kappa
            )
            raw = np.concatenate([np.zeros((len(prototypes), 1)), later], axis=1)
            onset = None if shares is None else occlusion_onset(shares, LIMITS)
            if onset is None:
                clean = start
                window = Window(start, end, raw, end == seg_end)
                windows.append(window)
                nxt = visit(window)
                if window.final:
                    break
                start = nxt
                continue
            first = start + 1 + onset  # the occlusion's first frame
            if first - start >= 2:
                window = Window(start, first - 1, raw[:, : first - start], True)
                windows.append(window)
                visit(window)
            clean = start
            span = yield from _follow(
                video, landmarks, prototypes, settings, start, first, shares, start + 1, seg_end, device
            )
            unreliable.append(span)
            start = span.end + 1
            if seg_end - start + 1 < min_length:
                skipped += _short_rest(start, seg_end, min_length)
                break
    yield Progress(n, n, "windows done")
    by_start = attrgetter("start")
    return Walk(tuple(windows), tuple(sorted(skipped, key=by_start)), tuple(sorted(unreliable, key=by_start)))


def _short_rest(start: int, seg_end: int, min_length: int) -> list[SkippedSpan]:
    """The end of a segment left after an unreliable span, when too short for a window."""
    if start > seg_end:
        return []
    return [
        SkippedSpan(start, seg_end, f"reliable for only {seg_end - start + 1} frames (< {min_length} needed)")
    ]


def _resume(
    video: Any,
    landmarks: FaceLandmarks,
    prototypes: PrototypeSet,
    settings: PrototypeSettings,
    clean: int,
    start: int,
    seg_end: int,
    device: str | None,
) -> Generator[Progress, None, SkippedSpan | None]:
    """The unreliable span a segment starts with, judged against the last ``clean`` reference
    (``None`` when its first frames are explained by it)."""
    fps, n = float(video.fps), len(video)
    stop = min(seg_end, start + frames_in(1.0, fps) - 1)
    _, shares = yield from reference_matching(
        video, landmarks, prototypes, clean, start, stop, settings, n, device, LIMITS.residual_kappa
    )
    if clear_index(shares, 0, frames_in(LIMITS.clear_s, fps), LIMITS.unexplained_low) == 0:
        return None
    return (
        yield from _follow(
            video, landmarks, prototypes, settings, clean, start, shares, start, seg_end, device
        )
    )


def _follow(
    video: Any,
    landmarks: FaceLandmarks,
    prototypes: PrototypeSet,
    settings: PrototypeSettings,
    reference: int,
    first: int,
    shares: np.ndarray,
    offset: int,
    seg_end: int,
    device: str | None,
) -> Generator[Progress, None, SkippedSpan]:
    """The unreliable span of an occlusion starting at frame ``first``, followed against the
    clean ``reference`` (``shares[k]`` is frame ``offset + k``'s)."""
    fps, n = float(video.fps), len(video)
    hold = frames_in(LIMITS.clear_s, fps)
    limit = min(seg_end, reference + frames_in(LIMITS.follow_s, fps))
    seen = np.asarray(shares, dtype=np.float64)
    step = frames_in(1.0, fps)
    while True:
        clear = clear_index(seen, first - offset, hold, LIMITS.unexplained_low)
        last_seen = offset + len(seen) - 1
        if clear is not None:
            return SkippedSpan(first, offset + clear - 1, OCCLUDED)
        if last_seen >= limit:
            reason = OCCLUDED
            if limit < seg_end:
                reason += f" (no clear face within {LIMITS.follow_s:g} s: spotting restarts after it)"
            return SkippedSpan(first, limit, reason)
        stop = min(limit, last_seen + step)
        _, more = yield from reference_matching(
            video,
            landmarks,
            prototypes,
            reference,
            last_seen + 1,
            stop,
            settings,
            n,
            device,
            LIMITS.residual_kappa,
        )
        seen = np.concatenate([seen, more])
