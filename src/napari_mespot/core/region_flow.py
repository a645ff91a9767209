"""Flow inside the normalised eye/mouth regions of a window, with optional head-motion removal.

This is the AU-prototype spotter's input (paper eq. 8 per region): the regions are fitted on the
window's reference frame, every frame of the window is cut with the same transforms, and the
flow is computed from the reference crop to each later crop.

Head-motion compensation follows the MEGC-winning optical-flow spotters: the nose bridge is
rigid, so its flow is head motion only; its median displacement (robust to flow outliers) is
carried from nose-region pixels to image pixels to each region's pixels (the regions are scaled
differently) and subtracted. It removes translation; rotation and scaling remain.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .flow import FlowMethod, get_method, to_gray
from .landmarks import FaceLandmarks, FrameSource
from .progress import Progress
from .regions import EYE, MOUTH, NOSE, RegionSpec, RegionTransform, face_regions


def head_motion_shift(nose_flow: np.ndarray, nose: RegionTransform, region: RegionTransform) -> np.ndarray:
    """The nose bridge's median displacement expressed in ``region`` pixels: (..., 2).

    ``nose_flow`` is (..., h, w, 2) in ``nose`` pixels; leading axes (frames) are kept.
    """
    shift_nose = np.median(nose_flow.reshape(*nose_flow.shape[:-3], -1, 2), axis=-2)
    shift_image = shift_nose @ np.linalg.inv(nose.linear).T
    return shift_image @ region.linear.T


def compensate_head_motion(
    region_flow: np.ndarray, region: RegionTransform, nose_flow: np.ndarray, nose: RegionTransform
) -> np.ndarray:
    """``region_flow`` (..., h, w, 2) minus the head motion measured on the nose bridge."""
    shift = head_motion_shift(nose_flow, nose, region)
    return (region_flow - shift[..., None, None, :]).astype(np.float32)


def region_flows_pair(
    ref: np.ndarray,
    img: np.ndarray,
    transforms: Mapping[str, RegionTransform],
    method: str | FlowMethod = "farneback",
    nose: RegionTransform | None = None,
    **params: Any,
) -> dict[str, np.ndarray]:
    """Flow of each region from frame ``ref`` to frame ``img`` (full frames, regions cut here).

    With ``nose`` (the nose-bridge transform) the head motion is subtracted from every region.
    """
    m = get_method(method)
    ref_gray, img_gray = to_gray(ref), to_gray(img)
    out = {name: m(t.warp(ref_gray), t.warp(img_gray), **params) for name, t in transforms.items()}
    if nose is not None:
        nose_flow = m(nose.warp(ref_gray), nose.warp(img_gray), **params)
        out = {name: compensate_head_motion(f, transforms[name], nose_flow, nose) for name, f in out.items()}
    return out


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class WindowFlows:
    """Region flows of one window: ``flows[name]`` is (len(frames), h, w, 2) float32."""

    reference: int
    frames: np.ndarray
    transforms: dict[str, RegionTransform]
    flows: dict[str, np.ndarray]
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    head_motion_compensated: bool = False


def window_region_flows(
    video: FrameSource,
    landmarks: FaceLandmarks,
    reference: int,
    frames: Sequence[int] | np.ndarray,
    specs: Iterable[RegionSpec] = (EYE, MOUTH),
    method: str | FlowMethod = "farneback",
    head_motion: bool = False,
    nose_spec: RegionSpec = NOSE,
    **params: Any,
) -> Generator[Progress, None, WindowFlows]:
    """Region flows from frame ``reference`` to each of ``frames`` (regions fitted on ``reference``).

    Raises :class:`~napari_mespot.core.regions.NoFaceError` when the reference frame has no face;
    later frames are cut with the reference transforms whether or not their own fit succeeded.
    """
    specs = tuple(specs)
    m = get_method(method)
    fitted = face_regions(landmarks, reference, (*specs, nose_spec) if head_motion else specs)
    nose = fitted.pop(nose_spec.name) if head_motion else None
    ref_gray = to_gray(video[reference])
    ref_crops = {name: t.warp(ref_gray) for name, t in fitted.items()}
    nose_ref = nose.warp(ref_gray) if nose is not None else None
    index = np.asarray(frames, dtype=np.int64)
    flows = {name: np.empty((len(index), t.size[1], t.size[0], 2), np.float32) for name, t in fitted.items()}
    for k, i in enumerate(index):
        yield Progress(k, len(index), f"{m.name} flow")
        gray = to_gray(video[int(i)])
        for name, t in fitted.items():
            flows[name][k] = m(ref_crops[name], t.warp(gray), **params)
        if nose is not None:
            nose_flow = m(nose_ref, nose.warp(gray), **params)
            for name, t in fitted.items():
                flows[name][k] = compensate_head_motion(flows[name][k], t, nose_flow, nose)
    yield Progress(len(index), len(index), f"{m.name} flow")
    return WindowFlows(reference, index, fitted, flows, m.name, dict(params), head_motion)
