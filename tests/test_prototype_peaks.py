"""Eq. 24–26 and the typing rule on small hand-made curves (expected values worked out by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.intervals import runs
from napari_mespot.core.spotters.prototype.peaks import (
    AUInterval,
    au_intervals,
    clip_negative,
    expression_type,
    fuse,
    lowpass,
    overlap_index,
    peak_margin,
    peak_points,
    widen_to_valleys,
)


def test_peak_rule_single_spike():
    curve = np.array([0.0, 0.0, 5.0, 0.0, 0.0])
    # i=2: 5 - min(0) = 5 on both sides; the ends have no neighbour on one side.
    assert peak_margin(curve, 1).tolist() == [-np.inf, -5.0, 5.0, -5.0, -np.inf]
    assert peak_points(curve, 1, 4.0).tolist() == [False, False, True, False, False]
    assert not peak_points(curve, 1, 5.0).any()  # strictly greater than θ


def test_search_radius_changes_the_minimum():
    curve = np.array([0.0, 1.0, 2.0, 6.0, 2.0, 1.0, 0.0])
    # m=1: 6 - 2 = 4 on both sides; m=2: 6 - min(1, 2) = 5.
    assert peak_margin(curve, 1)[3] == pytest.approx(4.0)
    assert peak_margin(curve, 2)[3] == pytest.approx(5.0)
    assert not peak_points(curve, 1, 4.5)[3]
    assert peak_points(curve, 2, 4.5)[3]


def test_edges_use_the_neighbours_that_exist():
    # i=1 has one previous value (0) though m=2, and two next values (0, 0): margin 4.
    curve = np.array([0.0, 4.0, 0.0, 0.0, 0.0])
    assert peak_margin(curve, 2)[1] == pytest.approx(4.0)
    # The first and last points can never be peaks, however high.
    edge = np.array([9.0, 0.0, 0.0, 9.0])
    assert not peak_points(edge, 2, 1.0)[[0, 3]].any()


def test_peak_points_per_curve_thresholds():
    curves = np.array([[0.0, 3.0, 0.0], [0.0, 3.0, 0.0]])
    assert peak_points(curves, 1, np.array([2.0, 3.5])).tolist() == [
        [False, True, False],
        [False, False, False],
    ]


def test_runs():
    assert runs(np.array([False, True, True, False, True])) == [(1, 2), (4, 4)]
    assert runs(np.array([True, True])) == [(0, 1)]
    assert runs(np.zeros(3, bool)) == []


def test_au_intervals_apex_and_score():
    curves = np.array(
        [
            [0, 0, 2, 6, 4, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 3, 0, 0],
        ],
        dtype=float,
    )
    found = au_intervals(curves, 2, np.array([1.5, 2.0]))
    # Curve 0: frame 2 has 2 - min(6, 4) < 0 after it; frame 3: min(6 - 0, 6 - 0) = 6;
    # frame 4: min(4 - min(2, 6), 4 - 0) = 2 -> run 3..4, apex 3, score 6 / 1.5.
    # Curve 1: margin 3 at frame 7 -> run 7..7, score 3 / 2.
    assert found == [AUInterval(0, 3, 4, 3, 4.0), AUInterval(1, 7, 7, 7, 1.5)]


def test_valleys_widen_to_the_neighbouring_minima():
    curve = np.array([3.0, 1.0, 0.0, 2.0, 5.0, 4.0, 1.0, 0.0, 0.5])
    assert widen_to_valleys(curve, 4, 4) == (2, 7)
    found = au_intervals(curve[None], 2, np.array([2.5]), boundaries="valleys")
    assert [(a.start, a.end, a.apex) for a in found] == [(2, 7, 4)]


def test_valleys_stop_at_the_level_above_the_local_floor():
    curve = np.array([0, 0, 1, 1.5, 2, 10, 2, 1, 0.5, 0, 0], dtype=float)
    assert widen_to_valleys(curve, 5, 5) == (1, 9)  # level 0: all the way down both slopes
    # Both floors are 0: level 0.1 stops at the first frame <= 1 (frames 2 and 7), level 0.2 at
    # the first frame <= 2 (frames 4 and 6).
    assert widen_to_valleys(curve, 5, 5, level=0.1) == (2, 7)
    assert widen_to_valleys(curve, 5, 5, level=0.2) == (4, 6)
    drifting = np.array([5, 4, 3, 2, 1, 10, 9, 8, 7, 6], dtype=float)
    # Floors 1 (before) and 6 (after): stops at <= 1.9 and <= 6.4.
    assert widen_to_valleys(drifting, 5, 5, level=0.1) == (4, 9)


def test_overlap_index_inclusive():
    assert overlap_index((0, 9), (5, 14)) == pytest.approx(0.5)  # 5 shared of 10
    assert overlap_index((20, 29), (27, 40)) == pytest.approx(0.3)
    assert overlap_index((5, 5), (0, 10)) == 1.0  # one-frame interval inside the other
    assert overlap_index((0, 3), (4, 8)) == 0.0


def _iv(curve, start, end, score=2.0):
    return AUInterval(curve, start, end, start, score)


def test_fusion_threshold():
    fused = fuse([_iv(0, 0, 9), _iv(1, 5, 14), _iv(2, 20, 29), _iv(3, 27, 40)], 0.33)
    # 0.5 > 0.33 fuses the first pair; 0.3 keeps the second pair apart.
    assert [(g.start, g.end) for g in fused] == [(0, 14), (20, 29), (27, 40)]
    assert {a.curve for a in fused[0].members} == {0, 1}


def test_fusion_chain_is_order_independent():
    a, b, c = _iv(0, 0, 9), _iv(1, 6, 15), _iv(2, 12, 21)
    # a~b (4/10), then (a∪b)~c through b's overlap (12..15: 4/10); a and c share nothing.
    for order in ([a, b, c], [c, a, b], [b, c, a]):
        fused = fuse(order, 0.33)
        assert [(g.start, g.end) for g in fused] == [(0, 21)]
        assert len(fused[0].members) == 3


def test_fused_best_member_gives_apex_and_score():
    fused = fuse([AUInterval(0, 0, 9, 4, 1.5), AUInterval(1, 2, 9, 7, 3.0)], 0.33)
    assert fused[0].best.apex == 7 and fused[0].best.score == 3.0


def test_typing_half_second_rule():
    assert expression_type(15, 30.0) == "me"  # 0.5 s exactly
    assert expression_type(16, 30.0) == "mae"
    assert expression_type(100, 200.0) == "me"


def test_lowpass_and_clip():
    t = np.arange(120) / 30.0
    slow, fast = np.sin(2 * np.pi * 0.5 * t), np.sin(2 * np.pi * 12.0 * t)
    out = lowpass(np.stack([slow, fast]), 30.0, 5.0)
    assert np.abs(out[0, 20:-20] - slow[20:-20]).max() < 0.05  # 0.5 Hz passes
    assert np.abs(out[1, 20:-20]).max() < 0.1  # 12 Hz is removed
    assert np.array_equal(lowpass(fast, 30.0, 15.0), fast)  # cutoff at Nyquist: untouched
    assert lowpass(np.array([1.0, 2.0, 3.0]), 30.0, 5.0).shape == (3,)  # short curves work
    assert clip_negative(np.array([-1.0, 0.0, 2.0])).tolist() == [0.0, 0.0, 2.0]
