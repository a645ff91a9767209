"""Anchor-free temporal detection heads and the positions they predict at.

Every position of every pyramid level predicts, for the frame at its centre, (a) a score per
class (ME, MaE; background is "neither" — sigmoid scores with a focal loss, as in RetinaNet and
ActionFormer) and (b) its distances to the expression's onset and offset. Level ``l`` has
stride ``s = 2^(l+1)`` frames (the pyramid's first conv already halves the time axis) and is
responsible for expressions whose longer centre-to-boundary distance falls in
``(2s, 4s]`` frames — the finest level takes everything up to 4s, the coarsest everything
above 2s — so each expression is learnt at the scale that fits it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

N_CLASSES = 2
#: Initial foreground probability of the class logits: most positions are background, and
#: starting near it keeps the focal loss from being swamped in the first steps (RetinaNet).
PRIOR = 0.01


class DetectionHead(nn.Module):
    """Shared over levels: two 3-tap 1-D conv branches, one for classes, one for distances.

    A learnt scale per level lets the shared regression branch output distances of the right
    magnitude on every level; ReLU keeps them non-negative.
    """

    def __init__(self, channels: int, levels: int, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.cls = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(channels, n_classes, 3, padding=1),
        )
        self.reg = nn.Sequential(
            nn.Conv1d(channels, channels, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv1d(channels, 2, 3, padding=1),
        )
        self.scales = nn.Parameter(torch.ones(levels))
        nn.init.constant_(self.cls[-1].bias, -float(torch.log(torch.tensor((1 - PRIOR) / PRIOR))))

    def forward(self, levels: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits = torch.cat([self.cls(f) for f in levels], dim=2).transpose(1, 2)
        dists = torch.cat(
            [torch.relu(self.reg(f) * self.scales[i]) for i, f in enumerate(levels)], dim=2
        ).transpose(1, 2)
        return logits, dists


@dataclass(frozen=True)
class Points:
    """The P positions of all levels of a window: centre frame, stride and distance range."""

    center: torch.Tensor
    stride: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor

    def __len__(self) -> int:
        return int(self.center.shape[0])

    def to(self, device: torch.device | str) -> Points:
        return Points(*(t.to(device) for t in (self.center, self.stride, self.low, self.high)))


def points(window: int, levels: int) -> Points:
    """Positions of a ``window``-frame input: level l has window / 2^(l+1) of them.

    Position i of stride s sits at frame (i + 0.5)·s − 0.5, the centre of the frames it pools.
    """
    centers, strides, lows, highs = [], [], [], []
    for level in range(levels):
        s = 2 ** (level + 1)
        n = window // s
        centers.append((torch.arange(n, dtype=torch.float32) + 0.5) * s - 0.5)
        strides.append(torch.full((n,), float(s)))
        lows.append(torch.full((n,), 0.0 if level == 0 else 2.0 * s))
        highs.append(torch.full((n,), float("inf") if level == levels - 1 else 4.0 * s))
    return Points(*(torch.cat(t) for t in (centers, strides, lows, highs)))


def assign_targets(
    pts: Points, segments: torch.Tensor, classes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets of one window from its ground truth.

    ``segments`` (G, 2) are inclusive (onset, offset) frames relative to the window start,
    ``classes`` (G,) 0 = ME, 1 = MaE. A position is positive for an expression when its centre
    lies within it (half a frame of slack at each end) and the expression's scale fits the
    level; among several, the shortest expression wins. Returns one-hot class targets (P, 2),
    distance targets (P, 2) in units of the stride (0 where negative) and the positive mask (P,).
    """
    n = len(pts)
    cls_t = torch.zeros(n, N_CLASSES)
    reg_t = torch.zeros(n, 2)
    if segments.numel() == 0:
        return cls_t, reg_t, torch.zeros(n, dtype=torch.bool)
    c = pts.center[:, None]
    left = (c - segments[None, :, 0]).clamp(min=0)
    right = (segments[None, :, 1] - c).clamp(min=0)
    inside = (c >= segments[None, :, 0] - 0.5) & (c <= segments[None, :, 1] + 0.5)
    reach = torch.maximum(left, right)
    fits = (reach > pts.low[:, None]) & (reach <= pts.high[:, None])
    # the finest level also takes expressions too short to reach beyond a centre
    fits |= (reach <= pts.low[:, None]) & (pts.low[:, None] == 0)
    length = (segments[:, 1] - segments[:, 0])[None, :].expand(n, -1)
    cost = torch.where(inside & fits, length, torch.full_like(length, float("inf")))
    best_cost, best = cost.min(dim=1)
    pos = torch.isfinite(best_cost)
    cls_t[pos, classes[best[pos]]] = 1.0
    stride = pts.stride[:, None]
    reg_t[pos] = torch.stack([left, right], dim=2)[pos, best[pos]] / stride[pos]
    return cls_t, reg_t, pos
