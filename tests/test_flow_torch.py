"""The torch flow ports against OpenCV on the same inputs, and against known motion.

Stated error bounds (endpoint error, px, between the torch port and OpenCV on the same uint8
inputs) and why:

- **Farneback: mean ≤ 1e-3, 99th percentile ≤ 1e-2, whole frame.** The port performs OpenCV's
  arithmetic step for step (same kernels, border rules, pyramid sizes, bilinear sampling, box or
  Gaussian window, 2×2 solve in float64), so only the order of float32 roundings differs: about
  1e-7 relative, ~1e-6 px at these displacements. Any discrete deviation from OpenCV (a border
  weight table, a kernel, a pyramid size) shows at ≥ 1e-2 px mean, so the bound sits between the
  two: three orders above rounding, one below a real difference.
- **TV-L1 with the stopping rule disabled (fixed iteration counts): the same bound** — the same
  argument holds; the pointwise thresholding and the median are discontinuous, but a rounding
  flip there moves one pixel by a bounded amount, rarely.
- **TV-L1 with OpenCV's defaults: mean ≤ OpenCV's own response to a ±1 grey-level dither of
  the frame, on the same pair** (over pixels whose OpenCV flow lands ≥ 2 px inside the frame).
  OpenCV stops each warp when the RMS update falls below ε, a hard threshold; where the last
  update is within rounding of it, a rounding difference makes one solver iterate once more, and
  the change cascades through the later warps and scales. So OpenCV's TV-L1 is not defined to
  rounding but only to what its input determines: a uint8 frame is known to ±1 grey level (two
  decoders or colour conversions of the same video differ by that), and changing the frame that
  little moves OpenCV's own result by 0.01–0.04 px mean (one grey level at a single pixel already
  moves it ~0.01 px). The port is held to that. Pixels whose flow points within the bicubic
  support (2 px) of the frame edge are left out: the warped frame reads zeros there, the data term
  vanishes and the TV-L1 minimiser is not unique.

Against known motion, the torch flows keep the bounds ``test_flow.py`` sets for OpenCV.
The CUDA test runs only where torch sees a GPU.
"""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from napari_mespot.core.device import DeviceUnavailableError, fallback_note, torch_device
from napari_mespot.core.flow.methods import flow, to_gray
from napari_mespot.core.flow.torch import tvl1 as tvl1_port
from napari_mespot.core.flow.torch.ports import flow_batch
from napari_mespot.core.media.video import open_video

EXACT_MEAN, EXACT_P99 = 1e-3, 1e-2
#: test_flow.py's bounds for OpenCV on known motion (mean EPE, 16-px border excluded).
TRUTH_EPE = {"farneback": 0.15, "tvl1": 0.08}
#: Stopping rule off (ε = 0 never stops early) and few iterations, to keep the test fast.
TVL1_FIXED = {"epsilon": 0.0, "nscales": 3, "warps": 2, "outer_iterations": 2, "inner_iterations": 10}

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: GPU path not tested")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth random texture at two scales, grey 25..225 (as test_flow.py)."""
    rng = np.random.default_rng(seed)
    fine = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 2.0)
    coarse = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 6.0)
    t = fine + 0.5 * coarse
    return (t - t.min()) / (t.max() - t.min()) * 200 + 25


MOTIONS = {
    "translation": (lambda x, y: 2.3 + 0 * x, lambda x, y: -1.7 + 0 * y),
    "warp": (
        lambda x, y: 1.5 * np.sin(2 * np.pi * y / 120) + 0.8,
        lambda x, y: 1.0 * np.cos(2 * np.pi * x / 140) - 0.5,
    ),
}


