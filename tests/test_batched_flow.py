"""The prototype spotter's fast paths give the slow path's results.

- The OpenCV thread pool makes the same calls on the same crops as a serial loop, so its flows
  (and therefore the matching curves) are *identical*, whatever the number of threads.
- The batched torch port on the CPU agrees with OpenCV's Farneback to the bound stated in
  tests/test_flow_torch.py (mean endpoint error ≤ 1e-3 px). A matching index is a sum of flow ×
  prototype over the region, so |Δp| ≤ Σ_px EPE(px)·|M(px)| ≤ mean EPE · n_px · max|M|: that
  bound, from the flow agreement alone, is what the curves are held to.
- Prototypes learnt with one flow method are never matched against another's flow.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from napari_mespot.core.device import cuda_available, fallback_note
from napari_mespot.core.flow.batched import flows_to_reference, torch_params
from napari_mespot.core.flow.methods import DIS, FARNEBACK, TVL1
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import (
    PRESETS,
    Prototype,
    PrototypeError,
    PrototypeSet,
    PrototypeSettings,
    default_prototypes,
    default_prototypes_path,
)
from napari_mespot.core.spotters.prototype.curves import SLOW_GPU_NOTE, flow_settings, resolve_device

#: The agreement of the torch Farneback (tests/test_flow_torch.py) and DIS
#: (tests/test_flow_torch_dis.py) with OpenCV's (mean EPE, px).
TORCH_MEAN_EPE = 1e-3
NO_GPU = "no CUDA GPU here: GPU path not tested"


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth random texture, grey 25..225 (as test_flow.py)."""
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 2.0)
    t += 0.5 * cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 6.0)
    return (t - t.min()) / (t.max() - t.min()) * 200 + 25


def warped(img: np.ndarray, amplitude: float, seed: int) -> np.ndarray:
    """``img`` moved by a smooth, non-rigid displacement of about ``amplitude`` px, as uint8."""
    h, w = img.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    phase = seed * 0.7
    dx = amplitude * np.sin(2 * np.pi * yy / h + phase)
    dy = amplitude * 0.6 * np.cos(2 * np.pi * xx / w - phase)
    out = cv2.remap(img, xx - dx, yy - dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 255).astype(np.uint8)


def crops(n: int, sizes: dict[str, tuple[int, int]]) -> tuple[dict, list[dict]]:
    """Reference crops and ``n`` frames of crops (name → (h, w)) with growing motion."""
    refs = {name: texture(h, w, seed=k).astype(np.uint8) for k, (name, (h, w)) in enumerate(sizes.items())}
    frames = [{name: warped(ref, 0.3 * (i + 1), i) for name, ref in refs.items()} for i in range(n)]
    return refs, frames


SIZES = {"eye": (48, 56), "mouth": (32, 52)}


@pytest.mark.parametrize("method", ["farneback", "dis"])
def test_the_thread_pool_gives_the_serial_loops_flows_exactly(method):
    refs, frames = crops(7, SIZES)
    serial = run_to_end(flows_to_reference(refs, iter(frames), len(frames), method, threads=1))
    for threads in (2, 3):
        pooled = run_to_end(flows_to_reference(refs, iter(frames), len(frames), method, threads=threads))
        for name in SIZES:
            assert np.array_equal(pooled[name], serial[name]), (method, threads, name)
    # and the serial loop is the plain per-frame call
    expected = (
        DIS(refs["eye"], frames[4]["eye"]) if method == "dis" else FARNEBACK(refs["eye"], frames[4]["eye"])
    )
    assert np.array_equal(serial["eye"][4], expected)


def test_progress_counts_every_frame_once_done():
    refs, frames = crops(5, SIZES)
    gen = flows_to_reference(refs, iter(frames), 5, "dis", threads=2)
    done = []
    try:
        while True:
            done.append(next(gen).done)
    except StopIteration as stop:
        assert set(stop.value) == set(SIZES)
    assert done[-1] == 5 and done == sorted(done)


@pytest.mark.parametrize("method", ["farneback", "dis"])
def test_the_torch_port_on_the_cpu_matches_opencv_to_the_stated_bound(method):
    refs, frames = crops(3, SIZES)
    cv = run_to_end(flows_to_reference(refs, iter(frames), 3, method, threads=1))
    port = run_to_end(flows_to_reference(refs, iter(frames), 3, method, device="cpu"))
    for name in SIZES:
        epe = np.hypot(*(port[name] - cv[name]).transpose(3, 0, 1, 2))
        assert epe.mean() <= TORCH_MEAN_EPE, (name, float(epe.mean()))
        assert np.abs(cv[name]).max() > 0.2  # there was motion to get right


