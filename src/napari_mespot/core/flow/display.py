"""What the face overlay shows for one frame, computed without any GUI (so it can run in a worker).

The flow is the spotter's: regions fitted on the reference frame (by default the start of the
spotting window holding the current frame), the current frame cut with the same transforms,
flow from the reference crop to the current crop. For display it goes back to image space:
arrows on a regular grid of region pixels with end point p + φ·F(p) (paper eq. 31) mapped to
the image, and the magnitude sqrt(Fx² + Fy²) (eq. 32) warped back onto the face.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_mespot.core.face.landmarks import FaceLandmarks, FrameSource
from napari_mespot.core.face.regions import EYE, MOUTH, NOSE, RegionSpec, RegionTransform, face_regions
from napari_mespot.core.flow.methods import FlowMethod, get_method, magnitude
from napari_mespot.core.flow.regions import region_flows_pair

#: Window length of the AU-prototype spotter: the frames in 7 s (paper §3).
WINDOW_SECONDS = 7.0


def window_reference(frame: int, fps: float, window_seconds: float = WINDOW_SECONDS) -> int:
    """First frame of the latest spotting window that contains ``frame``.

    Windows hold N = fps·window_seconds frames and start every N/2 frames (the paper's step when
    nothing has been spotted yet), so the reference is ``frame`` rounded down to a multiple of N/2.
    """
    step = max(1, round(fps * window_seconds) // 2)
    return (int(frame) // step) * step


def grid_vectors(
    flow_field: np.ndarray, transform: RegionTransform, step: int = 12, phi: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrows of one region's flow on a regular grid, in image coordinates.

    Returns napari Vectors data (N, 2, 2) as [[y, x], [dy, dx]] with the displacement amplified by
    ``phi``, plus each arrow's flow magnitude and direction (radians, image x axis, y down), both
    measured in region pixels as the spotter sees them.
    """
    h, w = flow_field.shape[:2]
    offset = step // 2
    ys, xs = np.mgrid[offset:h:step, offset:w:step]
    grid = np.stack([xs.ravel(), ys.ravel()], axis=-1).astype(np.float64)
    vec = flow_field[ys.ravel(), xs.ravel()].astype(np.float64)
    start = transform.to_image(grid)
    delta = (phi * vec) @ np.linalg.inv(transform.linear).T
    data = np.stack([start[:, ::-1], delta[:, ::-1]], axis=1).astype(np.float32)
    return data, np.hypot(vec[:, 0], vec[:, 1]), np.arctan2(vec[:, 1], vec[:, 0])


def magnitude_image(
    flows: Mapping[str, np.ndarray], transforms: Mapping[str, RegionTransform], shape: tuple[int, int]
) -> np.ndarray:
    """The regions' flow magnitudes warped back onto an (H, W) image; 0 outside every region."""
    import cv2

    out = np.zeros(shape, np.float32)
    for name, f in flows.items():
        back = cv2.warpAffine(
            magnitude(f).astype(np.float32),
            transforms[name].matrix,
            (shape[1], shape[0]),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0.0,
        )
        np.maximum(out, back, out=out)
    return out


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class FrameOverlay:
    """Everything the overlay draws for ``frame`` against ``reference``.

    ``vectors`` (N, 2, 2) napari [[y, x], [dy, dx]]; ``speed``/``angle`` per arrow; ``heatmap``
    (H, W) float32; ``crops`` the current frame cut with the reference transforms (what the
    spotters see); ``flows`` in region pixels.
    """

    frame: int
    reference: int
    method: str
    transforms: dict[str, RegionTransform]
    flows: dict[str, np.ndarray]
    crops: dict[str, np.ndarray]
    vectors: np.ndarray
    speed: np.ndarray
    angle: np.ndarray
    heatmap: np.ndarray


def frame_overlay(
    video: FrameSource,
    landmarks: FaceLandmarks,
    reference: int,
    frame: int,
    method: str | FlowMethod = "farneback",
    specs: Iterable[RegionSpec] = (EYE, MOUTH),
    head_motion: bool = False,
    step: int = 12,
    phi: float = 3.0,
    **params: Any,
) -> FrameOverlay:
    """Compute the overlay of ``frame`` (raises ``NoFaceError`` if ``reference`` has no face)."""
    specs = tuple(specs)
    m = get_method(method)
    fitted = face_regions(landmarks, reference, (*specs, NOSE) if head_motion else specs)
    nose = fitted.pop(NOSE.name) if head_motion else None
    ref_img, img = np.asarray(video[reference]), np.asarray(video[frame])
    flows = region_flows_pair(ref_img, img, fitted, m, nose=nose, **params)
    parts = [grid_vectors(flows[name], t, step, phi) for name, t in fitted.items()]
    return FrameOverlay(
        frame=int(frame),
        reference=int(reference),
        method=m.name,
        transforms=fitted,
        flows=flows,
        crops={name: t.warp(img) for name, t in fitted.items()},
        vectors=np.concatenate([p[0] for p in parts]),
        speed=np.concatenate([p[1] for p in parts]),
        angle=np.concatenate([p[2] for p in parts]),
        heatmap=magnitude_image(flows, fitted, img.shape[:2]),
    )
