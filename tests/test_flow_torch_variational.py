"""The torch port of OpenCV's variational refinement (DIS's last stage) against OpenCV itself.

Every case runs ``cv2.VariationalRefinement`` (alpha, delta, gamma, omega and both iteration
counts set explicitly) and :func:`variational_refinement` on the same uint8 pair and the same
initial flow, and compares the refined flows by endpoint error (px).

Stated bound: **mean ≤ 1e-6 px and max ≤ 1e-5 px, whole frame.** Why there:

- The port performs OpenCV's float32 operations in OpenCV's order (same remap with its fused
  multiply-adds, same Sobel differences, same data and smoothness terms, same accumulation order
  of the system's coefficients, same red-then-black SOR), with correctly rounded division and
  square root; on the development machine it agrees with OpenCV to the bit in every case here.
  A machine where OpenCV's remap runs without FMA, or a GPU, rounds a few operations
  differently. How far such roundings carry was measured by swapping exactly one rounding in the
  port for another (torch's own float32 sqrt, which is 1 ulp off for ~0.6 % of inputs; the
  remap without FMA; the system's sums in another order) on the 35×30 and 140×120 real crops
  with zero and DIS initial flows: mean ≤ 6e-8 px, max ≤ 2.2e-6 px. SOR is a contraction and
  the robust weights are smooth away from zero, so ulp-level changes stay ulp-level.
- A discrete deviation from OpenCV shows far above: on the same crops, updating dv with the old
  du moves the result by mean ≥ 8e-5 px (max ≥ 2.7e-4 px), the black pass first by mean ≥ 7e-4,
  a zero instead of a replicated flow outside the image (smoothness weights) by max ≥ 6e-3, a
  halved Sobel by mean ≥ 2e-4, the right-hand side from W + dW instead of W by mean ≥ 4e-3, and
  a zero-border warp (with a DIS initial flow) by mean ≥ 2e-3.

So the bound sits one order above the largest rounding effect and more than an order below the
smallest discrete deviation tried; the tolerance of the Farneback port (mean 1e-3 px) would let
most of those deviations through, because the refinement moves the flow by only 0.02–0.2 px.

Inputs: frames 10 and 13 of the real WolfgangLanger clip, the eye box (7:6) and mouth box (13:8)
resized to the sizes the spotter's regions have at DIS's pyramid levels (odd widths included:
the red-black buffers differ there); and a synthetic smooth texture (seed 6161, new, used only
here) under a known sub-pixel warp. Initial flows: zero, OpenCV DIS ultrafast (no refinement of
its own) and an analytic smooth field.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from napari_mespot.core.flow.methods import to_gray
from napari_mespot.core.flow.torch.variational import variational_refinement
from napari_mespot.core.media.video import open_video

MEAN_BOUND, MAX_BOUND = 1e-6, 1e-5
#: DIS medium/fast's settings, also OpenCV's defaults.
PARAMS = {"alpha": 20.0, "delta": 5.0, "gamma": 10.0, "omega": 1.6}
#: (box in the frame as x0, y0, x1, y1; sizes (w, h) at DIS's levels): eye region 280×240, mouth 260×160.
EYE_BOX, EYE_SIZES = (330, 100, 540, 280), ((140, 120), (70, 60), (35, 30))
MOUTH_BOX, MOUTH_SIZES = (365, 230, 495, 310), ((130, 80), (65, 40), (32, 20))
TEXTURE_SEED = 6161  # the synthetic texture of the known-warp cases; used nowhere else

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: GPU path not tested")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def frames(fixtures_dir) -> dict[int, np.ndarray]:
    """Grey frames 10, 11, 13 and 16 of the WolfgangLanger clip (natural facial motion)."""
    with open_video(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4") as video:
        return {i: to_gray(video.frame(i)) for i in (10, 11, 13, 16)}


def region(frame: np.ndarray, box: tuple[int, int, int, int], size: tuple[int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return cv2.resize(frame[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)


def real_pair(frames, size: tuple[int, int], later: int = 13) -> tuple[np.ndarray, np.ndarray]:
    box = EYE_BOX if size in EYE_SIZES else MOUTH_BOX
    return region(frames[10], box, size), region(frames[later], box, size)


def texture(h: int, w: int) -> np.ndarray:
    """Smooth random texture at two scales, grey 25..225, float32."""
    rng = np.random.default_rng(TEXTURE_SEED)
    fine = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 2.0)
    coarse = cv2.GaussianBlur(rng.normal(size=(h, w)).astype(np.float32), (0, 0), 6.0)
    t = fine + 0.5 * coarse
    return ((t - t.min()) / (t.max() - t.min()) * 200 + 25).astype(np.float32)


def warp_field(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth sub-pixel displacement (dx, dy) over the frame, |d| ≤ 0.9 px."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return 0.5 * np.sin(2 * np.pi * yy / h) + 0.2, 0.4 * np.cos(2 * np.pi * xx / w) - 0.3


def textured_pair(h: int = 60, w: int = 70) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 (ref, img) with img(p + d(p)) ≈ ref(p), and the true flow d."""
    ref = texture(h, w)
    dx, dy = warp_field(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = cv2.remap(ref, xx - dx, yy - dy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)
    as8 = lambda a: np.clip(np.rint(a), 0, 255).astype(np.uint8)  # noqa: E731
    return as8(ref), as8(img), np.stack([dx, dy], -1)


def initial_flow(kind: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    h, w = a.shape
    if kind == "zero":
        return np.zeros((h, w, 2), np.float32)
    if kind == "dis":
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST).calc(a, b, None)
    return np.stack(warp_field(h, w), -1).astype(np.float32)


def opencv_refined(a, b, flow, fixed_point: int = 5, sor: int = 5, epsilon: float = 0.001) -> np.ndarray:
    vr = cv2.VariationalRefinement_create()
    vr.setEpsilon(epsilon)
    vr.setAlpha(PARAMS["alpha"])
    vr.setDelta(PARAMS["delta"])
    vr.setGamma(PARAMS["gamma"])
    vr.setOmega(PARAMS["omega"])
    vr.setFixedPointIterations(fixed_point)
    vr.setSorIterations(sor)
    u, v = vr.calcUV(a, b, flow[..., 0].copy(), flow[..., 1].copy())
    return np.stack([u, v], -1)


def torch_refined(
    a, b, flow, fixed_point: int = 5, sor: int = 5, device: str = "cpu", epsilon: float = 0.001
) -> np.ndarray:
    as_t = lambda x: torch.as_tensor(np.ascontiguousarray(x), dtype=torch.float32, device=device)  # noqa: E731
    got = variational_refinement(
        as_t(a)[None], as_t(b)[None], as_t(flow)[None],
        fixed_point_iterations=fixed_point, sor_iterations=sor, epsilon=epsilon, **PARAMS,
    )  # fmt: skip
    assert got.device.type == device and got.dtype == torch.float32 and got.shape == (1, *flow.shape)
    return got[0].cpu().numpy()


def endpoint_error(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.hypot(x[..., 0] - y[..., 0], x[..., 1] - y[..., 1])


def assert_opencvs(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    epe = endpoint_error(got, expected)
    assert epe.mean() <= MEAN_BOUND, f"{what}: mean {epe.mean():.2e} px from OpenCV"
    assert epe.max() <= MAX_BOUND, f"{what}: max {epe.max():.2e} px from OpenCV"


@pytest.mark.parametrize("start", ["zero", "dis", "smooth"])
@pytest.mark.parametrize("size", EYE_SIZES + MOUTH_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_real_face_regions_at_dis_levels_are_opencvs(frames, size, start):
    a, b = real_pair(frames, size)
    flow = initial_flow(start, a, b)
    expected = opencv_refined(a, b, flow)
    assert endpoint_error(expected, flow).mean() > 100 * MEAN_BOUND  # the refinement did move it
    assert_opencvs(torch_refined(a, b, flow), expected, f"{size} from {start}")


@pytest.mark.parametrize("iterations", [(0, 5), (1, 1), (1, 5), (5, 1), (2, 3), (5, 5)], ids=str)
def test_every_iteration_count_is_opencvs(frames, iterations):
    a, b = real_pair(frames, (65, 40))
    flow = initial_flow("dis", a, b)
    assert_opencvs(
        torch_refined(a, b, flow, *iterations), opencv_refined(a, b, flow, *iterations), str(iterations)
    )


@pytest.mark.parametrize("epsilon", [0.01, 0.1])
def test_the_penalisers_epsilon_is_opencvs(frames, epsilon):
    """DIS sets ε = 0.01 on its refinement (the refinement's own default is 0.001)."""
    a, b = real_pair(frames, (140, 120))
    flow = initial_flow("dis", a, b)
    expected = opencv_refined(a, b, flow, epsilon=epsilon)
    assert endpoint_error(expected, opencv_refined(a, b, flow)).mean() > 100 * MEAN_BOUND  # ε matters
    assert_opencvs(torch_refined(a, b, flow, epsilon=epsilon), expected, f"epsilon {epsilon}")


@pytest.mark.parametrize("start", ["zero", "smooth"])
def test_known_warp_of_a_texture_is_opencvs(start):
    a, b, _ = textured_pair()
    flow = initial_flow(start, a, b)
    assert_opencvs(torch_refined(a, b, flow), opencv_refined(a, b, flow), f"texture from {start}")


def test_refinement_brings_a_zero_flow_closer_to_the_known_warp():
    """Not only OpenCV's numbers but their direction: from zero, the refined flow nears the truth.

    Only a little (about 0.57 → 0.52 px here): I1 is warped once, by the initial flow, and a
    constant flow has the largest smoothness weight (α/2 / ε), so one call polishes a flow rather
    than finds one — DIS calls it after its patch search at every level. A sign or term error in
    the data part would move the flow away instead.
    """
    a, b, truth = textured_pair()
    zero = initial_flow("zero", a, b)
    inner = (slice(4, -4), slice(4, -4))
    before = endpoint_error(zero, truth)[inner].mean()
    after = endpoint_error(torch_refined(a, b, zero), truth)[inner].mean()
    assert after < before, f"mean error to the truth {before:.3f} px → {after:.3f} px"


def test_a_batch_gives_each_frame_its_own_result_and_one_reference_broadcasts(frames):
    """Three later frames, each with its own initial flow, against one reference: the batch is
    bit-identical to pair by pair (every operation is elementwise or a shift within a frame)."""
    size = (35, 30)
    ref = region(frames[10], EYE_BOX, size)
    later = [region(frames[i], EYE_BOX, size) for i in (11, 13, 16)]
    flows = [initial_flow(kind, ref, img) for kind, img in zip(("zero", "dis", "smooth"), later, strict=True)]
    i0, i1, w = (torch.as_tensor(np.stack(x), dtype=torch.float32) for x in ([ref], later, flows))
    batched = variational_refinement(i0, i1, w)
    assert batched.shape == (3, 30, 35, 2)
    for k in range(3):
        alone = variational_refinement(i0, i1[k : k + 1], w[k : k + 1])
        assert torch.equal(batched[k], alone[0]), f"frame {k} differs inside the batch"
    assert torch.equal(variational_refinement(i0.expand(3, -1, -1).clone(), i1, w), batched)
    for k, img in enumerate(later):
        assert_opencvs(batched[k].numpy(), opencv_refined(ref, img, flows[k]), f"batch entry {k}")


def test_shapes_are_checked():
    i0, flow = torch.zeros(2, 20, 32), torch.zeros(3, 20, 32, 2)
    with pytest.raises(ValueError, match="reference"):
        variational_refinement(i0, torch.zeros(3, 20, 32), flow)
    with pytest.raises(ValueError, match="reference"):
        variational_refinement(i0[:1], torch.zeros(3, 20, 32), flow[..., :1])


@cuda
def test_cuda_is_opencvs(frames):
    a, b = real_pair(frames, (65, 40))
    flow = initial_flow("dis", a, b)
    assert_opencvs(torch_refined(a, b, flow, device="cuda"), opencv_refined(a, b, flow), "cuda")