def test_torch_parameters_are_opencvs_completed_and_gamma_is_refused():
    assert torch_params(FARNEBACK, {"winsize": 9})["winsize"] == 9
    assert torch_params(FARNEBACK, {})["levels"] == FARNEBACK.defaults["levels"]
    assert "gamma" not in torch_params(TVL1, {})
    with pytest.raises(ValueError, match="gamma must be 0"):
        torch_params(TVL1, {"gamma": 0.1})


# --- flow method agreement between prototypes and settings ------------------------------------


def tiny_set(method: str, params: dict) -> PrototypeSet:
    from napari_mespot.core.face.regions import RegionSpec

    eye = RegionSpec("eye", ("eye_outer_l", "eye_outer_r"), size=(4, 3))
    return PrototypeSet(
        (Prototype(1, "eye", np.ones((3, 4, 2), np.float32), 10, 1.0),), (eye,), method, params
    )


def test_prototypes_learnt_with_one_flow_are_refused_with_another():
    farneback = tiny_set("farneback", {})
    assert flow_settings(farneback, PrototypeSettings()) == ("farneback", {})
    assert flow_settings(farneback, PrototypeSettings(flow_method="farneback")) == ("farneback", {})
    with pytest.raises(PrototypeError, match="learnt with farneback flow, the settings ask for dis"):
        flow_settings(farneback, PrototypeSettings(flow_method="dis"))
    # parameters: the defaults spelt out agree; another value does not
    assert flow_settings(farneback, PrototypeSettings(flow_params={"winsize": 15}))[0] == "farneback"
    with pytest.raises(PrototypeError, match="winsize: learnt 15, asked 21"):
        flow_settings(farneback, PrototypeSettings(flow_params={"winsize": 21}))
    fast = tiny_set("dis", {"preset": "fast"})
    assert flow_settings(fast, PrototypeSettings(flow_method="dis")) == ("dis", {"preset": "fast"})
    with pytest.raises(PrototypeError, match="preset: learnt 'fast', asked 'medium'"):
        flow_settings(fast, PrototypeSettings(flow_params={"preset": "medium"}))


# --- presets and their shipped prototype files -------------------------------------------------


def test_each_preset_names_a_shipped_set_learnt_with_its_flow():
    """Each preset spots with its own set (thresholds calibrated under its settings); the paper
    and recommended sets share their Farneback prototypes, the fast and robust sets their DIS ones."""
    names = {name: preset.shipped_prototypes for name, preset in PRESETS.items()}
    assert names == {"paper": "paper", "recommended": "default", "fast": "fast", "robust": "robust"}
    assert default_prototypes_path("fast").name == "fast_prototypes.npz"
    sets = {name: default_prototypes(shipped) for name, shipped in names.items()}
    assert {name: s.flow_method for name, s in sets.items()} == {
        "paper": "farneback",
        "recommended": "farneback",
        "fast": "dis",
        "robust": "dis",
    }
    for a, b in (("paper", "recommended"), ("robust", "fast")):
        pairs = zip(sets[a].prototypes, sets[b].prototypes, strict=True)
        assert all(np.array_equal(p.field, q.field) for p, q in pairs)
        assert not np.allclose(sets[a].thresholds(), sets[b].thresholds())
    for name, s in sets.items():
        assert np.isfinite(s.thresholds()).all()  # calibrated
        assert s.calibration["settings"]["head_motion"] == PRESETS[name].head_motion
    # the fast preset is recommended in every other respect
    from dataclasses import replace

    assert replace(PRESETS["fast"], shipped_prototypes="default") == PRESETS["recommended"]
    with pytest.raises(PrototypeError, match="no shipped prototype set 'casme2'"):
        default_prototypes_path("casme2")
    with pytest.raises(ValueError, match="shipped_prototypes must be one of"):
        PrototypeSettings(shipped_prototypes="casme2")


def test_the_registered_spotter_loads_the_presets_set():
    from napari_mespot.plugins import get_spotter

    spotter = get_spotter("prototype")
    assert spotter.load_model(None, PRESETS["fast"]).flow_method == "dis"
    assert spotter.load_model(None, PRESETS["recommended"]).flow_method == "farneback"


# --- devices -----------------------------------------------------------------------------------


