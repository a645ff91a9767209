"""Head-motion models: a known rigid head motion (rotation, scale, translation) is removed from
the region flows, the AU-like motion on top of it is kept, and the modes are named settings."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from napari_mespot.core.face.head_motion import (
    HEAD_MOTION_MODES,
    RIGID_POINTS,
    head_motion_mode,
    landmark_motion,
    region_motion_field,
    registered,
    residual_similarity,
)
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.regions import EYE, MOUTH, NOSE, face_regions
from napari_mespot.core.flow.regions import region_flows_pair, window_region_flows
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import PRESETS, PrototypeSettings

#: Farneback's own mean endpoint error on these textures is 0.06 px (tests/test_flow.py): with
#: the head motion undone exactly, what is left of a static face should be that small. 0.15 px
#: is test_flow's bound for it; the nose-bridge median and two bilinear resamplings add a little.
STILL_BOUND_PX = 0.15


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random uint8 texture at two scales (skin-like; Farneback tracks it well)."""
    rng = np.random.default_rng(seed)
    t = sum(
        cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), s) * a
        for s, a in ((2, 1), (6, 0.5))
    )
    return ((t - t.min()) / (t.max() - t.min()) * 200 + 25).astype(np.uint8)


def face_points() -> np.ndarray:
    """A 68-point (iBUG) face of the layout the regions need: eyes 140 px apart at y = 150,
    mouth corners at y = 280, nose bridge at x = 320, jaw outline at the ears."""
    pts = np.full((68, 2), [320.0, 250.0])
    pts[[0, 1, 15, 16]] = [[200, 160], [203, 200], [437, 200], [440, 160]]
    pts[27:31] = [[320, 150], [320, 170], [320, 190], [320, 210]]
    pts[31:36] = [[300, 225], [310, 228], [320, 230], [330, 228], [340, 225]]
    pts[[36, 39, 42, 45]] = [[250, 150], [295, 152], [345, 152], [390, 150]]
    pts[[48, 54]] = [[280, 280], [360, 280]]
    pts[17:27] = [[260 + 12 * i, 120] for i in range(10)]
    return pts


def similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    """A head motion about the face centre (320, 240): rotation, scale, then a shift."""
    s = cv2.getRotationMatrix2D((320.0, 240.0), angle_deg, scale)
    s[:, 2] += (tx, ty)
    return s


