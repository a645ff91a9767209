"""When spotting cannot be trusted: occluders, landmark jumps, fast head motion, closed eyes."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.reliability import (
    ReliabilityLimits,
    UnexplainedShare,
    clear_index,
    eyes_closed_mask,
    fast_motion_mask,
    jump_mask,
    occlusion_onset,
)
from napari_mespot.core.intervals import runs

LIMITS = ReliabilityLimits()


def _texture(seed: int, shape=(120, 160)) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), 2.0)
    return np.clip(128 + 40 * smooth / smooth.std(), 0, 255).astype(np.uint8)


def test_motion_the_flow_explains_leaves_nothing_unexplained():
    ref = _texture(0)
    img = np.roll(ref, (1, 3), axis=(0, 1))  # the face moved 3 px right, 1 px down
    flow = np.zeros((*ref.shape, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3, 1
    assert UnexplainedShare(ref)(img, flow) < 0.01
    assert UnexplainedShare(ref)(img, np.zeros_like(flow)) > 0.2  # the same change, unexplained


def test_brightness_and_contrast_explain_themselves():
    ref = _texture(1)
    brighter = np.clip(1.3 * ref.astype(np.float32) + 20, 0, 255).astype(np.uint8)
    assert UnexplainedShare(ref)(brighter, np.zeros((*ref.shape, 2), np.float32)) < 0.01


@pytest.mark.parametrize("share", [0.25, 0.5, 1.0])
def test_an_occluder_is_unexplained_in_proportion_to_what_it_covers(share):
    """Another texture over ``share`` of the columns: both crops normalised, the residual there
    is the difference of two independent unit normals, N(0, 2), above 1 with probability 0.48."""
    ref, other = _texture(2), _texture(3)
    img = ref.copy()
    cut = round(share * ref.shape[1])
    img[:, :cut] = other[:, :cut]
    got = UnexplainedShare(ref)(img, np.zeros((*ref.shape, 2), np.float32))
    assert 0.3 * share < got < 0.65 * share


def test_an_occlusion_starts_where_it_first_rose_and_ends_after_a_calm_run():
    shares = np.array([0.0, 0.02, 0.05, 0.12, 0.2, 0.3, 0.25, 0.11, 0.08, 0.05, 0.3, 0.04, 0.03, 0.02])
    assert occlusion_onset(shares, LIMITS) == 3  # 0.2 > 0.15 at 4; 0.12 > 0.10 just before it
    assert clear_index(shares, 4, hold=2, low=0.10) == 8  # 8 and 9 calm; 10 is not
    assert clear_index(shares, 4, hold=3, low=0.10) == 11
    assert clear_index(shares, 4, hold=4, low=0.10) is None  # the shares end first
    assert occlusion_onset(np.full(20, 0.14), LIMITS) is None  # never above the high limit


# -- landmarks ---------------------------------------------------------------------------------

#: A 68-point face (iBUG): eye corners 20 px apart per eye, open lids, the rest spread around.
_BASE = np.random.default_rng(7).uniform(20, 100, (68, 2))
for (outer, inner, up1, up2, low1, low2), x0 in (
    ((36, 39, 37, 38, 41, 40), 20.0),
    ((45, 42, 44, 43, 46, 47), 100.0),
):
    sign = 1 if x0 < 60 else -1
    _BASE[outer], _BASE[inner] = (x0, 40), (x0 + sign * 20, 40)
    _BASE[up1], _BASE[up2] = (x0 + sign * 7, 36), (x0 + sign * 13, 36)
    _BASE[low1], _BASE[low2] = (x0 + sign * 7, 44), (x0 + sign * 13, 44)
IOD = 80.0  # |36 − 45|


def _track(n: int, move=None) -> FaceLandmarks:
    """``n`` frames of the base face, each frame's points passed through ``move(k, points)``."""
    points = np.stack([_BASE if move is None else move(k, _BASE.copy()) for k in range(n)]).astype(np.float32)
    return FaceLandmarks(points, np.ones(n, np.float32), "ibug68", "test")


def _smooth_step(t: np.ndarray) -> np.ndarray:
    return (1 - np.cos(np.pi * np.clip(t, 0, 1))) / 2


def test_a_one_frame_glitch_is_a_jump_and_a_steady_face_is_not():
    fps = 30.0

    def glitch(k, p):
        return p + (0.12 * IOD if k == 45 else 0.0)

    # Frame 45 lies 0.12 IOD from its neighbours' midpoint, and each neighbour 0.06 from its own
    # (the glitch is one of its two neighbours): all three are jumps, padded by pad_s.
    flagged = runs(jump_mask(_track(90, glitch), fps, LIMITS))
    pad = round(LIMITS.pad_s * fps)
    assert flagged == [(44 - pad, 46 + pad)]
    assert not fast_motion_mask(_track(90, glitch), fps, LIMITS).any()  # 0.12 IOD in 0.1 s is slow
    assert not jump_mask(_track(90), fps, LIMITS).any()


def _fast_spans(fps: float) -> list[tuple[float, float]]:
    """Seconds flagged as too fast in 5 s where the face slides 1.5 IODs in 0.5 s from 1 s
    (peak 4.7 IOD/s) and rolls 90° in 0.5 s from 3 s (peak 280°/s), both smoothly."""
    center = _BASE.mean(axis=0)

    def move(k, p):
        t = k / fps
        p = p + np.array([1.5 * IOD * _smooth_step((t - 1.0) / 0.5), 0.0])
        angle = np.pi / 2 * _smooth_step((t - 3.0) / 0.5)
        c, s = np.cos(angle), np.sin(angle)
        return (p - center) @ np.array([[c, s], [-s, c]]) + center

    track = _track(round(5 * fps), move)
    assert not jump_mask(track, fps, LIMITS).any()  # smooth: no jump
    return [(a / fps, b / fps) for a, b in runs(fast_motion_mask(track, fps, LIMITS))]


def test_a_fast_smooth_turn_is_too_fast_in_the_same_seconds_at_any_frame_rate():
    at_30, at_200 = _fast_spans(30.0), _fast_spans(200.0)
    assert len(at_30) == 2  # the slide, the roll
    (a0, a1), (b0, b1) = at_30
    assert 0.9 < a0 < 1.25 < a1 < 1.65 and 2.9 < b0 < 3.25 < b1 < 3.65
    np.testing.assert_allclose(np.array(at_200), np.array(at_30), atol=0.05)


@pytest.mark.parametrize(("closed_s", "flagged"), [(5.0, True), (3.0, False)])
def test_eyes_closed_for_longer_than_an_expression_are_unreliable(closed_s, flagged):
    fps = 30.0
    start, stop = round(2 * fps), round((2 + closed_s) * fps)

    def close(k, p):
        if start <= k < stop:
            for up, low in ((37, 41), (38, 40), (44, 46), (43, 47)):
                p[up, 1], p[low, 1] = 39.5, 40.5
        return p

    mask = eyes_closed_mask(_track(round(10 * fps), close), fps, LIMITS)
    assert runs(mask) == ([(start, stop - 1)] if flagged else [])
