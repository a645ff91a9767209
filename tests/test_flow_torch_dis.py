"""The torch DIS port against ``cv2.DISOpticalFlow`` on the same inputs.

Stated error bound (endpoint error, px, torch port vs OpenCV, same uint8 inputs, whole frame):
**mean ≤ 1e-3 and 99th percentile ≤ 1e-2**, the bound of ``test_flow_torch.py`` for the ports
that do OpenCV's arithmetic step for step. Why it holds and why it is tight enough:

- The pyramid, the gradients and the structure tensor are integer-exact (the pyramid is checked
  bit for bit below); the patch SSDs and Gauss–Newton steps are OpenCV's float32 formulas, summed
  in another order than OpenCV's SIMD lanes, so they differ by ~1e-7 relative. The patch search
  makes discrete choices on them (neighbour or own vector, stop of the descent, keep or drop the
  result), and a rounding-level tie flips one patch now and then: measured on the face crops
  below, 4e-6 to 2e-4 px mean, p99 ≤ 3e-3.
- A real deviation from OpenCV's algorithm shows an order of magnitude above the bound. Measured
  on the 280×240 face crop (medium search): one propagation stripe instead of OpenCV's 8 →
  4.6e-2 mean; exact 2× pyramid reductions rounding ties to even instead of up → 4.1e-2; not
  taking the descent step of the iteration that finds no decrease → 5.6e-2.

The inputs are real: a pair of frames of the WolfgangLanger clip (natural head and face motion,
≈ 6 px mean flow), cut at the spotter's region sizes (280×240 eyes, 260×160 mouth).
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from napari_mespot.core.flow.methods import to_gray
from napari_mespot.core.flow.torch.dis import PRESETS, area_resize, dis, dis_with
from napari_mespot.core.flow.torch.ports import flow_batch
from napari_mespot.core.media.video import open_video

EXACT_MEAN, EXACT_P99 = 1e-3, 1e-2
CV_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
#: The spotter's region sizes (height, width).
REGION_SIZES = [(240, 280), (160, 260)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def face_frames(fixtures_dir) -> list[np.ndarray]:
    """Grey frames 10, 13 and 20 of the WolfgangLanger clip (360×640)."""
    with open_video(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4") as video:
        return [to_gray(video.frame(i)) for i in (10, 13, 20)]


def cut(frames: list[np.ndarray], size: tuple[int, int]) -> list[np.ndarray]:
    h, w = size
    return [np.ascontiguousarray(f[60 : 60 + h, 300 : 300 + w]) for f in frames]


def opencv(ref: np.ndarray, frame: np.ndarray, preset: str, refinement: bool = True) -> np.ndarray:
    solver = cv2.DISOpticalFlow_create(CV_PRESETS[preset])
    if not refinement:
        solver.setVariationalRefinementIterations(0)
    return solver.calc(ref, frame, None)


def port(ref: np.ndarray, frames: list[np.ndarray], preset: str, refinement: bool = True) -> np.ndarray:
    p = (
        PRESETS[preset]
        if refinement
        else dataclasses.replace(PRESETS[preset], variational_refinement_iterations=0)
    )
    return dis_with(torch.from_numpy(ref).float(), torch.from_numpy(np.stack(frames)).float(), p).numpy()


def assert_exact(torch_flow: np.ndarray, cv_flow: np.ndarray, what: str) -> None:
    epe = np.hypot(torch_flow[..., 0] - cv_flow[..., 0], torch_flow[..., 1] - cv_flow[..., 1])
    assert epe.mean() <= EXACT_MEAN, f"{what}: mean {epe.mean():.2e} px from OpenCV"
    assert np.percentile(epe, 99) <= EXACT_P99, f"{what}: p99 {np.percentile(epe, 99):.2e} px from OpenCV"
    assert np.hypot(cv_flow[..., 0], cv_flow[..., 1]).mean() > 1.0, f"{what}: no motion to get right"


@pytest.mark.parametrize(
    "size", [(240, 280), (160, 260), (120, 140), (80, 130), (40, 65), (30, 35), (21, 33), (61, 77)]
)
def test_the_pyramid_is_cv2s_inter_area_bit_for_bit(size):
    """Exact 2× and 4× reductions and fractional ones (odd sizes), as DIS's levels meet them."""
    img = np.random.default_rng(sum(size)).integers(0, 256, size).astype(np.uint8)
    for out in ((size[0] // 2, size[1] // 2), (size[0] // 4, size[1] // 4)):
        expected = cv2.resize(img, out[::-1], interpolation=cv2.INTER_AREA)
        got = area_resize(torch.from_numpy(img).float()[None], out)[0].numpy()
        assert np.array_equal(got, expected.astype(np.float32)), (size, out)


@pytest.mark.parametrize("size", REGION_SIZES)
@pytest.mark.parametrize("preset", ["ultrafast", "fast", "medium"])
def test_the_patch_search_and_densification_are_opencvs(face_frames, size, preset):
    """Every preset's search (stride, finest scale, iterations) with the refinement switched off."""
    ref, *frames = cut(face_frames, size)
    got = port(ref, frames, preset, refinement=False)
    for k, frame in enumerate(frames):
        assert_exact(got[k], opencv(ref, frame, preset, refinement=False), f"{preset} {size} frame {k}")


@pytest.mark.parametrize("size", REGION_SIZES)
@pytest.mark.parametrize("preset", ["fast", "medium"])
def test_each_refining_preset_is_opencvs(face_frames, size, preset):
    """The whole of DIS: search, densification and variational refinement at every level."""
    ref, *frames = cut(face_frames, size)
    got = port(ref, frames, preset)
    for k, frame in enumerate(frames):
        expected = opencv(ref, frame, preset)
        assert_exact(got[k], expected, f"{preset} {size} frame {k}")
        unrefined = opencv(ref, frame, preset, refinement=False)
        assert np.hypot(*(expected - unrefined).transpose(2, 0, 1)).mean() > 10 * EXACT_MEAN  # it mattered


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here: GPU path not tested")
@pytest.mark.parametrize("preset", ["ultrafast", "medium"])
def test_cuda_flows_match_opencv(face_frames, preset):
    ref, *frames = cut(face_frames, (240, 280))
    got = flow_batch(ref, np.stack(frames), "dis", device="cuda", preset=preset)
    for k, frame in enumerate(frames):
        assert_exact(got[k], opencv(ref, frame, preset), f"cuda {preset} frame {k}")


SWITCHES = [(False, True), (True, False), (False, False)]


@pytest.mark.parametrize(("propagation", "mean_normalization"), SWITCHES)
def test_opencvs_switches_for_propagation_and_mean_normalisation_are_followed(
    face_frames, propagation, mean_normalization
):
    """Off the presets: every patch independent (one wave), and plain SSD instead of the
    mean-normalised one, each as ``cv2.DISOpticalFlow`` with the same setter."""
    ref, frame, _ = cut(face_frames, (120, 140))
    solver = cv2.DISOpticalFlow_create(CV_PRESETS["medium"])
    solver.setUseSpatialPropagation(propagation)
    solver.setUseMeanNormalization(mean_normalization)
    p = dataclasses.replace(
        PRESETS["medium"], use_spatial_propagation=propagation, use_mean_normalization=mean_normalization
    )
    got = dis_with(torch.from_numpy(ref).float(), torch.from_numpy(frame).float()[None], p)[0].numpy()
    assert_exact(got, solver.calc(ref, frame, None), f"propagation {propagation}, mean {mean_normalization}")


def test_a_batch_gives_each_frame_its_own_flow(face_frames):
    ref, a, b = cut(face_frames, (120, 140))
    ref_t, frames_t = torch.from_numpy(ref).float(), torch.from_numpy(np.stack([a, b])).float()
    batched = dis(ref_t, frames_t, preset="ultrafast")
    for k in range(2):
        alone = dis(ref_t, frames_t[k : k + 1], preset="ultrafast")[0]
        np.testing.assert_allclose(batched[k].numpy(), alone.numpy(), atol=1e-5)
    per_frame_refs = dis(torch.stack([ref_t, ref_t]), frames_t, preset="ultrafast")
    np.testing.assert_allclose(per_frame_refs.numpy(), batched.numpy(), atol=1e-5)
    swapped = dis(torch.stack([frames_t[0], ref_t]), torch.stack([ref_t, frames_t[1]]), preset="ultrafast")
    np.testing.assert_allclose(swapped[1].numpy(), batched[1].numpy(), atol=1e-5)
    assert not np.allclose(swapped[0].numpy(), batched[0].numpy(), atol=0.1)  # its own reference


def test_flow_batch_and_the_registered_method_run_the_port(face_frames):
    from napari_mespot.core.flow.methods import flow, get_method

    ref, frame, _ = cut(face_frames, (120, 140))
    expected = opencv(ref, frame, "ultrafast", refinement=False)
    via_batch = flow_batch(ref, frame[None], "dis", device="cpu", preset="ultrafast")[0]
    assert_exact(via_batch, expected, "flow_batch dis")
    assert dict(get_method("dis-torch").defaults) == {"preset": "medium", "device": "auto"}
    assert_exact(flow(ref, frame, "dis-torch", preset="ultrafast", device="cpu"), expected, "dis-torch")


def test_images_too_small_and_unknown_presets_are_refused():
    small = torch.zeros((1, 30, 40))
    with pytest.raises(ValueError, match="too small for DIS"):
        dis(small[0], small, preset="fast")
    with pytest.raises(ValueError, match="dis preset must be one of"):
        dis(small[0], small, preset="slowest")