def test_device_resolution_per_flow_method():
    assert resolve_device("cpu", "farneback") == ("cpu", ())
    device, notes = resolve_device("cuda", "energy")  # a plugin's method without a torch port
    assert device == "cpu" and "energy flow has no GPU implementation" in notes[0]
    gpu = cuda_available()
    for method in ("farneback", "tvl1"):
        assert resolve_device("auto", method)[0] == ("cuda" if gpu else "cpu")
    assert resolve_device("auto", "dis") == ("cpu", ())  # auto keeps DIS on OpenCV's CPU threads
    no_gpu = ("cpu", (fallback_note("the dis flow"),))
    slow = ("cuda", (SLOW_GPU_NOTE.format(method="dis"),))  # asked for, run, and said to be slower
    assert resolve_device("cuda", "dis") == (slow if gpu else no_gpu)
    assert resolve_device("auto", "energy") == ("cpu", ())
    if not gpu:
        device, notes = resolve_device("cuda", "farneback")
        assert device == "cpu" and notes == (fallback_note("the farneback flow"),)


# --- a whole window through the spotter --------------------------------------------------------

#: Small regions so the torch port on the CPU stays quick; the geometry is the paper's.
SMALL_EYE_SIZE, SMALL_MOUTH_SIZE = (56, 48), (52, 32)


@pytest.fixture(scope="module")
def window_clip():
    """12 frames of a 360×640 texture under growing smooth warps, and landmarks on frame 0 (ibug68)."""
    from napari_mespot.core.face.landmarks import FaceLandmarks

    ref = texture(360, 640, seed=11)
    frames = [np.clip(ref, 0, 255).astype(np.uint8)] + [warped(ref, 0.25 * k, k) for k in range(1, 12)]
    clip = np.stack([np.repeat(f[..., None], 3, -1) for f in frames])
    pts = np.full((len(clip), 68, 2), 200.0, np.float32)
    pts[:, 36], pts[:, 45] = (250.0, 150.0), (390.0, 150.0)  # outer eye corners
    pts[:, 48], pts[:, 54] = (280.0, 280.0), (360.0, 280.0)  # mouth corners
    pts[:, 27:30] = (320.0, 175.0)  # nose bridge
    pts[:, 17:27] = (300.0, 120.0)
    return clip, FaceLandmarks(pts, np.ones(len(clip), np.float32), "ibug68", "test")


def small_prototypes(method: str) -> PrototypeSet:
    from napari_mespot.core.face.regions import EYE, MOUTH

    eye, mouth = (
        replace_spec(EYE, SMALL_EYE_SIZE),
        replace_spec(MOUTH, SMALL_MOUTH_SIZE),
    )
    rng = np.random.default_rng(5)

    def field(spec, direction):  # a mean direction (so the curves are large) plus texture
        h, w = spec.size[1], spec.size[0]
        return (np.array(direction) + 0.2 * rng.normal(size=(h, w, 2))).astype(np.float32)

    protos = tuple(
        Prototype(au, spec.name, field(spec, d), 10, 1.0)
        for au, spec, d in ((1, eye, (0.0, 1.0)), (4, eye, (1.0, 0.3)), (12, mouth, (-1.0, 0.5)))
    )
    return PrototypeSet(protos, (eye, mouth), method, {})


def replace_spec(spec, size):
    from dataclasses import replace

    return replace(spec, size=size)


def curves(clip, lm, protos, settings, device=None) -> np.ndarray:
    from napari_mespot.core.spotters.prototype.curves import window_matching

    return run_to_end(window_matching(clip, lm, protos, 0, len(clip) - 1, settings, device=device))


@pytest.mark.parametrize("head_motion", [False, True])
def test_window_curves_are_the_same_on_one_thread_or_several(window_clip, head_motion):
    clip, lm = window_clip
    protos = small_prototypes("dis")
    one = curves(clip, lm, protos, PrototypeSettings(threads=1, head_motion=head_motion, flow_batch=5))
    two = curves(clip, lm, protos, PrototypeSettings(threads=2, head_motion=head_motion, flow_batch=5))
    assert np.array_equal(one, two) and np.abs(one[:, 1:]).min() > 0


@pytest.mark.parametrize("method", ["farneback", "dis"])
@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not cuda_available(), reason=NO_GPU))],
)
def test_window_curves_through_the_torch_port_are_opencvs_within_the_flow_bound(window_clip, device, method):
    """On CPU tensors here; on the GPU when there is one (the same port, the same bound)."""
    clip, lm = window_clip
    protos = small_prototypes(method)
    settings = PrototypeSettings(threads=1)
    cv = curves(clip, lm, protos, settings)
    port = curves(clip, lm, protos, settings, device=device)
    for v, p in enumerate(protos.prototypes):
        n_px = p.field.shape[0] * p.field.shape[1]
        bound = TORCH_MEAN_EPE * n_px * float(np.abs(p.field).max()) * np.sqrt(2)
        assert np.abs(port[v] - cv[v]).max() <= bound, (p.label, np.abs(port[v] - cv[v]).max(), bound)
        assert np.abs(cv[v]).max() > 10 * bound  # the curves are far from trivially within it


