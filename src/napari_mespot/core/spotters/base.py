"""The contract every spotter fulfils, whatever its method.

A spotter is a generator ``spot(video, ...) -> Generator[Progress, None, SpotResult]``: it yields
:class:`~napari_mespot.core.progress.Progress` (so the CLI shows a bar and the GUI can cancel by
closing it) and returns a :class:`SpotResult`. The result carries not only the intervals but
also *why* they were spotted — the per-frame curves the method thresholded and the thresholds
themselves — so a reviewer can see a near miss as well as a hit, and what was *not* looked at
(frames without a face, with the reason), so a silent gap is never mistaken for "no expression".
"""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..atomic import atomic_write_bytes, atomic_write_text
from ..intervals import Interval, VideoIntervals
from ..progress import Progress


@dataclass(frozen=True)
class SkippedSpan:
    """Frames ``start..end`` (inclusive) that were not analysed, and why."""

    start: int
    end: int
    reason: str

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class SpotResult:
    """What one spotter run on one video found, and the evidence for it.

    ``curves`` is (V, n_frames) float32: curve ``v`` (named ``curve_labels[v]``) at every frame,
    NaN where it was not computed (skipped frames). A frame is compared against
    ``thresholds[v]`` by the method's own rule (see the method's docstring); ``raw_curves`` holds
    the same curves before the method's smoothing, when it has any. ``windows`` lists the
    analysed spans as inclusive (start, end) frame pairs. ``settings`` is the method's settings
    object, recorded so a result can always be reproduced.
    """

    video: str
    method: str
    fps: float
    n_frames: int
    intervals: tuple[Interval, ...]
    curve_labels: tuple[str, ...]
    curves: np.ndarray
    thresholds: np.ndarray
    raw_curves: np.ndarray | None = None
    windows: tuple[tuple[int, int], ...] = ()
    skipped: tuple[SkippedSpan, ...] = ()
    settings: Any = None
    device: str = "cpu"
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        v = len(self.curve_labels)
        if self.curves.shape != (v, self.n_frames):
            raise ValueError(f"curves must be ({v}, {self.n_frames}), got {self.curves.shape}")
        if self.thresholds.shape != (v,):
            raise ValueError(f"thresholds must be ({v},), got {self.thresholds.shape}")
        if self.raw_curves is not None and self.raw_curves.shape != self.curves.shape:
            raise ValueError("raw_curves must have the shape of curves")

    def video_intervals(self) -> VideoIntervals:
        """The intervals with the fps they need (what label writers and metrics take)."""
        return VideoIntervals(self.video, self.intervals, self.fps)

    def analysed_fraction(self) -> float:
        """Share of the frames that were analysed (1.0 when nothing was skipped)."""
        skipped = sum(s.length for s in self.skipped)
        return 1.0 - skipped / self.n_frames if self.n_frames else 0.0

    def settings_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-ready values."""
        if dataclasses.is_dataclass(self.settings):
            return json.loads(json.dumps(dataclasses.asdict(self.settings), default=str))
        return dict(self.settings or {})

    def save_curves(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``<video>.curves.npz`` (everything, for tools) and ``<video>.curves.csv``
        (frame, time and one column per curve, for spreadsheets) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(self.video).name
        meta = {
            "video": self.video,
            "method": self.method,
            "fps": self.fps,
            "device": self.device,
            "settings": self.settings_dict(),
            "skipped": [dataclasses.asdict(s) for s in self.skipped],
        }
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            curves=self.curves.astype(np.float32),
            raw_curves=(self.raw_curves if self.raw_curves is not None else self.curves).astype(np.float32),
            thresholds=self.thresholds.astype(np.float64),
            curve_labels=np.array(self.curve_labels, dtype=str),
            windows=np.array(self.windows, dtype=np.int64).reshape(-1, 2),
            meta=np.array(json.dumps(meta, sort_keys=True)),
        )
        npz = folder / f"{stem}.curves.npz"
        atomic_write_bytes(npz, buf.getvalue())
        text = io.StringIO()
        header = ",".join(("frame", "time_s", *self.curve_labels))
        frames = np.arange(self.n_frames)
        table = np.column_stack([frames, frames / self.fps, self.curves.T])
        np.savetxt(text, table, delimiter=",", header=header, comments="", fmt="%.6g")
        csv = folder / f"{stem}.curves.csv"
        atomic_write_text(csv, text.getvalue())
        return npz, csv


class Spotter(Protocol):
    """A spotting method: a name and a generator from a video to a :class:`SpotResult`."""

    name: str

    def spot(self, video: Any, **options: Any) -> Generator[Progress, None, SpotResult]: ...


def settings_from_mapping(cls: type, values: Mapping[str, Any]) -> Any:
    """Build the settings dataclass ``cls`` from a mapping, rejecting unknown keys by name.

    Lets the CLI, the GUI and a saved result all construct settings the same way, with a
    readable error instead of ``TypeError: unexpected keyword``.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} has no setting(s) {unknown}; known: {sorted(known)}")
    return cls(**values)
