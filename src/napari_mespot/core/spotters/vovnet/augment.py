"""Training-time changes of the input windows that keep their labels true.

A network trained on a few synthetic faces should not come to depend on what differs between
those faces and the faces it will be used on. Two such differences are undone here, per window
and drawn afresh every epoch:

- :func:`mirror`: a mirrored face is still a face; the flow's x component changes sign.
- :func:`scale_flow`: how far a face moves for one expression depends on the person, the
  expression's strength and the crop's resolution, none of which says whether it is a
  micro- or a macro-expression; multiplying a window's flow by a random factor teaches the
  network to read the timing and shape of the motion rather than its absolute size.
"""

from __future__ import annotations

import math

import torch


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
