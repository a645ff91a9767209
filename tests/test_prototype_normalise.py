"""The per-video noise floor: scale-free, measured on each second's spread, robust to expressions."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.spotters.prototype.normalise import (
    MAD_TO_SD,
    floor_block,
    noise_floor,
    normalised,
    robust_scale,
    video_floor,
)


def _curves(seed: int = 0, n: int = 600, fps: float = 30.0) -> list[np.ndarray]:
    """Three windows of two AU curves: noise, a slow drift, and one burst of expression."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(3):
        t = np.arange(n // 3) / fps
        drift = 40.0 * t
        curve = np.stack([rng.normal(0, 5, t.size) + drift, rng.normal(0, 50, t.size)])
        if k == 1:
            curve[:, 90:105] += np.array([[300.0], [3000.0]])  # an expression: half a second
        out.append(curve)
    return out


NORMS, REGIONS = np.array([2.0, 20.0]), ["eye", "mouth"]


@pytest.mark.parametrize("k", [0.01, 3.0, 250.0])
def test_a_curve_and_the_same_curve_times_k_normalise_identically(k):
    curves = _curves()
    floor = video_floor(curves, 30.0, NORMS, REGIONS)
    floor_k = video_floor([c * k for c in curves], 30.0, NORMS, REGIONS)
    np.testing.assert_allclose(floor_k, k * floor, rtol=1e-12)
    for c in curves:
        np.testing.assert_allclose(normalised(c * k, floor_k), normalised(c, floor), rtol=1e-9, atol=1e-12)


def test_the_floor_is_the_median_of_each_pieces_spread_by_hand():
    # Two pieces of 4 frames in one row: [0, 1, 2, 10] and [5, 5, 5, 9].
    # Piece 1: median 1.5, deviations 1.5 0.5 0.5 8.5 → MAD 1.0; piece 2: median 5, MAD 0.
    # A second curve adds the piece [0, 2, 4, 6]: median 3, deviations 3 1 1 3 → MAD 2.
    floor = noise_floor([np.array([[0, 1, 2, 10, 5, 5, 5, 9, 7.0]]), np.array([[0, 2, 4, 6.0]])], block=4)
    assert floor == pytest.approx([MAD_TO_SD * 1.0])  # the median of 1, 0 and 2
    # The whole-curve scale, for comparison: median 5 of all 13 values.
    assert robust_scale([np.array([[0, 1, 2, 10, 5, 5, 5, 9, 7.0]]), np.array([[0, 2, 4, 6.0]])])[0] == (
        pytest.approx(MAD_TO_SD * 3.0)
    )


def test_an_expression_and_a_drift_barely_move_the_floor():
    """The floor measures what a second of quiet curve does: a burst in one second of the 20 and
    a steady drift leave it near the noise's own spread (5 and 50), where the spread of the
    whole curve would be dominated by the drift."""
    curves = _curves()
    floor = video_floor(curves, 30.0, NORMS, REGIONS)  # one AU per region: its own spread
    assert floor[1] == pytest.approx(50.0, rel=0.25)
    assert floor[0] < 2 * 5.0 + 40.0 / 4  # noise plus a second of drift, not the drift over 7 s
    assert robust_scale([c[:, 1:] for c in curves])[0] > 3 * floor[0]


def test_a_curve_that_never_moves_normalises_to_zero():
    flat = [np.zeros((1, 120)), np.full((1, 60), 7.0)]
    floor = video_floor(flat, 30.0, [3.0], ["eye"])
    assert floor.tolist() == [0.0]
    assert not normalised(flat[1], floor).any()


def test_no_window_means_no_floor():
    assert video_floor([], 30.0, [1.0, 2.0, 3.0], ["eye", "eye", "mouth"]).tolist() == [0.0, 0.0, 0.0]


def test_a_regions_floor_is_the_median_spread_per_norm_given_back_in_each_aus_units():
    """Three eye AUs whose curves are one series times 2, 30 (busy with an expression) and 9,
    over norms 1, 3 and 3: spread per norm 2s, 10s, 3s → median 3s → floors 3s, 9s, 9s (s the
    series' own spread); the mouth AU, alone in its region, keeps its 4s."""
    series = np.random.default_rng(5).normal(0, 1, (1, 3000))
    s = noise_floor([series], 30)[0]
    curves = [np.hstack([np.zeros((4, 1)), np.vstack([2 * series, 30 * series, 9 * series, 4 * series])])]
    floor = video_floor(curves, 30.0, [1.0, 3.0, 3.0, 5.0], ["eye", "eye", "eye", "mouth"])
    np.testing.assert_allclose(floor, [3 * s, 9 * s, 9 * s, 4 * s], rtol=1e-12)


@pytest.mark.parametrize(
    ("frames", "fps", "block"),
    [
        (600, 30.0, 30),  # 20 pieces of 1 s: the rule for every video of more than 6 s
        (180, 30.0, 30),  # exactly 6 pieces of 1 s
        (71, 30.0, 12),  # a 2.4-s clip: 71 / 6 = 11.8 frames a piece
        (20, 30.0, 8),  # never shorter than 0.25 s (7.5 frames)
        (142, 200.0, 50),  # 0.71 s at 200 fps: 0.25 s (50 frames), not 142 / 6
        (4, 4.0, 2),  # at least 2 frames
    ],
)
def test_pieces_shorten_only_when_a_clip_is_too_short_for_six_by_hand(frames, fps, block):
    assert floor_block(frames, fps) == block


def test_a_short_clip_that_is_mostly_expression_keeps_the_floor_of_its_noise():
    """A 2.4-s clip whose AU rises 40 noise SDs around 0.5 s and holds to the end (a smile filling a
    short clip): with 1-s pieces its two pieces are the rise and the hold, and their median (the
    mean of two) is half the rise's spread; with six pieces the rise is in one of them and the
    floor stays near σ."""
    rng = np.random.default_rng(11)
    t = np.arange(72)
    curve = rng.normal(0, 1.0, (1, 72)) + 40.0 * np.clip((t - 13) / 6, 0, 1)
    windows = [np.hstack([np.zeros((1, 1)), curve[:, 1:]])]
    floor = video_floor(windows, 30.0, [1.0], ["mouth"])[0]
    assert 0.5 < floor < 1.6
    assert noise_floor([curve[:, 1:]], 30)[0] > 5  # what 1-s pieces measured
