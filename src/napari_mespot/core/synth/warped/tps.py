"""Thin-plate-spline warps evaluated on a coarse grid, for the identity morph and every frame.

A warp is given by control points: where content *is* (``source``) and where it must *go*
(``target``). Rendering needs the backward map (for each output pixel, where to read), so the
spline is fitted on the targets with the displacement back to the sources as its values: it is
exact at every control point however large the motion (a blink moves the upper lid by the whole
eye opening), with no first-order inversion. Evaluating a spline with a couple of hundred
centres costs ~5 microseconds a point, so it is evaluated on a grid every :data:`STRIDE` pixels
and upsampled (the fields it produces are smooth on that scale).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import RBFInterpolator

#: Spacing (px) of the coarse grid the splines are evaluated on.
STRIDE = 8


def backward_spline(source: np.ndarray, target: np.ndarray) -> RBFInterpolator:
    """The map target → source - target: add it to an output position to find where to read."""
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    return RBFInterpolator(target, source - target, kernel="thin_plate_spline")


def coarse_grid(size: tuple[int, int], stride: int = STRIDE) -> tuple[np.ndarray, np.ndarray]:
    """Sample positions (x, y) whose cubic resize by ``stride`` lands on every pixel exactly.

    ``cv2.resize`` reads output pixel ``x`` from input ``(x + 0.5) / stride - 0.5``; samples at
    ``stride * i + (stride - 1) / 2`` make that the pixel itself.
    """
    width, height = size
    xs = stride * np.arange(-(-width // stride)) + (stride - 1) / 2.0
    ys = stride * np.arange(-(-height // stride)) + (stride - 1) / 2.0
    return np.meshgrid(xs, ys)


def upsample(coarse: np.ndarray, size: tuple[int, int], stride: int = STRIDE) -> np.ndarray:
    """A coarse (h, w) map to full (height, width) resolution (cubic)."""
    width, height = size
    h, w = coarse.shape
    full = cv2.resize(coarse.astype(np.float32), (w * stride, h * stride), interpolation=cv2.INTER_CUBIC)
    return full[:height, :width]


def warp_image(image: np.ndarray, source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``image`` with the content at ``source`` points moved onto ``target`` points."""
    height, width = image.shape[:2]
    gx, gy = coarse_grid((width, height))
    spline = backward_spline(source, target)
    back = spline(np.column_stack([gx.ravel(), gy.ravel()])).reshape(*gx.shape, 2)
    map_x = upsample(gx + back[..., 0], (width, height))
    map_y = upsample(gy + back[..., 1], (width, height))
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
