"""From matching curves to expression intervals (AU-prototype paper, §2.4.2 and §3.2).

1. Each curve is low-pass filtered (Butterworth, zero-phase ``filtfilt``) and its negative values
   are set to 0 (§3.2: a negative match means motion *against* the prototype).
2. Peak points (eq. 24): frame ``i`` belongs to a peak of AU j when
   ``L[i] − min(L[i−m..i−1]) > θ_j`` and ``L[i] − min(L[i+1..i+m]) > θ_j``, m = frames in 1 s.
   We call ``min`` of the two differences the *margin*; a peak point is a margin above θ_j.
3. Consecutive peak points form one AU interval.
4. AU intervals are fused (eq. 25–26) while two of them overlap by μ > δ (δ = 0.33), where
   μ = overlap / length of the shorter one; the fused interval spans both.
5. Intervals of at most 0.5 s are micro-expressions, the others macro-expressions.

Clarifications where the paper is silent:

- **Curve edges (eq. 24).** Near a window's ends fewer than m neighbours exist; the minimum is
  taken over those that exist. A point with *no* neighbour on one side (the first or the last
  point of the curve) is never a peak point: nothing shows that the curve comes down there.
- **μ of eq. 25** divides by ``end − start``, which is 0 for a one-frame interval. We count
  frames inclusively (overlap frames / frames of the shorter interval, as
  :func:`napari_mespot.core.intervals.overlap_index`), which is defined for every interval and
  differs from the paper's count by one frame per term.
- **Fusion chains.** Fusion repeats until no pair exceeds δ, so A~B and B~C end as one interval
  even when A and C barely overlap; the result does not depend on the input order.
- **Boundaries.** The paper's interval is the run of peak points, which starts after the motion
  has risen by θ and stops before it has fully gone, so it is much shorter than a labelled
  onset..offset (IoU often < 0.5). ``boundaries="valleys"`` (an option, see the settings) widens
  each AU interval towards the neighbouring minima of its curve — where the motion starts and
  ends, which is what onset/offset labels mark — stopping early where the curve has come down
  to within ``level`` of the local floor (see :func:`widen_to_valleys`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_mespot.core.intervals import runs, type_by_duration

BOUNDARIES = ("peak-points", "valleys")


def lowpass(curves: np.ndarray, fps: float, cutoff_hz: float, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth low-pass along the last axis (a copy; input untouched).

    A cutoff at or above the Nyquist frequency (or ``cutoff_hz <= 0``) filters nothing. Curves
    too short for the filter's default padding are padded as much as their length allows.
    """
    from scipy.signal import butter, filtfilt

    x = np.asarray(curves, dtype=np.float64)
    nyquist = fps / 2.0
    if cutoff_hz <= 0 or cutoff_hz >= nyquist or x.shape[-1] < 2:
        return x.copy()
    b, a = butter(order, cutoff_hz / nyquist)
    padlen = min(3 * max(len(a), len(b)), x.shape[-1] - 1)
    return filtfilt(b, a, x, axis=-1, padlen=padlen)


def check_cutoff(cutoff_hz: float, fps: float) -> None:
    """``ValueError`` unless the low-pass cutoff is 0 (off) or below the Nyquist frequency.

    :func:`lowpass` leaves a curve unfiltered at or above Nyquist (there is nothing to remove);
    a spotting run asked for a filter it cannot have says so here rather than run without it.
    """
    nyquist = fps / 2.0
    if cutoff_hz < 0 or (cutoff_hz != 0 and cutoff_hz >= nyquist):
        raise ValueError(
            f"low-pass cutoff {cutoff_hz:g} Hz must lie in [0, {nyquist:g}) Hz, below the Nyquist "
            f"frequency of a {fps:g} fps video (0 turns the filter off)"
        )


def clip_negative(curves: np.ndarray) -> np.ndarray:
    """Values below 0 set to 0 (§3.2)."""
    return np.maximum(curves, 0.0)


