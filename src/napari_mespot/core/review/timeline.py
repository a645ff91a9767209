"""The review timeline's geometry, without Qt: lanes of sorted interval arrays, frame ↔ pixel,
zoom and pan limits, and the ruler's ticks.

The timeline dock paints what this module computes. Keeping the arithmetic here lets it be
tested exactly (a zoom keeps the frame under the cursor in place, a view never leaves the video,
ticks stay ~80 px apart in frames or in time) without a window, and keeps the painter thin.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from napari_mespot.core.review.model import ReviewModel, Track

LABEL_W = 118  # the track names' column
RULER_H = 22
LANE_H = 24
MAX_PX_PER_FRAME = 40.0
#: Ruler ticks are at least this many pixels apart.
TICK_PX = 80
#: How close (pixels) the cursor must be to grab a handle.
HANDLE_PX = 5

STATUS_KEYS = ("truth", "candidate", "accepted", "rejected", "edited", "added")
TYPES = ("me", "mae")
KIND_ORDER = {"gt": 0, "machine": 1, "corrected": 2}


class Lane:
    """One track's intervals as sorted arrays: what painting and hit-testing search.

    Ground-truth and machine tracks never change (a new run replaces the Track object), so
    after an edit their arrays are kept and only the styles (the decisions) are recomputed. A
    style is ``type index × len(STATUS_KEYS) + status index``: the painter's brush table index.
    """

    def __init__(self, track: Track) -> None:
        self.track = track
        self.name = track.name
        self.kind = track.kind
        self.editable = track.kind != "gt"  # the reference is not dragged by accident
        items = track.sorted()
        n = len(items)
        self.ids = [iv.id for iv in items]
        self.onset = np.fromiter((iv.onset for iv in items), np.int64, n)
        self.offset = np.fromiter((iv.offset for iv in items), np.int64, n)
        self.apex = np.fromiter((-1 if iv.apex is None else iv.apex for iv in items), np.int64, n)
        # Sorted by onset, offsets are not monotonic: their running maximum is, and it bounds
        # the first interval that can reach a given frame.
        self.reach = np.maximum.accumulate(self.offset) if n else self.offset
        self._type_base = np.fromiter((TYPES.index(iv.type) * len(STATUS_KEYS) for iv in items), np.int64, n)
        self._statuses = [iv.status for iv in items]
        self.style = self._type_base

    def recolour(self, decisions: dict[str, str]) -> Lane:
        """Style each interval by type and review status (a candidate's is its decision's)."""
        if self.kind == "gt":
            statuses = ["truth"] * len(self.ids)
        elif self.kind == "corrected":
            statuses = self._statuses
        else:
            statuses = [decisions.get(f"{self.name}/{i}", "candidate") for i in self.ids]
        codes = np.fromiter((STATUS_KEYS.index(st) for st in statuses), np.int64, len(statuses))
        self.style = self._type_base + codes
        return self

    def __len__(self) -> int:
        return len(self.ids)

    def visible(self, first: float, last: float) -> np.ndarray:
        """Indices of the intervals that overlap frames ``first``–``last``."""
        lo = int(np.searchsorted(self.reach, first, side="left"))
        hi = int(np.searchsorted(self.onset, last, side="right"))
        if hi <= lo:
            return np.empty(0, np.int64)
        idx = np.arange(lo, hi)
        return idx[self.offset[lo:hi] >= first]


def lanes_for(model: ReviewModel | None, previous: Iterable[Lane] = ()) -> list[Lane]:
    """The model's lanes (truth, runs, corrected), reusing the unchanged tracks' arrays, styled
    by the current decisions (a decision recolours its candidate, so every lane is restyled)."""
    if model is None:
        return []
    decisions = {
        origin: iv.status for iv in model.corrected.intervals.values() if (origin := iv.get_extra("origin"))
    }
    known = {id(lane.track): lane for lane in previous if lane.kind != "corrected"}
    tracks = sorted(model.tracks.values(), key=lambda t: KIND_ORDER[t.kind])
    return [(known.get(id(t)) or Lane(t)).recolour(decisions) for t in tracks]


@dataclass
class TimelineGeometry:
    """Which frames are shown where: ``start`` (first visible frame, fractional while zooming)
    and ``scale`` (pixels per frame) over a widget ``width`` pixels wide."""

    n_frames: int = 1
    fps: float = 30.0
    width: int = 800
    start: float = 0.0
    scale: float = 1.0

    @property
    def track_width(self) -> int:
        return max(1, self.width - LABEL_W)

    @property
    def visible_frames(self) -> float:
        return self.track_width / self.scale

    @property
    def min_scale(self) -> float:
        return self.track_width / self.n_frames

    def x_of(self, frame: float) -> float:
        return LABEL_W + (frame - self.start) * self.scale

    def frame_at(self, x: float) -> float:
        return self.start + (x - LABEL_W) / self.scale

    def clamp_frame(self, frame: float) -> int:
        """The frame under a fractional position, inside the video."""
        return min(max(math.floor(frame), 0), self.n_frames - 1)

    @staticmethod
    def row_at(y: float, n_lanes: int) -> int | None:
        """The lane row under ``y`` (``None`` on the ruler or below the last lane)."""
        row = math.floor((y - RULER_H) / LANE_H)
        return row if 0 <= row < n_lanes and y >= RULER_H else None

    def lane_box(self, row: int) -> tuple[float, float, float, float]:
        """(x, y, width, height) of lane ``row``'s interval area."""
        return LABEL_W, RULER_H + row * LANE_H, self.track_width, LANE_H

    def set_view(self, start: float, scale: float | None = None) -> None:
        """Show frames from ``start`` at ``scale`` pixels per frame (clamped to the video)."""
        if scale is not None:
            self.scale = min(max(scale, self.min_scale), MAX_PX_PER_FRAME)
        self.start = min(max(start, 0.0), max(0.0, self.n_frames - self.visible_frames))

    def fit(self) -> None:
        """The whole video in view."""
        self.set_view(0.0, self.min_scale)

    def zoom(self, factor: float, anchor_x: float) -> None:
        """Zoom by ``factor`` keeping the frame under ``anchor_x`` in place."""
        anchor = self.frame_at(anchor_x)
        scale = min(max(self.scale * factor, self.min_scale), MAX_PX_PER_FRAME)
        self.set_view(anchor - (anchor_x - LABEL_W) / scale, scale)

    def show_frames(self, first: int, last: int) -> None:
        """Zoom so that ``first``–``last`` fill the view with a margin (the table's "jump")."""
        span = max(last - first + 1, 10) * 1.6
        self.set_view(first - (span - (last - first + 1)) / 2, self.track_width / span)

    def resize(self, old_width: int, new_width: int) -> None:
        """A fitted view stays fitted; a zoomed one keeps its zoom."""
        old_track = old_width - LABEL_W
        fitted = old_track <= 0 or self.scale <= old_track / self.n_frames * 1.0001
        self.width = new_width
        self.set_view(self.start, self.min_scale if fitted else self.scale)

    def handle_frame(self, part: str, x: float) -> int:
        """The frame a handle dragged to ``x`` stands for: an onset at the nearest frame
        boundary, an offset (inclusive) one frame before it, an apex in the frame under ``x``."""
        raw = self.frame_at(x)
        value = round(raw) - 1 if part == "offset" else (math.floor(raw) if part == "apex" else round(raw))
        return min(max(value, 0), self.n_frames - 1)

    def shows(self, frame: int) -> bool:
        return self.start <= frame < self.start + self.visible_frames

    def tick_step(self) -> tuple[int, bool]:
        """Frames between ruler ticks (at least :data:`TICK_PX` apart) and whether labels are
        times: single frames while they are wider apart than that, else round seconds."""
        for frames in (1, 2, 5, 10):
            if frames * self.scale >= TICK_PX and frames < self.fps:
                return frames, False
        for seconds in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
            frames = max(1, round(seconds * self.fps))
            if frames * self.scale >= TICK_PX:
                return frames, True
        return max(1, round(3600 * self.fps)), True

    def ticks(self, first: float, last: float) -> list[tuple[int, str]]:
        """The ruler's ticks over frames ``first``–``last``: (frame, label)."""
        step, as_time = self.tick_step()
        out = []
        for t in range(int(first // step) * step, int(last) + step, step):
            label = str(t)
            if as_time:
                minutes, seconds = divmod(t / self.fps, 60)
                precise = step < self.fps  # sub-second steps show tenths
                label = f"{minutes:.0f}:{seconds:04.1f}" if precise else f"{minutes:.0f}:{seconds:02.0f}"
            out.append((t, label))
        return out


@dataclass(frozen=True)
class Hit:
    """What is under the cursor: an interval of a track and which part of it."""

    track: str
    interval_id: str
    part: str  # "onset", "apex", "offset" or "body"


def hit_at(
    lanes: list[Lane], geometry: TimelineGeometry, x: float, y: float, selected: str | None = None
) -> Hit | None:
    """The interval (and handle) at ``(x, y)``: handles within :data:`HANDLE_PX` before bodies,
    the ``selected`` interval's before the others', then the nearest."""
    row = geometry.row_at(y, len(lanes))
    if row is None or x < LABEL_W:
        return None
    lane = lanes[row]
    tolerance = HANDLE_PX / geometry.scale
    frame = geometry.frame_at(x)
    found: list[tuple[int, float, Hit]] = []  # (rank, pixels away, hit)
    for i in lane.visible(frame - tolerance - 1, frame + tolerance + 1).tolist():
        interval_id = lane.ids[i]
        rank = 0 if interval_id == selected else 1
        if lane.editable:
            handles = [("onset", lane.onset[i]), ("offset", lane.offset[i] + 1)]
            if lane.apex[i] >= 0:
                handles.append(("apex", lane.apex[i] + 0.5))
            for part, edge in handles:
                distance = abs(geometry.x_of(edge) - x)
                if distance <= HANDLE_PX:
                    found.append((rank, distance, Hit(lane.name, interval_id, part)))
        if lane.onset[i] <= frame < lane.offset[i] + 1:
            found.append((rank + 2, 0.0, Hit(lane.name, interval_id, "body")))
    return min(found, key=lambda item: item[:2])[2] if found else None
