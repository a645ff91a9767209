"""Farneback optical flow in pure torch, following ``cv2.calcOpticalFlowFarneback``: polynomial
expansion by separable Gaussian-weighted sums, the iterative displacement update averaged over a
box window — or a Gaussian window with ``gaussian_window=True``, OpenCV's
``OPTFLOW_FARNEBACK_GAUSSIAN`` — from the coarsest pyramid level down.

Why a port rather than a new method: the spotters were designed (and their thresholds learnt) on
OpenCV's flows, so a GPU path is only useful if it gives *OpenCV's* answer. Every discrete choice
of OpenCV is reproduced — kernels, border rules, pyramid sizes and resampling, iteration order —
and ``tests/test_flow_torch.py`` compares both on the same inputs.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from napari_mespot.core.flow.torch._ops import (
    as_batch,
    cv_round,
    device_of,
    filter_axis,
    pixel_grid,
    resize,
    sample,
)


@functools.lru_cache(maxsize=16)
def _poly_basis(n: int, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, ...]]:
    """Gaussian applicability g, x·g, x²·g over [−n, n] and the entries of the inverse Gram matrix.

    Farneback fits a quadratic 1, x, y, x², y², xy to each neighbourhood under the Gaussian
    weight; with a separable, symmetric weight the normal equations decouple, so 4 numbers of
    the inverse Gram matrix turn the 6 weighted sums into the coefficients (OpenCV's ig11,
    ig03, ig33, ig55).
    """
    sigma = sigma if sigma >= np.finfo(np.float32).eps else n * 0.3
    x = np.arange(-n, n + 1, dtype=np.float64)
    g = np.exp(-(x**2) / (2 * sigma * sigma)).astype(np.float32)
    g = (g / g.sum(dtype=np.float64)).astype(np.float32)
    xg, xxg = (x * g).astype(np.float32), (x * x * g).astype(np.float32)
    gg = np.outer(g, g).astype(np.float64)
    yy, xx = np.meshgrid(x, x, indexing="ij")
    gram = np.zeros((6, 6))
    gram[0, 0] = gg.sum()
    gram[1, 1] = gram[2, 2] = gram[0, 3] = gram[3, 0] = gram[0, 4] = gram[4, 0] = (gg * xx**2).sum()
    gram[3, 3] = gram[4, 4] = (gg * xx**4).sum()
    gram[3, 4] = gram[4, 3] = gram[5, 5] = (gg * xx**2 * yy**2).sum()
    inv = np.linalg.inv(gram)
    return g, xg, xxg, (inv[1, 1], inv[0, 3], inv[3, 3], inv[5, 5])


def _poly_expansion(img: torch.Tensor, n: int, sigma: float) -> torch.Tensor:
    """(B, H, W) image → (B, 5, H, W) quadratic coefficients (b_y, b_x, a_yy, a_xx, a_xy).

    Channel order and scaling are OpenCV's: the linear terms, the two squared terms and the
    full cross term, replicate border. The constant term is not needed by the flow.
    """
    g, xg, xxg, (ig11, ig03, ig33, ig55) = _poly_basis(n, sigma)
    v0, v1, v2 = (filter_axis(img, taps, -2, "replicate") for taps in (g, xg, xxg))
    b1, b2, b4 = (filter_axis(v0, taps, -1, "replicate") for taps in (g, xg, xxg))
    b3, b6 = filter_axis(v1, g, -1, "replicate"), filter_axis(v1, xg, -1, "replicate")
    b5 = filter_axis(v2, g, -1, "replicate")
    return torch.stack((b3 * ig11, b2 * ig11, b1 * ig03 + b5 * ig33, b1 * ig03 + b4 * ig33, b6 * ig55), 1)


#: OpenCV down-weights the 5 outermost rows/columns, where the expansion saw replicated pixels.
_BORDER_WEIGHTS = (0.14, 0.14, 0.4472, 0.4472, 0.4472)


def _border_weight(h: int, w: int, device: torch.device) -> torch.Tensor:
    def axis(n: int) -> torch.Tensor:
        wt = torch.ones(n)
        k = min(len(_BORDER_WEIGHTS), n)
        wt[:k] = torch.tensor(_BORDER_WEIGHTS[:k])
        wt[n - k :] = wt[n - k :] * torch.tensor(_BORDER_WEIGHTS[:k]).flip(0)
        return wt

    return (axis(h)[:, None] * axis(w)[None, :]).to(device)


def _update_matrices(
    r0: torch.Tensor, r1: torch.Tensor, flow: torch.Tensor, border: torch.Tensor
) -> torch.Tensor:
    """The per-pixel normal equations A·d = Δb of Farneback's displacement estimate (eq. 1–7).

    Returns (B, 5, H, W): the entries G11, G12, G22 of AᵀA and h1, h2 of AᵀΔb (y before x, as in
    OpenCV). ``r1`` is read at the currently displaced position; where that falls outside the
    image only the reference's own coefficients are used, as OpenCV does.
    """
    h, w = flow.shape[1:3]
    xs, ys = pixel_grid(h, w, flow.device)
    fx, fy = xs + flow[..., 0], ys + flow[..., 1]
    inside = (fx.floor() >= 0) & (fx.floor() < w - 1) & (fy.floor() >= 0) & (fy.floor() < h - 1)
    moved = sample(r1.expand(flow.shape[0], -1, -1, -1), fx, fy, "bilinear")
    inside = inside[:, None]
    r0 = r0.expand_as(moved)
    lin = torch.where(inside, moved[:, :2], 0.0)
    quad = torch.where(inside, (r0[:, 2:4] + moved[:, 2:4]) * 0.5, r0[:, 2:4])
    cross = torch.where(inside[:, 0], (r0[:, 4] + moved[:, 4]) * 0.25, r0[:, 4] * 0.5)
    dy, dx = flow[..., 1], flow[..., 0]
    r4, r5, r6 = quad[:, 0], quad[:, 1], cross
    r2 = ((r0[:, 0] - lin[:, 0]) * 0.5 + r4 * dy + r6 * dx) * border
    r3 = ((r0[:, 1] - lin[:, 1]) * 0.5 + r6 * dy + r5 * dx) * border
    r4, r5, r6 = r4 * border, r5 * border, r6 * border
    return torch.stack(
        (r4 * r4 + r6 * r6, (r4 + r5) * r6, r5 * r5 + r6 * r6, r4 * r2 + r6 * r3, r6 * r2 + r5 * r3), 1
    )


def _window_average(m: torch.Tensor, winsize: int, gaussian: bool) -> torch.Tensor:
    """Average the normal equations over the window (box as OpenCV's default, or Gaussian).

    OpenCV's box sums 2·(winsize // 2) + 1 rows and columns, replicate border, and divides by
    winsize² (the same for the odd window sizes it is used with). Both windows are separable.
    """
    half = winsize // 2
    if gaussian:
        sigma = half * 0.3
        k = np.exp(-(np.arange(-half, half + 1) ** 2) / (2 * sigma * sigma)) if half else np.ones(1)
        k = (k / k.sum()).astype(np.float32)
        return filter_axis(filter_axis(m, k, -2, "replicate"), k, -1, "replicate")
    ones = np.ones(2 * half + 1, np.float32)
    box = filter_axis(filter_axis(m, ones, -2, "replicate"), ones, -1, "replicate")
    return box * (1.0 / (winsize * winsize))


def _solve_flow(g: torch.Tensor) -> torch.Tensor:
    """Flow (B, H, W, 2) from window-averaged normal equations, with OpenCV's 1e-3 regulariser.

    The 2×2 solve runs in float64 as OpenCV's does, so that weakly textured pixels, where the
    determinant nearly cancels, get OpenCV's answer too.
    """
    g11, g12, g22, h1, h2 = g.double().unbind(1)
    idet = 1.0 / (g11 * g22 - g12 * g12 + 1e-3)
    return torch.stack(((g11 * h2 - g12 * h1) * idet, (g22 * h1 - g12 * h2) * idet), -1).float()


def _farneback_levels(h: int, w: int, pyr_scale: float, levels: int) -> int:
    """OpenCV's pyramid depth: stop before a level would be smaller than 32 pixels."""
    scale, k = 1.0, 0
    while k < levels:
        scale *= pyr_scale
        if w * scale < 32 or h * scale < 32:
            break
        k += 1
    return k


def _gaussian_taps(sigma: float) -> np.ndarray:
    """cv2.getGaussianKernel for the pyramid pre-smoothing (its fixed 3-tap kernel at sigma 0)."""
    if sigma <= 0:
        return np.array([0.25, 0.5, 0.25], np.float32)
    size = max(cv_round(sigma * 5) | 1, 3)
    x = np.arange(size) - (size - 1) / 2
    k = np.exp(-(x**2) / (2 * sigma * sigma))
    return (k / k.sum()).astype(np.float32)


def _farneback_level_image(img: torch.Tensor, scale: float, size: tuple[int, int]) -> torch.Tensor:
    """Pre-smooth the full-resolution image for this level's scale, then resize (as OpenCV)."""
    taps = _gaussian_taps((1.0 / scale - 1.0) * 0.5)
    smooth = filter_axis(filter_axis(img, taps, -2, "reflect"), taps, -1, "reflect")
    return resize(smooth, size)


@torch.no_grad()
def farneback(
    ref: torch.Tensor,
    frames: torch.Tensor,
    *,
    pyr_scale: float = 0.5,
    levels: int = 3,
    winsize: int = 15,
    iterations: int = 5,
    poly_n: int = 5,
    poly_sigma: float = 1.2,
    gaussian_window: bool = False,
) -> torch.Tensor:
    """Farneback flow from ``ref`` to each of ``frames`` as ``cv2.calcOpticalFlowFarneback``.

    ``ref`` (H, W) or (B, H, W), ``frames`` (B, H, W), grey levels, any float device → (B, H, W,
    2) float32. Parameters are OpenCV's; ``gaussian_window`` is its OPTFLOW_FARNEBACK_GAUSSIAN.
    """
    ref, frames = as_batch(ref, frames, device_of(frames))
    b, h, w = frames.shape
    depth = _farneback_levels(h, w, pyr_scale, levels)
    flow: torch.Tensor | None = None
    for k in range(depth, -1, -1):
        scale = pyr_scale**k
        size = (cv_round(h * scale), cv_round(w * scale))
        if flow is None:
            flow = frames.new_zeros((b, *size, 2))
        else:
            flow = resize(flow.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1) * (1.0 / pyr_scale)
        r0, r1 = (
            _poly_expansion(_farneback_level_image(x, scale, size), poly_n, poly_sigma) for x in (ref, frames)
        )
        border = _border_weight(*size, frames.device)
        m = _update_matrices(r0, r1, flow, border)
        for i in range(iterations):
            flow = _solve_flow(_window_average(m, winsize, gaussian_window))
            if i < iterations - 1:
                m = _update_matrices(r0, r1, flow, border)
    return flow