def test_a_translations_field_in_region_pixels_is_the_mapped_motion():
    """The constant-field shortcut for translations gives R(S(R⁻¹q)) − q at every pixel q."""
    from napari_mespot.core.face.head_motion import region_motion_field
    from napari_mespot.core.face.regions import RegionTransform

    region = RegionTransform("eye", np.array([[1.4, 0.2, -300.0], [-0.2, 1.4, -90.0]]), (28, 24))
    motion = np.array([[1.0, 0.0, 2.5], [0.0, 1.0, -1.25]])
    ys, xs = np.mgrid[0:24, 0:28].astype(np.float64)
    q = np.stack([xs, ys], -1)
    r_lin, r_t = region.matrix[:, :2], region.matrix[:, 2]
    image = (q - r_t) @ np.linalg.inv(r_lin).T  # R⁻¹q
    moved = image + motion[:, 2]  # S
    expected = moved @ r_lin.T + r_t - q  # R(·) − q
    np.testing.assert_allclose(region_motion_field(motion, region), expected, atol=1e-5)


def test_a_similaritys_field_is_the_pixel_grid_formula_exactly():
    """Row-and-column construction of A q + c gives the full-grid values bit for bit."""
    from napari_mespot.core.face.head_motion import region_motion_field
    from napari_mespot.core.face.regions import RegionTransform

    region = RegionTransform("mouth", np.array([[1.3, -0.1, -250.0], [0.1, 1.3, -200.0]]), (26, 16))
    angle, scale = 0.03, 1.01
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    motion = np.hstack([rot, [[1.5], [-0.7]]])
    r_lin, r_t = region.linear, region.matrix[:, 2]
    s_minus_i, r_inv = motion[:, :2] - np.eye(2), np.linalg.inv(r_lin)
    a = r_lin @ s_minus_i @ r_inv
    c = r_lin @ (motion[:, 2] - s_minus_i @ (r_inv @ r_t))
    ys, xs = np.mgrid[0:16, 0:26].astype(np.float64)
    grid = (xs[..., None] * a[:, 0] + ys[..., None] * a[:, 1] + c).astype(np.float32)
    assert np.array_equal(region_motion_field(motion, region), grid)


def test_the_robust_window_curves_are_each_frames_own_pair_flow_matched(fixtures_dir):
    """The spotter's window path (flows in a thread pool over several batches, each frame
    matched in the flow threads, DIS solvers reused, the reliability residual alongside) gives
    exactly the curves of the plain per-frame path on a real face: the pair's flows
    (:func:`region_flows_pair`, the head's landmark motion registered and the rest removed),
    then eq. 21–22 per region."""
    from dataclasses import replace

    from napari_mespot.core.face.head_motion import landmark_motion
    from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
    from napari_mespot.core.face.regions import face_regions
    from napari_mespot.core.flow.regions import region_flows_pair
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.spotters.prototype.curves import reference_matching
    from napari_mespot.core.spotters.prototype.matching import match_region
    from napari_mespot.core.spotters.prototype.walk import LIMITS

    with open_video(fixtures_dir / "video" / "single_face.mp4") as video:
        frames = video[0:12]
    lm = run_to_end(MediaPipeFaceMesh().detect(frames))
    protos = default_prototypes("robust")
    settings = replace(PRESETS["robust"], threads=2, flow_batch=4)
    curves, shares = run_to_end(
        reference_matching(frames, lm, protos, 0, 1, 11, settings, unexplained_kappa=LIMITS.residual_kappa)
    )
    transforms = face_regions(lm, 0, protos.regions)
    regions = [p.region for p in protos.prototypes]
    for i in range(1, 12):
        motion = landmark_motion(lm, 0, i)
        pair = region_flows_pair(
            frames[0], frames[i], transforms, "dis", head_motion="similarity", motion=motion
        )
        for region in dict.fromkeys(regions):
            rows = [v for v, r in enumerate(regions) if r == region]
            fields = np.stack([protos.prototypes[v].field for v in rows]).astype(np.float32)
            expected = match_region(pair[region][None], fields)[:, 0]
            assert np.array_equal(curves[rows, i - 1], expected), (i, region)
    assert np.abs(curves).min() > 0 and shares is not None and len(shares) == 11
