"""Faces at the image border: frames where the face is partly outside the picture.

As a face leaves the frame, the landmark tracker keeps returning a whole face, its points
extrapolated onto and past the border, and the regions fitted on them are cut by it: the flow
measured there is the image edge moving across the face, which a spotter would read as an
expression. A frame whose landmarks reach the outermost pixel row or column (or lie beyond it)
is marked. No margin inside the image is added: a close-up whose chin comes near the bottom
edge is still a whole face, and marking it would skip the frames that matter most.
"""

from __future__ import annotations

import numpy as np

from napari_mespot.core.face.landmarks import FaceLandmarks

#: Why such frames are skipped, as spotters report it.
AT_BORDER = "face partly outside the frame"


def face_at_border(landmarks: FaceLandmarks, frame_size: tuple[int, int]) -> np.ndarray:
    """Boolean (n_frames,): frames with a face whose landmarks reach the border of an image of
    ``frame_size`` (height, width) or lie beyond it."""
    height, width = frame_size
    out = np.zeros(len(landmarks), dtype=bool)
    frames = np.flatnonzero(landmarks.found)
    if not len(frames):
        return out
    points = landmarks.points[frames]
    low, high = points.min(axis=1), points.max(axis=1)  # (k, 2): x, y
    limit = np.array([width - 1, height - 1], dtype=np.float64)
    out[frames] = ((low <= 0) | (high >= limit)).any(axis=1)
    return out
