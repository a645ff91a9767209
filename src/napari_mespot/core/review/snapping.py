"""Snapping a candidate's boundaries to the motion curve: where it leaves and regains its baseline.

An annotator scrubbing frame by frame for the first frame of a 1-px movement is slow and
inconsistent; the spotter's curve already says where the motion rises. Snapping asks it:

- **Baseline**: a robust local floor — the median of the curve over ``±window_s`` around the
  current frame, and its spread, the MAD scaled to a normal σ (×1.4826). A movement fills a
  minority of such a window, so neither moves with it.
- **Movement**: frames above ``floor + k_high·spread`` are clearly moving; the movement nearest
  the current frame (containing it, or within ``search_s``) is widened to the frames above
  ``floor + k_low·spread`` around it (hysteresis). The high level keeps noise from starting a
  movement; the low level puts the boundaries where the curve actually departs from the floor
  rather than where it crossed the high level, frames later on a gradual rise.
- **Onset** is the movement's first frame above the low level, **offset** its last; the **apex**
  is the curve's maximum within an interval (the first frame on a tie).

Frames the spotter skipped (NaN) are never part of a movement and are left out of the floor.
Everything is in frames; the windows are in seconds so the same settings work at any fps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_mespot.core.review.model import ReviewError

#: Half-width of the baseline window: wider than a macro-expression's rise (a movement must stay
#: a minority of the window), narrower than the slow drifts of a long video's curves.
DEFAULT_WINDOW_S = 2.0
#: How far from the current frame a movement is looked for when the frame is not inside one.
DEFAULT_SEARCH_S = 0.5
#: Levels above the floor, in spreads: clearly moving (3σ of the baseline noise) and departed (1σ).
DEFAULT_K_HIGH = 3.0
DEFAULT_K_LOW = 1.0
#: MAD → σ of a normal distribution.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Baseline:
    """The local floor of a curve and the levels that mean "departed" and "clearly moving"."""

    floor: float
    spread: float
    low: float
    high: float


@dataclass(frozen=True)
class Movement:
    """A run of the curve above its baseline: inclusive frames, and the baseline it rose from."""

    onset: int
    offset: int
    apex: int
    baseline: Baseline


def _check_curve(curve: np.ndarray, frame: int) -> np.ndarray:
    curve = np.asarray(curve, dtype=np.float64)
    if curve.ndim != 1:
        raise ReviewError(f"snapping needs one curve (1-D), got shape {curve.shape}")
    if not 0 <= frame < len(curve):
        raise ReviewError(f"frame {frame} is outside the curve's {len(curve)} frames")
    return curve


def local_baseline(
    curve: np.ndarray,
    frame: int,
    fps: float,
    window_s: float = DEFAULT_WINDOW_S,
    k_low: float = DEFAULT_K_LOW,
    k_high: float = DEFAULT_K_HIGH,
) -> Baseline | None:
    """The floor of ``curve`` over ``±window_s`` around ``frame``; ``None`` if it has no value there."""
    curve = _check_curve(curve, frame)
    half = max(1, round(window_s * fps))
    values = curve[max(0, frame - half) : frame + half + 1]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    floor = float(np.median(values))
    spread = float(np.median(np.abs(values - floor))) * _MAD_TO_SIGMA
    return Baseline(floor, spread, floor + k_low * spread, floor + k_high * spread)


def movement_near(
    curve: np.ndarray,
    frame: int,
    fps: float,
    *,
    window_s: float = DEFAULT_WINDOW_S,
    search_s: float = DEFAULT_SEARCH_S,
    k_low: float = DEFAULT_K_LOW,
    k_high: float = DEFAULT_K_HIGH,
) -> Movement | None:
    """The movement of ``curve`` nearest ``frame`` (containing it, or starting or ending within
    ``search_s``), or ``None`` when the curve stays at its baseline there."""
    if not k_high >= k_low >= 0:
        raise ReviewError(f"snapping needs k_high >= k_low >= 0, got {k_high} and {k_low}")
    curve = _check_curve(curve, frame)
    baseline = local_baseline(curve, frame, fps, window_s, k_low, k_high)
    if baseline is None:
        return None
    finite = np.isfinite(curve)
    strong, n_strong = ndimage.label(finite & (curve > baseline.high))
    if n_strong == 0:
        return None
    spans = ndimage.find_objects(strong)
    starts = np.array([s[0].start for s in spans])
    ends = np.array([s[0].stop - 1 for s in spans])
    distance = np.maximum(0, np.maximum(starts - frame, frame - ends))
    nearest = int(np.argmin(distance))  # the earliest of equally near ones
    if distance[nearest] > round(search_s * fps):
        return None
    departed, _ = ndimage.label(finite & (curve > baseline.low))
    run = np.flatnonzero(departed == departed[starts[nearest]])
    onset, offset = int(run[0]), int(run[-1])
    return Movement(onset, offset, snap_apex(curve, onset, offset), baseline)


def snap_onset(curve: np.ndarray, frame: int, fps: float, **settings: float) -> int | None:
    """Where the movement near ``frame`` leaves the baseline (see :func:`movement_near`)."""
    found = movement_near(curve, frame, fps, **settings)
    return None if found is None else found.onset


def snap_offset(curve: np.ndarray, frame: int, fps: float, **settings: float) -> int | None:
    """Where the movement near ``frame`` is back at the baseline: its last frame above it."""
    found = movement_near(curve, frame, fps, **settings)
    return None if found is None else found.offset


def snap_apex(curve: np.ndarray, onset: int, offset: int) -> int | None:
    """The frame of the curve's maximum within ``onset..offset`` (``None``: no value there)."""
    curve = np.asarray(curve, dtype=np.float64)
    if not 0 <= onset <= offset < len(curve):
        raise ReviewError(f"interval {onset}–{offset} is outside the curve's {len(curve)} frames")
    part = curve[onset : offset + 1]
    if not np.isfinite(part).any():
        return None
    return onset + int(np.nanargmax(part))


def evidence_curve(
    curves: np.ndarray, labels: Sequence[str], thresholds: np.ndarray, chosen: Sequence[str] | None = None
) -> np.ndarray:
    """One curve from a spot result's (``SpotResult.curves``, ``curve_labels``, ``thresholds``):
    each chosen curve (default: all) divided by its threshold, so curves of different AUs or
    classes share a scale, and the largest taken at each frame. Curves without a usable
    threshold (NaN, ≤ 0) are left out; NaN where no chosen curve has a value."""
    labels = list(labels)
    names = labels if chosen is None else list(chosen)
    unknown = sorted(set(names) - set(labels))
    if unknown:
        raise ReviewError(f"no curve(s) {unknown} in this result (it has {', '.join(labels)})")
    rows = [labels.index(name) for name in names]
    rows = [r for r in rows if np.isfinite(thresholds[r]) and thresholds[r] > 0]
    if not rows:
        raise ReviewError(f"none of the curves {names} has a threshold to scale it by")
    scaled = np.asarray(curves, dtype=np.float64)[rows] / np.asarray(thresholds, dtype=np.float64)[rows, None]
    out = np.full(scaled.shape[1], np.nan)
    has_value = np.isfinite(scaled).any(axis=0)
    out[has_value] = np.nanmax(scaled[:, has_value], axis=0)
    return out
