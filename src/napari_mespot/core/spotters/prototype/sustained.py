"""A second detection path for sustained motion: expressions held longer than eq. 24 can see (ours).

Eq. 24 makes frame ``i`` a peak point only when the curve is more than θ_j above its minimum
within m frames on *both* sides: the motion must come back down within the search radius
(1 s). An expression whose apex is held for longer — a smile of several seconds, common in
CAS(ME)³ and SAMM — or one cut by the end of the clip gives no peak point in the middle of its
plateau, only fragments where ripples dip, and the valley widening then stops at those ripples.

This path keeps eq. 24's evidence for a start (the before-side difference of eq. 24 above θ_j:
the curve rose by more than θ_j within m frames) and replaces the after-side difference, which
a plateau never gives, by the curve staying up:

1. A *rise* is a run of frames whose before-side difference ``L[i] − min(L[i−m..i−1])`` exceeds
   θ_j; its *floor* is that minimum at the run's first frame, which must have all m frames
   before it in the curve: a floor seen on fewer frames is mostly the reference frame's 0 (0
   by definition), and a curve that leaves it at once measures how unlike its neighbours the
   reference frame is (a blink, a shake), not an expression.
2. The expression is *held* while the curve stays above ``floor + HOLD_FRACTION · θ_j``, from
   the rise on (the frames where it has kept at least half of the rise that marked it).
3. Held for more than m frames (longer than eq. 24's search radius, so eq. 24 cannot see it
   end), it is a sustained interval: from the rise to the last held frame, its boundaries
   placed as eq. 24's runs' (:func:`~.peaks.widen_to_valleys`): where the curve comes down to
   the valley's stop (the noise band, or ``level`` of the height) — so a slow, low tail
   below that stop but above the hold level does not stretch the end, which would then move
   with the footage's noise. A hold that lasts to the curve's last frame (the
   window's, hence the clip's or the segment's, last analysed frame) ends there: a truncated
   expression, which MEGC labels keep.
4. A rise within an interval already found starts nothing new (a ripple on the plateau).

Its intervals join eq. 24's before fusion (eq. 25–26), so an expression found by both paths
is one interval. Its ``score`` is the largest before-side difference over θ_j.

The windows (:mod:`.windows`, :mod:`.walk`): the spotter runs this path only in a window whose
reference frame (its first) lies in no interval already reported. A reference inside an
expression makes the expression's return to neutral a motion away from the reference that
then lasts — and the way back projects onto other AUs' prototypes (the relaxing of a dimpler
matches a smile), so it would look like a held rise of another AU; eq. 24 is immune (that
motion never comes back). Hence an expression is seen by the window that starts before it and
reported once; held past that window's last frame, it is reported up to that frame (the next
window's reference lies inside it). With windows of 7 s stepping by 3.5 s, an expression that
starts at least a second into the window that reports it keeps at least 3 s. No window
contains an unreliable frame, so no interval of this path starts or lies inside one: cut by
one, it ends on the last frame before it, like an expression cut by the clip's end.

θ_j keeps its meaning: it is the rise eq. 24 asks for on each side, chosen by the calibration
on eq. 24's margins (:mod:`.calibration`); the path shapes no curve and no threshold.
"""

from __future__ import annotations

import numpy as np

from napari_mespot.core.intervals import runs
from napari_mespot.core.spotters.prototype.peaks import (
    AUInterval,
    positive_thresholds,
    side_minima,
    valley_stops,
    widen_to_valleys,
)

#: The share of the rise θ_j a held expression keeps above the floor it rose from.
HOLD_FRACTION = 0.5


def rise_margin(curves: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 24's before-side difference ``L[i] − min(L[i−m..i−1])`` and that minimum, per frame
    (``(..., T)`` each); the first frame, with nothing before it, gets ``-inf`` and ``+inf``."""
    x = np.asarray(curves, dtype=np.float64)
    floor, _ = side_minima(x, m)
    with np.errstate(invalid="ignore"):
        return x - floor, floor


def sustained_intervals(
    curves: np.ndarray,
    m: int,
    thresholds: np.ndarray,
    boundaries: str = "peak-points",
    level: float = 0.0,
    noise: float = 0.0,
    reach: int = 0,
) -> list[AUInterval]:
    """Every sustained interval of the (V, T) filtered, clipped curves (see the module docstring);
    ``boundaries``, ``level``, ``noise`` and ``reach`` as for eq. 24's runs."""
    curves = np.asarray(curves, dtype=np.float64)
    theta = positive_thresholds(thresholds, curves.shape[0])
    rise, floor = rise_margin(curves, m)
    last = curves.shape[-1] - 1
    out = []
    for v in range(curves.shape[0]):
        covered = -1
        for start, _ in runs(rise[v] > theta[v]):
            if start < m or start <= covered:
                continue
            held = curves[v, start:] > floor[v, start] + HOLD_FRACTION * theta[v]
            end = start + (int(np.argmin(held)) - 1 if not held.all() else len(held) - 1)
            if end - start + 1 <= m:
                continue
            score = float(rise[v, start : end + 1].max() / theta[v])
            lo, hi = start, end
            if boundaries == "valleys":
                if end < last:  # the end as eq. 24's: where the fall reaches the valley's stop
                    _, stop = valley_stops(curves[v], start, end, level, noise, reach)
                    while end > start and curves[v, end] <= stop:
                        end -= 1
                lo, hi = widen_to_valleys(curves[v], start, end, level, noise, reach)
            apex = lo + int(np.argmax(curves[v, lo : hi + 1]))
            out.append(AUInterval(v, lo, hi, apex, score))
            covered = end
    return out