def apply(motion: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return pts @ motion[:, :2].T + motion[:, 2]


def move_head(img: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """``img`` with its content carried by ``motion``: the content at p is at motion(p)."""
    return cv2.warpAffine(img, motion, img.shape[1::-1], flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


HEAD = similarity(3.0, 1.02, 4.0, -2.0)


@pytest.fixture(scope="module")
def ref() -> np.ndarray:
    return texture(360, 640, seed=21)


def clip_and_landmarks(frames: list[np.ndarray], motions: list[np.ndarray]):
    pts = np.stack([apply(m, face_points()) for m in motions]).astype(np.float32)
    lm = FaceLandmarks(pts, np.ones(len(frames), np.float32), "ibug68", "test")
    clip = np.stack([np.repeat(f[..., None], 3, -1) for f in frames])
    return clip, lm


def window_flows(clip, lm, mode: str):
    return run_to_end(
        window_region_flows(clip, lm, 0, range(1, len(clip)), method="farneback", head_motion=mode)
    )


def magnitudes(flows: np.ndarray) -> np.ndarray:
    return np.hypot(flows[..., 0], flows[..., 1])


def test_modes_are_named_and_the_old_switch_keeps_its_meaning():
    assert HEAD_MOTION_MODES == ("off", "translation", "similarity")
    assert (head_motion_mode(True), head_motion_mode(False)) == ("translation", "off")
    assert PrototypeSettings(head_motion=True).head_motion == "translation"
    assert PrototypeSettings().head_motion == "off"  # the paper has none
    with pytest.raises(ValueError, match="similarity"):
        PrototypeSettings(head_motion="rotation")
    assert PRESETS["recommended"].head_motion in HEAD_MOTION_MODES


def test_region_motion_field_is_the_motion_seen_in_region_pixels():
    eye = face_regions(clip_and_landmarks([np.zeros((4, 4), np.uint8)], [np.eye(2, 3)])[1], 0, (EYE,))["eye"]
    field = region_motion_field(HEAD, eye)
    for q in ([0, 0], [279, 0], [140, 120], [17, 233]):
        expected = eye.to_region(apply(HEAD, eye.to_image(np.array(q, float)))) - q
        np.testing.assert_allclose(field[q[1], q[0]], expected, atol=1e-3)
    assert not region_motion_field(np.eye(2, 3), eye).any()  # no motion: exactly no field


def test_registered_regions_cut_the_same_face_from_the_moved_frame(ref):
    later = move_head(ref, HEAD)
    regions = face_regions(clip_and_landmarks([ref], [np.eye(2, 3)])[1], 0, (EYE, MOUTH))
    for t in regions.values():
        before = t.warp(ref).astype(float)
        plain = np.abs(t.warp(later) - before).mean()
        aligned = np.abs(registered(t, HEAD).warp(later) - before)[8:-8, 8:-8].mean()
        # Grey levels span 25..225; what is left is the interpolation of two resamplings.
        assert aligned < 1.0 and aligned < plain / 10


def test_landmark_motion_recovers_the_head_motion_despite_moved_points():
    pts = face_points()
    later = apply(HEAD, pts)
    dragged = list(RIGID_POINTS["ibug68"][:3])
    later[dragged] += [0.0, 5.0]  # an expression pulls three of the rigid points along
    lm = FaceLandmarks(np.stack([pts, later]).astype(np.float32), np.ones(2, np.float32), "ibug68", "test")
    np.testing.assert_allclose(landmark_motion(lm, 0, 1), HEAD, atol=2e-3)
    missing = lm.points.copy()
    missing[1] = np.nan
    assert (
        landmark_motion(FaceLandmarks(missing, np.array([1, 0], np.float32), "ibug68", "test"), 0, 1) is None
    )


def test_similarity_mode_removes_rotation_scale_and_translation(ref):
    half = similarity(1.5, 1.01, 2.0, -1.0)
    clip, lm = clip_and_landmarks(
        [ref, move_head(ref, half), move_head(ref, HEAD)], [np.eye(2, 3), half, HEAD]
    )
    sim = window_flows(clip, lm, "similarity")
    trans = window_flows(clip, lm, "translation")
    assert sim.head_motion == "similarity" and trans.head_motion == "translation"
    for name in ("eye", "mouth"):
        inner = (slice(None), slice(8, -8), slice(8, -8))
        assert np.median(magnitudes(sim.flows[name])[inner]) < STILL_BOUND_PX
        # Translation alone leaves the turn: 3° about the face centre moves the ends of the
        # 196 px wide eye region by ±5 image px vertically, the 112 px mouth region by ±3.
        assert np.percentile(magnitudes(trans.flows[name][-1])[inner[1:]], 90) > 2.0


def test_au_like_motion_survives_similarity_compensation(ref):
    # The mouth area moves 2 px up on the face (an AU, say), then the whole head moves.
    face = ref.copy()
    up = cv2.warpAffine(ref, np.float32([[1, 0, 0], [0, 1, -2]]), ref.shape[1::-1], flags=cv2.INTER_CUBIC)
    face[250:320, 270:370] = up[250:320, 270:370]
    clip, lm = clip_and_landmarks([ref, move_head(face, HEAD)], [np.eye(2, 3), HEAD])
    comp = window_flows(clip, lm, "similarity")
    mouth = comp.transforms["mouth"]
    centre = mouth.to_region([320.0, 285.0]).round().astype(int)
    patch = comp.flows["mouth"][0, centre[1] - 5 : centre[1] + 5, centre[0] - 5 : centre[0] + 5].reshape(
        -1, 2
    )
    # 2 image px up = 2·160/96 mouth px up (the mouth region is upright: no horizontal part).
    np.testing.assert_allclose(np.median(patch, 0), [0, -2 * 160 / 96], atol=0.25)


def test_pair_flow_removes_what_a_rough_registration_leaves(ref):
    regions = face_regions(clip_and_landmarks([ref], [np.eye(2, 3)])[1], 0, (EYE, MOUTH, NOSE))
    nose = regions.pop("nose")
    rough = similarity(2.5, 1.015, 3.0, -1.0)  # a registration off by 0.5°, 0.5 % and 1 px
    later = move_head(ref, HEAD)
    out = region_flows_pair(
        ref, later, regions, "farneback", nose=nose, head_motion="similarity", motion=rough
    )
    for name, f in out.items():
        assert np.median(magnitudes(f)[8:-8, 8:-8]) < STILL_BOUND_PX, name
    plain = region_flows_pair(ref, later, regions, "farneback", nose=nose)  # translation
    assert all(np.median(magnitudes(f)) > 1.0 for f in plain.values())


def test_similarity_mode_tolerates_landmark_jitter(ref):
    """Face Mesh points jitter by ~0.5 px from frame to frame: registering with them alone tilts
    whole regions; the similarity fitted to the region flows afterwards removes that."""
    clip, lm = clip_and_landmarks([ref, move_head(ref, HEAD)], [np.eye(2, 3), HEAD])
    rng = np.random.default_rng(22)
    jittered = lm.points + rng.normal(0.0, 1.0, lm.points.shape).astype(np.float32)
    noisy = FaceLandmarks(jittered, lm.confidence, lm.scheme, lm.provider)
    flows = window_flows(clip, noisy, "similarity")
    for name in ("eye", "mouth"):
        assert np.median(magnitudes(flows.flows[name])[:, 8:-8, 8:-8]) < STILL_BOUND_PX, name


def test_residual_similarity_ignores_a_local_motion():
    regions = face_regions(
        clip_and_landmarks([np.zeros((4, 4), np.uint8)], [np.eye(2, 3)])[1], 0, (EYE, MOUTH)
    )
    small = similarity(0.8, 1.005, 0.7, -0.4)
    flows = {name: region_motion_field(small, t) for name, t in regions.items()}
    flows["mouth"][40:120, 20:100] += [3.0, -4.0]  # an AU: a large move of a fifth of one region
    np.testing.assert_allclose(residual_similarity(flows, regions), small, atol=1e-3)
