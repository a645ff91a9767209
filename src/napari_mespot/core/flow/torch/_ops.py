"""The building blocks the torch ports of OpenCV's flows share (Farneback, TV-L1, DIS and its
variational refinement): batching, OpenCV's rounding, separable filters as sums of shifted
slices, OpenCV's resize, and exact pixel reads.

Filters are sums of shifted slices and resizes are two-tap blends, rather than ``conv2d`` and
matrix products, so that no TF32 setting on a GPU rounds the data to 10 mantissa bits.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

TensorLike = torch.Tensor | np.ndarray


def as_batch(ref: TensorLike, frames: TensorLike, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 ``(1 or B, H, W)`` reference and ``(B, H, W)`` frames on ``device``."""
    r = torch.as_tensor(ref).to(device=device, dtype=torch.float32)
    f = torch.as_tensor(frames).to(device=device, dtype=torch.float32)
    if f.ndim == 2:
        f = f[None]
    if r.ndim == 2:
        r = r[None]
    if f.ndim != 3 or r.ndim != 3 or r.shape[1:] != f.shape[1:] or r.shape[0] not in (1, f.shape[0]):
        raise ValueError(
            f"flow needs a (H, W) or (B, H, W) reference and (B, H, W) frames of the same size, "
            f"got {tuple(r.shape)} and {tuple(f.shape)}"
        )
    return r, f


def device_of(x: TensorLike) -> torch.device:
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


def cv_round(x: float) -> int:
    """OpenCV's cvRound: nearest integer, ties to even (Python's round does the same)."""
    return round(x)


def filter_axis(x: torch.Tensor, taps: np.ndarray, dim: int, mode: str) -> torch.Tensor:
    """Correlate ``x`` along ``dim`` (−1 or −2) with the centred odd-length ``taps``.

    ``mode`` is F.pad's: ``replicate`` (OpenCV's BORDER_REPLICATE) or ``reflect``
    (BORDER_REFLECT_101, OpenCV's default for filters).
    """
    n = len(taps) // 2
    pad = (n, n, 0, 0) if dim == -1 else (0, 0, n, n)
    shape = x.shape
    padded = F.pad(x.reshape(-1, 1, *shape[-2:]), pad, mode=mode)
    padded = padded.reshape(*shape[:-2], *padded.shape[-2:])
    size = shape[dim]
    out = padded.narrow(dim, 0, size) * float(taps[0])
    for k in range(1, len(taps)):
        if taps[k] != 0:
            out.add_(padded.narrow(dim, k, size), alpha=float(taps[k]))
    return out


@functools.lru_cache(maxsize=64)
def resize_taps(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lo, hi) and weight of hi for OpenCV's INTER_LINEAR resize along one axis.

    OpenCV samples source coordinate (i + 0.5)·scale − 0.5, clamped to [0, n_in − 1], with
    ``scale`` = n_in / n_out when a size is given, or 1 / fx when a factor is given.
    """
    src = np.clip((np.arange(n_out) + 0.5) * scale - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    return lo, np.minimum(lo + 1, n_in - 1), (src - lo).astype(np.float32)


def resize_axis(x: torch.Tensor, dim: int, n_out: int, scale: float) -> torch.Tensor:
    lo, hi, frac = (torch.from_numpy(a).to(x.device) for a in resize_taps(x.shape[dim], n_out, scale))
    shape = [1] * x.ndim
    shape[dim] = n_out
    frac = frac.reshape(shape)
    return x.index_select(dim, lo) * (1 - frac) + x.index_select(dim, hi) * frac


def resize(x: torch.Tensor, size: tuple[int, int], scale: tuple[float, float] | None = None) -> torch.Tensor:
    """Bilinear resize of the last two dims to ``size`` exactly as ``cv2.resize`` INTER_LINEAR.

    ``scale`` = (y, x) source pixels per output pixel when OpenCV was given factors instead of a
    size (its sizes are rounded, its sampling is not). Two-tap blends rather than matrix
    products, so no TF32 matmul setting can round the images.
    """
    h, w = x.shape[-2:]
    if (h, w) == size:
        return x
    sy, sx = scale or (h / size[0], w / size[1])
    return resize_axis(resize_axis(x, x.ndim - 2, size[0], sy), x.ndim - 1, size[1], sx)


def pixel_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ys = torch.arange(h, device=device, dtype=torch.float32)[:, None].expand(h, w)
    xs = torch.arange(w, device=device, dtype=torch.float32)[None, :].expand(h, w)
    return xs, ys


def pixels_at(img: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``img[b, y[b, ...], x[b, ...]]`` for (B, H, W) ``img`` and integer index tensors inside it:
    the exact grey levels OpenCV's own bilinear formulas read (``grid_sample`` rounds its
    weights differently)."""
    b, _, w = img.shape
    return img.reshape(b, -1).gather(1, (y * w + x).reshape(b, -1)).reshape(y.shape)


def sample(img: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mode: str) -> torch.Tensor:
    """``img`` (B, C, H, W) sampled at pixel coordinates (B, H, W), zero outside the image."""
    h, w = img.shape[-2:]
    grid = torch.stack((x * (2.0 / max(w - 1, 1)) - 1.0, y * (2.0 / max(h - 1, 1)) - 1.0), dim=-1)
    return F.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=True)
