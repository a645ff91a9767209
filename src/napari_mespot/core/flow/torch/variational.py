"""OpenCV's variational refinement (the last stage of DIS flow) in pure torch: batched, any device.

Why: DIS's ``fast`` and ``medium`` presets end every pyramid level with
``cv::VariationalRefinement::calcUV``; a GPU DIS that is to give *OpenCV's* flow (the prototypes
and thresholds were learnt on it) needs that step reproduced, not replaced by another solver.
:func:`variational_refinement` follows ``modules/video/src/variational_refinement.cpp`` step by
step, on full ``(B, H, W)`` tensors:

- I1 (grey levels as float32) is warped once by the initial flow W with ``cv2.remap``'s
  INTER_LINEAR and BORDER_REPLICATE; the derivatives are taken on the average of I0 and warped
  I1 (Ix, Iy), on their difference Iz (Ixz, Iyz) and on Ix, Iy (Ixx, Ixy, Iyy), each with
  Sobel ksize 1 (``I[x+1] − I[x−1]``, not halved) and a replicated border.
- Each fixed-point iteration builds the linear system for the increment dW = (du, dv): the
  colour- and gradient-constancy data terms, linearised around W, with the robust weights
  ``Ψ'(s²) = 1 / sqrt(s² + ε²)`` (ε = 0.001; DIS sets 0.01) and the normalisation by the gradient norms + ζ²
  (ζ = 0.1, also added to the diagonal); the smoothness weight ``α/2 · Ψ'`` of each pixel, from
  forward differences of the current flow W + dW; and that weight on the edges to the right and
  below, with W's differences on the right-hand side. Then ``sor_iterations`` red-black SOR
  sweeps: the red pixels ((i + j) even) first, then the black ones.
- OpenCV keeps red and black pixels in two buffers with repeated borders. On the full image its
  borders amount to: the flow outside the image repeats the border pixel (its forward difference
  across the right or bottom edge is 0), while the increment and the weights outside are 0 (their
  border cells are zeroed once and never written), so an edge leaving the image has no weight
  and contributes nothing. The checkerboard masks below stand for the two buffers.

Float32 rounding is reproduced too, so that the port agrees with OpenCV to the bit on a CPU:
each coefficient of the system is accumulated in OpenCV's order (red pixels add their own
right edge before their left neighbour's, black pixels the other way round, and likewise for
the vertical edges), scalars are the float32 constants OpenCV computes (``alpha / 2``,
``zeta²``, ``epsilon²``), divisions are true divisions (``scalar / tensor`` in torch multiplies
by a reciprocal) and square roots are taken in float64 and rounded (torch's float32 ``sqrt`` on
CPU is not correctly rounded; SSE's is). Quirks reproduced on purpose:

- ``cv2.remap`` (OpenCV ≥ 4.11, which this project runs) interpolates in float coordinates,
  not at 1/32 pixel, with fused multiply-adds ``p00 + fx·(p01 − p00)`` then the same along y;
  the FMAs are emulated in float64 (the product of two float32 is exact there). On a CPU
  without FMA OpenCV's remap rounds twice, an ulp away; the tests' bound covers that.
- I1 is warped once per call, by the initial flow; the fixed-point iterations relinearise the
  robust weights only, around the same warped image.
- The data term's right-hand side uses Iz, not the linearised residual; the increment carries
  over from one fixed-point iteration to the next (it is zeroed once per call).
- In SOR the update of dv uses the du just updated at the same pixel.

Filters are sums of shifted slices (no ``conv2d`` or matrix product that TF32 could round).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from napari_mespot.core.flow.torch._ops import filter_axis, pixel_grid, pixels_at

#: OpenCV's fixed robust-penaliser constants (not settable in its API).
_ZETA = np.float32(0.1)
_SOBEL = np.array([-1.0, 0.0, 1.0], np.float32)


@dataclass(frozen=True)
class _Derivatives:
    """The image derivatives of one call: fixed over all fixed-point iterations."""

    ix: torch.Tensor
    iy: torch.Tensor
    iz: torch.Tensor
    ixx: torch.Tensor
    ixy: torch.Tensor
    iyy: torch.Tensor
    ixz: torch.Tensor
    iyz: torch.Tensor


@dataclass(frozen=True)
class _System:
    """Per-pixel 2×2 system a·dW = b + Σ w_n dW_n of one fixed-point iteration, and the weights."""

    a11: torch.Tensor
    a12: torch.Tensor
    a22: torch.Tensor
    b1: torch.Tensor
    b2: torch.Tensor
    weight: torch.Tensor


def _fma(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """a·b + c rounded once to float32, as the FMA instructions OpenCV's remap uses.

    a·b is exact in float64; the sum is rounded to float64 first, which changes the float32
    result only when it lands exactly on a float32 tie (about once in 2²⁹).
    """
    return (a.double() * b.double() + c.double()).float()


def _sqrt(x: torch.Tensor) -> torch.Tensor:
    """The correctly rounded float32 square root, as SSE's ``sqrtps`` in OpenCV.

    torch's vectorised float32 ``sqrt`` on CPU is off by one ulp for about 0.6 % of inputs; the
    float64 root of a float32, rounded to float32, is the correctly rounded one.
    """
    return torch.sqrt(x.double()).float()


def _remap_replicate(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``cv2.remap(img, x + u, y + v, INTER_LINEAR, BORDER_REPLICATE)`` for (B, H, W) images.

    Coordinates are float32 sums (x + u), as OpenCV forms its maps; neighbours outside the
    image are clamped to the border, one index at a time.
    """
    b, h, w = flow.shape[:3]
    xs, ys = pixel_grid(h, w, flow.device)
    mx, my = xs + flow[..., 0], ys + flow[..., 1]
    x0, y0 = mx.floor(), my.floor()
    fx, fy = mx - x0, my - y0
    x0, y0 = x0.long(), y0.long()
    cols = (x0.clamp(0, w - 1), (x0 + 1).clamp(0, w - 1))
    rows = (y0.clamp(0, h - 1), (y0 + 1).clamp(0, h - 1))
    img = img.expand(b, h, w)
    p00, p01 = pixels_at(img, rows[0], cols[0]), pixels_at(img, rows[0], cols[1])
    p10, p11 = pixels_at(img, rows[1], cols[0]), pixels_at(img, rows[1], cols[1])
    top, bottom = _fma(fx, p01 - p00, p00), _fma(fx, p11 - p10, p10)
    return _fma(fy, bottom - top, top)


