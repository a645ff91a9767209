"""Encode frames into a video file with PyAV (used by the synthetic videos and the tests).

The encoder settings that matter for frame-accurate reading are explicit: GOP length, number
of B-frames and per-frame timestamps (for variable-frame-rate files), so tests can build the
hard cases on purpose.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from napari_mespot.core.atomic import atomic_writer

#: Container format by extension, where FFmpeg cannot guess it from the name alone.
_FORMATS = {".ts": "mpegts", ".m2ts": "mpegts", ".mts": "mpegts", ".m4v": "mp4"}


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
    path = Path(path)
    fmt = _FORMATS.get(path.suffix.lower())
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_writer(path, "wb") as fh:
        container = av.open(fh, mode="w", format=fmt or path.suffix.lstrip(".").lower())
        try:
            stream = container.add_stream(codec, rate=rate)
            # A fine time base so arbitrary VFR timestamps survive rounding.
            time_base = Fraction(1, 90000) if timestamps is not None else 1 / rate
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
            first = True
            for i, rgb in enumerate(frames):
                rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
                if first:
                    stream.height, stream.width = rgb.shape[:2]
                    first = False
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                if timestamps is not None:
                    frame.pts = round(timestamps[i] / time_base)
                else:
                    frame.pts = i
                frame.time_base = time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
        finally:
            container.close()
    return path
