"""The face cut out and held still: an aligned crop for looking at (and magnifying) facial motion.

Each frame is warped into the pose the head had on a reference frame, by the inverse of the
head's similarity from the reference (fitted on the rigid landmarks:
:func:`napari_mespot.core.face.head_motion.landmark_motion`), then cut to a square around the
reference face. What still moves is the face itself — what an annotator wants to see and what a
motion magnifier must not confuse with a head turn.

The landmarks jitter by about half a pixel, which the similarity fit averages down but does not
remove; magnified, that jitter would make the whole face wobble. So the similarity's parameters
are smoothed over time (a Gaussian of ``smooth_s``) before they are used: the head's real motion
is slow next to the jitter. Frames without a face take the motion interpolated from their
neighbours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from scipy.ndimage import gaussian_filter1d

from napari_mespot.core.face.head_motion import landmark_motion
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.regions import NoFaceError

#: Side of the aligned crop (px): enough for a 1-px movement of a face filmed at ~200 px to
#: stay visible once magnified, small enough to magnify quickly.
DEFAULT_SIZE = 256
#: Border around the landmarks' bounding box, as a share of its larger side.
DEFAULT_MARGIN = 0.2
#: σ of the temporal smoothing of the head's motion (s).
DEFAULT_SMOOTH_S = 0.1


def _similarity_params(motion: np.ndarray) -> np.ndarray:
    """(a, b, tx, ty) of a similarity [[a, −b, tx], [b, a, ty]]."""
    return np.array([motion[0, 0], motion[1, 0], motion[0, 2], motion[1, 2]])


def _similarity(params: np.ndarray) -> np.ndarray:
    a, b, tx, ty = params
    return np.array([[a, -b, tx], [b, a, ty], [0.0, 0.0, 1.0]])


def head_motions(
    landmarks: FaceLandmarks, frames: Sequence[int], reference: int, fps: float, smooth_s: float
) -> np.ndarray:
    """(n, 4) similarity parameters of the head from ``reference`` to each of ``frames``,
    interpolated over frames without a face and smoothed over ``smooth_s`` seconds."""
    params = np.full((len(frames), 4), np.nan)
    for i, frame in enumerate(frames):
        motion = landmark_motion(landmarks, reference, frame)
        if motion is not None:
            params[i] = _similarity_params(motion)
    known = np.flatnonzero(np.isfinite(params[:, 0]))
    if known.size == 0:
        raise NoFaceError(None, f"no face to align on in frames {frames[0]}–{frames[-1]}")
    index = np.arange(len(frames))
    params = np.stack([np.interp(index, known, params[known, k]) for k in range(4)], axis=1)
    if smooth_s > 0:
        params = gaussian_filter1d(params, sigma=smooth_s * fps, axis=0, mode="nearest")
    return params


def face_box(
    landmarks: FaceLandmarks, frame: int, margin: float = DEFAULT_MARGIN
) -> tuple[float, float, float]:
    """Centre (x, y) and side of the square around ``frame``'s landmarks with ``margin``."""
    points = landmarks.at(frame)
    if points is None:
        raise NoFaceError(frame)
    low, high = points.min(axis=0), points.max(axis=0)
    centre = (low + high) / 2
    side = float((high - low).max()) * (1 + 2 * margin)
    return float(centre[0]), float(centre[1]), side


def alignment_warps(
    landmarks: FaceLandmarks,
    frames: Sequence[int],
    fps: float,
    *,
    size: int = DEFAULT_SIZE,
    margin: float = DEFAULT_MARGIN,
    smooth_s: float = DEFAULT_SMOOTH_S,
) -> np.ndarray:
    """(n, 2, 3) affine maps from each of ``frames`` (indices into ``landmarks``) to a
    ``size``×``size`` crop of the face in the pose of the first of them that has a face."""
    reference = next((f for f in frames if landmarks.at(f) is not None), None)
    if reference is None:
        raise NoFaceError(None, f"no face to align on in frames {frames[0]}–{frames[-1]}")
    cx, cy, side = face_box(landmarks, reference, margin)
    scale = size / side
    crop = np.array([[scale, 0.0, size / 2 - scale * cx], [0.0, scale, size / 2 - scale * cy], [0, 0, 1]])
    params = head_motions(landmarks, frames, reference, fps, smooth_s)
    return np.stack([(crop @ np.linalg.inv(_similarity(p)))[:2] for p in params])


def aligned_frames(
    frames: Iterable[np.ndarray], warps: np.ndarray, size: int = DEFAULT_SIZE
) -> Iterator[np.ndarray]:
    """Each frame warped by its map of ``warps`` into the ``size``×``size`` aligned crop."""
    import cv2

    for frame, warp in zip(frames, warps, strict=True):
        yield cv2.warpAffine(
            np.ascontiguousarray(frame),
            warp,
            (size, size),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
