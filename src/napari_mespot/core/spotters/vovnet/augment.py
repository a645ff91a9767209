"""Training-time changes of the input windows that keep their labels true.

A network trained on a few synthetic faces should not come to depend on what differs between
those faces and the faces it will be used on. Two such differences are undone here, per window
and drawn afresh every epoch:

- :func:`mirror`: a mirrored face is still a face; the flow's x component changes sign.
- :func:`scale_flow`: how far a face moves for one expression depends on the person, the
  expression's strength and the crop's resolution, none of which says whether it is a
  micro- or a macro-expression; multiplying a window's flow by a random factor teaches the
  network to read the timing and shape of the motion rather than its absolute size.
- :func:`warp_windows`: where a brow or a lip corner lies in the crop depends on the face's
  proportions and on how the three landmarks the crop is fitted on sit on it; turning,
  scaling and shifting a window's crops a little (the flow vectors turned and scaled with
  them) teaches the network the motion's pattern rather than the training face's layout.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def mirror(x: torch.Tensor, which: torch.Tensor, flow_x: int | None) -> torch.Tensor:
    """Flip the windows ``which`` (B,) of ``x`` (B, T, C, H, W) left–right; channel ``flow_x``,
    the flow's x component (None without flow), changes sign."""
    x = x.clone()
    x[which] = x[which].flip(-1)
    if flow_x is not None:
        x[which, :, flow_x] = -x[which, :, flow_x]
    return x


def scale_flow(x: torch.Tensor, factors: torch.Tensor, flow_x: int) -> torch.Tensor:
    """Multiply the two flow channels (``flow_x`` and the next) of each window by ``factors`` (B,)."""
    x = x.clone()
    x[:, :, flow_x : flow_x + 2] *= factors.to(x.dtype)[:, None, None, None, None]
    return x


def flow_factors(count: int, jitter: float, generator: torch.Generator) -> torch.Tensor:
    """``count`` factors log-uniform in [1 / (1 + jitter), 1 + jitter] (all 1 for jitter 0)."""
    span = math.log1p(jitter)
    return torch.exp((2 * torch.rand(count, generator=generator) - 1) * span)


#: :func:`warp_windows`' largest turn (degrees), scale change (fraction) and shift (fraction of
#: the crop side): about how far the crop of another face, or a landmark fit off by a pixel or
#: two, moves the features in it. Set from what the crop is, not from any result.
WARP_DEGREES, WARP_SCALE, WARP_SHIFT = 10.0, 0.1, 0.06


def warp_windows(x: torch.Tensor, generator: torch.Generator, flow_x: int | None) -> torch.Tensor:
    """Each window of ``x`` (B, T, C, H, W; square crops) turned, scaled and shifted by one
    similarity drawn uniformly within ``WARP_*`` (the same for all its frames); the flow
    channels (``flow_x`` and the next) are resampled and their vectors turned and scaled alike."""
    b, t, c, h, w = x.shape
    angle = torch.deg2rad((2 * torch.rand(b, generator=generator) - 1) * WARP_DEGREES)
    scale = torch.exp((2 * torch.rand(b, generator=generator) - 1) * math.log1p(WARP_SCALE))
    shift = (2 * torch.rand(b, 2, generator=generator) - 1) * 2 * WARP_SHIFT  # [-1, 1] units
    cos, sin = torch.cos(angle), torch.sin(angle)
    # The content moves by L = scale · R(angle); grid_sample reads output point q at L⁻¹(q − shift).
    turn = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    forward = turn * scale[:, None, None]
    inverse = torch.linalg.inv(forward)
    theta = torch.cat([inverse, -(inverse @ shift[:, :, None])], dim=2).to(x.dtype)
    frames = x.reshape(b * t, c, h, w)
    grid = F.affine_grid(theta.repeat_interleave(t, dim=0), list(frames.shape), align_corners=False)
    out = F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    out = out.reshape(b, t, c, h, w)
    if flow_x is not None:
        vectors = out[:, :, flow_x : flow_x + 2]
        out[:, :, flow_x : flow_x + 2] = torch.einsum("bij,btjhw->btihw", forward.to(x.dtype), vectors)
    return out
