"""The VoVNet backbone of Table 1 and the whole spotting network.

Each frame (face crop stacked with its flow) goes through the 2-D backbone on its own; global
average pooling turns it into one vector per frame, and the sequence of vectors goes through the
1-D pyramid (:mod:`.pyramid`) and the anchor-free heads (:mod:`.head`).

VoVNet's One-Shot Aggregation (OSA) module runs five 3×3 convs in a chain and concatenates the
module input with all five outputs *once*, then projects them with a 1×1 conv. Aggregating once
(rather than after every layer, as DenseNet does) keeps the memory traffic low, and equal
in/out widths inside the chain minimise it (paper eq. 4–5). Between modules a 3×3 stride-2 max
pool halves the resolution, as in the original VoVNet (the first module keeps the stem's).
"""

from __future__ import annotations

import torch
from torch import nn

from napari_mespot.core.spotters.vovnet.head import DetectionHead
from napari_mespot.core.spotters.vovnet.pyramid import TemporalPyramid
from napari_mespot.core.spotters.vovnet.settings import ModelConfig


class ConvBNReLU(nn.Sequential):
    """k×k conv (no bias: the batch norm has one) → batch norm → ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class OSAModule(nn.Module):
    """``layers`` chained 3×3 convs of ``width``; [input, all outputs] → 1×1 conv to ``out``."""

    def __init__(self, cin: int, width: int, out: int, layers: int = 5) -> None:
        super().__init__()
        self.layers = nn.ModuleList(ConvBNReLU(cin if i == 0 else width, width) for i in range(layers))
        self.project = ConvBNReLU(cin + layers * width, out, kernel=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = [x]
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return self.project(torch.cat(outputs, dim=1))


class VoVNetBackbone(nn.Module):
    """Table 1: stem (two stride-2 3×3 convs), four OSA modules, global average pool.

    Input (N, C, H, W) → output (N, stage_out[-1]): one feature vector per frame.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        s1, s2 = config.stem
        self.stem = nn.Sequential(ConvBNReLU(config.in_channels, s1, stride=2), ConvBNReLU(s1, s2, stride=2))
        stages: list[nn.Module] = []
        cin = s2
        for i, (width, out) in enumerate(zip(config.stage_channels, config.stage_out, strict=True)):
            if i > 0:
                stages.append(nn.MaxPool2d(3, 2, ceil_mode=True))
            stages.append(OSAModule(cin, width, out, config.osa_layers))
            cin = out
        self.stages = nn.Sequential(*stages)
        self.out_channels = cin

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature_map(x).mean(dim=(2, 3))


class VoVNetSpotter(nn.Module):
    """Backbone per frame → temporal pyramid → shared heads on every level.

    ``forward(x)`` takes (B, T, C, H, W) windows (T a multiple of ``config.window_multiple``) and
    returns class logits (B, P, 2) and non-negative onset/offset distances (B, P, 2) in units
    of each position's stride, for the P positions of all levels (see :func:`.head.points`).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = VoVNetBackbone(config)
        self.pyramid = TemporalPyramid(
            self.backbone.out_channels, config.pyramid_channels, config.head_channels, config.pyramid_kernel
        )
        self.head = DetectionHead(config.head_channels, levels=config.levels)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C, H, W) → (B, D, T): the backbone on every frame, as a 1-D sequence."""
        b, t = x.shape[:2]
        feats = self.backbone(x.flatten(0, 1))
        return feats.view(b, t, -1).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if x.shape[1] % self.config.window_multiple:
            raise ValueError(f"window length {x.shape[1]} is not a multiple of {self.config.window_multiple}")
        return self.head(self.pyramid(self.frame_features(x)))
