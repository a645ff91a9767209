"""DIS optical flow (OpenCV's ``DISOpticalFlow``) in pure torch: batched, on CPU or GPU.

Why a port: the ``fast`` preset's prototypes were learnt and calibrated on OpenCV's DIS flows
(medium), so a GPU path must give *OpenCV's* answer, as :mod:`.farneback` and :mod:`.tvl1` do
for Farneback and TV-L1. What of OpenCV is reproduced, stage by stage (Kroeger et al. 2016, as
OpenCV implements it):

- **Pyramid**: uint8 levels by ``INTER_AREA`` — the finest used level straight from the image,
  each coarser one from the level below at half its integer size — with OpenCV's rounding (an
  exact 2× reduction rounds ties up, any other integer factor rounds ties to even, a fractional
  one goes through the area weights in float32). Depth: OpenCV's coarsest-scale formula.
- **Gradients**: 3×3 Sobel of the reference level (``spatialGradient``, reflect-101 border),
  exact integers; per-patch sums of their products (the structure tensor) on the patch grid.
- **Patch inverse search**: patches of ``patch_size`` every ``patch_stride`` pixels, started
  from the coarser level's dense flow at the patch centre; two sweeps (forward, then backward),
  each patch first taking a neighbour's vector if its (mean-normalised) SSD is lower — the left
  and upper neighbour forward, the right and lower one backward — then ⌊iterations / 2⌋
  inverse-compositional Gauss–Newton steps on the frame (replicate border of 16 pixels,
  clamped positions), stopping when the SSD stops decreasing, and kept only if it moved less
  than a patch. Propagation is sequential within each of OpenCV's 8 fixed row stripes (OpenCV
  fixes 8 so that its result does not depend on its thread count). A patch reads only the two
  neighbours it may take, both on the previous anti-diagonal of its stripe, so
  the port visits every stripe's anti-diagonals as waves, for every frame of the batch at once:
  OpenCV's raster-order result in rows + columns − 1 steps per stripe.
- **Densification**: each pixel averages the vectors of the patches that cover it (the last
  patch where none does), weighted by 1 / max(1, |photometric error|).
- **Variational refinement** (``fast`` and ``medium``): :mod:`.variational`, the port
  of ``cv::VariationalRefinement``.
- Between levels the dense flow is resized bilinearly and doubled; the finest level's flow is
  resized to the image and scaled by 2^finest.

The waves still make the cost a fixed number of small sequential steps per level whatever the
batch (98 for a 140×120 level: 49 per sweep), so the port pays off on a GPU with large batches —
every frame of a window, or hundreds of VoVNet pairs — not frame by frame.

Images smaller than OpenCV's depth formula allows (coarsest scale below the finest) are
refused: OpenCV's own result is undefined there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from napari_mespot.core.flow.torch._ops import as_batch, device_of, filter_axis, pixel_grid, pixels_at, resize
from napari_mespot.core.flow.torch.variational import variational_refinement

#: OpenCV's border of the frame pyramid, its determinant floor and its "no SSD yet".
BORDER = 16
EPS = 1e-3
INF = 1e10
#: OpenCV's fixed number of stripes of the patch search with spatial propagation.
STRIPES = 8


@dataclass(frozen=True)
class DISParams:
    """One ``cv2.DISOpticalFlow`` configuration (its setters' names, snake case)."""

    finest_scale: int
    patch_stride: int
    gradient_descent_iterations: int
    variational_refinement_iterations: int
    patch_size: int = 8
    variational_refinement_alpha: float = 20.0
    variational_refinement_delta: float = 5.0
    variational_refinement_gamma: float = 10.0
    #: DIS sets its refinement's robust-penaliser ε to 0.01, not the refinement's own 0.001.
    variational_refinement_epsilon: float = 0.01
    use_mean_normalization: bool = True
    use_spatial_propagation: bool = True


#: ``cv2.DISOpticalFlow_create(preset)``'s settings.
PRESETS: dict[str, DISParams] = {
    "ultrafast": DISParams(
        finest_scale=2, patch_stride=4, gradient_descent_iterations=12, variational_refinement_iterations=0
    ),
    "fast": DISParams(
        finest_scale=2, patch_stride=4, gradient_descent_iterations=16, variational_refinement_iterations=5
    ),
    "medium": DISParams(
        finest_scale=1, patch_stride=3, gradient_descent_iterations=25, variational_refinement_iterations=5
    ),
}


# --- pyramid -----------------------------------------------------------------------------------


def coarsest_scale(h: int, w: int, patch_size: int) -> int:
    """OpenCV's deepest level: motions up to a quarter of the image, patches still fitting."""
    by_motion = int(math.log(max(w, h) / (4.0 * patch_size)) / math.log(2.0) + 0.5)
    by_patch = int(math.log(min(w, h) // patch_size) / math.log(2.0)) if min(w, h) >= patch_size else -1
    return min(by_motion, by_patch)


def _area_weights(n_in: int, n_out: int) -> torch.Tensor:
    """``INTER_AREA``'s (n_out, n_in) weights for a fractional reduction (rows sum to 1)."""
    scale = n_in / n_out
    weights = np.zeros((n_out, n_in))
    for d in range(n_out):
        f1 = d * scale
        f2 = f1 + scale
        cell = min(scale, n_in - f1)
        s2 = min(math.floor(f2), n_in - 1)
        s1 = min(math.ceil(f1), s2)
        if s1 - f1 > 1e-3:
            weights[d, s1 - 1] = (s1 - f1) / cell
        weights[d, s1:s2] = 1.0 / cell
        if f2 - s2 > 1e-3:
            weights[d, s2] = min(min(f2 - s2, 1.0), cell) / cell
    return torch.from_numpy(weights.astype(np.float32))


def area_resize(img: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, H, W) uint8-valued image → ``size`` as ``cv2.resize(..., INTER_AREA)`` on uint8."""
    h, w = img.shape[-2:]
    if (h, w) == size:
        return img
    ky, kx = h / size[0], w / size[1]
    if ky.is_integer() and kx.is_integer():
        ky, kx = int(ky), int(kx)
        sums = img[..., : size[0] * ky, : size[1] * kx].reshape(*img.shape[:-2], size[0], ky, size[1], kx)
        sums = sums.sum((-3, -1))
        if (ky, kx) == (2, 2):
            return torch.floor((sums + 2.0) * 0.25)
        return torch.round(sums * (1.0 / (ky * kx)))
    wy = _area_weights(h, size[0]).to(img.device)
    wx = _area_weights(w, size[1]).to(img.device)
    rows = (img[..., None, :] * wx).sum(-1)  # (B, H, w_out): each row reduced along x
    return torch.round((rows.transpose(-1, -2)[..., None, :] * wy).sum(-1).transpose(-1, -2))


def _pyramid(img: torch.Tensor, finest: int, coarsest: int) -> dict[int, torch.Tensor]:
    h, w = img.shape[-2:]
    levels = {finest: area_resize(img, (h // 2**finest, w // 2**finest))}
    for s in range(finest + 1, coarsest + 1):
        below = levels[s - 1]
        levels[s] = area_resize(below, (below.shape[-2] // 2, below.shape[-1] // 2))
    return levels


def _sobel(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``cv2.spatialGradient``: 3×3 Sobel, reflect-101 border (exact integers in float32)."""
    smooth, diff = np.array([1.0, 2.0, 1.0], np.float32), np.array([-1.0, 0.0, 1.0], np.float32)
    gx = filter_axis(filter_axis(img, smooth, -2, "reflect"), diff, -1, "reflect")
    gy = filter_axis(filter_axis(img, diff, -2, "reflect"), smooth, -1, "reflect")
    return gx, gy


# --- patch inverse search ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    """The reference side of one wave's patches: positions, patches and their sums (B0, K, …)."""

    i: torch.Tensor
    j: torch.Tensor
    i0: torch.Tensor
    ix: torch.Tensor
    iy: torch.Tensor
    x_sum: torch.Tensor
    y_sum: torch.Tensor
    xx: torch.Tensor
    yy: torch.Tensor
    xy: torch.Tensor


@dataclass(frozen=True)
class _Wave:
    """Patches visited at once: their grid rows and columns, and which neighbours they may take
    (``vertical``: the one above forward / below backward; ``horizontal``: left / right)."""

    rows: torch.Tensor
    cols: torch.Tensor
    vertical: torch.Tensor
    horizontal: torch.Tensor


class _Level:
    """One pyramid level's patch search: reference patches and tensors, the padded frames."""

    def __init__(self, i0: torch.Tensor, i1: torch.Tensor, p: DISParams) -> None:
        self.p = p
        self.h, self.w = i0.shape[-2:]
        psz, stride = p.patch_size, p.patch_stride
        self.hs = 1 + (self.h - psz) // stride
        self.ws = 1 + (self.w - psz) // stride
        ix, iy = _sobel(i0)

        def patches(x: torch.Tensor) -> torch.Tensor:  # (B0, hs, ws, psz, psz)
            return x.unfold(-2, psz, stride).unfold(-2, psz, stride)

        self.i0p, self.ixp, self.iyp = patches(i0), patches(ix), patches(iy)
        sums = [
            (a * b).double().sum((-1, -2)).float()
            for a, b in ((self.ixp, self.ixp), (self.iyp, self.iyp), (self.ixp, self.iyp))
        ]
        self.xx, self.yy, self.xy = sums
        self.x_sum = self.ixp.double().sum((-1, -2)).float()
        self.y_sum = self.iyp.double().sum((-1, -2)).float()
        padded = F.pad(i1[:, None], (BORDER,) * 4, mode="replicate")[:, 0]
        self.w_ext = padded.shape[-1]
        self.i1_flat = padded.reshape(padded.shape[0], -1)
        r = torch.arange(psz + 1, device=i1.device)
        self.offsets = (r[:, None] * self.w_ext + r[None, :]).reshape(-1)

    def site(self, rows: torch.Tensor, cols: torch.Tensor) -> _Site:
        """The reference side of the patches (rows, cols), cut once per visit."""
        stride = self.p.patch_stride
        at = (slice(None), rows, cols)
        dtype = self.xx.dtype
        return _Site(
            (rows * stride).to(dtype), (cols * stride).to(dtype), self.i0p[at], self.ixp[at], self.iyp[at],
            self.x_sum[at], self.y_sum[at], self.xx[at], self.yy[at], self.xy[at],
        )  # fmt: skip

    def ssd(
        self, ux: torch.Tensor, uy: torch.Tensor, at: _Site, grad: bool = False
    ) -> tuple[torch.Tensor, ...]:
        """SSD of the patches at ``at`` against the frame displaced by (ux, uy): (B, K) each.

        With ``grad`` also the Gauss–Newton right-hand side (dUx, dUy). OpenCV's arithmetic:
        clamped positions in the padded frame, bilinear weights from the fractional parts.
        """
        p = self.p
        psz = p.patch_size
        i_pos = torch.clamp(at.i + uy + BORDER, BORDER - psz + 1.0, BORDER + self.h - 1.0)
        j_pos = torch.clamp(at.j + ux + BORDER, BORDER - psz + 1.0, BORDER + self.w - 1.0)
        fi, fj = torch.floor(i_pos), torch.floor(j_pos)
        w11 = ((i_pos - fi) * (j_pos - fj))[..., None, None]
        w10 = ((i_pos - fi) * (fj + 1 - j_pos))[..., None, None]
        w01 = ((fi + 1 - i_pos) * (j_pos - fj))[..., None, None]
        w00 = ((fi + 1 - i_pos) * (fj + 1 - j_pos))[..., None, None]
        base = fi.long() * self.w_ext + fj.long()
        b, k = base.shape
        index = (base[..., None] + self.offsets).reshape(b, -1)
        window = self.i1_flat.gather(1, index).reshape(b, k, psz + 1, psz + 1)
        warped = (
            w00 * window[..., :-1, :-1]
            + w01 * window[..., :-1, 1:]
            + w10 * window[..., 1:, :-1]
            + w11 * window[..., 1:, 1:]
        )
        diff = warped - at.i0
        sq = (diff * diff).sum((-1, -2))
        n = float(psz * psz)
        s = diff.sum((-1, -2)) if p.use_mean_normalization else None
        if not grad:
            return (sq - s * s / n,) if s is not None else (sq,)
        dux = (diff * at.ix).sum((-1, -2))
        duy = (diff * at.iy).sum((-1, -2))
        if s is not None:
            return sq - s * s / n, dux - s * at.x_sum / n, duy - s * at.y_sum / n
        return sq, dux, duy

    def descend(
        self, ux: torch.Tensor, uy: torch.Tensor, at: _Site, steps: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gauss–Newton from (ux, uy), each patch stopping once its SSD stops decreasing.

        As in OpenCV the step of the iteration that finds no decrease is still taken.
        """
        det = at.xx * at.yy - at.xy * at.xy
        det = torch.where(det.abs() < EPS, torch.full_like(det, EPS), det)
        inv11, inv12, inv22 = at.yy / det, -at.xy / det, at.xx / det
        prev = torch.full_like(ux, INF)
        active = torch.ones_like(ux, dtype=torch.bool)
        for _ in range(steps):
            ssd, dux, duy = self.ssd(ux, uy, at, grad=True)
            ux = torch.where(active, ux - (inv11 * dux + inv12 * duy), ux)
            uy = torch.where(active, uy - (inv12 * dux + inv22 * duy), uy)
            active = active & (ssd < prev)
            prev = torch.where(active, ssd, prev)
        return ux, uy

    def search(self, ux: torch.Tensor, uy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sparse flow (B, hs, ws) ×2 from the dense initial flow (B, h, w) ×2."""
        p = self.p
        psz2, stride = p.patch_size // 2, p.patch_stride
        centre = (
            slice(None),
            slice(psz2, psz2 + stride * self.hs, stride),
            slice(psz2, psz2 + stride * self.ws, stride),
        )
        sx, sy = ux[centre].clone(), uy[centre].clone()
        sweeps = 2 if p.use_spatial_propagation else 1
        steps = p.gradient_descent_iterations // sweeps
        for sweep in range(sweeps):
            step = 1 if sweep % 2 == 0 else -1
            for wave in self._waves(step, ux.device):
                self._visit(sx, sy, wave, step, steps)
        return sx, sy

    def _waves(self, step: int, device: torch.device) -> list[_Wave]:
        """The sweep's patches in waves of mutually independent ones, in dependency order.

        OpenCV visits each stripe row by row, and a patch reads only the two neighbours visited
        just before it (left and above forward; right and below backward), which lie on the
        previous anti-diagonal of its stripe. So the patches of one anti-diagonal of every stripe
        form a wave: visiting the waves in turn gives OpenCV's raster-order result exactly, in
        rows + columns − 1 steps per stripe instead of rows × columns. Without spatial
        propagation no patch reads another, and all of them are one wave.
        """
        if not self.p.use_spatial_propagation:
            rows, cols = torch.meshgrid(torch.arange(self.hs), torch.arange(self.ws), indexing="ij")
            none = torch.zeros(rows.numel(), dtype=torch.bool, device=device)
            return [_Wave(rows.reshape(-1).to(device), cols.reshape(-1).to(device), none, none)]
        size = math.ceil(self.hs / STRIPES)
        bounds = [(min(n * size, self.hs), min((n + 1) * size, self.hs)) for n in range(STRIPES)]
        waves = []
        for d in range(size + self.ws - 1):
            picked = [
                (
                    a + r if step > 0 else b - 1 - r,
                    d - r if step > 0 else self.ws - 1 - (d - r),
                    r > 0,
                    d - r > 0,
                )
                for r in range(max(0, d - self.ws + 1), min(size - 1, d) + 1)
                for a, b in bounds
                if a + r < b
            ]
            if picked:
                rows, cols, vertical, horizontal = (
                    torch.tensor(v, device=device) for v in zip(*picked, strict=True)
                )
                waves.append(_Wave(rows, cols, vertical, horizontal))
        return waves

    def _visit(self, sx: torch.Tensor, sy: torch.Tensor, wave: _Wave, step: int, steps: int) -> None:
        """One wave of patches: each the best of itself and its visited neighbours, then descent."""
        rows, cols = wave.rows, wave.cols
        start_x, start_y = sx[:, rows, cols], sy[:, rows, cols]
        at = self.site(rows, cols)
        if self.p.use_spatial_propagation:
            (best,) = self.ssd(start_x, start_y, at)
            beside = (cols - step).clamp(0, self.ws - 1)
            over = (rows - step).clamp(0, self.hs - 1)
            for (r, c), valid in (((rows, beside), wave.horizontal), ((over, cols), wave.vertical)):
                cx, cy = sx[:, r, c], sy[:, r, c]
                (cost,) = self.ssd(cx, cy, at)
                better = valid & (cost < best)
                best = torch.where(better, cost, best)
                start_x, start_y = torch.where(better, cx, start_x), torch.where(better, cy, start_y)
        ux, uy = self.descend(start_x, start_y, at, steps)
        keep = torch.hypot(ux - start_x, uy - start_y) <= self.p.patch_size
        sx[:, rows, cols] = torch.where(keep, ux, start_x)
        sy[:, rows, cols] = torch.where(keep, uy, start_y)

    def densify(
        self, sx: torch.Tensor, sy: torch.Tensor, i0: torch.Tensor, i1: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Dense flow: each pixel's covering patches averaged, weighted by their photometric fit."""
        p = self.p
        psz, stride = p.patch_size, p.patch_stride
        h, w = self.h, self.w
        device = sx.device
        b = sx.shape[0]

        def cover(n: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
            """First and last patch index covering each pixel of an axis (OpenCV's counters)."""
            pos = torch.arange(n, device=device)
            last = torch.clamp(pos // stride, max=count - 1)
            first = torch.where(pos >= psz, (pos - psz) // stride + 1, torch.zeros_like(pos))
            return torch.minimum(first, last), last

        y_first, y_last = cover(h, self.hs)
        x_first, x_last = cover(w, self.ws)
        xs, ys = pixel_grid(h, w, device)
        i0 = i0.expand(b, -1, -1)
        sum_coef = torch.zeros((b, h, w), device=device, dtype=sx.dtype)
        sum_x, sum_y = torch.zeros_like(sum_coef), torch.zeros_like(sum_coef)
        reach = -(-psz // stride)
        for a in range(reach):
            iy = y_first + a
            y_ok = iy <= y_last
            iy = torch.minimum(iy, y_last)
            for c in range(reach):
                ix = x_first + c
                ok = (y_ok[:, None] & (ix <= x_last)[None, :]).expand(b, -1, -1)
                ix = torch.minimum(ix, x_last)
                vx, vy = sx[:, iy][:, :, ix], sy[:, iy][:, :, ix]
                j_m = torch.clamp(xs + vx, 0.0, w - 1.0 - EPS)
                i_m = torch.clamp(ys + vy, 0.0, h - 1.0 - EPS)
                j_l, i_l = j_m.long(), i_m.long()
                j_u, i_u = j_l + 1, i_l + 1
                fx_hi, fy_hi = j_m - j_l, i_m - i_l
                fx_lo, fy_lo = j_u - j_m, i_u - i_m
                diff = (
                    fx_hi * fy_hi * pixels_at(i1, i_u, j_u)
                    + fx_lo * fy_hi * pixels_at(i1, i_u, j_l)
                    + fx_hi * fy_lo * pixels_at(i1, i_l, j_u)
                    + fx_lo * fy_lo * pixels_at(i1, i_l, j_l)
                    - i0
                )
                coef = torch.where(ok, 1.0 / torch.clamp(diff.abs(), min=1.0), torch.zeros_like(diff))
                sum_x += coef * vx
                sum_y += coef * vy
                sum_coef += coef
        return sum_x / sum_coef, sum_y / sum_coef


# --- entry point -------------------------------------------------------------------------------


@torch.no_grad()
def dis(ref: torch.Tensor, frames: torch.Tensor, *, preset: str = "medium") -> torch.Tensor:
    """DIS flow from ``ref`` to each of ``frames`` as ``cv2.DISOpticalFlow_create(preset)``.

    ``ref`` (H, W) or (B, H, W), ``frames`` (B, H, W), grey levels 0..255 → (B, H, W, 2)
    float32 on the frames' device. ``preset``: ``ultrafast``, ``fast`` or ``medium``.
    """
    if preset not in PRESETS:
        raise ValueError(f"dis preset must be one of {sorted(PRESETS)}, got {preset!r}")
    return dis_with(ref, frames, PRESETS[preset])


@torch.no_grad()
def dis_with(ref: torch.Tensor, frames: torch.Tensor, p: DISParams) -> torch.Tensor:
    """:func:`dis` with explicit settings (any ``cv2.DISOpticalFlow`` configuration)."""
    ref, frames = as_batch(ref, frames, device_of(frames))
    h, w = frames.shape[-2:]
    top = coarsest_scale(h, w, p.patch_size)
    if top < p.finest_scale:
        raise ValueError(
            f"a {w}×{h} image is too small for DIS with patch size {p.patch_size} and finest scale "
            f"{p.finest_scale} (OpenCV's result is undefined there)"
        )
    i0s = _pyramid(ref.round(), p.finest_scale, top)
    i1s = _pyramid(frames.round(), p.finest_scale, top)
    b = frames.shape[0]
    ux = frames.new_zeros((b, *i0s[top].shape[-2:]))
    uy = torch.zeros_like(ux)
    for s in range(top, p.finest_scale - 1, -1):
        level = _Level(i0s[s], i1s[s], p)
        sx, sy = level.search(ux, uy)
        ux, uy = level.densify(sx, sy, i0s[s], i1s[s])
        if p.variational_refinement_iterations > 0:
            refined = variational_refinement(
                i0s[s],
                i1s[s],
                torch.stack((ux, uy), -1),
                alpha=p.variational_refinement_alpha,
                delta=p.variational_refinement_delta,
                gamma=p.variational_refinement_gamma,
                epsilon=p.variational_refinement_epsilon,
                sor_iterations=5,
                fixed_point_iterations=p.variational_refinement_iterations,
            )
            ux, uy = refined[..., 0], refined[..., 1]
        if s > p.finest_scale:
            size = tuple(i0s[s - 1].shape[-2:])
            ux, uy = resize(ux, size) * 2.0, resize(uy, size) * 2.0
    flow = torch.stack((resize(ux, (h, w)), resize(uy, (h, w))), -1)
    return flow * float(2**p.finest_scale)
