"""Farneback and dual TV-L1 optical flow in pure torch: batched, on CPU or GPU.

Why a port rather than a new method: the spotters were designed (and their thresholds learnt) on
OpenCV's flows, so a GPU path is only useful if it gives *OpenCV's* answer. Every discrete
choice of OpenCV is therefore reproduced — kernels, border rules, pyramid sizes and resampling,
iteration order, stopping rule — and the tests compare both on the same inputs.

- :func:`farneback` follows ``cv2.calcOpticalFlowFarneback`` (polynomial expansion by separable
  Gaussian-weighted sums, the iterative displacement update averaged over a box window — or a
  Gaussian window with ``gaussian_window=True``, OpenCV's ``OPTFLOW_FARNEBACK_GAUSSIAN`` —
  from the coarsest pyramid level down).
- :func:`tvl1` follows ``cv2.optflow.DualTVL1OpticalFlow`` (Zach–Pock–Bischof duality-based
  TV-L1: bicubic warping, thresholding step, projected dual step, median filtering of the flow
  per outer iteration, stopping when the mean squared update falls below epsilon², pyramid with
  bilinear down- and up-scaling). The illumination term (OpenCV's ``gamma``) is not ported: it
  is 0 in OpenCV's defaults and in every preset here.

Both take a reference ``(H, W)`` or ``(B, H, W)`` and frames ``(B, H, W)`` (grey levels 0..255)
and return ``(B, H, W, 2)`` float32 flow in OpenCV's convention (``flow[y, x] = (dx, dy)`` with
``frames(x + dx, y + dy) ≈ ref(x, y)``), on the inputs' device. A single reference is expanded
once and broadcast, which is what the spotter needs: one window reference against many frames.
:func:`flow_batch` is the numpy entry point with a device choice (``auto``, ``cpu``, ``cuda``), for
these two and for DIS (:mod:`.flow_torch_dis`, built on this module's blocks).

Filters are sums of shifted slices and resizes are two-tap blends, rather than ``conv2d`` and
matrix products, so that no TF32 setting on a GPU rounds the data to 10 mantissa bits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from napari_mespot.core.errors import MespotError

TensorLike = torch.Tensor | np.ndarray


class DeviceUnavailableError(MespotError):
    """A device was asked for that torch cannot use here (e.g. ``cuda`` without a GPU)."""


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → the GPU when torch sees one, else the CPU; ``cpu``/``cuda[:n]`` as given."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as err:
        raise DeviceUnavailableError(f"unknown device {device!r}; use auto, cpu or cuda") from err
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"device {device!r} asked for, but torch sees no CUDA GPU here")
    return resolved


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


def _device_of(x: TensorLike) -> torch.device:
    return x.device if isinstance(x, torch.Tensor) else torch.device("cpu")


# --- shared building blocks --------------------------------------------------------------------


def _cv_round(x: float) -> int:
    """OpenCV's cvRound: nearest integer, ties to even (Python's round does the same)."""
    return round(x)


def _filter(x: torch.Tensor, taps: np.ndarray, dim: int, mode: str) -> torch.Tensor:
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
def _resize_taps(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lo, hi) and weight of hi for OpenCV's INTER_LINEAR resize along one axis.

    OpenCV samples source coordinate (i + 0.5)·scale − 0.5, clamped to [0, n_in − 1], with
    ``scale`` = n_in / n_out when a size is given, or 1 / fx when a factor is given.
    """
    src = np.clip((np.arange(n_out) + 0.5) * scale - 0.5, 0, n_in - 1)
    lo = np.floor(src).astype(np.int64)
    return lo, np.minimum(lo + 1, n_in - 1), (src - lo).astype(np.float32)


def _resize_axis(x: torch.Tensor, dim: int, n_out: int, scale: float) -> torch.Tensor:
    lo, hi, frac = (torch.from_numpy(a).to(x.device) for a in _resize_taps(x.shape[dim], n_out, scale))
    shape = [1] * x.ndim
    shape[dim] = n_out
    frac = frac.reshape(shape)
    return x.index_select(dim, lo) * (1 - frac) + x.index_select(dim, hi) * frac