def moved_pair(motion: str, h: int = 96, w: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 (ref, img) with img(p) = ref(p − G(p)) and the true flow f = G(x + f)."""
    gx, gy = MOTIONS[motion]
    ref = texture(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = cv2.remap(ref, xx - gx(xx, yy), yy - gy(xx, yy), cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    fx, fy = np.zeros_like(xx), np.zeros_like(yy)
    for _ in range(30):
        fx, fy = gx(xx + fx, yy + fy), gy(xx + fx, yy + fy)
    as8 = lambda a: np.clip(a, 0, 255).astype(np.uint8)  # noqa: E731
    return as8(ref), as8(img), np.stack([fx, fy], -1)


@pytest.fixture(scope="module")
def real_pair(fixtures_dir) -> tuple[np.ndarray, np.ndarray]:
    """Frames 10 and 13 of the WolfgangLanger clip, a 96×128 crop across the face (natural motion)."""
    with open_video(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4") as video:
        return tuple(to_gray(video.frame(i))[140:236, 370:498] for i in (10, 13))


def endpoint_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])


def assert_exact(torch_flow: np.ndarray, cv_flow: np.ndarray, what: str) -> None:
    epe = endpoint_error(torch_flow, cv_flow)
    assert epe.mean() <= EXACT_MEAN, f"{what}: mean {epe.mean():.2e} px from OpenCV"
    assert np.percentile(epe, 99) <= EXACT_P99, f"{what}: p99 {np.percentile(epe, 99):.2e} px from OpenCV"


def inside_mean(torch_flow: np.ndarray, cv_flow: np.ndarray) -> float:
    """Mean endpoint error over the pixels whose (OpenCV) flow lands ≥ 2 px inside the frame."""
    h, w = cv_flow.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    tx, ty = xx + cv_flow[..., 0], yy + cv_flow[..., 1]
    inside = (tx >= 2) & (tx <= w - 3) & (ty >= 2) & (ty <= h - 3)
    return float(endpoint_error(torch_flow, cv_flow)[inside].mean())


def assert_tvl1_close(torch_flow: np.ndarray, a: np.ndarray, b: np.ndarray, what: str) -> None:
    """The torch flow is as close to OpenCV's as OpenCV's is to itself on a ±1-dithered frame."""
    cv_flow = flow(a, b, "tvl1")
    dither = np.random.default_rng(0).integers(-1, 2, size=b.shape)
    dithered = flow(a, np.clip(b.astype(int) + dither, 0, 255).astype(np.uint8), "tvl1")
    bound, got = inside_mean(dithered, cv_flow), inside_mean(torch_flow, cv_flow)
    assert got <= bound, f"{what}: mean {got:.4f} px from OpenCV, OpenCV moves {bound:.4f} px under dither"


def opencv_farneback(a: np.ndarray, b: np.ndarray, gaussian_window: bool) -> np.ndarray:
    flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if gaussian_window else 0
    return cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 5, 5, 1.2, flags)


@pytest.mark.parametrize("gaussian_window", [False, True])
@pytest.mark.parametrize("motion", sorted(MOTIONS))
def test_farneback_is_opencvs_and_recovers_known_motion(motion, gaussian_window):
    a, b, truth = moved_pair(motion)
    got = flow_batch(a, b, "farneback", device="cpu", gaussian_window=gaussian_window)[0]
    assert got.shape == (96, 128, 2) and got.dtype == np.float32
    assert_exact(got, opencv_farneback(a, b, gaussian_window), f"farneback {motion}")
    if not gaussian_window:  # test_flow's bound is for the default (box) window
        assert endpoint_error(got, truth)[16:-16, 16:-16].mean() < TRUTH_EPE["farneback"]


@pytest.mark.parametrize("motion", sorted(MOTIONS))
def test_tvl1_is_opencvs_and_recovers_known_motion(motion):
    a, b, truth = moved_pair(motion)
    got = flow_batch(a, b, "tvl1", device="cpu")[0]
    assert_tvl1_close(got, a, b, f"tvl1 {motion}")
    assert endpoint_error(got, truth)[16:-16, 16:-16].mean() < TRUTH_EPE["tvl1"]


def test_tvl1_without_the_stopping_rule_is_opencvs_to_rounding():
    a, b, _ = moved_pair("warp")
    got = flow_batch(a, b, "tvl1", device="cpu", **TVL1_FIXED)[0]
    assert_exact(got, flow(a, b, "tvl1", **TVL1_FIXED), "tvl1 fixed iterations")


def test_real_face_pair_matches_opencv(real_pair):
    a, b = real_pair
    assert_exact(
        flow_batch(a, b, "farneback", device="cpu")[0], opencv_farneback(a, b, False), "real farneback"
    )
    assert_tvl1_close(flow_batch(a, b, "tvl1", device="cpu")[0], a, b, "real tvl1")
    fixed = flow_batch(a, b, "tvl1", device="cpu", **TVL1_FIXED)[0]
    assert_exact(fixed, flow(a, b, "tvl1", **TVL1_FIXED), "real tvl1 fixed iterations")


@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_a_batch_gives_each_frame_its_own_flow(method):
    """One reference against several frames — the spotter's window — equals pair by pair, also
    for TV-L1, whose images each keep their own stopping state inside the batch."""
    params = {"nscales": 2, "warps": 2} if method == "tvl1" else {}  # still stops on ε, faster
    ref = texture(64, 64, seed=3).astype(np.uint8)
    frames = np.stack([moved_pair("translation", 64, 64)[1], moved_pair("warp", 64, 64)[1], ref])
    batched = flow_batch(ref, frames, method, device="cpu", **params)
    assert batched.shape == (3, 64, 64, 2)
    for frame, got in zip(frames, batched, strict=True):
        np.testing.assert_allclose(got, flow_batch(ref, frame, method, device="cpu", **params)[0], atol=1e-4)
    per_frame_refs = flow_batch(np.stack([ref] * 3), frames, method, device="cpu", **params)
    np.testing.assert_allclose(per_frame_refs, batched, atol=1e-4)
    chunked = flow_batch(np.stack([ref] * 3), frames, method, device="cpu", chunk=2, **params)
    np.testing.assert_allclose(chunked, batched, atol=1e-4)


def test_registered_methods_take_opencvs_parameters_and_a_device():
    a, b, _ = moved_pair("translation", 64, 64)
    got = flow(a, b, "farneback-torch", device="cpu", winsize=9)
    np.testing.assert_allclose(got, flow_batch(a, b, "farneback", device="cpu", winsize=9)[0])
    assert flow(a, b, "tvl1-torch", device="cpu", warps=1, nscales=2).shape == (64, 64, 2)
    with pytest.raises(TypeError, match="no parameter"):
        flow(a, b, "tvl1-torch", gamma=0.1)
    with pytest.raises(ValueError, match="median_filtering"):
        flow(a, b, "tvl1-torch", median_filtering=7)
    with pytest.raises(DeviceUnavailableError, match="unknown device"):
        flow(a, b, "farneback-torch", device="tpu")
    with pytest.raises(ValueError, match="same size"):
        flow_batch(a, b[:32], "farneback", device="cpu")
    assert torch_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_asked_for_without_a_gpu_runs_on_the_cpu_and_says_so(caplog):
    a, b, _ = moved_pair("translation", 64, 64)
    with caplog.at_level("WARNING"):
        got = flow(a, b, "farneback-torch", device="cuda")
    np.testing.assert_array_equal(got, flow(a, b, "farneback-torch", device="cpu"))
    assert fallback_note("the farneback flow") in caplog.text


def test_listing_flow_methods_does_not_import_torch():
    code = (
        "import sys\n"
        "from napari_mespot.plugins import flow_methods\n"
        "names = flow_methods()\n"
        "torch_methods = ('farneback-torch', 'tvl1-torch', 'dis-torch')\n"
        "print(*(m in names for m in torch_methods), 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True", "False"]


@cuda
@pytest.mark.parametrize("method", ["farneback", "tvl1"])
def test_cuda_flows_match_opencv(method, real_pair):
    a, b = real_pair
    got = flow_batch(a, b, method, device="cuda")[0]
    if method == "farneback":
        assert_exact(got, opencv_farneback(a, b, False), "cuda farneback")
    else:
        assert_tvl1_close(got, a, b, "cuda tvl1")
        fixed = flow_batch(a, b, "tvl1", device="cuda", **TVL1_FIXED)[0]
        assert_exact(fixed, flow(a, b, "tvl1", **TVL1_FIXED), "cuda tvl1 fixed iterations")


@pytest.mark.parametrize("size", [3, 5])
def test_median_network_is_cv2_median_blur(size):
    """TV-L1's median runs as a pruned sorting network; it must select what OpenCV selects,
    ties and borders included."""
    rng = np.random.default_rng(4)
    for u in (rng.normal(size=(2, 23, 31)), rng.integers(0, 3, size=(2, 9, 7))):
        u = u.astype(np.float32)
        got = tvl1_port._median(torch.from_numpy(u), size).numpy()
        np.testing.assert_array_equal(got, np.stack([cv2.medianBlur(plane, size) for plane in u]))
