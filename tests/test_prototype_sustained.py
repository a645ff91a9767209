"""The sustained-motion path (``sustained``, ours): expressions held longer than eq. 24's search
radius, cut by the end of the analysed frames, or running across a window boundary.

Every expected interval below is worked out by hand from the curve in the comment next to it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes
from napari_mespot.core.spotters.prototype.peaks import au_intervals
from napari_mespot.core.spotters.prototype.spotter import _Detector
from napari_mespot.core.spotters.prototype.sustained import sustained_intervals
from napari_mespot.core.spotters.prototype.walk import Window

M, THETA = 3, np.array([4.0])
#: Valleys with a noise band of 1 and the floor looked for within m frames, as ``robust``.
VALLEYS = dict(boundaries="valleys", level=0.2, noise=1.0, reach=M)

#: Frames 0..4 at rest, a rise over frames 5..6, held at 10 (a dip to 5 at frame 10) to frame
#: 15, half down at 16, at rest from 17.
PLATEAU = np.array(
    [0, 0, 0, 0, 0, 5, 10, 10, 10, 10, 5, 10, 10, 10, 10, 10, 5, 0, 0, 0, 0, 0, 0, 0, 0], float
)


def _spans(intervals) -> list[tuple[int, int]]:
    return [(a.start, a.end) for a in intervals]


def test_eq_24_alone_finds_only_fragments_of_a_plateau_longer_than_its_radius():
    # Peak points only where the dip to 5 lies within 3 frames: 7..8 (10 − 0 before, 10 − 5
    # after) and 13 (10 − 5 on both sides); within the rest of the plateau one side's minimum is
    # the plateau itself. Valleys: 7..8 widens to 4 (0) and to the dip (10: the floor after is
    # 5, stop at 6); 13 to the dip and to 16 (5 ≤ 6). Overlapping by one frame in 7, they stay
    # two fragments (μ 1/7 < δ).
    assert _spans(au_intervals(PLATEAU[None], M, THETA, **VALLEYS)) == [(4, 10), (10, 16)]


def test_a_held_expression_runs_from_its_rise_to_its_return():
    # Rise (L − min of the 3 frames before > 4) from frame 5 (5 − 0); floor 0; held while
    # L > 0 + 0.5·4 = 2: frames 5..16 (12 > 3 frames). The rise at frame 11 (10 − 5 after the
    # dip) lies inside the hold and starts nothing. Valleys (peak 10, stop at 0 + 0.2·10 = 2):
    # left from 5 to frame 4 (0), right from 16 to frame 17 (0).
    found = sustained_intervals(PLATEAU[None], M, THETA, **VALLEYS)
    assert _spans(found) == [(4, 17)]
    assert found[0].apex == 6  # the first frame at the maximum
    assert found[0].score == pytest.approx(10 / 4)  # the largest rise over θ
    # Without widening: the rise to the last held frame.
    assert _spans(sustained_intervals(PLATEAU[None], M, THETA)) == [(5, 16)]


def test_an_expression_cut_by_the_end_of_the_curve_ends_on_its_last_frame():
    # The plateau's first 15 frames: held from 5 to the last frame (14), 10 frames > 3.
    cut = PLATEAU[:15]
    # Eq. 24 keeps the fragment before the dip only (after 13 there is one frame, at 10).
    assert _spans(au_intervals(cut[None], M, THETA, **VALLEYS)) == [(4, 10)]
    assert _spans(sustained_intervals(cut[None], M, THETA, **VALLEYS)) == [(4, 14)]


def test_a_rise_that_comes_back_within_the_radius_is_left_to_eq_24():
    # 10 on frames 5..6 only: held 2 frames (≤ 3); eq. 24 finds it (margin 10 on both sides).
    blip = np.zeros(15)
    blip[5:7] = 10
    assert sustained_intervals(blip[None], M, THETA, **VALLEYS) == []
    assert _spans(au_intervals(blip[None], M, THETA, **VALLEYS)) == [(4, 7)]


def test_a_small_rise_is_nothing():
    # Rises by 4 (not more than θ): neither the rise nor the hold condition starts anything.
    step = np.where(np.arange(20) >= 5, 4.0, 0.0)
    assert sustained_intervals(step[None], M, THETA, **VALLEYS) == []


# -- windows: the robust preset's fixed walk (N = 210 frames at 30 fps, step 105, m = 30) ------

FPS, N_FRAMES = 30.0, 400


def _motion(*pieces: tuple[int, int, int]) -> np.ndarray:
    """An AU's displacement along its prototype: for every (rise, hold_end, level) it ramps
    linearly from frame ``rise`` (2 per frame) up to ``level`` and stays there to ``hold_end``."""
    g = np.zeros(N_FRAMES)
    for rise, hold_end, level in pieces:
        ramp = np.minimum(2.0 * (np.arange(N_FRAMES) - rise + 1), level)
        g[rise : hold_end + 1] = ramp[rise : hold_end + 1]
    return g


def _detect(g: np.ndarray, windows: list[tuple[int, int, bool]], sustained: bool = True):
    """Feed the detector the curves a window sees of motion ``g`` in AU 1's row: the motion since
    the window's reference frame (its first), negative values clipped, as eq. 22 after §3.2;
    every θ_j = 5 floors."""
    prototypes = default_prototypes("robust")
    settings = replace(PRESETS["robust"], thresholds=dict.fromkeys(prototypes.aus, 5.0), sustained=sustained)
    detector = _Detector(prototypes, settings, np.full(len(prototypes), 5.0), FPS, N_FRAMES)
    for start, end, final in windows:
        curves = np.zeros((len(prototypes), end - start + 1))
        curves[0] = np.maximum(g[start : end + 1] - g[start], 0.0)
        window = Window(start, end, curves, final)
        detector.window(window, curves, fixed_next=detector.fixed(window))
    return [(iv.onset, iv.offset) for iv in detector.intervals]


def test_an_expression_across_a_window_boundary_is_one_interval():
    # Motion: 0 to frame 99, 2, 4, .. 20 on frames 100..109, held at 20 to frame 259, 0 from 260.
    g = _motion((100, 259, 20))
    windows = [(0, 209, False), (105, 314, False), (210, 399, True)]
    # Window 0 (reference 0): rise > 5 first at frame 102 (6), held (> 2.5) to its last frame
    # 209; valleys stop at 0 + 0.2·20 = 4: frame 101. Starting before the next window
    # (101 − 15 < 105), it is reported as 101-209, up to the window's last frame.
    # Window 1 (reference 105, inside it, where the motion is 12): the curve is 0, 2, 4, 6, 8,
    # held at 8 to 259: not looked at for sustained motion (the reference is not at rest), and
    # eq. 24 sees no peak. Window 2 (reference 210, inside the hold): 0 throughout.
    assert _detect(g, windows) == [(101, 209)]
    # Eq. 24 alone finds nothing on the held motion.
    assert _detect(g, windows, sustained=False) == []


def test_a_reference_inside_an_expression_starts_no_sustained_interval():
    # A held expression (rise at 60, held to 170, back to 0 from 171) seen by window 0, and a
    # window starting inside it (105): there the way back is a fall below the reference (clipped
    # to 0) — shown here as the worst case, a held rise of another AU from 171 on (row 1: the
    # return projecting onto another prototype), which must not be reported.
    g = _motion((60, 170, 20))
    prototypes = default_prototypes("robust")
    settings = replace(PRESETS["robust"], thresholds=dict.fromkeys(prototypes.aus, 5.0))
    detector = _Detector(prototypes, settings, np.full(len(prototypes), 5.0), FPS, N_FRAMES)
    for start, end, final in [(0, 209, False), (105, 314, False)]:
        curves = np.zeros((len(prototypes), end - start + 1))
        curves[0] = np.maximum(g[start : end + 1] - g[start], 0.0)
        curves[1] = np.where(np.arange(start, end + 1) > 170, 20.0, 0.0) if start > 0 else 0.0
        window = Window(start, end, curves, final)
        detector.window(window, curves, fixed_next=detector.fixed(window))
    # Window 0: rise at 62, held to 170, valleys 61 and 171 (0). Window 1 adds nothing.
    assert [(iv.onset, iv.offset) for iv in detector.intervals] == [(61, 171)]


def test_no_interval_starts_inside_an_unreliable_span():
    # An occlusion makes frames 150..199 unreliable: the walk ends a (final) window at 149 and
    # starts the next on 200. The motion rises at 100 (held to 159), comes back during the
    # occlusion and rises again at 240 (held to 330).
    g = _motion((100, 159, 20), (240, 330, 20))
    windows = [(0, 149, True), (200, 399, True)]
    # Window 0: held from the rise at 102 to its last frame, 149: 101-149 (as above).
    # Window 1 (reference 200, motion 0): rise at 242, valleys to 241 and to 331 (0).
    spans = _detect(g, windows)
    assert spans == [(101, 149), (241, 331)]
    assert not any(150 <= onset <= 199 for onset, _ in spans)


def test_the_presets_that_use_it():
    assert PRESETS["robust"].sustained
    assert not any(PRESETS[name].sustained for name in ("paper", "recommended", "fast"))
