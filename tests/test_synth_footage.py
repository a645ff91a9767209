"""The footage of the varied training mix: seeded, time-preserving, and each change really made.

Geometry is checked with what a spotter would measure (phase correlation, MediaPipe landmarks),
intensity in the units the ranges are given in (CIELAB L*, a*, b*; grey levels), always against
an independent computation, never against the function under test.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.synth.footage import UNCHANGED, FootageRanges, draw_footage
from napari_mespot.core.synth.generator import SynthScene, SynthSettings

SIZE = (320, 240)
STILL = SynthSettings(duration_s=2.0, size=SIZE, n_me=0, n_mae=0, head_drift=False, head_shakes=False,
                      blinks=False, flicker=False, noise_sigma=0.0)


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    """A still synthetic face, 320x240."""
    return SynthScene(STILL, 3).frame(0)


@pytest.fixture(scope="module")
def grey() -> np.ndarray:
    """A textured mid-grey picture far from 0 and 255, so no change is clipped."""
    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.uniform(70, 180, (SIZE[1], SIZE[0], 3)).astype(np.float32), (0, 0), 0.7)
    return np.rint(texture).astype(np.uint8)


def still(**changes) -> object:
    """A footage that changes nothing, with ``changes`` made by hand (a camera of known settings)."""
    return dataclasses.replace(draw_footage(SIZE, 40, 30.0, 0, UNCHANGED), **changes)


def lab(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)


def test_a_draw_is_a_function_of_its_seed(face):
    a, b = (draw_footage(SIZE, 300, 30.0, (7, 1)) for _ in range(2))
    other = draw_footage(SIZE, 300, 30.0, (7, 2))
    assert a.record() == b.record() and np.array_equal(a.motion, b.motion)
    assert np.array_equal(a.apply(face, 123), b.apply(face, 123))
    assert a.record() != other.record()
    assert not np.array_equal(a.apply(face, 123), other.apply(face, 123))


def test_draws_stay_inside_their_ranges():
    ranges = FootageRanges()
    draws = [draw_footage(SIZE, 60, 30.0, s, ranges, room=(10.0, 6.0)) for s in range(60)]
    for d in draws:
        assert ranges.contrast[0] <= d.contrast <= ranges.contrast[1]
        assert ranges.gamma[0] <= d.gamma <= ranges.gamma[1]
        assert abs(d.brightness) <= ranges.brightness and max(map(abs, d.ab_shift)) <= ranges.ab_shift
        assert abs(d.roll_deg) <= ranges.roll_deg and ranges.crf[0] <= d.crf <= ranges.crf[1]
        # the constant shift plus the drift stay inside the room the face has
        assert abs(d.offset[0]) + np.abs(d.motion[:, 0]).max() <= 10.0 + 1e-9
        assert d.jpeg_quality == 0 or ranges.jpeg_quality[0] <= d.jpeg_quality <= ranges.jpeg_quality[1]
    share = np.mean([d.jpeg_quality > 0 for d in draws])
    assert 0.3 < share < 0.7  # jpeg_share 0.5 of 60 draws


def test_nothing_drawn_changes_nothing(face):
    footage = draw_footage(SIZE, 40, 30.0, 5, UNCHANGED)
    for k in (0, 17, 39):
        assert np.array_equal(footage.apply(face, k), face)


def test_a_shift_moves_the_picture_by_that_many_pixels(face):
    moved = still(offset=(9.0, -5.5)).apply(face, 0)
    grey_before, grey_after = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in (face, moved))
    (dx, dy), _ = cv2.phaseCorrelate(grey_before, grey_after)
    assert dx == pytest.approx(9.0, abs=0.3) and dy == pytest.approx(-5.5, abs=0.3)


def test_a_roll_turns_the_face_where_the_matrix_says(face):
    footage = still(roll_deg=7.0)
    mesh = MediaPipeFaceMesh(static_image_mode=True)
    before, after = (run_to_end(mesh.detect(f[None])).points[0] for f in (face, footage.apply(face, 0)))
    expected = before @ footage.matrix(0)[:, :2].T + footage.matrix(0)[:, 2]
    assert np.median(np.linalg.norm(after - expected, axis=1)) < 1.5
    eyes = [33, 263]

    def tilt(points):
        d = points[eyes[1]] - points[eyes[0]]
        return np.degrees(np.arctan2(d[1], d[0]))

    # OpenCV's positive angle turns counter-clockwise on screen: the eye line climbs to the right
    assert tilt(after) - tilt(before) == pytest.approx(-7.0, abs=1.0)


def test_camera_shakes_move_the_frame_only_away_from_busy_frames():
    busy = np.zeros(900, bool)
    busy[100:300] = busy[500:520] = True
    ranges = dataclasses.replace(UNCHANGED, shakes_per_minute=(20.0, 20.0), shake_frac=(0.02, 0.02))
    footage = draw_footage(SIZE, 900, 30.0, 11, ranges, busy=busy)
    assert len(footage.shakes) == 10  # 20 a minute over 30 s
    moving = np.abs(footage.motion[:, :2]).max(axis=1) > 0
    inside = np.zeros(900, bool)
    for shake in footage.shakes:
        assert not busy[shake.start - 9:shake.end + 10].any()  # 0.3 s of quiet around
        inside[shake.start:shake.end + 1] = True
        # a windowed 1.5-cycle oscillation of the drawn amplitude, in one direction
        tau = np.linspace(0.0, 1.0, shake.end - shake.start + 1)
        course = shake.amplitude * np.abs(np.sin(3 * np.pi * tau) * np.sin(np.pi * tau))
        assert np.hypot(*footage.motion[shake.start:shake.end + 1, :2].T) == pytest.approx(course, abs=1e-9)
    assert not moving[~inside].any()


def test_slow_drift_moves_and_turns_the_camera_smoothly():
    ranges = dataclasses.replace(
        UNCHANGED, drift_frac=(0.02, 0.02), drift_deg=(2.0, 2.0), drift_zoom=(0.03, 0.03)
    )
    motion = draw_footage(SIZE, 600, 30.0, 4, ranges).motion
    peak = np.abs(motion).max(axis=0)
    assert peak[:2].max() == pytest.approx(0.02 * SIZE[1]) and peak[2] == pytest.approx(2.0)
    assert peak[3] == pytest.approx(0.03)
    # slow: between two frames the camera moves a small part of its range
    assert np.abs(np.diff(motion, axis=0)).max(axis=0)[0] < 0.05 * peak[0]


def test_brightness_contrast_and_colour_are_cielab_shifts(grey):
    before = lab(grey)
    brighter = lab(still(brightness=8.0).apply(grey, 0))
    assert (brighter[..., 0] - before[..., 0]).mean() == pytest.approx(8.0, abs=0.4)
    stretched = lab(still(contrast=1.2).apply(grey, 0))
    assert stretched[..., 0].std() / before[..., 0].std() == pytest.approx(1.2, abs=0.03)
    tinted = lab(still(ab_shift=(6.0, -4.0)).apply(grey, 0))
    assert (tinted[..., 1] - before[..., 1]).mean() == pytest.approx(6.0, abs=0.5)
    assert (tinted[..., 2] - before[..., 2]).mean() == pytest.approx(-4.0, abs=0.5)


def test_gamma_maps_grey_levels_as_a_power(grey):
    out = still(gamma=1.5).apply(grey, 0).astype(np.float64)
    assert np.abs(out - 255 * (grey / 255.0) ** 1.5).max() <= 1.0


def test_the_lighting_gradient_brightens_one_side_and_turns_with_time(grey):
    footage = still(gradient=0.25, light_angle=np.linspace(0.0, np.pi, 40))
    first = footage.apply(grey, 0).astype(np.float64) / grey
    # light from the right (angle 0): the rightmost column 1.25x, the leftmost 0.75x
    assert first[:, -1].mean() == pytest.approx(1.25, abs=0.02)
    assert first[:, 0].mean() == pytest.approx(0.75, abs=0.02)
    last = footage.apply(grey, 39).astype(np.float64) / grey  # half a turn later: from the left
    assert last[:, 0].mean() == pytest.approx(1.25, abs=0.02)
    assert last[:, -1].mean() == pytest.approx(0.75, abs=0.02)


def test_noise_blur_and_jpeg(grey):
    noisy = still(noise_sigma=3.0)
    a, b = noisy.apply(grey, 0).astype(np.float64), noisy.apply(grey, 1).astype(np.float64)
    assert (a - grey).std() == pytest.approx(3.0, rel=0.1)
    assert abs(np.corrcoef((a - grey).ravel(), (b - grey).ravel())[0, 1]) < 0.1  # fresh every frame

    def sharpness(img):
        return cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var()

    assert sharpness(still(blur_sigma=1.2).apply(grey, 0)) < 0.5 * sharpness(grey)
    error = [np.abs(still(jpeg_quality=q).apply(grey, 0).astype(float) - grey).mean() for q in (90, 30)]
    assert 0 < error[0] < error[1]