def side_minima(curves: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 24's two neighbour minima, ``min(L[i−m..i−1])`` and ``min(L[i+1..i+m])``, per frame
    (``(..., T)`` each), the ranges cut at the curve's ends; ``+inf`` where a side has no neighbour."""
    if m < 1:
        raise ValueError(f"the search radius m must be at least 1, got {m}")
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(curves, dtype=np.float64)
    pad = [(0, 0)] * (x.ndim - 1)
    padded = np.pad(x, [*pad, (m, m)], constant_values=np.inf)
    views = sliding_window_view(padded, m, axis=-1)  # views[..., k, :] = padded[k : k + m]
    t = x.shape[-1]
    before = views[..., 0:t, :].min(axis=-1)  # padded[i : i + m] = L[i − m .. i − 1]
    after = views[..., m + 1 : m + 1 + t, :].min(axis=-1)  # padded[i + m + 1 : ...] = L[i + 1 .. i + m]
    return before, after


def peak_margin(curves: np.ndarray, m: int) -> np.ndarray:
    """Eq. 24's two differences, reduced to their minimum: ``(..., T)`` → ``(..., T)``.

    ``margin[i] = min(L[i] − min(L[i−m..i−1]), L[i] − min(L[i+1..i+m]))`` with the neighbour
    ranges cut at the curve's ends; ``-inf`` where one side has no neighbour at all.
    """
    x = np.asarray(curves, dtype=np.float64)
    before, after = side_minima(x, m)
    with np.errstate(invalid="ignore"):
        return np.minimum(x - before, x - after)


def peak_points(curves: np.ndarray, m: int, thresholds: np.ndarray | float) -> np.ndarray:
    """Boolean mask of eq. 24's peak points; ``thresholds`` broadcasts against ``curves[..., 0]``."""
    theta = np.asarray(thresholds, dtype=np.float64)
    return peak_margin(curves, m) > theta[..., None]


def widen_to_valleys(
    curve: np.ndarray, start: int, end: int, level: float = 0.0, noise: float = 0.0, reach: int = 0
) -> tuple[int, int]:
    """Move ``start`` left and ``end`` right while the curve keeps falling away from the run.

    With ``level`` > 0 a side also stops at the first frame at or below
    ``floor + level · (peak − floor)``, ``floor`` being the curve's minimum on that side of the
    run (within the window) and ``peak`` the run's maximum: a slowly drifting or still-settling
    curve then does not stretch the interval into neutral frames. With ``noise`` > 0 (ours: the
    curve's noise band, in its units) a side walks on over ripples smaller than ``noise`` —
    ending at the lowest frame reached once the curve has risen more than ``noise`` above it —
    and stops where the curve is back within ``noise`` of its floor, so where a boundary falls
    does not depend on ripples of the flow noise (or on a frame held for several frames of a
    high-rate video); 0 stops at the first frame that does not fall. With ``reach`` > 0 (ours)
    each side's floor is the minimum within ``reach`` frames of the run (eq. 24's search radius:
    the same minimum the run's margin rose from), not over the whole window, so an expression
    that rises from a plateau left by an earlier one is bounded where it leaves the plateau.
    """
    stop_b, stop_a = valley_stops(curve, start, end, level, noise, reach)
    return _walk_down(curve, start, -1, stop_b, noise), _walk_down(curve, end, 1, stop_a, noise)


def valley_stops(
    curve: np.ndarray, start: int, end: int, level: float = 0.0, noise: float = 0.0, reach: int = 0
) -> tuple[float, float]:
    """The levels at which :func:`widen_to_valleys` stops the run ``start..end`` on each side
    (``-inf``: none, without ``level`` and ``noise``)."""
    peak = float(curve[start : end + 1].max())
    before = curve[max(0, start - reach) : start] if reach > 0 else curve[:start]
    after = curve[end + 1 : end + 1 + reach] if reach > 0 else curve[end + 1 :]
    low_b = float(before.min()) if len(before) else peak
    low_a = float(after.min()) if len(after) else peak
    if level > 0 or noise > 0:
        return low_b + max(level * (peak - low_b), noise), low_a + max(level * (peak - low_a), noise)
    return -np.inf, -np.inf


def _walk_down(curve: np.ndarray, i: int, step: int, stop: float, tolerance: float) -> int:
    """From frame ``i`` in direction ``step``: the lowest frame reached before the curve rises
    ``tolerance`` above it or comes down to ``stop`` (see :func:`widen_to_valleys`)."""
    best = k = i
    while 0 <= k + step < len(curve) and curve[k + step] < curve[best] + tolerance and curve[best] > stop:
        k += step
        if curve[k] < curve[best]:
            best = k
    return best


@dataclass(frozen=True)
class AUInterval:
    """One AU's interval: frames ``start..end`` (inclusive), index of its curve, apex and score.

    ``apex`` is the frame of the curve's maximum inside the interval; ``score`` is the largest
    margin of the run divided by θ (> 1 for every detected interval: how clearly eq. 24 holds).
    """

    curve: int
    start: int
    end: int
    apex: int
    score: float

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def positive_thresholds(thresholds: np.ndarray, count: int) -> np.ndarray:
    """θ of the ``count`` curves as floats; ``ValueError`` naming the first that is not positive
    (eq. 24 with θ ≤ 0 would mark every frame a peak point)."""
    theta = np.asarray(thresholds, dtype=np.float64)
    for v in range(count):
        if not theta[v] > 0:
            raise ValueError(f"threshold of curve {v} must be positive, got {theta[v]}")
    return theta


def au_intervals(
    curves: np.ndarray,
    m: int,
    thresholds: np.ndarray,
    boundaries: str = "peak-points",
    level: float = 0.0,
    noise: float = 0.0,
    reach: int = 0,
) -> list[AUInterval]:
    """Every AU interval of the (V, T) filtered, clipped curves (eq. 24 plus run grouping)."""
    if boundaries not in BOUNDARIES:
        raise ValueError(f"boundaries must be one of {BOUNDARIES}, got {boundaries!r}")
    curves = np.asarray(curves, dtype=np.float64)
    theta = positive_thresholds(thresholds, curves.shape[0])
    margin = peak_margin(curves, m)
    out = []
    for v in range(curves.shape[0]):
        for start, end in runs(margin[v] > theta[v]):
            score = float(margin[v, start : end + 1].max() / theta[v])
            if boundaries == "valleys":
                start, end = widen_to_valleys(curves[v], start, end, level, noise, reach)
            apex = start + int(np.argmax(curves[v, start : end + 1]))
            out.append(AUInterval(v, start, end, apex, score))
    return out


def overlap_index(a: tuple[int, int], b: tuple[int, int]) -> float:
    """μ of eq. 25 on inclusive frame counts: shared frames / frames of the shorter interval."""
    shared = max(0, min(a[1], b[1]) - max(a[0], b[0]) + 1)
    return shared / min(a[1] - a[0] + 1, b[1] - b[0] + 1)


@dataclass(frozen=True)
class FusedInterval:
    """An expression: the union of fused AU intervals (eq. 26) and those members."""

    start: int
    end: int
    members: tuple[AUInterval, ...]

    @property
    def best(self) -> AUInterval:
        """The member with the highest score: it gives the apex and the score."""
        return max(self.members, key=lambda a: (a.score, -a.curve))

    @property
    def length(self) -> int:
        return self.end - self.start + 1


def fuse(intervals: Sequence[AUInterval], delta: float = 0.33) -> list[FusedInterval]:
    """Fuse AU intervals while any two overlap with μ > δ (eq. 25–26), in time order."""
    groups = [
        FusedInterval(a.start, a.end, (a,))
        for a in sorted(intervals, key=lambda a: (a.start, a.end, a.curve))
    ]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i], groups[j]
                if overlap_index((a.start, a.end), (b.start, b.end)) > delta:
                    groups[i] = FusedInterval(min(a.start, b.start), max(a.end, b.end), a.members + b.members)
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return sorted(groups, key=lambda g: (g.start, g.end))


def expression_type(length: int, fps: float, me_max_s: float = 0.5) -> str:
    """``me`` for intervals of at most ``me_max_s`` seconds (inclusive frames), else ``mae``."""
    return type_by_duration(length, fps, me_max_s)
