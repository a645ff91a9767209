"""A video at another frame rate than the checkpoint's, seen at the checkpoint's rate.

The network counts frames: its window, its anchors and its flow gap are frame counts, learnt at
the rate of its training videos (:attr:`.checkpoint.Checkpoint.fps`). A 0.3 s micro-expression
lasts 9 frames at 30 fps and 60 at 200 fps, longer than any expression such a network has seen.
So a video whose rate differs (by more than :data:`FPS_TOLERANCE`) is *resampled*: frame k of
the resampled stream is the video frame nearest to time k / rate. Only those frames are read
into landmarks, crops and flow; the network runs on them as on a video of its own rate; what it
finds is mapped back to the video's frames.

The stream holds the sample times inside the video (k / rate < n / fps): the same clip at 200
and at 30 fps then gives streams of the same length (a sample at the video's very end would
add a frame, and move the network's last window by one). Mapping back: every video frame
belongs to the sampled frame nearest to it in time (the last video frames, nearer to the end
than to the last sample, to the last sample), so sampled frame k stands for a run of video
frames (about fps / rate of them at 200 → 30 fps). A span of sampled frames becomes the union
of those runs, a curve is held over each run. A slower video (25 fps) goes the same way:
nearest-frame upsampling repeats about one frame in six, and a repeated frame has no motion
against its copy; the flow's gap then spans one video frame less, about 0.04 s of the 0.3 s it
covers. Rates within the tolerance (29.97 against 30) are left
alone: that difference moves a 4-second window's end by a tenth of a frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from napari_mespot.core.face.cache import video_identity
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.video import open_video
from napari_mespot.core.spotters.vovnet.checkpoint import CheckpointError
from napari_mespot.core.spotters.vovnet.data import LabelledVideo

#: Relative difference of frame rates under which a video is read as it is (2 %).
FPS_TOLERANCE = 0.02
#: Sample times within this many frames of the video's end count as at its end (floating point).
_TIME_EPS = 1e-9


def same_rate(a: float, b: float) -> bool:
    """Whether two frame rates are one for the network (within :data:`FPS_TOLERANCE`)."""
    return abs(a / b - 1.0) <= FPS_TOLERANCE


@dataclass(frozen=True)
class Resampling:
    """Which video frames a stream at ``rate`` reads, and which of its frames each video frame
    belongs to. Frame rates within the tolerance give the identity."""

    n_video: int
    video_fps: float
    rate: float
    #: For each sampled frame, the video frame it reads (non-decreasing; repeats when upsampling).
    indices: np.ndarray = field(init=False, repr=False, compare=False)
    #: For each video frame, the sampled frame nearest in time (non-decreasing).
    owners: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (self.video_fps > 0 and self.rate > 0 and self.n_video > 0):
            raise ValueError(f"frame rates and frame count must be positive, got {self}")
        # Times are multiplied before they are divided (j · rate / fps), so a frame that lies
        # exactly between two others is found exactly, and floor(x + 0.5) sends it to the later.
        fps, rate = (1.0, 1.0) if self.identity else (self.video_fps, self.rate)
        count = max(1, int(np.ceil(self.n_video * rate / fps - _TIME_EPS)))
        owners = np.floor(np.arange(self.n_video) * rate / fps + 0.5).astype(np.int64)
        owners = np.minimum(owners, count - 1)
        indices = np.floor(np.arange(count) * fps / rate + 0.5).astype(np.int64)
        indices = np.minimum(indices, self.n_video - 1)
        object.__setattr__(self, "owners", owners)
        object.__setattr__(self, "indices", indices)

    @property
    def identity(self) -> bool:
        return same_rate(self.video_fps, self.rate)

    def __len__(self) -> int:
        return len(self.indices)

    def video_span(self, first: int, last: int) -> tuple[int, int]:
        """Sampled frames ``first … last`` (inclusive) as the video frames that belong to them.

        When upsampling, a sampled frame may have no video frame of its own; a span of such
        frames only becomes the video frame its first one reads.
        """
        lo = int(np.searchsorted(self.owners, first, "left"))
        hi = int(np.searchsorted(self.owners, last, "right")) - 1
        if lo > hi:
            lo = hi = int(self.indices[first])
        return lo, hi

    def video_spans(self, spans: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
        return [self.video_span(a, b) for a, b in spans]

    def video_curves(self, curves: np.ndarray) -> np.ndarray:
        """(..., sampled frames) → (..., video frames): each video frame takes its sampled frame's value."""
        return curves[..., self.owners]

    def sampled_landmarks(self, landmarks: FaceLandmarks) -> FaceLandmarks:
        """The rows of the video's landmarks that the sampled frames read."""
        if len(landmarks) != self.n_video:
            raise ValueError(f"the landmarks hold {len(landmarks)} frames, the video {self.n_video}")
        return replace(
            landmarks, points=landmarks.points[self.indices], confidence=landmarks.confidence[self.indices]
        )

    def sampled_interval(self, iv: Interval) -> Interval:
        """A video-frame interval (a label) on the sampled stream: each end at its sampled frame."""
        owner = lambda frame: int(self.owners[min(max(frame, 0), self.n_video - 1)])  # noqa: E731
        onset, offset = owner(iv.onset), owner(iv.offset)
        apex = None if iv.apex is None else min(max(owner(iv.apex), onset), offset)
        return replace(iv, onset=onset, offset=offset, apex=apex)

    def note(self) -> str:
        return (
            f"spotted at {self.rate:g} fps resampled from the video's {self.video_fps:g} fps "
            f"(the checkpoint's rate; {len(self)} of {self.n_video} frames read); "
            "intervals, curves and windows are in the video's frames"
        )


