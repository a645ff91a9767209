"""Eye and mouth regions (AU-prototype paper, eq. 9–12) and their normalisation.

The paper cuts the eye region from the outer eye corners p_leye, p_reye (d = their distance):
left edge γ1·d left of p_leye, right edge γ3·d right of p_reye, top γ2·d above and bottom γ4·d
below the corners' mid-height, then resizes it to 280×240; the mouth region is the same
construction around the mouth corners, resized to 260×160.

We build the box in the face's own frame — x along p_leye→p_reye, y perpendicular — so the
region stays upright when the head rolls (a similarity alignment), and d is the Euclidean
corner distance (the paper's x-difference, equal for an upright face). The transform comes from
a reference frame (a window's first frame) and is applied unchanged to the later frames, so the
flow measures facial motion relative to that frame rather than re-fitted landmark jitter.

A frame without a face raises :class:`NoFaceError`: there is no sensible region to cut.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from napari_mespot.core.errors import MespotError
from napari_mespot.core.face.landmarks import FaceLandmarks

#: γ1..γ4 of eq. 9–12, as set in the paper's experiments.
PAPER_GAMMAS: tuple[float, float, float, float] = (0.2, 0.6, 0.2, 0.6)


class NoFaceError(MespotError):
    """No usable face on a frame a region was asked for (nothing found, or degenerate anchors)."""

    def __init__(self, frame: int | None, reason: str = "no face found") -> None:
        self.frame = frame
        where = "" if frame is None else f"frame {frame}: "
        super().__init__(f"{where}{reason}")


@dataclass(frozen=True)
class RegionSpec:
    """How to cut one region from the key points (every field can be overridden).

    ``anchors`` are the two key points (image left, image right) that fix the face's axis and
    the scale d. Without ``center``, ``gammas`` extend the box beyond the anchors as in
    eq. 9–12; with ``center`` (a key point), the box spans ``center`` − (γ1, γ2)·d to
    ``center`` + (γ3, γ4)·d in the face's frame. ``size`` is the normalised (width, height).
    """

    name: str
    anchors: tuple[str, str]
    gammas: tuple[float, float, float, float] = PAPER_GAMMAS
    size: tuple[int, int] = (280, 240)
    center: str | None = None


EYE = RegionSpec("eye", ("eye_outer_l", "eye_outer_r"), PAPER_GAMMAS, (280, 240))
MOUTH = RegionSpec("mouth", ("mouth_corner_l", "mouth_corner_r"), PAPER_GAMMAS, (260, 160))
#: The rigid nose bridge, whose flow is head motion only (for head-motion compensation).
NOSE = RegionSpec(
    "nose", ("eye_outer_l", "eye_outer_r"), (0.1, 0.1, 0.1, 0.25), (40, 70), center="nose_bridge"
)

#: Smallest anchor distance (pixels) accepted as a face rather than a degenerate fit.
MIN_ANCHOR_DISTANCE = 4.0


@dataclass(frozen=True, eq=False)  # holds an array: identity equality
class RegionTransform:
    """The affine map from image pixels (x, y) to one normalised region's pixels.

    ``matrix`` is 2×3 (OpenCV's ``warpAffine`` convention, pixel centres at integers);
    ``size`` is (width, height) of the region image.
    """

    name: str
    matrix: np.ndarray
    size: tuple[int, int]

    @property
    def linear(self) -> np.ndarray:
        """The 2×2 part that maps displacement vectors from image to region pixels."""
        return self.matrix[:, :2]

    def to_region(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2) image points (x, y) to region pixel coordinates."""
        xy = np.asarray(xy, dtype=np.float64)
        return xy @ self.linear.T + self.matrix[:, 2]

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2) region pixel coordinates back to image points (x, y)."""
        xy = np.asarray(xy, dtype=np.float64)
        return (xy - self.matrix[:, 2]) @ np.linalg.inv(self.linear).T

    def corners(self) -> np.ndarray:
        """The region's outline in image (x, y): top-left, top-right, bottom-right, bottom-left."""
        w, h = self.size
        box = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
        return self.to_image(box)

    def warp(self, frame: np.ndarray) -> np.ndarray:
        """Cut and normalise the region from ``frame`` (H, W[, C]) → (height, width[, C]).

        Pixels outside the image repeat the border, so a region that pokes out of the frame
        does not create a black edge that optical flow would read as motion.
        """
        import cv2

        return cv2.warpAffine(
            np.ascontiguousarray(frame),
            self.matrix,
            self.size,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )


def region_transform(
    points: Mapping[str, np.ndarray], spec: RegionSpec, frame: int | None = None
) -> RegionTransform:
    """The region of ``spec`` for one frame's key points (see :func:`landmarks.key_points`)."""
    a = np.asarray(points[spec.anchors[0]], dtype=np.float64)
    b = np.asarray(points[spec.anchors[1]], dtype=np.float64)
    axis = b - a
    d = float(np.hypot(*axis))
    if not np.isfinite(d) or d < MIN_ANCHOR_DISTANCE:
        raise NoFaceError(frame, f"degenerate {spec.name} anchors (distance {d:.1f} px)")
    u = axis / d
    v = np.array([-u[1], u[0]])  # u turned 90° towards +y (image down)
    g1, g2, g3, g4 = spec.gammas
    if spec.center is None:
        origin = (a + b) / 2
        x0, x1 = -d / 2 - g1 * d, d / 2 + g3 * d
    else:
        origin = np.asarray(points[spec.center], dtype=np.float64)
        x0, x1 = -g1 * d, g3 * d
    y0, y1 = -g2 * d, g4 * d
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"region {spec.name}: gammas {spec.gammas} give an empty box")
    w, h = spec.size
    sx, sy = w / (x1 - x0), h / (y1 - y0)
    matrix = np.array(
        [
            [sx * u[0], sx * u[1], sx * (-u @ origin - x0) - 0.5],
            [sy * v[0], sy * v[1], sy * (-v @ origin - y0) - 0.5],
        ]
    )
    return RegionTransform(spec.name, matrix, (int(w), int(h)))


def face_regions(
    landmarks: FaceLandmarks, frame: int, specs: Iterable[RegionSpec] = (EYE, MOUTH)
) -> dict[str, RegionTransform]:
    """The regions of ``specs`` fitted on ``frame``; :class:`NoFaceError` when it has no face."""
    points = landmarks.key_points(frame)
    if points is None:
        raise NoFaceError(frame)
    return {spec.name: region_transform(points, spec, frame) for spec in specs}
