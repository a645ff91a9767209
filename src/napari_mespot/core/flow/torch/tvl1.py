"""Dual TV-L1 optical flow in pure torch, following ``cv2.optflow.DualTVL1OpticalFlow``
(Zach–Pock–Bischof duality-based TV-L1: bicubic warping, thresholding step, projected dual step,
median filtering of the flow per outer iteration, stopping when the mean squared update falls
below epsilon², pyramid with bilinear down- and up-scaling). The illumination term (OpenCV's
``gamma``) is not ported: it is 0 in OpenCV's defaults and in every preset here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from napari_mespot.core.flow.torch._ops import (
    as_batch,
    cv_round,
    device_of,
    pixel_grid,
    resize,
    sample,
)


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
    xs, ys = pixel_grid(h, w, u.device)
    stack = torch.cat((i1[:, None], grad1), 1).expand(u.shape[0], -1, -1, -1)
    warped = sample(stack, xs + u[:, 0], ys + u[:, 1], "bicubic")
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
        size = (cv_round(h * scale_step), cv_round(w * scale_step))
        if size[0] < 16 or size[1] < 16:
            break
        pyramid.append(resize(pyramid[-1], size, (1.0 / scale_step, 1.0 / scale_step)))
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
    ref, frames = as_batch(ref, frames, device_of(frames))
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
            u = resize(u, tuple(i0s[s].shape[-2:])) * (1.0 / scale_step)
        u = _TVL1Scale(i0s[s], i1s[s], u, params).run()
    return u.permute(0, 2, 3, 1).contiguous()
