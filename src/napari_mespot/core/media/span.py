"""A contiguous span of a video's frames, read as a video of its own.

Measuring a retrained model on corrections it did not train on, when there is a single video,
means training on the first part of that video and testing on the rest: the spotters and their
calibration take "a video" (anything with ``fps``, a length and integer frame indexing), so a
span is given to them as one — lazily, frame by frame, no copy and no re-encoding.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class FrameSpan:
    """Frames ``start`` … ``stop − 1`` of ``video``; frame ``i`` of the span is ``video[start + i]``."""

    def __init__(self, video: Any, start: int, stop: int) -> None:
        if not 0 <= start < stop <= len(video):
            raise ValueError(f"a span must lie inside the video's {len(video)} frames, got {start}–{stop}")
        self.video = video
        self.start = int(start)
        self.stop = int(stop)
        self.fps = float(video.fps)

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, index: int | slice) -> np.ndarray:
        if isinstance(index, slice):  # a run of frames decodes sequentially (landmark detection)
            first, last, step = index.indices(len(self))
            return self.video[self.start + first : self.start + last : step]
        if not isinstance(index, int | np.integer):
            raise TypeError(f"a frame span is read by frame or by slice, got {index!r}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"frame {index} outside a span of {len(self)} frames")
        return self.video[self.start + int(index) % len(self)]

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self), *self.video.shape[1:])
