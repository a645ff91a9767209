"""Eye/mouth regions (paper eq. 9–12), their similarity alignment and the explicit no-face case."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from napari_mespot.core.face.landmarks import FaceLandmarks, MediaPipeFaceMesh, read_landmark_csv
from napari_mespot.core.face.regions import (
    EYE,
    MOUTH,
    NOSE,
    NoFaceError,
    RegionSpec,
    face_regions,
    region_transform,
)
from napari_mespot.core.media.video import open_video

UPRIGHT = {
    "eye_outer_l": np.array([100.0, 200.0]),
    "eye_outer_r": np.array([200.0, 200.0]),
    "mouth_corner_l": np.array([130.0, 300.0]),
    "mouth_corner_r": np.array([170.0, 300.0]),
    "nose_bridge": np.array([150.0, 220.0]),
}


def rotate(points, angle_deg, center):
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return {k: (v - center) @ rot.T + center for k, v in points.items()}


def inside(polygon, point) -> bool:
    return cv2.pointPolygonTest(polygon.astype(np.float32), tuple(map(float, point)), False) > 0


def test_upright_eye_region_is_equations_9_to_12():
    t = region_transform(UPRIGHT, EYE)
    # d = 100: x_ls = 100 − 0.2·100, y_ls = 200 − 0.6·100, x_rx = 200 + 0.2·100, y_rx = 200 + 0.6·100
    np.testing.assert_allclose(t.corners(), [[80, 140], [220, 140], [220, 260], [80, 260]], atol=1e-9)
    assert t.size == (280, 240)
    # Normalised to 280×240: the 140×120 box is scaled by 2; the corners sit at x = 40 and 240.
    np.testing.assert_allclose(t.to_region(UPRIGHT["eye_outer_l"]), [39.5, 119.5], atol=1e-9)
    np.testing.assert_allclose(t.to_region(UPRIGHT["eye_outer_r"]), [239.5, 119.5], atol=1e-9)


def test_mouth_region_same_construction_other_size():
    t = region_transform(UPRIGHT, MOUTH)
    # d = 40 around the mouth corners: x 130−8 … 170+8, y 300−24 … 300+24.
    np.testing.assert_allclose(t.corners(), [[122, 276], [178, 276], [178, 324], [122, 324]], atol=1e-9)
    assert t.size == (260, 160)


def test_parameters_are_overridable():
    spec = dataclasses.replace(EYE, gammas=(0.1, 0.3, 0.5, 0.7), size=(100, 50))
    t = region_transform(UPRIGHT, spec)
    np.testing.assert_allclose(t.corners(), [[90, 170], [250, 170], [250, 270], [90, 270]], atol=1e-9)
    assert t.warp(np.zeros((400, 400, 3), np.uint8)).shape == (50, 100, 3)


def test_centered_region_spans_gammas_around_its_center():
    t = region_transform(UPRIGHT, NOSE)
    # d = 100 from the eye corners, around the nose bridge (150, 220): x ± 10, y −10 … +25.
    np.testing.assert_allclose(t.corners(), [[140, 210], [160, 210], [160, 245], [140, 245]], atol=1e-9)


def test_region_follows_head_roll_and_stays_upright():
    center = np.array([150.0, 250.0])
    rolled = rotate(UPRIGHT, 25.0, center)
    t0, t1 = region_transform(UPRIGHT, EYE), region_transform(rolled, EYE)
    np.testing.assert_allclose(
        t1.corners(), list(rotate(dict(enumerate(t0.corners())), 25.0, center).values()), atol=1e-9
    )

    # A textured image rotated with the head gives the same normalised crop.
    rng = np.random.default_rng(3)
    img = cv2.GaussianBlur(rng.uniform(0, 255, (400, 300)).astype(np.float32), (0, 0), 3)
    rot = cv2.getRotationMatrix2D(tuple(center), -25.0, 1.0)  # OpenCV: positive = counter-clockwise
    img_rolled = cv2.warpAffine(img, rot, (300, 400), flags=cv2.INTER_CUBIC)
    a, b = t0.warp(img), t1.warp(img_rolled)
    err = np.abs(a - b)[20:-20, 20:-20]
    assert err.mean() < 0.02 * (img.max() - img.min())


def test_point_mapping_round_trips():
    t = region_transform(rotate(UPRIGHT, -12.0, np.array([0.0, 0.0])), MOUTH)
    pts = np.array([[1.0, 2.0], [130.5, 299.0], [-40.0, 7.5]])
    np.testing.assert_allclose(t.to_image(t.to_region(pts)), pts, atol=1e-9)


def test_no_face_is_an_explicit_error():
    pts = np.full((3, 68, 2), np.nan, np.float32)
    pts[0] = np.random.default_rng(0).uniform(0, 100, (68, 2))
    lm = FaceLandmarks(pts, np.array([1, 0, 0], np.float32), "ibug68", "test")
    assert set(face_regions(lm, 0)) == {"eye", "mouth"}
    with pytest.raises(NoFaceError) as info:
        face_regions(lm, 1)
    assert info.value.frame == 1
    collapsed = dict(UPRIGHT, eye_outer_r=UPRIGHT["eye_outer_l"] + 1.0)
    with pytest.raises(NoFaceError, match="degenerate eye anchors"):
        region_transform(collapsed, EYE, frame=7)
    with pytest.raises(ValueError, match="empty box"):
        region_transform(UPRIGHT, RegionSpec("bad", EYE.anchors, (-1.0, 0.1, -1.0, 0.1)))


@pytest.fixture(scope="module")
def wolfgang(fixtures_dir):
    video = open_video(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4")
    gen = MediaPipeFaceMesh().detect(video)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return video, stop.value


# Pupils (left, right) and mouth centre, read by eye from the frames (x, y): independent of the
# landmark model. Frame 200 has a hand over the mouth; frame 400 has the head rolled ~25°.
MARKED = {
    0: ((370, 180), (465, 177), (432, 281)),
    200: ((385, 130), (481, 130), (440, 240)),
    300: ((405, 112), (510, 118), (450, 225)),
    400: ((378, 181), (477, 134), (466, 238)),
}


@pytest.mark.parametrize("frame", sorted(MARKED))
def test_regions_sit_on_the_eyes_and_mouth(wolfgang, frame):
    _, lm = wolfgang
    regions = face_regions(lm, frame)
    eye, mouth = regions["eye"], regions["mouth"]
    pupil_l, pupil_r, mouth_mid = MARKED[frame]
    for pupil in (pupil_l, pupil_r):
        assert inside(eye.corners(), pupil)
        assert not inside(mouth.corners(), pupil)
    assert inside(mouth.corners(), mouth_mid)
    # In the normalised crop the pupils sit near the corners' mid-height (y = 120 of 240), left
    # and right of the centre, and the mouth centre near the mouth crop's centre.
    (lx, ly), (rx, ry) = eye.to_region([pupil_l, pupil_r])
    assert 40 < lx < 140 < rx < 240
    assert abs(ly - 120) < 30 and abs(ry - 120) < 30
    mx, my = mouth.to_region(mouth_mid)
    assert abs(mx - 130) < 40 and abs(my - 80) < 30


def test_region_crops_of_real_frame(wolfgang):
    video, lm = wolfgang
    regions = face_regions(lm, 200)
    eye = regions["eye"].warp(video[200])
    mouth = regions["mouth"].warp(video[200])
    assert eye.shape == (240, 280, 3) and mouth.shape == (160, 260, 3)
    # The crop shows at each region pixel what the frame shows at the mapped image point.
    frame = cv2.GaussianBlur(np.asarray(video[200]), (0, 0), 2).astype(float)
    scale = np.sqrt(abs(np.linalg.det(regions["eye"].linear)))  # crop pixels per image pixel
    crop = cv2.GaussianBlur(eye, (0, 0), 2 * scale).astype(float)
    for x, y in [(60, 110), (200, 120), (140, 200), (30, 30)]:
        ix, iy = np.round(regions["eye"].to_image([x, y])).astype(int)
        assert np.abs(crop[y, x] - frame[iy, ix]).max() < 25


def test_regions_from_imported_68_points(fixtures_dir):
    lm = read_landmark_csv(fixtures_dir / "landmarks" / "openface2_test.csv")
    regions = face_regions(lm, 0)
    pts = lm.at(0)
    # Every eye contour point (36–47) lies in the eye region, every lip point (48–67) in the mouth.
    assert all(inside(regions["eye"].corners(), p) for p in pts[36:48])
    assert all(inside(regions["mouth"].corners(), p) for p in pts[48:68])
    assert not any(inside(regions["mouth"].corners(), p) for p in pts[36:48])
