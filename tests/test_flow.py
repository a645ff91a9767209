"""Optical flow: known motion is recovered, batched helpers, region flow and head-motion removal."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.regions import EYE, MOUTH, NOSE, NoFaceError, region_transform
from napari_mespot.core.flow.batched import flows_to_reference
from napari_mespot.core.flow.display import (
    arrow_scale,
    grid_vectors,
    magnitude_image,
    spotter_reference,
    window_reference,
)
from napari_mespot.core.flow.methods import DIS, FARNEBACK, flow, magnitude, to_gray
from napari_mespot.core.flow.regions import (
    compensated,
    region_flows_pair,
    window_region_flows,
)
from napari_mespot.core.progress import Progress

# Mean endpoint error bounds (pixels, 16-px border excluded) on the 280×240 textures below.
# Measured on this machine: farneback 0.06 / 0.09, tvl1 0.01 / 0.05, dis 0.09 / 0.07
# (translation / smooth warp); the bounds leave ~1.5× headroom.
EPE_BOUND = {"farneback": 0.15, "tvl1": 0.08, "dis": 0.15}


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture, like skin at two scales, as float 25..225."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 2.0)
    coarse = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 6.0)
    t = fine + 0.5 * coarse
    return (t - t.min()) / (t.max() - t.min()) * 200 + 25


def moved(ref: np.ndarray, gx, gy) -> tuple[np.ndarray, np.ndarray]:
    """Image ``img`` with img(p) = ref(p − G(p)), and the true flow f solving f(x) = G(x + f(x))."""
    h, w = ref.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = cv2.remap(ref, xx - gx(xx, yy), yy - gy(xx, yy), cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    fx, fy = np.zeros_like(xx), np.zeros_like(yy)
    for _ in range(30):  # fixed point: G is smooth and small, so this contracts quickly
        fx, fy = gx(xx + fx, yy + fy), gy(xx + fx, yy + fy)
    return img, np.stack([fx, fy], axis=-1)


MOTIONS = {
    "translation": (lambda x, y: 2.3 + 0 * x, lambda x, y: -1.7 + 0 * y),
    "warp": (
        lambda x, y: 1.5 * np.sin(2 * np.pi * y / 120) + 0.8,
        lambda x, y: 1.0 * np.cos(2 * np.pi * x / 140) - 0.5,
    ),
}


@pytest.mark.parametrize("motion", sorted(MOTIONS))
@pytest.mark.parametrize("method", sorted(EPE_BOUND))
def test_flow_recovers_known_motion(method, motion):
    ref = texture(240, 280)
    img, truth = moved(ref, *MOTIONS[motion])
    f = flow(np.clip(ref, 0, 255).astype(np.uint8), np.clip(img, 0, 255).astype(np.uint8), method)
    assert f.shape == (240, 280, 2) and f.dtype == np.float32
    epe = np.hypot(*(f - truth).transpose(2, 0, 1))[16:-16, 16:-16]
    assert epe.mean() < EPE_BOUND[method], f"{method} {motion}: mean EPE {epe.mean():.3f}"


def test_flow_accepts_rgb_and_float_images():
    ref = texture(96, 128, seed=1)
    img, _ = moved(ref, *MOTIONS["translation"])
    gray = flow(ref.astype(np.uint8), img.astype(np.uint8), "dis")
    rgb = flow(
        np.repeat(ref[..., None], 3, -1).astype(np.uint8),
        np.repeat(img[..., None], 3, -1).astype(np.uint8),
        "dis",
    )
    unit = flow(ref / 255.0, img / 255.0, "dis")
    np.testing.assert_allclose(rgb, gray, atol=0.05)
    np.testing.assert_allclose(unit, gray, atol=0.05)
    assert to_gray(np.full((2, 2), 1.0)).max() == 255


def test_a_reused_dis_solver_gives_a_fresh_solvers_flow(fixtures_dir):
    """The DIS method reuses its solvers per image size: nothing of one call may reach the
    next, also when sizes alternate as the eye and mouth crops do."""
    from napari_mespot.core.media.video import open_video

    with open_video(fixtures_dir / "video" / "single_face.mp4") as video:
        grey = [to_gray(video[i]) for i in range(0, 24, 3)]
    for img in grey[1:]:
        for crop in (np.s_[:240, :280], np.s_[40:200, 20:280]):
            ref, later = np.ascontiguousarray(grey[0][crop]), np.ascontiguousarray(img[crop])
            expected = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(ref, later, None)
            assert np.array_equal(flow(ref, later, "dis"), expected)


def test_flow_parameters_and_errors():
    ref = texture(64, 64).astype(np.uint8)
    f = flow(ref, ref, "farneback", winsize=9, iterations=2)
    assert np.abs(f).mean() < 0.01
    with pytest.raises(TypeError, match="no parameter"):
        flow(ref, ref, "farneback", window=9)
    with pytest.raises(ValueError, match="same-size"):
        flow(ref, ref[:32], "dis")
    with pytest.raises(ValueError, match="preset"):
        flow(ref, ref, "dis", preset="slowest")
    assert FARNEBACK.defaults["winsize"] == 15 and DIS.defaults["preset"] == "medium"


def test_flows_to_reference_is_reference_vs_each_frame():
    ref = texture(80, 100, seed=2)
    shifts = [0.5, 1.0, 2.0]
    frames = [moved(ref, lambda x, y, s=s: s + 0 * x, lambda x, y: 0 * y)[0].astype(np.uint8) for s in shifts]
    crops = ({"face": f} for f in frames)
    gen = flows_to_reference({"face": ref.astype(np.uint8)}, crops, len(frames), "farneback")
    progress = []
    while True:
        try:
            progress.append(next(gen))
        except StopIteration as stop:
            flows = stop.value["face"]
            break
    assert all(isinstance(p, Progress) for p in progress) and progress[-1].done == 3
    assert flows.shape == (3, 80, 100, 2)
    np.testing.assert_allclose(np.median(flows[..., 0], axis=(1, 2)), shifts, atol=0.1)
    np.testing.assert_allclose(np.median(magnitude(flows), axis=(1, 2)), shifts, atol=0.1)


# --- region flow and head-motion compensation -------------------------------------------------

KEY = {
    "eye_outer_l": np.array([250.0, 150.0]),
    "eye_outer_r": np.array([390.0, 150.0]),
    "mouth_corner_l": np.array([280.0, 280.0]),
    "mouth_corner_r": np.array([360.0, 280.0]),
    "nose_bridge": np.array([320.0, 175.0]),
}


def shifted(img: np.ndarray, dx: float, dy: float) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(img, m, img.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def test_region_flow_is_in_region_pixels_and_head_motion_is_removed():
    ref = texture(360, 640, seed=4).astype(np.uint8)
    img = shifted(ref, 2.0, 1.0)  # the whole head moves by (2, 1) image pixels
    eye, mouth, nose = (region_transform(KEY, s) for s in (EYE, MOUTH, NOSE))
    raw = region_flows_pair(ref, img, {"eye": eye, "mouth": mouth}, "farneback")
    # Eye crop: 280 px for 1.4·140 = 196 image px; mouth crop: 260 px for 1.4·80 = 112 image px
    # across, 160 px for 1.2·80 = 96 image px down.
    # Farneback is a few per cent short on the 4–5 px shifts of the magnified crops.
    np.testing.assert_allclose(
        np.median(raw["eye"].reshape(-1, 2), 0), [2 * 280 / 196, 1 * 240 / 168], rtol=0.05
    )
    np.testing.assert_allclose(
        np.median(raw["mouth"].reshape(-1, 2), 0), [2 * 260 / 112, 1 * 160 / 96], rtol=0.05
    )
    comp = region_flows_pair(ref, img, {"eye": eye, "mouth": mouth}, "farneback", nose=nose)
    for name in ("eye", "mouth"):
        assert np.abs(np.median(comp[name].reshape(-1, 2), 0)).max() < 0.1


def test_head_motion_removal_keeps_local_motion():
    ref = texture(360, 640, seed=5).astype(np.uint8)
    # Head moves by (1.5, −1); the mouth area additionally moves 2 px up (an AU, say).
    img = shifted(ref, 1.5, -1.0)
    local = shifted(ref, 1.5, -3.0)
    img[250:320, 270:370] = local[250:320, 270:370]
    mouth, nose = region_transform(KEY, MOUTH), region_transform(KEY, NOSE)
    comp = region_flows_pair(ref, img, {"mouth": mouth}, "farneback", nose=nose)["mouth"]
    centre = mouth.to_region([320.0, 285.0]).round().astype(int)
    patch = comp[centre[1] - 5 : centre[1] + 5, centre[0] - 5 : centre[0] + 5].reshape(-1, 2)
    # 2 image px up = 2·160/96 mouth px up; no horizontal residue.
    np.testing.assert_allclose(np.median(patch, 0), [0, -2 * 160 / 96], atol=0.25)


def test_translation_compensation_converts_nose_pixels_to_region_pixels():
    eye, nose = region_transform(KEY, EYE), region_transform(KEY, NOSE)
    region_flow = np.zeros((240, 280, 2), np.float32)
    nose_flow = np.zeros((70, 40, 2), np.float32)
    still = compensated({"eye": region_flow}, {"eye": eye}, "translation", nose, nose_flow)["eye"]
    assert not still.any()
    nose_flow[:] = [1.0, 0.0]  # nose px → image px ÷ (40/(0.2·140)) → eye px × 280/196
    out = compensated({"eye": region_flow}, {"eye": eye}, "translation", nose, nose_flow)["eye"]
    np.testing.assert_allclose(out[0, 0], [-(0.2 * 140 / 40) * 280 / 196, 0], atol=1e-5)


def test_window_region_flows_on_a_synthetic_clip():
    ref = texture(360, 640, seed=6).astype(np.uint8)
    clip = np.stack([np.repeat(shifted(ref, s, 0)[..., None], 3, -1) for s in (0.0, 0.5, 1.0, 1.5)])
    pts = np.full((4, 68, 2), np.nan, np.float32)
    pts[0, 36], pts[0, 45], pts[0, 48], pts[0, 54] = (
        KEY["eye_outer_l"],
        KEY["eye_outer_r"],
        KEY["mouth_corner_l"],
        KEY["mouth_corner_r"],
    )
    pts[0, [27, 28, 29]] = KEY["nose_bridge"]
    pts[0, 17:27] = [300, 120]
    pts[0][np.isnan(pts[0])] = 200.0  # the points no region uses
    lm = FaceLandmarks(pts, np.array([1, 0, 0, 0], np.float32), "ibug68", "test")
    gen = window_region_flows(clip, lm, 0, [1, 2, 3], method="dis")
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            result = stop.value
            break
    assert result.flows["eye"].shape == (3, 240, 280, 2) and result.flows["mouth"].shape == (3, 160, 260, 2)
    med = np.median(result.flows["eye"][..., 0], axis=(1, 2))
    np.testing.assert_allclose(med, np.array([0.5, 1.0, 1.5]) * 280 / 196, atol=0.15)
    # Later frames have no landmarks of their own: they are cut with the reference transform.
    with pytest.raises(NoFaceError):
        next(window_region_flows(clip, lm, 1, [2, 3]))

    gen = window_region_flows(clip, lm, 0, [3], method="dis", head_motion=True)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            comp = stop.value
            break
    assert comp.head_motion == "translation" and set(comp.flows) == {"eye", "mouth"}
    assert np.abs(np.median(comp.flows["eye"][0].reshape(-1, 2), 0)).max() < 0.15


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_flow_writes_npy(fixtures_dir, tmp_path, capsys):
    from napari_mespot.cli import main

    video = fixtures_dir / "video" / "single_face.mp4"
    out = tmp_path / "flow.npy"
    assert main(["flow", str(video), "--ref", "0", "--frame", "5", "--method", "dis", "--out", str(out)]) == 0
    f = np.load(out)
    assert f.shape == (360, 640, 2) and f.dtype == np.float32
    assert "dis flow 0→5 (frame)" in capsys.readouterr().out

    args = ["flow", str(video), "--force", "--ref", "0", "--frame", "5", "--out", str(out)]
    assert main([*args, "--region", "mouth", "--head-motion", "--param", "winsize=9"]) == 0
    assert np.load(out).shape == (160, 260, 2)
    assert main([*args, "--region", "eye", "--gammas", "0.1", "0.3", "0.1", "0.3"]) == 0
    assert np.load(out).shape == (240, 280, 2)
    assert main([*args, "--gammas", "0.1", "0.3", "0.1", "0.3"]) == 2
    assert main([*args, "--param", "window=9"]) == 2
    assert "has no parameter(s) window" in capsys.readouterr().err
    assert main([*args[:-1], str(out), "--frame", "500"]) == 2


def test_cli_flow_without_a_face_is_a_clear_error(fixtures_dir, tmp_path, capsys):
    from napari_mespot.cli import main

    video = fixtures_dir / "video" / "no_face.mp4"
    args = [
        "flow",
        str(video),
        "--ref",
        "3",
        "--frame",
        "5",
        "--region",
        "eye",
        "--out",
        str(tmp_path / "f.npy"),
    ]
    assert main(args) == 2
    assert "frame 3: no face found" in capsys.readouterr().err
    assert not (tmp_path / "f.npy").exists()


# --- display helpers (what the overlay draws) --------------------------------------------------


def test_window_reference_is_the_latest_window_start():
    # 30 fps, 7 s windows (210 frames) starting every 105 frames.
    assert [window_reference(f, 30.0) for f in (0, 104, 105, 300)] == [0, 0, 105, 210]
    assert window_reference(50, 25.0, window_seconds=2.0) == 50


def test_spotter_reference_is_the_start_of_the_latest_window_holding_the_frame():
    windows = ((0, 167), (84, 251), (200, 367))
    assert [spotter_reference(windows, f) for f in (0, 83, 84, 199, 200, 367)] == [0, 0, 84, 84, 200, 200]
    assert spotter_reference(windows, 400) is None  # no window looked there
    assert spotter_reference((), 10) is None


def test_arrow_scale_draws_the_95th_percentile_at_the_asked_length():
    lengths = np.arange(1.0, 101.0)  # 95th percentile: 95.05
    assert arrow_scale(lengths, arrow_px=19.01) == pytest.approx(0.2)
    assert arrow_scale(np.full(10, 0.01), arrow_px=20.0, max_scale=40.0) == 40.0  # a still face
    assert arrow_scale(np.zeros(0), max_scale=40.0) == 40.0


def test_grid_vectors_follow_eq_31_in_image_space():
    eye = region_transform(
        {"eye_outer_l": np.array([100.0, 200.0]), "eye_outer_r": np.array([200.0, 200.0])}, EYE
    )
    field = np.zeros((240, 280, 2), np.float32)
    field[..., 0] = 2.0  # 2 region px to the right = 1 image px (the crop is 2× the image)
    data, speed, angle = grid_vectors(field, eye, step=12, phi=3.0)
    assert data.shape == (20 * 23, 2, 2)
    # First arrow at region pixel (6, 6) = image (80 + 6.5/2, 140 + 6.5/2); napari order (y, x).
    np.testing.assert_allclose(data[0, 0], [143.25, 83.25], atol=1e-5)
    np.testing.assert_allclose(data[:, 1], np.tile([0.0, 3.0], (len(data), 1)), atol=1e-5)
    np.testing.assert_allclose(speed, 2.0)
    np.testing.assert_allclose(angle, 0.0)


def test_magnitude_image_paints_the_regions_back_onto_the_frame():
    eye = region_transform(
        {"eye_outer_l": np.array([100.0, 200.0]), "eye_outer_r": np.array([200.0, 200.0])}, EYE
    )
    field = np.zeros((240, 280, 2), np.float32)
    field[..., 1] = 5.0
    heat = magnitude_image({"eye": field}, {"eye": eye}, (400, 300))
    assert heat.shape == (400, 300)
    # The eye box spans x 80–220, y 140–260 (eq. 9–12 with d = 100).
    np.testing.assert_allclose(heat[150:250, 90:210], 5.0, atol=1e-4)
    assert not heat[:130].any() and not heat[270:].any() and not heat[:, :70].any()