def _resize(x: torch.Tensor, size: tuple[int, int], scale: tuple[float, float] | None = None) -> torch.Tensor:
    """Bilinear resize of the last two dims to ``size`` exactly as ``cv2.resize`` INTER_LINEAR.

    ``scale`` = (y, x) source pixels per output pixel when OpenCV was given factors instead of a
    size (its sizes are rounded, its sampling is not). Two-tap blends rather than matrix
    products, so no TF32 matmul setting can round the images.
    """
    h, w = x.shape[-2:]
    if (h, w) == size:
        return x
    sy, sx = scale or (h / size[0], w / size[1])
    return _resize_axis(_resize_axis(x, x.ndim - 2, size[0], sy), x.ndim - 1, size[1], sx)


def _pixel_grid(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    ys = torch.arange(h, device=device, dtype=torch.float32)[:, None].expand(h, w)
    xs = torch.arange(w, device=device, dtype=torch.float32)[None, :].expand(h, w)
    return xs, ys


def _pixels_at(img: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``img[b, y[b, ...], x[b, ...]]`` for (B, H, W) ``img`` and integer index tensors inside it:
    the exact grey levels OpenCV's own bilinear formulas read (``grid_sample`` rounds its
    weights differently)."""
    b, _, w = img.shape
    return img.reshape(b, -1).gather(1, (y * w + x).reshape(b, -1)).reshape(y.shape)


def _sample(img: torch.Tensor, x: torch.Tensor, y: torch.Tensor, mode: str) -> torch.Tensor:
    """``img`` (B, C, H, W) sampled at pixel coordinates (B, H, W), zero outside the image."""
    h, w = img.shape[-2:]
    grid = torch.stack((x * (2.0 / max(w - 1, 1)) - 1.0, y * (2.0 / max(h - 1, 1)) - 1.0), dim=-1)
    return F.grid_sample(img, grid, mode=mode, padding_mode="zeros", align_corners=True)


# --- Farneback ---------------------------------------------------------------------------------


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
    v0, v1, v2 = (_filter(img, taps, -2, "replicate") for taps in (g, xg, xxg))
    b1, b2, b4 = (_filter(v0, taps, -1, "replicate") for taps in (g, xg, xxg))
    b3, b6 = _filter(v1, g, -1, "replicate"), _filter(v1, xg, -1, "replicate")
    b5 = _filter(v2, g, -1, "replicate")
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
    xs, ys = _pixel_grid(h, w, flow.device)
    fx, fy = xs + flow[..., 0], ys + flow[..., 1]
    inside = (fx.floor() >= 0) & (fx.floor() < w - 1) & (fy.floor() >= 0) & (fy.floor() < h - 1)
    moved = _sample(r1.expand(flow.shape[0], -1, -1, -1), fx, fy, "bilinear")
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
        return _filter(_filter(m, k, -2, "replicate"), k, -1, "replicate")
    ones = np.ones(2 * half + 1, np.float32)
    return _filter(_filter(m, ones, -2, "replicate"), ones, -1, "replicate") * (1.0 / (winsize * winsize))


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
    size = max(_cv_round(sigma * 5) | 1, 3)
    x = np.arange(size) - (size - 1) / 2
    k = np.exp(-(x**2) / (2 * sigma * sigma))
    return (k / k.sum()).astype(np.float32)


def _farneback_level_image(img: torch.Tensor, scale: float, size: tuple[int, int]) -> torch.Tensor:
    """Pre-smooth the full-resolution image for this level's scale, then resize (as OpenCV)."""
    taps = _gaussian_taps((1.0 / scale - 1.0) * 0.5)
    smooth = _filter(_filter(img, taps, -2, "reflect"), taps, -1, "reflect")
    return _resize(smooth, size)


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
    ref, frames = as_batch(ref, frames, _device_of(frames))
    b, h, w = frames.shape
    depth = _farneback_levels(h, w, pyr_scale, levels)
    flow: torch.Tensor | None = None
    for k in range(depth, -1, -1):
        scale = pyr_scale**k
        size = (_cv_round(h * scale), _cv_round(w * scale))
        if flow is None:
            flow = frames.new_zeros((b, *size, 2))
        else:
            flow = _resize(flow.permute(0, 3, 1, 2), size).permute(0, 2, 3, 1) * (1.0 / pyr_scale)
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


# --- dual TV-L1 --------------------------------------------------------------------------------


def _centered_gradient(img: torch.Tensor) -> torch.Tensor:
    """(B, H, W) → (B, 2, H, W) half central differences (x, y), replicate border."""
    p = F.pad(img[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    return torch.stack(
        ((p[:, 1:-1, 2:] - p[:, 1:-1, :-2]) * 0.5, (p[:, 2:, 1:-1] - p[:, :-2, 1:-1]) * 0.5), 1
    )


def _forward_gradient(u: torch.Tensor) -> torch.Tensor:
    """(..., H, W) → (..., 2, H, W) forward differences (x, y), zero on the last column/row."""
    gx = F.pad(u[..., :, 1:] - u[..., :, :-1], (0, 1))
    gy = F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))
    return torch.stack((gx, gy), -3)


def _divergence(p: torch.Tensor) -> torch.Tensor:
    """(..., 2, H, W) → (..., H, W) backward-difference divergence, the adjoint of −∇ above."""
    px, py = p.unbind(-3)
    return px - F.pad(px[..., :, :-1], (1, 0)) + py - F.pad(py[..., :-1, :], (0, 0, 1, 0))


def _odd_even_merge_sort(n: int) -> list[tuple[int, int]]:
    """Compare–exchange pairs (low, high) of Batcher's odd–even merge sort of n = 2^k wires."""
    pairs = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    return pairs


@functools.cache
def _selection_program(n: int, rank: int) -> tuple[tuple[str, int, int, bool, bool], ...]:
    """The operations of a sorting network that the ``rank``-th smallest of n values needs.

    The network sorts the next power of two with +inf on the extra wires; comparisons with a
    known +inf are resolved here (nothing, or a swap of wires), and comparisons whose outputs
    never reach the selected wire are dropped. Each kept step says whether its min and its max
    are needed, so a 5×5 median costs about a hundred elementwise min/max over whole images —
    far cheaper than sorting 25 values per pixel.
    """
    size = 1 << (n - 1).bit_length()
    infinite = [w >= n for w in range(size)]
    program: list[tuple[str, int, int]] = []
    for lo, hi in _odd_even_merge_sort(size):
        if infinite[hi]:
            continue
        if infinite[lo]:
            program.append(("swap", lo, hi))
            infinite[lo], infinite[hi] = False, True
        else:
            program.append(("cmp", lo, hi))
    needed, kept = {rank}, []
    for op, lo, hi in reversed(program):
        if op == "swap":
            needed = {hi if w == lo else lo if w == hi else w for w in needed}
            kept.append((op, lo, hi, True, True))
        elif lo in needed or hi in needed:
            kept.append((op, lo, hi, lo in needed, hi in needed))
            needed |= {lo, hi}
    return tuple(reversed(kept))


def _median(u: torch.Tensor, size: int) -> torch.Tensor:
    """size×size median of each (H, W) plane, replicate border (cv2.medianBlur on float images)."""
    h, w = u.shape[-2:]
    r = size // 2
    p = F.pad(u.reshape(-1, 1, h, w), (r, r, r, r), mode="replicate").reshape(
        *u.shape[:-2], h + 2 * r, w + 2 * r
    )
    wires = [p[..., i : i + h, j : j + w] for i in range(size) for j in range(size)]
    for op, lo, hi, need_min, need_max in _selection_program(size * size, size * size // 2):
        if op == "swap":
            wires[lo], wires[hi] = wires[hi], wires[lo]
            continue
        a, b = wires[lo], wires[hi]
        wires[lo] = torch.minimum(a, b) if need_min else a
        wires[hi] = torch.maximum(a, b) if need_max else b
    return wires[size * size // 2].contiguous()


def _warp(i1: torch.Tensor, grad1: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """I1 and its gradient at x + u by bicubic interpolation (a = −0.75), zero outside the image.

    This is cv2.remap INTER_CUBIC with its default constant border, which OpenCV uses here.
    """
    h, w = u.shape[-2:]
    xs, ys = _pixel_grid(h, w, u.device)
    stack = torch.cat((i1[:, None], grad1), 1).expand(u.shape[0], -1, -1, -1)
    warped = _sample(stack, xs + u[:, 0], ys + u[:, 1], "bicubic")
    return warped[:, 0], warped[:, 1:]


@dataclass
class _Linearised:
    """What one warp fixes for the inner iterations of a set of images, plus their iterates."""

    u: torch.Tensor  # (n, 2, H, W) flow
    dual: torch.Tensor  # (n, 2, 2, H, W): per flow component, the dual variable's x and y
    grad: torch.Tensor  # (n, 2, H, W) gradient of the warped frame
    grad_sq: torch.Tensor  # (n, H, W) its squared norm
    rho_c: torch.Tensor  # (n, H, W) residual minus its part linear in u

    def select(self, keep: torch.Tensor) -> _Linearised:
        return _Linearised(*(getattr(self, f.name)[keep] for f in fields(self)))


class _TVL1Scale:
    """The primal–dual iterations at one pyramid scale for a batch of images.

    Each image stops on its own test (mean squared update < epsilon², OpenCV's rule), so a batch
    gives every image exactly the iterations it would get alone; an image that stopped leaves the
    working set, so the rest of the batch no longer pays for it.
    """

    def __init__(self, i0: torch.Tensor, i1: torch.Tensor, u: torch.Tensor, p: dict[str, float]) -> None:
        self.i0, self.i1, self.u = i0, i1, u
        self.grad1 = _centered_gradient(i1)
        self.dual = u.new_zeros((*u.shape[:2], 2, *u.shape[2:]))
        self.p = p
        self.l_t = np.float32(p["lambda_"] * p["theta"]).item()
        self.taut = np.float32(p["tau"] / p["theta"]).item()
        self.theta = np.float32(p["theta"]).item()
        self.tolerance = np.float32(p["epsilon"] ** 2 * u.shape[-2] * u.shape[-1]).item()

    def run(self) -> torch.Tensor:
        for _ in range(self.p["warps"]):
            self._solve_warp()
        return self.u

    def _solve_warp(self) -> None:
        """Linearise at the current flow, then iterate until each image's update is small."""
        active = torch.arange(self.u.shape[0], device=self.u.device)
        work = self._linearise()
        for _ in range(self.p["outer_iterations"]):
            if self.p["median_filtering"] > 1:
                work.u = _median(work.u, self.p["median_filtering"])
            for _ in range(self.p["inner_iterations"]):
                done = self._iterate(work) <= self.tolerance
                n_done = int(done.sum())
                if n_done:
                    self._store(active[done], work.select(done))
                    if n_done == len(active):
                        return
                    active, work = active[~done], work.select(~done)
        self._store(active, work)

    def _store(self, index: torch.Tensor, work: _Linearised) -> None:
        self.u[index], self.dual[index] = work.u, work.dual

    def _linearise(self) -> _Linearised:
        """Warp I1 and its gradient by the current flow; keep the constant part of the residual."""
        i1w, grad = _warp(self.i1, self.grad1, self.u)
        gx, gy = grad.unbind(1)
        rho_c = i1w - gx * self.u[:, 0] - gy * self.u[:, 1] - self.i0
        return _Linearised(self.u.clone(), self.dual.clone(), grad, gx * gx + gy * gy, rho_c)

    def _iterate(self, w: _Linearised) -> torch.Tensor:
        """One primal–dual step in OpenCV's order; returns each image's squared update."""
        u = self._threshold(w) + self.theta * _divergence(w.dual)
        error = ((u - w.u) ** 2).sum((1, 2, 3))
        w.u = u
        w.dual = self._project(w.dual, _forward_gradient(u))
        return error

    def _threshold(self, w: _Linearised) -> torch.Tensor:
        """The pointwise minimiser of the linearised L1 data term (the TH operator of the paper)."""
        rho = w.rho_c + (w.grad[:, 0] * w.u[:, 0] + w.grad[:, 1] * w.u[:, 1])
        bound = self.l_t * w.grad_sq
        step = torch.where(w.grad_sq > np.finfo(np.float32).eps, -rho / w.grad_sq, 0.0)
        step = torch.where(rho < -bound, self.l_t, torch.where(rho > bound, -self.l_t, step))
        return w.u + step[:, None] * w.grad

    def _project(self, dual: torch.Tensor, grad_u: torch.Tensor) -> torch.Tensor:
        """The dual step p ← (p + τ/θ ∇u) / (1 + τ/θ |∇u|) for each flow component."""
        norm = torch.hypot(grad_u[:, :, 0], grad_u[:, :, 1])[:, :, None]
        return (dual + self.taut * grad_u) / (1.0 + self.taut * norm)


def _tvl1_pyramid(img: torch.Tensor, nscales: int, scale_step: float) -> list[torch.Tensor]:
    """OpenCV's pyramid: repeated bilinear resize by ``scale_step``, stopping under 16 pixels."""
    pyramid = [img]
    for _ in range(1, nscales):
        h, w = pyramid[-1].shape[-2:]
        size = (_cv_round(h * scale_step), _cv_round(w * scale_step))
        if size[0] < 16 or size[1] < 16:
            break
        pyramid.append(_resize(pyramid[-1], size, (1.0 / scale_step, 1.0 / scale_step)))
    return pyramid


@torch.no_grad()
def tvl1(
    ref: torch.Tensor,
    frames: torch.Tensor,
    *,
    tau: float = 0.25,
    lambda_: float = 0.15,
    theta: float = 0.3,
    nscales: int = 5,
    warps: int = 5,
    epsilon: float = 0.01,
    inner_iterations: int = 30,
    outer_iterations: int = 10,
    scale_step: float = 0.8,
    median_filtering: int = 5,
) -> torch.Tensor:
    """Dual TV-L1 flow from ``ref`` to each of ``frames`` as cv2.optflow.DualTVL1OpticalFlow.

    ``ref`` (H, W) or (B, H, W), ``frames`` (B, H, W), grey levels 0..255 → (B, H, W, 2) float32.
    Defaults are OpenCV's (``innnerIterations``/``outerIterations``/``scaleStep``/
    ``medianFiltering`` there).
    """
    ref, frames = as_batch(ref, frames, _device_of(frames))
    params = {
        "tau": tau,
        "lambda_": lambda_,
        "theta": theta,
        "warps": warps,
        "epsilon": epsilon,
        "inner_iterations": inner_iterations,
        "outer_iterations": outer_iterations,
        "median_filtering": median_filtering,
    }
    if median_filtering > 1 and median_filtering not in (3, 5):
        raise ValueError(
            f"median_filtering must be 3 or 5 (OpenCV's float medians) or ≤ 1, got {median_filtering}"
        )
    i0s, i1s = _tvl1_pyramid(ref, nscales, scale_step), _tvl1_pyramid(frames, nscales, scale_step)
    u = frames.new_zeros((frames.shape[0], 2, *i0s[-1].shape[-2:]))
    for s in range(len(i0s) - 1, -1, -1):
        if s < len(i0s) - 1:
            u = _resize(u, tuple(i0s[s].shape[-2:])) * (1.0 / scale_step)
        u = _TVL1Scale(i0s[s], i1s[s], u, params).run()
    return u.permute(0, 2, 3, 1).contiguous()


# --- numpy entry point -------------------------------------------------------------------------

#: The torch methods by their OpenCV name (DIS lives in :mod:`.flow_torch_dis`, which builds on
#: this module's blocks, so it is looked up when asked for).
METHOD_NAMES = ("farneback", "tvl1", "dis")


def torch_method(name: str) -> Callable[..., torch.Tensor]:
    """The torch flow function ported from OpenCV's method ``name``."""
    if name == "dis":
        from napari_mespot.core.flow.torch.dis import dis

        return dis
    if name not in METHOD_NAMES:
        raise ValueError(f"torch flow method must be one of {sorted(METHOD_NAMES)}, got {name!r}")
    return farneback if name == "farneback" else tvl1


def flow_batch(
    ref: TensorLike,
    frames: TensorLike,
    method: str = "farneback",
    *,
    device: str | torch.device = "auto",
    chunk: int = 64,
    **params: Any,
) -> np.ndarray:
    """Flows from ``ref`` ((H, W) or (B, H, W)) to each of ``frames`` ((B, H, W)) as numpy.

    Grey levels 0..255 in, (B, H, W, 2) float32 out. ``device`` is ``auto`` (the GPU when there
    is one), ``cpu`` or ``cuda``; ``params`` are the method's OpenCV parameters. At most ``chunk``
    frames are on the device at a time, which bounds memory whatever the window length (a 7-s
    window of a 200-fps video is 1400 frames).
    """
    compute = torch_method(method)
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    target = resolve_device(device)
    r, f = as_batch(ref, frames, torch.device("cpu"))
    out = np.empty((*f.shape, 2), np.float32)
    for start in range(0, f.shape[0], chunk):
        part = slice(start, start + chunk)
        refs = r if r.shape[0] == 1 else r[part]
        out[part] = compute(refs.to(target), f[part].to(target), **params).cpu().numpy()
    return out
