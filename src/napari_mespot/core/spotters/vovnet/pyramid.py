"""The 1-D feature pyramid of Table 2 over the per-frame feature sequence.

Bottom-up, five 1-D convs (kernel 3, stride 2) halve the time axis level by level
(T → T/2 → … → T/32) while widening the features (512, 1024, 1024, 1024, 2048): short
expressions are found on the fine levels, long ones on the coarse levels. Top-down, as in FPN,
each level is projected by a 1×1 conv to one common width and the coarser level's projection is
upsampled and added, so the fine levels that find micro-expressions also see the wider context
(the paper's "interactive fusion of fine-grained and semantic information").
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn


class DownLevel(nn.Sequential):
    """kernel-k stride-2 1-D conv (no bias) → batch norm → ReLU: one Table 2 layer."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__(
            nn.Conv1d(cin, cout, kernel, 2, kernel // 2, bias=False),
            nn.BatchNorm1d(cout),
            nn.ReLU(inplace=True),
        )


class TemporalPyramid(nn.Module):
    """(B, cin, T) → list of (B, out, T / 2^(l+1)) for l = 0 … levels − 1."""

    def __init__(self, cin: int, channels: tuple[int, ...], out: int, kernel: int = 3) -> None:
        super().__init__()
        widths = (cin, *channels)
        self.down = nn.ModuleList(DownLevel(a, b, kernel) for a, b in itertools.pairwise(widths))
        self.lateral = nn.ModuleList(nn.Conv1d(c, out, 1) for c in channels)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        bottom_up = []
        for level in self.down:
            x = level(x)
            bottom_up.append(x)
        fused = [lat(f) for lat, f in zip(self.lateral, bottom_up, strict=True)]
        for i in range(len(fused) - 2, -1, -1):
            fused[i] = fused[i] + F.interpolate(fused[i + 1], size=fused[i].shape[-1], mode="nearest")
        return fused
