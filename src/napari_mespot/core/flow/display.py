"""What the face overlay shows for one frame, computed without any GUI (so it can run in a worker).

The flow is the spotter's: regions fitted on the reference frame, the current frame cut with
the same transforms, flow from the reference crop to the current crop, and the head's motion
removed the way the spotter removed it (``head_motion``, :mod:`napari_mespot.core.flow.regions`),
so what is left is what the spotter matched — the expression, not the head. The reference is
the one the spotter used for the interval under review (:func:`spotter_reference`: the first
frame of its window), else the start of the spotting window holding the current frame.

For display the flow goes back to image space: arrows on a regular grid of region pixels with
end point p + φ·F(p) (paper eq. 31) mapped to the image, φ chosen so that the longest arrows
(the 95th percentile) are drawn :data:`ARROW_PX` image pixels long whatever the motion's size,
and the magnitude sqrt(Fx² + Fy²) (eq. 32, in region pixels) warped back onto the face.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_mespot.core.face.head_motion import head_motion_mode, landmark_motion
from napari_mespot.core.face.landmarks import FaceLandmarks, FrameSource
from napari_mespot.core.face.regions import EYE, MOUTH, NOSE, RegionSpec, RegionTransform, face_regions
from napari_mespot.core.flow.methods import FlowMethod, get_method, magnitude
from napari_mespot.core.flow.regions import region_flows_pair

#: Window length of the AU-prototype spotter: the frames in 7 s (paper §3).
WINDOW_SECONDS = 7.0
#: Auto-scaled arrows: the 95th-percentile arrow is drawn this many image pixels long ...
ARROW_PX = 20.0
#: ... but no flow is magnified more than this, so a still face's flow noise stays small.
MAX_ARROW_SCALE = 40.0
# fmt: off
_MEDIAPIPE_FEATURES = {
    "lips": (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191,
             267, 269, 270, 291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415),
    "eyes": (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246,
             249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466),
    "brows": (46, 52, 53, 55, 63, 65, 66, 70, 105, 107, 276, 282, 283, 285, 293, 295, 296, 300, 334, 336),
    "nose": (1, 2, 4, 5, 6, 19, 45, 48, 64, 94, 97, 98, 115, 168, 195, 197, 220, 275, 278, 294, 326, 327,
             344, 440),
}
# fmt: on
#: The landmarks the overlay draws by default, per scheme: the outlines of the eyes, brows, lips
#: and nose (Face Mesh's contours of those features; iBUG 17–67), where the AUs the spotter
#: matches move — not the cheek and forehead mesh that hides them.
FEATURE_POINTS: dict[str, tuple[int, ...]] = {
    "mediapipe": tuple(sorted({i for part in _MEDIAPIPE_FEATURES.values() for i in part})),
    "ibug68": tuple(range(17, 68)),
}


def feature_points(landmarks: FaceLandmarks, frame: int) -> np.ndarray | None:
    """The eye, brow, lip and nose landmarks of ``frame`` (``None`` without a face)."""
    points = landmarks.at(frame)
    return None if points is None else points[list(FEATURE_POINTS[landmarks.scheme])]


def spotter_reference(windows: Iterable[tuple[int, int]], frame: int) -> int | None:
    """The frame the AU-prototype spotter measured ``frame``'s flow from: the first frame of the
    latest of its windows (inclusive ``(start, end)`` pairs, ``SpotResult.windows``) that starts
    at or before ``frame`` and holds it — the window whose curves the run kept for that frame,
    and the one that reported an interval starting there. ``None`` when no window holds it."""
    starts = [start for start, end in windows if start <= frame <= end]
    return max(starts) if starts else None


def arrow_scale(lengths: np.ndarray, arrow_px: float = ARROW_PX, max_scale: float = MAX_ARROW_SCALE) -> float:
    """φ that draws the 95th percentile of the arrows ``lengths`` (image px) ``arrow_px`` long,
    at most ``max_scale``."""
    p95 = float(np.percentile(lengths, 95)) if len(lengths) else 0.0
    return max_scale if p95 * max_scale <= arrow_px else arrow_px / p95


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

    ``vectors`` (N, 2, 2) napari [[y, x], [dy, dx]], the displacement drawn ``scale`` times its
    size in image pixels; ``speed``/``angle`` per arrow (region pixels); ``heatmap`` (H, W)
    float32, the flow magnitude in region pixels; ``crops`` the current frame cut with the
    reference transforms (what the spotters see); ``flows`` in region pixels, after removing
    the head motion of ``head_motion``.
    """

    frame: int
    reference: int
    method: str
    head_motion: str
    scale: float
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
    head_motion: bool | str = "off",
    step: int = 12,
    scale: float | None = None,
    **params: Any,
) -> FrameOverlay:
    """Compute the overlay of ``frame`` (raises ``NoFaceError`` if ``reference`` has no face).

    ``head_motion`` is removed as the spotter removes it (``off``, ``translation``,
    ``similarity``: :mod:`napari_mespot.core.face.head_motion`); ``scale`` is φ, by default
    :func:`arrow_scale` of the arrows.
    """
    specs = tuple(specs)
    m = get_method(method)
    mode = head_motion_mode(head_motion)
    fitted = face_regions(landmarks, reference, (*specs, NOSE) if mode == "translation" else specs)
    nose = fitted.pop(NOSE.name) if mode == "translation" else None
    motion = landmark_motion(landmarks, reference, frame) if mode == "similarity" else None
    ref_img, img = np.asarray(video[reference]), np.asarray(video[frame])
    flows = region_flows_pair(ref_img, img, fitted, m, nose=nose, head_motion=mode, motion=motion, **params)
    parts = [grid_vectors(flows[name], t, step) for name, t in fitted.items()]
    vectors = np.concatenate([p[0] for p in parts])
    if scale is None:
        scale = arrow_scale(np.hypot(vectors[:, 1, 0], vectors[:, 1, 1]))
    vectors[:, 1] *= scale
    return FrameOverlay(
        frame=int(frame),
        reference=int(reference),
        method=m.name,
        head_motion=mode,
        scale=float(scale),
        transforms=fitted,
        flows=flows,
        crops={name: t.warp(img) for name, t in fitted.items()},
        vectors=vectors,
        speed=np.concatenate([p[1] for p in parts]),
        angle=np.concatenate([p[2] for p in parts]),
        heatmap=magnitude_image(flows, fitted, img.shape[:2]),
    )
