"""A real third-party spotter for the plugin tests: thresholded frame-difference energy.

It is what a small plugin package would ship: a settings dataclass, a spotting generator with
the common contract (yields Progress, returns a SpotResult with intervals and curves) and a
``mespot_spotters`` hook implementation. It takes no model file.

The energy of frame i is the mean absolute grey-level difference to frame i-1 (0 for frame 0).
Frames whose energy exceeds ``level = max(factor × median energy, floor)`` are motion; each run of
at least ``min_frames`` motion frames is an interval, its apex the frame of highest energy, its
type ME when it lasts at most ``me_max_s``.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from napari_mespot.core.intervals import Interval
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import SpotResult, Spotter
from napari_mespot.plugins import SpotterInfo, hookimpl

NAME = "energy"

#: The test video of :func:`square_frames`: its square moves on frames 20..29 and stands still
#: before and after, so exactly those frames differ from their predecessors.
MOVES = range(20, 30)
N_FRAMES, FPS = 60, 30.0


def square_frames(moves: range = MOVES) -> list[np.ndarray]:
    """96×96 grey frames with a bright 32×32 square that moves 6 px right on each of ``moves``."""
    frames, x = [], 8
    for i in range(N_FRAMES):
        if i in moves:
            x += 6
        frame = np.full((96, 96, 3), 90, np.uint8)
        frame[32:64, x : x + 32] = 220
        frames.append(frame)
    return frames


@dataclass(frozen=True)
class EnergySettings:
    """``factor`` × the median frame energy (or ``floor`` grey levels, whichever is higher) is
    the motion level; runs shorter than ``min_frames`` are ignored."""

    factor: float = 4.0
    floor: float = 2.0
    min_frames: int = 2
    me_max_s: float = 0.5


def frame_energy(video: Any) -> Generator[Progress, None, np.ndarray]:
    """Mean absolute grey difference of every frame to the previous one."""
    n = len(video)
    energy = np.zeros(n, np.float32)
    previous = None
    for i in range(n):
        grey = np.asarray(video[i], np.float32).mean(axis=2)
        if previous is not None:
            energy[i] = np.abs(grey - previous).mean()
        previous = grey
        if i % 25 == 0:
            yield Progress(i, n, "frame differences")
    return energy


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def spot_energy(
    video: Any, model: None, settings: EnergySettings, *, name: str | None = None
) -> Generator[Progress, None, SpotResult]:
    energy = yield from frame_energy(video)
    fps = float(video.fps)
    level = max(settings.factor * float(np.median(energy[1:])), settings.floor)
    intervals = []
    for onset, offset in _runs(energy > level):
        if offset - onset + 1 < settings.min_frames:
            continue
        apex = onset + int(np.argmax(energy[onset : offset + 1]))
        kind = "me" if (offset - onset + 1) / fps <= settings.me_max_s else "mae"
        intervals.append(
            Interval(onset, offset, kind, apex=apex, score=float(energy[apex] / level), source=NAME)
        )
    stem = Path(getattr(video, "path", "video")).stem
    return SpotResult(
        video=name or stem,
        method=NAME,
        fps=fps,
        n_frames=len(video),
        intervals=tuple(intervals),
        curve_labels=("energy",),
        curves=energy[None, :],
        thresholds=np.array([level]),
        windows=((0, len(video) - 1),),
        settings=settings,
    )


def _no_model(path: str | None, settings: EnergySettings) -> None:
    return None


def energy_spotter() -> Spotter:
    return Spotter(settings=EnergySettings, spot=spot_energy, load_model=_no_model)


class EnergyPlugin:
    """The plugin object a package would expose under the ``napari_mespot`` entry points."""

    @hookimpl
    def mespot_spotters(self) -> list[SpotterInfo]:
        return [SpotterInfo(NAME, "frame-difference energy (test plugin)", energy_spotter)]
