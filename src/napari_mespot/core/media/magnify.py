"""Eulerian motion magnification: make a 1-px facial movement big enough to see.

Linear Eulerian magnification (Wu et al., SIGGRAPH 2012): a small displacement δ(t) of an image
I changes each pixel by about −δ(t)·∂I/∂x. Band-passing every pixel's intensity in time keeps
that change for the movements of interest (the band, in Hz, so it means the same at any frame
rate); adding it back α times moves the image by (1 + α)·δ(t). The **factor** here is that
total, 1 + α: the motion in the band comes out ``factor`` times as large.

How this implementation does it, and why:

- **Luminance only.** The change ΔY is computed on the luminance and added to R, G and B alike,
  which changes Y by ΔY and leaves the chroma as it was: motion shows in brightness, and
  amplified chroma noise would only add coloured speckle. A still video gives ΔY = 0 exactly,
  so its frames come out unchanged, bit for bit.
- **Laplacian pyramid.** Each band level is filtered and amplified on its own. The first-order
  approximation holds while the amplified displacement stays below about λ/8 of the structure
  it moves (the paper's bound), so levels finer than ``min_wavelength_px`` get α scaled down in
  proportion to their wavelength. A level's bands overlap widely; level l responds most to
  wavelengths of about 2^(l+2.5) px (5.7 px for the finest), which is the wavelength used.
  Structure finer than ``min_wavelength_px`` is therefore magnified less than ``factor``.
- **Causal Butterworth band-pass** (``scipy.signal``), streamed: the filter state carries from
  one chunk of frames to the next, so memory depends on the chunk, not on the clip's length.
  It starts in the steady state of the first frame, so nothing rings at the start. Being causal,
  its phase is zero only at the band's centre (√(low·high)): other frequencies of the band come
  out slightly delayed, which a viewer does not notice at these rates.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import signal

from napari_mespot.core.errors import MespotError
from napari_mespot.core.progress import Progress

#: Chunks hold at most this many bytes of float pyramids (frames × levels), whatever the size.
CHUNK_BYTES = 64 * 2**20


class MagnifyError(MespotError):
    """Settings that cannot magnify this video (a band above Nyquist, frames too small, …)."""


@dataclass(frozen=True)
class MagnifySettings:
    """What to magnify and how much.

    ``factor``: how many times larger the motion in the band becomes (1 = unchanged). ``low_hz``
    and ``high_hz``: the band of the movements to magnify; a micro-expression rises to its apex
    in about 0.1–0.3 s, so 0.5–5 Hz. ``levels``: Laplacian pyramid levels, the last one being the
    low-pass residual. ``min_wavelength_px``: structures finer than this get less amplification.
    ``order``: the Butterworth order (the band-pass has twice as many poles).
    """

    factor: float = 10.0
    low_hz: float = 0.5
    high_hz: float = 5.0
    levels: int = 5
    min_wavelength_px: float = 16.0
    order: int = 1

    def check(self, fps: float, shape: tuple[int, int]) -> None:
        """Refuse settings that cannot work at ``fps`` on frames of ``shape`` (height, width)."""
        if not self.factor >= 1:
            raise MagnifyError(f"the factor must be at least 1 (1 = unchanged), got {self.factor}")
        if not 0 < self.low_hz < self.high_hz:
            raise MagnifyError(f"the band needs 0 < low < high, got {self.low_hz}–{self.high_hz} Hz")
        if self.high_hz >= fps / 2:
            raise MagnifyError(
                f"the band's high edge {self.high_hz} Hz must be below half the frame rate "
                f"({fps / 2:g} Hz at {fps:g} fps)"
            )
        if self.levels < 2:
            raise MagnifyError(f"the pyramid needs at least 2 levels, got {self.levels}")
        if min(shape) < 2 ** (self.levels - 1):
            raise MagnifyError(
                f"frames of {shape[1]}×{shape[0]} px are too small for {self.levels} pyramid levels"
            )
        if self.order < 1 or self.min_wavelength_px <= 0:
            raise MagnifyError("the filter order and the minimum wavelength must be positive")

    def level_gains(self) -> np.ndarray:
        """α of each pyramid level, finest first, the low-pass residual last."""
        middles = 2.0 ** (np.arange(self.levels) + 2.5)  # where each level responds most
        return (self.factor - 1.0) * np.minimum(1.0, middles / self.min_wavelength_px)


def _laplacian(image: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = []
    current = image
    for _ in range(levels - 1):
        smaller = cv2.pyrDown(current)
        pyramid.append(current - cv2.pyrUp(smaller, dstsize=current.shape[::-1]))
        current = smaller
    pyramid.append(current)
    return pyramid


def _collapse(bands: list[np.ndarray]) -> np.ndarray:
    image = bands[-1]
    for band in reversed(bands[:-1]):
        image = band + cv2.pyrUp(image, dstsize=band.shape[::-1])
    return image


class EulerianMagnifier:
    """Magnifies a stream of frames chunk by chunk; the temporal filter's state carries over."""

    def __init__(self, settings: MagnifySettings, fps: float, shape: tuple[int, int]) -> None:
        settings.check(fps, shape)
        self.settings = settings
        self.sos = signal.butter(
            settings.order, [settings.low_hz, settings.high_hz], btype="bandpass", fs=fps, output="sos"
        )
        self.gains = settings.level_gains()
        self.shape = shape
        self._state: list[np.ndarray | None] = [None] * settings.levels

    def process(self, frames: np.ndarray) -> np.ndarray:
        """Magnified copies of ``frames`` (T, H, W, 3) uint8 RGB, the next T frames of the stream."""
        if frames.shape[1:3] != self.shape:
            raise MagnifyError(f"frame size changed from {self.shape} to {frames.shape[1:3]}")
        luma = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32) for f in frames]
        pyramids = [_laplacian(y, self.settings.levels) for y in luma]
        deltas: list[list[np.ndarray]] = [[] for _ in frames]
        for level in range(self.settings.levels):
            if self.gains[level] == 0:
                for d, p in zip(deltas, pyramids, strict=True):
                    d.append(np.zeros_like(p[level]))
                continue
            stack = np.stack([p[level] for p in pyramids]).astype(np.float64)
            if self._state[level] is None:  # steady state of the first frame: no start-up ringing
                zi = signal.sosfilt_zi(self.sos)
                self._state[level] = zi[:, :, None, None] * stack[0][None, None]
            band, self._state[level] = signal.sosfilt(self.sos, stack, axis=0, zi=self._state[level])
            for d, b in zip(deltas, band, strict=True):
                d.append((self.gains[level] * b).astype(np.float32))
        out = np.empty_like(frames)
        for i, (frame, d) in enumerate(zip(frames, deltas, strict=True)):
            change = _collapse(d)[..., None]
            out[i] = np.clip(np.rint(frame.astype(np.float32) + change), 0, 255).astype(np.uint8)
        return out