def _sobel(img: torch.Tensor, dim: int) -> torch.Tensor:
    """Sobel ksize 1 along ``dim`` (−1: x, −2: y), replicated border: the centred difference."""
    return filter_axis(img, _SOBEL, dim, "replicate")


def _derivatives(i0: torch.Tensor, i1: torch.Tensor, flow: torch.Tensor) -> _Derivatives:
    """OpenCV's prepareBuffers: warp I1 by the flow, differentiate the average and the difference."""
    warped = _remap_replicate(i1, flow)
    average = i0 * 0.5 + warped * 0.5
    iz = warped - i0
    ix, iy = _sobel(average, -1), _sobel(average, -2)
    return _Derivatives(
        ix=ix, iy=iy, iz=iz, ixx=_sobel(ix, -1), ixy=_sobel(ix, -2), iyy=_sobel(iy, -2),
        ixz=_sobel(iz, -1), iyz=_sobel(iz, -2),
    )  # fmt: skip


def _over(numerator: float, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator as one true division (``scalar / tensor`` multiplies a reciprocal)."""
    return torch.full_like(denominator, numerator) / denominator


def _data_term(
    d: _Derivatives, du: torch.Tensor, dv: torch.Tensor, delta: float, gamma: float, eps2: float
) -> tuple[torch.Tensor, ...]:
    """Colour and gradient constancy parts of a11, a12, a22, b1, b2 (ComputeDataTerm)."""
    zeta2 = float(_ZETA * _ZETA)
    delta2, gamma2 = float(np.float32(delta) / np.float32(2)), float(np.float32(gamma) / np.float32(2))
    norm = d.ix * d.ix + d.iy * d.iy + zeta2
    residual = d.iz + d.ix * du + d.iy * dv
    weight = _over(delta2, _sqrt(residual * residual / norm + eps2)) / norm
    a11 = weight * (d.ix * d.ix) + zeta2
    a12 = weight * (d.ix * d.iy)
    a22 = weight * (d.iy * d.iy) + zeta2
    b1 = -weight * (d.iz * d.ix)
    b2 = -weight * (d.iz * d.iy)

    norm_x = d.ixx * d.ixx + d.ixy * d.ixy + zeta2
    norm_y = d.iyy * d.iyy + d.ixy * d.ixy + zeta2
    res_x = d.ixz + d.ixx * du + d.ixy * dv
    res_y = d.iyz + d.ixy * du + d.iyy * dv
    weight = _over(gamma2, _sqrt(res_x * res_x / norm_x + res_y * res_y / norm_y + eps2))
    a11 = a11 + weight * (d.ixx * d.ixx / norm_x + d.ixy * d.ixy / norm_y)
    a12 = a12 + weight * (d.ixx * d.ixy / norm_x + d.ixy * d.iyy / norm_y)
    a22 = a22 + weight * (d.ixy * d.ixy / norm_x + d.iyy * d.iyy / norm_y)
    b1 = b1 - weight * (d.ixx * d.ixz / norm_x + d.ixy * d.iyz / norm_y)
    b2 = b2 - weight * (d.ixy * d.ixz / norm_x + d.iyy * d.iyz / norm_y)
    return a11, a12, a22, b1, b2


def _forward_x(u: torch.Tensor) -> torch.Tensor:
    """u(x + 1) − u(x), 0 in the last column (OpenCV repeats the border pixel there)."""
    return F.pad(u[..., 1:] - u[..., :-1], (0, 1))


def _forward_y(u: torch.Tensor) -> torch.Tensor:
    return F.pad(u[..., 1:, :] - u[..., :-1, :], (0, 0, 0, 1))


def _from_left(t: torch.Tensor) -> torch.Tensor:
    """t at the left neighbour, 0 in the first column (outside the image)."""
    return F.pad(t[..., :-1], (1, 0))


def _from_right(t: torch.Tensor) -> torch.Tensor:
    return F.pad(t[..., 1:], (0, 1))


def _from_above(t: torch.Tensor) -> torch.Tensor:
    return F.pad(t[..., :-1, :], (0, 0, 1, 0))


def _from_below(t: torch.Tensor) -> torch.Tensor:
    return F.pad(t[..., 1:, :], (0, 0, 0, 1))


def _edges(h: int, w: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """1 where a pixel has a right (resp. lower) neighbour inside the image, else 0."""
    xs, ys = pixel_grid(h, w, device)
    return (xs < w - 1).float(), (ys < h - 1).float()


def _accumulate(
    start: torch.Tensor, red: torch.Tensor, own: tuple[torch.Tensor, ...], received: tuple[torch.Tensor, ...]
) -> torch.Tensor:
    """start + terms in OpenCV's order: red pixels add their own edge term before the one they
    receive from the neighbour, black pixels the other way round (red pass, then black pass),
    first for the horizontal edges, then for the vertical ones."""
    out = start
    for mine, theirs in zip(own, received, strict=True):
        out = out + torch.where(red, mine, theirs)
        out = out + torch.where(red, theirs, mine)
    return out


def _linear_system(
    d: _Derivatives, flow: torch.Tensor, current: torch.Tensor, du: torch.Tensor, dv: torch.Tensor,
    red: torch.Tensor, alpha: float, delta: float, gamma: float, eps2: float,
) -> _System:  # fmt: skip
    """Data term plus the smoothness term's diagonal and right-hand side (the three passes)."""
    a11, a12, a22, b1, b2 = _data_term(d, du, dv, delta, gamma, eps2)
    cu, cv = current[..., 0], current[..., 1]
    ux, vx, uy, vy = _forward_x(cu), _forward_x(cv), _forward_y(cu), _forward_y(cv)
    alpha2 = float(np.float32(alpha) / np.float32(2))
    weight = _over(alpha2, _sqrt(ux * ux + vx * vx + uy * uy + vy * vy + eps2))
    right, below = _edges(*weight.shape[-2:], weight.device)
    w_right, w_below = weight * right, weight * below
    diag_own, diag_received = (w_right, w_below), (_from_left(w_right), _from_above(w_below))
    a11 = _accumulate(a11, red, diag_own, diag_received)
    a22 = _accumulate(a22, red, diag_own, diag_received)
    wu, wv = flow[..., 0], flow[..., 1]
    rhs = []
    for b, w_comp in ((b1, wu), (b2, wv)):
        ex, ey = w_right * _forward_x(w_comp), w_below * _forward_y(w_comp)
        rhs.append(_accumulate(b, red, (ex, ey), (-_from_left(ex), -_from_above(ey))))
    return _System(a11, a12, a22, rhs[0], rhs[1], weight)


def _neighbour_sum(s: _System, d: torch.Tensor) -> torch.Tensor:
    """Σ w_n d_n over the four neighbours in OpenCV's order: left, right, above, below."""
    w = s.weight
    out = _from_left(w) * _from_left(d) + w * _from_right(d)
    out = out + _from_above(w) * _from_above(d)
    return out + w * _from_below(d)


def _sor_pass(
    s: _System, du: torch.Tensor, dv: torch.Tensor, colour: torch.Tensor, omega: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One SOR half-sweep over the pixels of ``colour``: their neighbours all have the other one."""
    new_u = du + omega * ((_neighbour_sum(s, du) + s.b1 - dv * s.a12) / s.a11 - du)
    new_v = dv + omega * ((_neighbour_sum(s, dv) + s.b2 - new_u * s.a12) / s.a22 - dv)
    return torch.where(colour, new_u, du), torch.where(colour, new_v, dv)


def _check(i0: torch.Tensor, i1: torch.Tensor, flow: torch.Tensor) -> None:
    if (
        i1.ndim != 3
        or i0.ndim != 3
        or i0.shape[0] not in (1, i1.shape[0])
        or i0.shape[1:] != i1.shape[1:]
        or flow.shape != (*i1.shape, 2)
    ):
        raise ValueError(
            f"variational refinement needs a (1 or B, H, W) reference, (B, H, W) frames and "
            f"(B, H, W, 2) flow, got {tuple(i0.shape)}, {tuple(i1.shape)} and {tuple(flow.shape)}"
        )


def variational_refinement(
    i0: torch.Tensor,
    i1: torch.Tensor,
    flow: torch.Tensor,
    *,
    alpha: float = 20.0,
    delta: float = 5.0,
    gamma: float = 10.0,
    sor_iterations: int = 5,
    fixed_point_iterations: int = 5,
    omega: float = 1.6,
    epsilon: float = 0.001,
) -> torch.Tensor:
    """i0 (1 or B, H, W) and i1 (B, H, W): float32 tensors holding uint8 grey levels 0..255;
    flow (B, H, W, 2) float32, OpenCV's convention (flow[..., 0] = dx, [..., 1] = dy).
    Returns the refined (B, H, W, 2) flow on the same device.

    ``cv2.VariationalRefinement`` with the same parameters, one image pair per batch entry; a
    single reference broadcasts over the batch. alpha weighs smoothness, delta colour constancy,
    gamma gradient constancy; omega is the SOR relaxation factor; epsilon is the robust
    penaliser's (OpenCV's default 0.001; DIS sets 0.01).
    """
    _check(i0, i1, flow)
    d = _derivatives(i0, i1, flow)
    xs, ys = pixel_grid(*flow.shape[1:3], flow.device)
    red = (xs + ys).remainder(2) == 0
    omega = float(np.float32(omega))
    eps2 = float(np.float32(epsilon) * np.float32(epsilon))
    du = torch.zeros_like(flow[..., 0])
    dv = torch.zeros_like(du)
    current = flow
    for _ in range(fixed_point_iterations):
        system = _linear_system(d, flow, current, du, dv, red, alpha, delta, gamma, eps2)
        for _ in range(sor_iterations):
            du, dv = _sor_pass(system, du, dv, red, omega)
            du, dv = _sor_pass(system, du, dv, ~red, omega)
        current = flow + torch.stack((du, dv), -1)
    return current.clone() if current is flow else current
