"""Rigid head motion between a window's reference frame and a later frame, and its removal.

Two models (``HEAD_MOTION_MODES``, besides ``off``):

- ``translation``: the nose bridge moves with no AU the spotter looks at, so the median
  displacement of its pixels (robust to flow outliers) is head motion; it is subtracted
  uniformly from every region's flow — what the MEGC-winning optical-flow spotters do.
- ``similarity``: the later frame's regions are first cut where the head carried them, by a
  similarity fitted on the rigid Face Mesh landmarks of both frames (:func:`landmark_motion`,
  :func:`registered`), so the flow only sees what that rough registration leaves; a rotation +
  uniform scale + translation is then fitted robustly (least median of squares) to the flow
  of all the regions together (:func:`residual_similarity`), and the displacement it gives each
  region pixel is subtracted.

Why, from development videos (seed 3000, head shakes): the shakes' false alarms outlived the
translation removal. Subtracting even the shake's *exact* rigid displacement field after the
flow left residues as large (Farneback's flow of a magnified region moving 8–15 px is itself
wrong), so the frame is registered before the flow. The landmarks alone are too noisy for it
(their jitter, ~0.5 px a point, tilts and scales whole regions by as much as an AU moves:
false alarms everywhere), and a similarity fitted to the small nose-bridge patch's flow has
too short a lever arm for rotation and scale. The regions' own flow spans the face and
measures the small motion left after registration well; an AU moves a minority of its
pixels, which the robust fit leaves out.

A motion is a 2×3 matrix ``S`` (OpenCV's convention) in image coordinates, mapping a point p of
the reference frame to where it is in the later frame, ``S @ (x, y, 1)``. Regions are affine
maps that may scale x and y differently, so motions are composed in image coordinates and only
then carried into a region.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.regions import RegionTransform

#: The head-motion models, from none to the most complete.
HEAD_MOTION_MODES = ("off", "translation", "similarity")
#: Landmarks that no AU of the spotter moves, per scheme (see ``landmarks.KEY_POINTS``): the
#: nose (bridge, tip, wings), the inner and outer eye corners and, far from the centre for a
#: long lever arm, the forehead and the face outline at temple and cheek height. Brows, lids
#: and lips are left out; the robust fit also discards a point an expression drags along.
RIGID_POINTS: dict[str, tuple[int, ...]] = {
    # nose; eye corners; jaw outline at ear height
    "ibug68": (27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 39, 42, 45, 0, 1, 15, 16),
    # nose; eye corners; forehead; outline at temple and cheek height
    "mediapipe": (
        *(168, 6, 197, 195, 5, 4, 1, 98, 327),
        *(33, 133, 362, 263),
        *(10, 151),
        *(127, 356, 162, 389, 234, 454),
    ),
}
#: LMedS inlier bound (image px) for the landmark similarity: about the landmarks' jitter.
_LANDMARK_TOLERANCE_PX = 1.0
#: Region pixels sampled for the residual similarity: every ``_FIT_STRIDE``-th in x and y
#: (flow is smooth over several pixels, so denser samples add time, not information).
_FIT_STRIDE = 8


def head_motion_mode(value: bool | str) -> str:
    """One of :data:`HEAD_MOTION_MODES` from a mode name or the former on/off switch.

    ``True`` means ``translation``: it was the only compensation when ``head_motion`` was a
    boolean, so settings, sessions and CLI calls written then keep their meaning.
    """
    if isinstance(value, bool | np.bool_):
        return "translation" if value else "off"
    if value not in HEAD_MOTION_MODES:
        raise ValueError(f"head_motion must be one of {HEAD_MOTION_MODES} (or a bool), got {value!r}")
    return str(value)


def translation_motion(nose_flow: np.ndarray, nose: RegionTransform) -> np.ndarray:
    """The nose bridge's median displacement (``nose_flow`` (h, w, 2) in ``nose`` pixels) as a
    2×3 image-coordinate translation."""
    shift_nose = np.median(nose_flow.reshape(-1, 2), axis=0)
    shift_image = np.linalg.solve(nose.linear, shift_nose)
    return np.array([[1.0, 0.0, shift_image[0]], [0.0, 1.0, shift_image[1]]])


def landmark_motion(landmarks: FaceLandmarks, reference: int, frame: int) -> np.ndarray | None:
    """The head's similarity (2×3, image coordinates) from frame ``reference`` to ``frame``,
    fitted on their rigid landmarks; ``None`` when either frame has no face or the fit fails."""
    import cv2

    src, dst = landmarks.at(reference), landmarks.at(frame)
    if src is None or dst is None:
        return None
    index = list(RIGID_POINTS[landmarks.scheme])
    motion, _ = cv2.estimateAffinePartial2D(
        src[index].astype(np.float32),
        dst[index].astype(np.float32),
        method=cv2.LMEDS,
        ransacReprojThreshold=_LANDMARK_TOLERANCE_PX,
    )
    return None if motion is None else motion.astype(np.float64)


def residual_similarity(
    flows: Mapping[str, np.ndarray], regions: Mapping[str, RegionTransform]
) -> np.ndarray:
    """The similarity (2×3, image coordinates) that best explains the region flows
    (``flows[name]`` (h, w, 2) in ``regions[name]`` pixels) taken together, robust to the
    minority of pixels an AU moves (LMedS, OpenCV); the identity when the fit fails."""
    src, dst = [], []
    for name, flow in flows.items():
        t = regions[name]
        ys, xs, q, image = _fit_samples(t, *flow.shape[:2])
        src.append(image)
        dst.append(t.to_image(q + flow[ys, xs]))
    return _robust_similarity(np.concatenate(src), np.concatenate(dst))


def _robust_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The similarity (2×3) taking points ``src`` to ``dst``, robust to a minority of points
    that moved otherwise (LMedS, OpenCV); the identity when the fit fails."""
    import cv2

    motion, _ = cv2.estimateAffinePartial2D(src.astype(np.float32), dst.astype(np.float32), method=cv2.LMEDS)
    return np.eye(2, 3) if motion is None else motion.astype(np.float64)


