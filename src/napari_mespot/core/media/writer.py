"""Encode frames into a video file with PyAV (used by the synthetic videos and the tests).

The encoder settings that matter for frame-accurate reading are explicit: GOP length, number
of B-frames and per-frame timestamps (for variable-frame-rate files), so tests can build the
hard cases on purpose. :func:`write_video_with_progress` is the same for a long task that
yields progress after every frame (the synthetic generators).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from napari_mespot.core.atomic import atomic_writer
from napari_mespot.core.progress import Progress

#: Container format by extension, where FFmpeg cannot guess it from the name alone.
_FORMATS = {".ts": "mpegts", ".m2ts": "mpegts", ".mts": "mpegts", ".m4v": "mp4"}


@contextlib.contextmanager
def video_writer(
    path: str | os.PathLike,
    fps: float = 30.0,
    *,
    codec: str = "libx264",
    gop: int = 60,
    bframes: int = 2,
    crf: int = 18,
    variable_rate: bool = False,
    pix_fmt: str = "yuv420p",
) -> Iterator[Callable[[np.ndarray, float | None], None]]:
    """A ``write(rgb, timestamp=None)`` function that encodes one RGB uint8 frame (H, W, 3) at a
    time into ``path``, which appears (atomically) when the block ends without an error.

    For producers that report progress between frames (a generator cannot hand its frames to
    :func:`write_video` and yield at the same time). ``variable_rate`` makes every frame take its
    ``timestamp`` (seconds, increasing); otherwise frames are spaced ``1/fps`` apart.
    """
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_writer(path, "wb") as fh:
        container = av.open(fh, mode="w", format=fmt or path.suffix.lstrip(".").lower())
        try:
            stream = container.add_stream(codec, rate=rate)
            # A fine time base so arbitrary VFR timestamps survive rounding.
            time_base = Fraction(1, 90000) if variable_rate else 1 / rate
            stream.codec_context.time_base = time_base
            stream.pix_fmt = pix_fmt
            stream.codec_context.gop_size = gop
            if codec in ("libx264", "libx265"):
                stream.options = {
                    "crf": str(crf),
                    "bf": str(bframes),
                    "g": str(gop),
                    "keyint_min": str(min(gop, 25)),
                    "preset": "veryfast",
                }
            else:
                stream.codec_context.max_b_frames = bframes
            count = 0

            def write(rgb: np.ndarray, timestamp: float | None = None) -> None:
                nonlocal count
                rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
                if count == 0:
                    stream.height, stream.width = rgb.shape[:2]
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = round(timestamp / time_base) if variable_rate else count
                frame.time_base = time_base
                container.mux(stream.encode(frame))
                count += 1

            yield write
            container.mux(stream.encode(None))
        finally:
            container.close()


def write_video(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray],
    fps: float = 30.0,
    *,
    codec: str = "libx264",
    gop: int = 60,
    bframes: int = 2,
    crf: int = 18,
    timestamps: Sequence[float] | None = None,
    pix_fmt: str = "yuv420p",
) -> Path:
    """Write RGB uint8 frames (H, W, 3) to ``path`` atomically and return the path.

    ``timestamps`` (seconds, increasing) make a variable-frame-rate file; otherwise frames are
    spaced ``1/fps`` apart. Height and width must be even for yuv420p.
    """
    options = {"codec": codec, "gop": gop, "bframes": bframes, "crf": crf, "pix_fmt": pix_fmt}
    with video_writer(path, fps, variable_rate=timestamps is not None, **options) as write:
        for i, rgb in enumerate(frames):
            write(rgb, None if timestamps is None else timestamps[i])
    return Path(path)


def write_video_with_progress(
    path: str | os.PathLike, frames: Iterable[np.ndarray], n_frames: int, fps: float = 30.0, **options
) -> Generator[Progress, None, Path]:
    """:func:`write_video` as a long task: yields progress after each frame, returns the path.

    The file appears only when complete; closing the generator early leaves nothing behind.
    """
    path = Path(path)
    with video_writer(path, fps, **options) as write:
        for k, frame in enumerate(frames):
            write(frame)
            yield Progress(k + 1, n_frames, path.name)
    return path