def chunk_length(shape: tuple[int, int]) -> int:
    """Frames per chunk so that a chunk's pyramids (float64 while filtered) fit :data:`CHUNK_BYTES`."""
    per_frame = shape[0] * shape[1] * 8 * 4 / 3 * 3  # a pyramid is 4/3 of its base; ×3 for copies
    return max(1, min(64, int(CHUNK_BYTES // per_frame)))


def magnify_frames(
    frames: Iterable[np.ndarray], fps: float, settings: MagnifySettings
) -> Iterator[np.ndarray]:
    """The frames (RGB uint8, all one size) with their motion in the band magnified, lazily."""
    iterator = iter(frames)
    first = next(iterator, None)
    if first is None:
        return
    magnifier = EulerianMagnifier(settings, fps, first.shape[:2])
    size = chunk_length(first.shape[:2])
    chunk = [first]
    for frame in iterator:
        chunk.append(frame)
        if len(chunk) == size:
            yield from magnifier.process(np.stack(chunk))
            chunk = []
    if chunk:
        yield from magnifier.process(np.stack(chunk))


def even_size(frame: np.ndarray) -> np.ndarray:
    """``frame`` cropped by a pixel where its height or width is odd (yuv420p needs even sizes)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]


def write_magnified(
    out: str | os.PathLike,
    frames: Iterable[np.ndarray],
    n_frames: int,
    fps: float,
    settings: MagnifySettings,
    *,
    side_by_side: bool = False,
    slow: float = 1.0,
) -> Generator[Progress, None, int]:
    """Magnify ``frames`` (``n_frames`` of them, at ``fps``) into the video file ``out``, written
    atomically; ``side_by_side`` puts the original on the left; ``slow`` > 1 plays it that many
    times slower. Yields progress; returns the number of frames written."""
    from napari_mespot.core.media.writer import video_writer

    if not slow > 0 or not math.isfinite(slow):
        raise MagnifyError(f"the slow-motion factor must be positive, got {slow}")
    originals: deque[np.ndarray] = deque()

    def remembered(source: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for frame in source:
            originals.append(frame)  # at most one chunk is held: popped as it is written
            yield frame

    written = 0
    yield Progress(0, n_frames, "magnifying")
    with video_writer(out, fps / slow) as write:
        for magnified in magnify_frames(remembered(frames), fps, settings):
            original = originals.popleft()
            picture = np.concatenate([original, magnified], axis=1) if side_by_side else magnified
            write(even_size(picture))
            written += 1
            yield Progress(written, n_frames, "magnifying")
    return written