#: Samples per side of a crop for :func:`crop_flows_without_similarity` (a 12 × 12 grid: enough
#: points for LMedS to leave an expression's minority out, few enough to fit in 0.1 ms).
_CROP_FIT_SAMPLES = 12


def crop_flows_without_similarity(flow: np.ndarray) -> np.ndarray:
    """Flows (n, 2, h, w) of a face crop, each minus the similarity that best explains it.

    The crop follows the head, but a head that turns, nods or shakes between the two frames of
    a pair still moves the whole crop content: a rotation + scale + translation fitted robustly
    to the frame's own flow (an expression moves a minority of the face) is that rigid part, and
    what is left is the face's non-rigid motion, the same on any head movement. Frames with no
    flow (no face, or the first frames) stay zero.
    """
    n, _, h, w = flow.shape
    ys = np.linspace(0, h - 1, _CROP_FIT_SAMPLES).round().astype(int)
    xs = np.linspace(0, w - 1, _CROP_FIT_SAMPLES).round().astype(int)
    ys, xs = (a.ravel() for a in np.meshgrid(ys, xs, indexing="ij"))
    src = np.stack([xs, ys], axis=1).astype(np.float64)
    crop = RegionTransform("crop", np.eye(2, 3), (w, h))  # the crop's pixels are its own region
    out = np.zeros(flow.shape, dtype=flow.dtype)
    for k in range(n):
        f = np.asarray(flow[k], dtype=np.float32).transpose(1, 2, 0)
        if not f.any():
            continue
        motion = _robust_similarity(src, src + f[ys, xs])
        out[k] = remove_head_motion(f, crop, motion).transpose(2, 0, 1)
    return out


@functools.lru_cache(maxsize=16)
def _fit_samples(region: RegionTransform, h: int, w: int) -> tuple[np.ndarray, ...]:
    """The rows, columns and (x, y) of the region pixels the residual fit samples, and their
    image points: the same for every frame of a window (its regions are fitted once), so they
    are computed once per region, not per frame (``RegionTransform`` hashes by identity)."""
    ys, xs = np.mgrid[_FIT_STRIDE // 2 : h : _FIT_STRIDE, _FIT_STRIDE // 2 : w : _FIT_STRIDE]
    ys, xs = ys.ravel(), xs.ravel()
    q = np.stack([xs, ys], axis=1).astype(np.float64)
    samples = (ys, xs, q, region.to_image(q))
    for a in samples:
        a.flags.writeable = False
    return samples


def registered(region: RegionTransform, motion: np.ndarray) -> RegionTransform:
    """``region`` for a later frame whose head moved by ``motion``: R∘S⁻¹ cuts from it the part
    of the face that R cut from the reference frame."""
    r = np.vstack([region.matrix, [0.0, 0.0, 1.0]])
    s = np.vstack([motion, [0.0, 0.0, 1.0]])
    return RegionTransform(region.name, (r @ np.linalg.inv(s))[:2], region.size)


def region_motion_field(motion: np.ndarray, region: RegionTransform) -> np.ndarray:
    """The displacement (h, w, 2) in ``region`` pixels that the image motion ``motion`` gives
    each region pixel q: R(S(R⁻¹q)) − q = A q + c, with the motion's own displacement
    (S − I) written out so that no motion gives exactly no field."""
    r_lin, r_t = region.linear, region.matrix[:, 2]
    s_minus_i, s_t = motion[:, :2] - np.eye(2), motion[:, 2]
    r_inv = np.linalg.inv(r_lin)
    a = r_lin @ s_minus_i @ r_inv
    c = r_lin @ (s_t - s_minus_i @ (r_inv @ r_t))
    w, h = region.size
    if not a.any():
        # A translation (what the spotter removes per frame): the same constant field, exactly,
        # without building the pixel grid (10-40 plain subtractions per frame). It is one row
        # repeated, not one (dx, dy) pair: subtracting a pair broadcast over the pixels runs
        # numpy's inner loop two values at a time, 10x slower.
        row = np.tile(c.astype(np.float32), w)
        return np.broadcast_to(row, (h, 2 * w)).reshape(h, w, 2)
    # x·A[k, 0] + y·A[k, 1] + c[k] per component k from a row and a column (the same operations
    # in the same order as on a full pixel grid, so the same values, in a third of the passes),
    # summed in one reused plane (this runs for every frame and region).
    xs, ys = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    field = np.empty((h, w, 2), np.float32)
    plane = np.empty((h, w), np.float64)
    for k in range(2):
        np.add(xs * a[k, 0], (ys * a[k, 1])[:, None], out=plane)
        plane += c[k]
        field[..., k] = plane
    return field


def remove_head_motion(region_flow: np.ndarray, region: RegionTransform, motion: np.ndarray) -> np.ndarray:
    """``region_flow`` (h, w, 2) minus the displacement the head motion gives its pixels."""
    field = region_motion_field(motion, region)
    if field.flags.writeable:  # a field of its own (not a translation's broadcast row): reused
        return np.subtract(region_flow, field, out=field)
    return (region_flow - field).astype(np.float32, copy=False)
