"""Snapping to the motion curve, on constructed curves whose answers are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.review.model import ReviewError
from napari_mespot.core.review.snapping import (
    evidence_curve,
    local_baseline,
    movement_near,
    snap_apex,
    snap_offset,
    snap_onset,
)

FPS = 10.0  # the default windows: baseline ±2 s = ±20 frames, search 0.5 s = 5 frames


def bump_curve() -> np.ndarray:
    """200 frames: a baseline alternating 0.0 (even frames) and 0.2 (odd), a bump at 100–109."""
    curve = np.where(np.arange(200) % 2, 0.2, 0.0)
    curve[100:110] = [0.3, 1, 2, 4, 8, 8, 4, 2, 1, 0.3]
    return curve


# Around frame 104 the window is frames 84–124 (41 values): 16 zeros, 15 × 0.2 and the bump.
# Sorted, the 21st value is 0.2 → floor 0.2. Deviations from it: 15 zeros (the 0.2s), 2 × 0.1,
# 16 × 0.2 (the zeros), then the bump's → the 21st is 0.2 → MAD 0.2, spread 0.2 × 1.4826 = 0.29652.
# low = 0.2 + 1 × 0.29652 = 0.49652; high = 0.2 + 3 × 0.29652 = 1.08956.
# Above high: 2, 4, 8, 8, 4, 2 = frames 102–107. Widened to the frames above low around it:
# 1 (101) and 1 (108) are, 0.3 (100, 109) and the baseline are not → onset 101, offset 108.
# Apex: the first 8, frame 104.


def test_baseline_by_hand():
    baseline = local_baseline(bump_curve(), 104, FPS)
    assert baseline.floor == pytest.approx(0.2)
    assert baseline.spread == pytest.approx(0.2 * 1.4826)
    assert (baseline.low, baseline.high) == pytest.approx((0.49652, 1.08956))


def test_the_movement_is_widened_from_the_clear_rise_to_where_the_curve_departs():
    found = movement_near(bump_curve(), 104, FPS)
    assert (found.onset, found.offset, found.apex) == (101, 108, 104)
    # one level (k_low = k_high = 3) would put the boundaries where the curve crossed it
    strict = movement_near(bump_curve(), 104, FPS, k_low=3.0)
    assert (strict.onset, strict.offset) == (102, 107)


def test_snapping_from_a_frame_before_the_movement_within_the_search_range():
    # From frame 97 (window 77–117: 15 zeros, 16 × 0.2, the bump → floor 0.2, MAD 0.2 again) the
    # clear rise starts 5 frames on, within the 0.5 s search: snapped. From 96 it is 6 frames on.
    curve = bump_curve()
    assert snap_onset(curve, 97, FPS) == 101 and snap_offset(curve, 97, FPS) == 108
    assert snap_onset(curve, 96, FPS) is None
    assert snap_onset(curve, 96, FPS, search_s=0.6) == 101


def test_the_answer_does_not_depend_on_the_curve_offset_or_scale():
    curve = bump_curve()
    moved = movement_near(curve * 10 + 5, 104, FPS)
    assert (moved.onset, moved.offset, moved.apex) == (101, 108, 104)


def test_a_flat_baseline_counts_every_frame_above_it():
    # floor 0, MAD 0: both levels are 0, the movement is every frame above 0.
    curve = np.zeros(100)
    curve[50:53] = [1, 2, 1]
    found = movement_near(curve, 49, FPS)
    assert (found.onset, found.offset, found.apex) == (50, 52, 51)
    assert movement_near(np.zeros(100), 50, FPS) is None


def test_skipped_frames_end_a_movement_and_stay_out_of_the_floor():
    curve = bump_curve()
    curve[105] = np.nan  # a frame without a face inside the bump
    found = movement_near(curve, 103, FPS)
    assert (found.onset, found.offset, found.apex) == (101, 104, 104)
    assert local_baseline(np.full(50, np.nan), 10, FPS) is None


def test_apex_is_the_first_maximum_within_the_interval():
    curve = bump_curve()
    assert snap_apex(curve, 100, 109) == 104
    assert snap_apex(curve, 105, 109) == 105
    assert snap_apex(curve, 90, 99) == 91  # 0.2 at odd frames: the first is 91
    with pytest.raises(ReviewError, match="outside"):
        snap_apex(curve, 190, 200)


def test_evidence_curve_scales_each_curve_by_its_threshold():
    curves = np.array([[2.0, 4.0, np.nan], [4.0, 4.0, np.nan], [9.0, 9.0, 9.0]])
    thresholds = np.array([2.0, 4.0, np.nan])
    # rows / thresholds: [1, 2, nan] and [1, 1, nan]; the third has no threshold and is left out
    out = evidence_curve(curves, ("AU4", "AU12", "AU1"), thresholds)
    assert out[:2].tolist() == [1.0, 2.0] and np.isnan(out[2])
    assert evidence_curve(curves, ("AU4", "AU12", "AU1"), thresholds, ["AU12"])[:2].tolist() == [1.0, 1.0]
    with pytest.raises(ReviewError, match="AU7"):
        evidence_curve(curves, ("AU4", "AU12", "AU1"), thresholds, ["AU7"])
    with pytest.raises(ReviewError, match="threshold"):
        evidence_curve(curves, ("AU4", "AU12", "AU1"), thresholds, ["AU1"])


def test_bad_input_is_refused():
    with pytest.raises(ReviewError, match="outside"):
        movement_near(np.zeros(10), 10, FPS)
    with pytest.raises(ReviewError, match="1-D"):
        movement_near(np.zeros((2, 10)), 1, FPS)
    with pytest.raises(ReviewError, match="k_high"):
        movement_near(np.zeros(10), 1, FPS, k_low=3, k_high=1)
