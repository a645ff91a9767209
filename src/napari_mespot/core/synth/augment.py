"""Footage changes applied to an existing video: the same face events, filmed differently.

Used to widen the training videos of the thresholds (another size, brightness, noise level,
frame rate, camera drift, an occluder over the face) and by the tests that hold spotting to the
same intervals whatever the footage. Each change is a function of one frame and its index, so
any of them streams a long video through :func:`write_augmented` without holding it in memory.

:func:`resampled_index` and :func:`resampled_intervals` carry frame numbers to another frame
rate (nearest earlier source frame: what a camera at the new rate sampling the same scene
would show, up to its own motion between source frames).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from napari_mespot.core.intervals import Interval

#: A change: (frame RGB uint8, frame index) -> changed frame.
Change = Callable[[np.ndarray, int], np.ndarray]


def rescaled(factor: float) -> Change:
    """Every frame resized by ``factor`` (area-averaged when shrinking), to even sides."""
    import cv2

    if factor <= 0:
        raise ValueError(f"scale factor must be positive, got {factor}")

    def change(frame: np.ndarray, _: int) -> np.ndarray:
        h, w = frame.shape[:2]
        size = (max(2, 2 * round(w * factor / 2)), max(2, 2 * round(h * factor / 2)))
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)

    return change


def brightened(gain: float = 1.0, offset: float = 0.0, gamma: float = 1.0) -> Change:
    """Grey levels v mapped to ``gain · 255 · (v / 255) ** gamma + offset``, clipped to 0..255:
    a gamma below 1 brightens the mid-tones without saturating the highlights (an exposure or
    tone-curve change); a gain above 1 saturates what it pushes past 255."""
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    levels = np.arange(256, dtype=np.float64)
    table = np.clip(np.rint(gain * 255.0 * (levels / 255.0) ** gamma + offset), 0, 255).astype(np.uint8)

    def change(frame: np.ndarray, _: int) -> np.ndarray:
        return table[frame]

    return change


def noisy(sigma: float, seed: int = 0) -> Change:
    """Gaussian sensor noise of ``sigma`` grey levels, its own draw per frame (pure in (seed, k))."""

    def change(frame: np.ndarray, k: int) -> np.ndarray:
        rng = np.random.default_rng((seed, k))
        grain = rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(sigma)
        out = frame.astype(np.float32) + grain
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    return change


def drifting(fps: float, shift_px: float, degrees: float, period_s: float = 6.0) -> Change:
    """The whole picture moved like a hand-held camera: a translation of up to ``shift_px`` and
    a rotation of up to ``degrees`` about the centre, both sinusoids of ``period_s``."""
    import cv2

    def change(frame: np.ndarray, k: int) -> np.ndarray:
        phase = 2 * math.pi * k / (period_s * fps)
        h, w = frame.shape[:2]
        matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees * math.sin(phase), 1.0)
        matrix[:, 2] += (shift_px * math.sin(phase), 0.6 * shift_px * math.cos(1.3 * phase))
        return cv2.warpAffine(frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)

    return change


@dataclass(frozen=True)
class Occluder:
    """A skin-coloured ellipse over frames ``start..end``: centre (x, y) and half-axes (px) at
    the start, moving by ``travel`` (px) by the end; ``colour`` RGB, or ``None`` for the
    median colour under the ellipse on the first occluded frame (the skin it covers)."""

    start: int
    end: int
    center: tuple[float, float]
    axes: tuple[float, float]
    travel: tuple[float, float] = (0.0, 0.0)
    colour: tuple[int, int, int] | None = None
    texture: float = 4.0
    seed: int = 0


def occluded(occluder: Occluder) -> Change:
    """Frames ``occluder.start..end`` with the ellipse pasted over them (soft 3-px edge, a faint
    texture of ``texture`` grey levels so flow has something to track on it)."""
    import cv2

    fill: list[np.ndarray] = []

    def change(frame: np.ndarray, k: int) -> np.ndarray:
        o = occluder
        if not o.start <= k <= o.end:
            return frame
        t = (k - o.start) / max(1, o.end - o.start)
        cx, cy = o.center[0] + t * o.travel[0], o.center[1] + t * o.travel[1]
        mask = np.zeros(frame.shape[:2], np.uint8)
        cv2.ellipse(mask, (round(cx), round(cy)), (round(o.axes[0]), round(o.axes[1])), 0, 0, 360, 255, -1)
        if not fill:
            colour = o.colour if o.colour is not None else np.median(frame[mask > 0], axis=0)
            rng = np.random.default_rng(o.seed)
            grain = rng.standard_normal(frame.shape, dtype=np.float32) * np.float32(o.texture)
            fill.append(np.asarray(colour, np.float32) + cv2.GaussianBlur(grain, (0, 0), 2.0))
        alpha = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 3.0)[..., None]
        out = frame.astype(np.float32) * (1 - alpha) + fill[0] * alpha
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)

    return change


def chained(changes: Sequence[Change]) -> Change:
    """The changes applied in order."""

    def change(frame: np.ndarray, k: int) -> np.ndarray:
        for c in changes:
            frame = c(frame, k)
        return frame

    return change


def resampled_index(n_in: int, fps_in: float, fps_out: float) -> np.ndarray:
    """For each frame of the video at ``fps_out``, the source frame it shows (the last one
    taken at or before its time): frames repeat when ``fps_out`` is higher."""
    n_out = max(1, math.floor(n_in * fps_out / fps_in))
    source = np.floor(np.arange(n_out) * fps_in / fps_out + 1e-9).astype(np.int64)
    return np.minimum(source, n_in - 1)


def resampled_intervals(intervals: Iterable[Interval], fps_in: float, fps_out: float) -> list[Interval]:
    """``intervals`` in the frames of the same video at ``fps_out``: each frame number maps to
    the first output frame showing it, an offset to the last one."""

    def first(frame: int) -> int:
        return math.ceil(frame * fps_out / fps_in - 1e-9)

    def last(frame: int) -> int:
        return first(frame + 1) - 1

    return [
        replace(iv, onset=first(iv.onset), offset=last(iv.offset), apex=iv.apex and first(iv.apex))
        for iv in intervals
    ]


def augmented_frames(
    frames: Iterable[np.ndarray], change: Change | None = None, index: Sequence[int] | None = None
) -> Iterator[np.ndarray]:
    """``frames`` (read in order) with ``change`` applied, through ``index`` (output frame →
    source frame, non-decreasing, e.g. :func:`resampled_index`) when given."""
    source = iter(frames)
    current, at = None, -1
    order = range(10**12) if index is None else index
    for k, wanted in enumerate(order):
        while at < wanted:
            try:
                current = next(source)
            except StopIteration:
                return
            at += 1
        yield current if change is None else change(current, k)


def write_augmented(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    change: Change | None = None,
    fps: float | None = None,
    crf: int = 20,
) -> Path:
    """Write ``src`` changed by ``change`` (applied to the output frames, numbered at the output
    rate) to ``dst``, resampled to ``fps`` when given."""
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.media.writer import write_video

    with open_video(src) as video:
        fps_in = float(video.fps)
        fps_out = fps_in if fps is None else float(fps)
        index = None if fps is None else resampled_index(len(video), fps_in, fps_out)
        frames = augmented_frames(video.iter_frames(), change, index)
        return write_video(dst, frames, fps_out, crf=crf)
