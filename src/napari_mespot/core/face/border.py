"""Faces at the image border: frames where the face is (partly) outside the picture.

As a face leaves the frame, the landmark tracker keeps returning a whole face, its points now
extrapolated past the border, and the regions fitted on them are cut by it: the flow measured
there is the image edge moving across the face, which a spotter would read as an expression. A
frame whose face box comes within a tenth of its own size of the border is marked, since the
face reaches beyond the landmarks' box (forehead, jaw and cheeks) and the regions the spotters
measure reach beyond the landmarks too.
"""

from __future__ import annotations

import numpy as np

from napari_mespot.core.face.landmarks import FaceLandmarks

#: How close to the border, as a fraction of the face box's width (height), a face box may come.
BORDER_MARGIN = 0.1
#: Why such frames are skipped, as spotters report it.
AT_BORDER = "face partly outside the frame"


def face_at_border(
    landmarks: FaceLandmarks, frame_size: tuple[int, int], margin: float = BORDER_MARGIN
) -> np.ndarray:
    """Boolean (n_frames,): frames with a face whose box reaches the border of an image of
    ``frame_size`` (height, width) or comes within ``margin`` of its size of it."""
    height, width = frame_size
    out = np.zeros(len(landmarks), dtype=bool)
    frames = np.flatnonzero(landmarks.found)
    if not len(frames):
        return out
    points = landmarks.points[frames]
    low, high = points.min(axis=1), points.max(axis=1)  # (k, 2): x, y
    pad = margin * (high - low)
    limit = np.array([width - 1, height - 1], dtype=np.float64)
    out[frames] = ((low < pad) | (high > limit - pad)).any(axis=1)
    return out
