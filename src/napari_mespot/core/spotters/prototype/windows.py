"""The sliding window of the AU-prototype spotter (paper eq. 19–20) and the face segments.

A window holds N frames (N = frames in 7 s); its first frame is the reference of every flow in
it. After a window the next one starts S frames later: S = N/2 when nothing was spotted
(eq. 19), else S = end_last + 1, i.e. right after the last spotted interval (eq. 20), so the
next reference is a frame after the expression rather than one in its middle.

Clarifications where the paper is silent:

- **N/2 for odd N** is ``N // 2`` (at least 1).
- **An interval still open at a window's end.** Eq. 24 needs m frames after a peak to see the
  curve come down; an interval ending within the last m frames of a window (that is not the
  last window) is therefore *deferred*: not reported, and the next window starts early enough
  to contain it whole, ``lead`` frames before its start, so its reference frame precedes the
  motion. An open interval that already starts within ``lead`` frames of the window's start
  cannot fit better in any window and is reported as it is.
- **Frames without a face** split the video into face segments; windows never cross a gap.
  Segments shorter than ``min_length`` frames are skipped (and reported), never analysed with
  a made-up face. Frames a reliability check rejects (ours, see
  :mod:`napari_mespot.core.face.reliability`) split segments the same way.
- **A fixed step** (ours, with normalised curves): every window starts N/2 after the previous
  one (eq. 19 alone), because a video's normalisation needs all its curves before any
  threshold applies; an open interval is deferred only when the next window, known in advance,
  holds it with its lead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_mespot.core.face.border import AT_BORDER
from napari_mespot.core.intervals import runs
from napari_mespot.core.spotters.base import NO_FACE, SkippedSpan


def frames_in(seconds: float, fps: float, minimum: int = 1) -> int:
    """``seconds`` as a whole number of frames at ``fps`` (rounded, at least ``minimum``)."""
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return max(minimum, round(seconds * fps))


def next_start(start: int, length: int, last_end: int | None) -> int:
    """Eq. 19–20: the next window's first frame (absolute frames).

    ``last_end`` is the offset of the last interval reported in this window, or ``None``.
    """
    if last_end is None:
        return start + max(1, length // 2)
    return max(start + 1, last_end + 1)


@dataclass(frozen=True)
class Settled:
    """What a window decided: the spans it reports and where the next window starts."""

    reported: tuple[tuple[int, int], ...]
    deferred: tuple[tuple[int, int], ...]
    next_start: int


def settle(
    spans: Sequence[tuple[int, int]],
    start: int,
    end: int,
    length: int,
    guard: int,
    lead: int,
    final: bool,
    fixed_next: int | None = None,
) -> Settled:
    """Split a window's (absolute, inclusive) spans into reported and deferred; plan the next window.

    ``start``/``end`` bound the window, ``length`` is the nominal N. Spans ending after
    ``end − guard`` are open (see the module docstring) unless the window is ``final``. With
    ``fixed_next`` the next window starts there whatever is found, and only an open span it
    holds with its lead is deferred.
    """
    spans = sorted(spans)
    reported, deferred = [], []
    for s, e in spans:
        is_open = not final and e > end - guard and s - lead > start
        if fixed_next is not None:
            is_open = is_open and s - lead >= fixed_next
        (deferred if is_open else reported).append((s, e))
    if fixed_next is not None:
        return Settled(tuple(reported), tuple(deferred), fixed_next)
    last_end = max((e for _, e in reported), default=None)
    nxt = next_start(start, length, last_end)
    if deferred:
        nxt = min(nxt, min(s for s, _ in deferred) - lead)
    return Settled(tuple(reported), tuple(deferred), max(start + 1, nxt))


def face_segments(
    found: np.ndarray,
    min_length: int,
    at_border: np.ndarray | None = None,
    unusable: np.ndarray | None = None,
) -> tuple[list[tuple[int, int]], list[SkippedSpan]]:
    """Runs of frames with a face (inclusive) of at least ``min_length`` frames, and what was
    skipped; frames ``at_border`` (a face partly outside the frame) are skipped too.

    Frames in ``unusable`` (reported elsewhere, with their own reasons) end a segment too.
    """
    found = np.asarray(found, dtype=bool)
    segments, skipped = [], []
    for s, e in runs(~found):
        skipped.append(SkippedSpan(s, e, NO_FACE))
    if at_border is not None:
        cut = found & np.asarray(at_border, dtype=bool)
        skipped += [SkippedSpan(s, e, AT_BORDER) for s, e in runs(cut)]
        found = found & ~cut
    usable = found if unusable is None else found & ~np.asarray(unusable, dtype=bool)
    for s, e in runs(usable):
        if e - s + 1 >= min_length:
            segments.append((s, e))
        else:
            skipped.append(
                SkippedSpan(s, e, f"face visible for only {e - s + 1} frames (< {min_length} needed)")
            )
    return segments, sorted(skipped, key=lambda k: k.start)
