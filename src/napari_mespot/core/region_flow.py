"""Flow inside the normalised eye/mouth regions of a window, with optional head-motion removal.

This is the AU-prototype spotter's input (paper eq. 8 per region): the regions are fitted on the
window's reference frame, every frame of the window is cut with the same transforms, and the
flow is computed from the reference crop to each later crop.

Head-motion compensation follows the MEGC-winning optical-flow spotters: the nose bridge is
rigid, so its flow is head motion only; its median displacement is carried into each region's
pixels (the regions are scaled differently) and subtracted. With ``similarity`` the head's
rotation, scale and translation, fitted on the rigid landmarks of both frames, are undone
first by cutting the later frame where the head carried each region; the nose-bridge
translation then removes what the landmarks leave. See :mod:`.head_motion` for why.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .flow import FlowMethod, get_method, to_gray
from .head_motion import head_motion_mode, landmark_motion, registered, remove_head_motion, translation_motion
from .landmarks import FaceLandmarks, FrameSource
from .progress import Progress
from .regions import EYE, MOUTH, NOSE, RegionSpec, RegionTransform, face_regions


def compensate_head_motion(
    region_flow: np.ndarray, region: RegionTransform, nose_flow: np.ndarray, nose: RegionTransform
) -> np.ndarray:
    """``region_flow`` (..., h, w, 2) minus the head translation measured on the nose bridge's
    flow (..., h', w', 2); leading axes (frames) pair up."""
    flows = region_flow.reshape(-1, *region_flow.shape[-3:])
    noses = nose_flow.reshape(-1, *nose_flow.shape[-3:])
    out = [
        remove_head_motion(f, region, translation_motion(n, nose)) for f, n in zip(flows, noses, strict=True)
    ]
    return np.stack(out).reshape(region_flow.shape)


def region_flows_pair(
    ref: np.ndarray,
    img: np.ndarray,
    transforms: Mapping[str, RegionTransform],
    method: str | FlowMethod = "farneback",
    nose: RegionTransform | None = None,
    motion: np.ndarray | None = None,
    **params: Any,
) -> dict[str, np.ndarray]:
    """Flow of each region from frame ``ref`` to frame ``img`` (full frames, regions cut here).

    ``motion`` (2×3, image coordinates; e.g. :func:`~.head_motion.landmark_motion`) is a known
    head motion from ``ref`` to ``img``, undone by cutting ``img``'s regions where the head
    went. With ``nose`` (the nose-bridge transform) the remaining head translation is
    subtracted from every region.
    """
    m = get_method(method)
    ref_gray, img_gray = to_gray(ref), to_gray(img)

    def cut(t: RegionTransform) -> np.ndarray:
        return (t if motion is None else registered(t, motion)).warp(img_gray)

    out = {name: m(t.warp(ref_gray), cut(t), **params) for name, t in transforms.items()}
    if nose is not None:
        shift = translation_motion(m(nose.warp(ref_gray), cut(nose), **params), nose)
        out = {name: remove_head_motion(f, transforms[name], shift) for name, f in out.items()}
    return out


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class WindowFlows:
    """Region flows of one window: ``flows[name]`` is (len(frames), h, w, 2) float32;
    ``head_motion`` is the compensation applied (one of ``HEAD_MOTION_MODES``)."""

    reference: int
    frames: np.ndarray
    transforms: dict[str, RegionTransform]
    flows: dict[str, np.ndarray]
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    head_motion: str = "off"

    @property
    def head_motion_compensated(self) -> bool:
        return self.head_motion != "off"


def window_region_flows(
    video: FrameSource,
    landmarks: FaceLandmarks,
    reference: int,
    frames: Sequence[int] | np.ndarray,
    specs: Iterable[RegionSpec] = (EYE, MOUTH),
    method: str | FlowMethod = "farneback",
    head_motion: bool | str = "off",
    nose_spec: RegionSpec = NOSE,
    **params: Any,
) -> Generator[Progress, None, WindowFlows]:
    """Region flows from frame ``reference`` to each of ``frames`` (regions fitted on ``reference``).

    ``head_motion`` is the compensation: ``off``, ``translation`` or ``similarity`` (a bool is
    the former switch: ``True`` is ``translation``; see :mod:`.head_motion`); the translation is
    measured on ``nose_spec``'s region, the similarity on the landmarks of both frames (a frame
    without landmarks gets the translation only).

    Raises :class:`~napari_mespot.core.regions.NoFaceError` when the reference frame has no face;
    later frames are cut with the reference transforms whether or not their own fit succeeded.
    """
    specs = tuple(specs)
    m = get_method(method)
    mode = head_motion_mode(head_motion)
    compensate = mode != "off"
    fitted = face_regions(landmarks, reference, (*specs, nose_spec) if compensate else specs)
    nose = fitted.pop(nose_spec.name) if compensate else None
    ref_gray = to_gray(video[reference])
    ref_crops = {name: t.warp(ref_gray) for name, t in fitted.items()}
    nose_ref = nose.warp(ref_gray) if nose is not None else None
    index = np.asarray(frames, dtype=np.int64)
    flows = {name: np.empty((len(index), t.size[1], t.size[0], 2), np.float32) for name, t in fitted.items()}
    for k, i in enumerate(index):
        yield Progress(k, len(index), f"{m.name} flow")
        gray = to_gray(video[int(i)])
        motion = landmark_motion(landmarks, reference, int(i)) if mode == "similarity" else None
        cut = fitted if motion is None else {name: registered(t, motion) for name, t in fitted.items()}
        for name, t in cut.items():
            flows[name][k] = m(ref_crops[name], t.warp(gray), **params)
        if nose is not None:
            nose_cut = nose if motion is None else registered(nose, motion)
            shift = translation_motion(m(nose_ref, nose_cut.warp(gray), **params), nose)
            for name, t in fitted.items():
                flows[name][k] = remove_head_motion(flows[name][k], t, shift)
    yield Progress(len(index), len(index), f"{m.name} flow")
    return WindowFlows(reference, index, fitted, flows, m.name, dict(params), mode)
