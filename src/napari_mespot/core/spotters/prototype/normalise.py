"""Scale-free matching curves: each AU's curve divided by its video's own noise floor (ours).

The matching index p = Σ F∘M (eq. 22) is a flow magnitude times a prototype: it grows with how
far a face moves, how noisy the flow is (compression, sensor noise, blur, frame rate), how
much the face moves besides expressing (talking, head motion the compensation leaves), and
with the prototype's own magnitude. Thresholds in its units therefore hold only for footage
like the training videos. The regions are already cut to fixed sizes around the eyes and the
mouth (eq. 9–12), so the flow is in units of the face, not of the image: face size and
resolution drop out of the index; what remains is the footage's own fluctuation level, which
this module measures and divides out.

The noise floor is measured on what eq. 24 thresholds: the low-pass-filtered curve of each
window, before negative values are clipped, each window's reference frame left out (0 by
definition). For every AU, each second of curve gives a robust spread (1.4826 × its median
absolute deviation from the second's own median: the standard deviation of normally
distributed values with the same MAD), and the AU's spread is the median over the seconds.
Clips too short for six such pieces are cut into shorter ones (:func:`floor_block`).
Why one second: eq. 24's margin is a rise within the search radius m (1 s), so the fluctuation
that competes with an expression is the curve's fluctuation within about a second. Why the
median over seconds: an expression's onset or offset makes a few seconds fluctuate strongly,
while a held expression or a slow drift moves the curve's level but not its fluctuation
within a second — so the spread stays what the video does when nothing starts or ends, even
in a clip that is expressive throughout (where the spread of the whole curve would measure
the expressions themselves and hide them).

The AUs of one region see the same flow: each curve is that flow projected on a prototype,
whose norm ‖M_j‖ sets the curve's units. The region's floor is therefore measured through all
its AUs at once — the median over them of spread / ‖M‖, so one AU busy with an expression (or
a blink) does not move it — and given back to each AU in its own units: floor_j = ‖M_j‖ ×
that median. A threshold on the divided curve (eq. 24's margin in units of that floor) is
*relative*: the same number means "this far above this video's own fluctuation" at any flow
noise, motion level, face size or frame rate. The per-AU thresholds, calibrated in these
units, absorb each AU's own ratio of spread to norm.

Scaling a video's curves by k scales every spread by k: the normalised curves are identical.
A curve that does not vary (no motion at all) has a zero floor and normalises to 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_mespot.core.spotters.prototype.matching import CURVE_UNIT

#: ``off`` keeps the matching index's own units (the paper's absolute θ_j); ``floor`` divides
#: each AU's curve by its video's noise floor.
NORMALISATIONS = ("off", "floor")
#: What normalised curves (and the thresholds calibrated on them) are measured in.
FLOOR_UNIT = "× noise floor"
#: The stretch of curve whose spread is one sample of the floor (eq. 24's search radius).
FLOOR_SPAN_S = 1.0
#: The fewest pieces a floor is taken from, and the shortest a piece may become to give them.
FLOOR_PIECES = 6
FLOOR_SHORTEST_S = 0.25
#: MAD → standard deviation for normally distributed values.
MAD_TO_SD = 1.4826


def robust_scale(curves: Sequence[np.ndarray]) -> np.ndarray:
    """Per row, 1.4826 × the MAD of the values of ``curves`` (each (V, T_k)) pooled; NaN ignored.

    Rows without a finite value get 0 (nothing to measure).
    """
    if not curves:
        raise ValueError("no curves to measure a scale on")
    pooled = np.concatenate([np.asarray(c, dtype=np.float64) for c in curves], axis=1)
    scale = np.zeros(pooled.shape[0])
    for v, row in enumerate(pooled):
        row = row[np.isfinite(row)]
        if row.size:
            scale[v] = MAD_TO_SD * float(np.median(np.abs(row - np.median(row))))
    return scale


def noise_floor(curves: Sequence[np.ndarray], block: int) -> np.ndarray:
    """Per row, the median over every ``block``-frame piece of ``curves`` (each (V, T_k), pieces
    cut from each curve's start) of the piece's robust spread (1.4826 × MAD about its median).

    Curves shorter than one piece give :func:`robust_scale` of all their values instead.
    """
    if block < 2:
        raise ValueError(f"a piece needs at least 2 frames, got {block}")
    spreads = []
    for c in curves:
        c = np.asarray(c, dtype=np.float64)
        pieces = c.shape[1] // block
        if pieces:
            x = c[:, : pieces * block].reshape(c.shape[0], pieces, block)
            spreads.append(MAD_TO_SD * np.median(np.abs(x - np.median(x, axis=2, keepdims=True)), axis=2))
    if not spreads:
        return robust_scale(curves)
    return np.median(np.concatenate(spreads, axis=1), axis=1)


def video_floor(
    filtered: Sequence[np.ndarray], fps: float, norms: np.ndarray, regions: Sequence[str]
) -> np.ndarray:
    """The noise floor (one value per AU) of a video from its windows' filtered curves (each
    window's reference frame left out): per region, ``norms`` (‖M_j‖) times the median over
    the region's AUs of their spread (:func:`noise_floor`) over their norm. Zeros without a window."""
    norms = np.asarray(norms, dtype=np.float64)
    if not filtered:
        return np.zeros(len(norms))
    curves = [f[:, 1:] for f in filtered]
    spread = noise_floor(curves, floor_block(sum(c.shape[1] for c in curves), fps))
    floor = np.zeros(len(norms))
    for region in dict.fromkeys(regions):
        rows = [v for v, r in enumerate(regions) if r == region and norms[v] > 0]
        if rows:
            floor[rows] = norms[rows] * float(np.median(spread[rows] / norms[rows]))
    return floor


def floor_block(frames: int, fps: float) -> int:
    """Frames per piece of a floor measured on ``frames`` frames of curve: FLOOR_SPAN_S, or
    shorter (down to FLOOR_SHORTEST_S) so that there are at least FLOOR_PIECES pieces.

    Why: the median over pieces ignores the seconds an expression starts or ends in only when
    most seconds do neither. A clip of two or three seconds has two or three pieces and the
    expression in most of them, so its floor measured the expression (up to 17× the floor of
    the video it was cut from, development seed 3000) and hid it. Shorter pieces see less of
    the curve's slow drift, so such a clip's floor is somewhat lower than a long video's: the
    thresholds (calibrated on 30-s videos, whose pieces stay 1 s) then err towards finding.
    Six pieces were chosen on 45 clips of 2–4 s cut around the expressions of development seed
    3000 (data/README.md); videos longer than about 6 s are not affected.
    """
    span = FLOOR_SPAN_S * fps
    shortest = FLOOR_SHORTEST_S * fps
    return max(2, round(min(span, max(shortest, frames / FLOOR_PIECES))))


def normalised(curves: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``curves`` (V, T) divided row by row by ``scale`` (V,); rows with a zero scale become 0."""
    curves = np.asarray(curves, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    out = np.zeros_like(curves)
    ok = scale > 0
    out[ok] = curves[ok] / scale[ok, None]
    return out


def curve_unit(normalise: str) -> str:
    """What the curves and thresholds of a run with this ``normalise`` setting measure."""
    return CURVE_UNIT if normalise == "off" else FLOOR_UNIT