class SampledVideo:
    """The frames a :class:`Resampling` reads from ``video``, as a lazy video at its rate.

    Landmark providers and :func:`.data.compute_features` read it like any video, so the frames
    in between are decoded (a codec cannot skip them) but never tracked, cropped or flowed. A
    video with a cache identity gives this stream one of its own, with the rate in it, so the
    feature and landmark caches of the video and of its resampled stream never mix.
    """

    def __init__(self, video: Any, resampling: Resampling) -> None:
        if len(video) != resampling.n_video:
            raise ValueError(f"the resampling is for {resampling.n_video} frames, the video has {len(video)}")
        self.video, self.resampling = video, resampling
        self.fps = resampling.rate
        self.shape = (len(resampling), *tuple(video.shape[1:]))
        base = video_identity(video)
        if base is not None:
            self.path = video.path  # the landmark cache is filed beside the video, under its own key
            own = {**base, "resampled": {"from_fps": resampling.video_fps, "to_fps": resampling.rate}}
            self.identity = lambda: own

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, k: int) -> np.ndarray:
        return np.asarray(self.video[int(self.resampling.indices[k])])

    def iter_frames(self) -> Iterator[np.ndarray]:
        for k in range(len(self)):
            yield self[k]


def stream_at(video: Any, rate: float) -> tuple[Any, Resampling]:
    """``video`` as the network at ``rate`` reads it: itself within the tolerance, else resampled."""
    resampling = Resampling(len(video), float(video.fps), float(rate))
    return (video if resampling.identity else SampledVideo(video, resampling)), resampling


def on_timebase(videos: Sequence[LabelledVideo], rate: float | None) -> tuple[list[LabelledVideo], float]:
    """Labelled videos with their labels on the stream at ``rate``, and that rate.

    ``rate`` ``None`` takes the videos' own rate, which must be one: a network learns the frame
    counts of one rate (a set that mixes them is refused, naming them). With a rate (fine-tuning
    a checkpoint, calibrating its thresholds), every video that differs is resampled to it.
    """
    timing = []
    for v in videos:
        with open_video(v.path) as video:
            timing.append((len(video), float(video.fps)))
    if rate is None:
        rate = timing[0][1] if timing else 30.0
        other = [(v, fps) for v, (_, fps) in zip(videos, timing, strict=True) if not same_rate(fps, rate)]
        if other:
            raise CheckpointError(
                f"the training videos mix frame rates: {videos[0].video_name} has {rate:g} fps, "
                f"{other[0][0].video_name} {other[0][1]:g} fps ({len(other)} differ); "
                "train on videos of one rate (a network counts frames)"
            )
    out = []
    for v, (n, fps) in zip(videos, timing, strict=True):
        resampling = Resampling(n, fps, rate)
        if resampling.identity:
            out.append(v)
            continue
        frames = None if v.frames is None else int(resampling.owners[min(v.frames, n) - 1]) + 1
        intervals = tuple(resampling.sampled_interval(iv) for iv in v.intervals)
        out.append(replace(v, intervals=intervals, frames=frames))
    return out, float(rate)
