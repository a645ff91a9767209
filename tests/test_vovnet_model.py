"""Shapes and parameter counts of the VoVNet spotter against Tables 1–2 of the paper.

Expected counts are computed here from the tables' channel numbers, not read from the model:
a conv + batch-norm layer of kernel k from c_in to c_out has k·c_in·c_out weights (no bias)
plus 2·c_out batch-norm parameters.
"""

from __future__ import annotations

import itertools

import torch

from napari_mespot.core.spotters.vovnet.head import assign_targets, points
from napari_mespot.core.spotters.vovnet.model import OSAModule, VoVNetBackbone, VoVNetSpotter
from napari_mespot.core.spotters.vovnet.pyramid import TemporalPyramid
from napari_mespot.core.spotters.vovnet.settings import SMALL_MODEL, ModelConfig

torch.set_num_threads(1)

#: Table 1 (OSA 4's projection is printed truncated as "1"; VoVNet's is 512).
STEM = (64, 128)
STAGES = ((64, 128), (80, 256), (96, 384), (112, 512))
#: Table 2: output channels of the five kernel-3 stride-2 levels.
LEVELS = (512, 1024, 1024, 1024, 2048)


def conv_bn(k_elems: int, cin: int, cout: int) -> int:
    return k_elems * cin * cout + 2 * cout


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_osa_module_count_by_hand():
    # OSA 1: 128 in, five 3x3 convs of 64, concat (128 + 5*64 = 448) -> 1x1 to 128
    expected = (9 * 128 * 64 + 128) + 4 * (9 * 64 * 64 + 128) + (448 * 128 + 256)
    assert expected == 279_424
    assert n_params(OSAModule(128, 64, 128)) == expected


def test_backbone_parameter_count_matches_table_1():
    cin = 5  # RGB + 2 flow channels
    expected = conv_bn(9, cin, STEM[0]) + conv_bn(9, STEM[0], STEM[1])
    prev = STEM[1]
    for width, out in STAGES:
        expected += conv_bn(9, prev, width) + 4 * conv_bn(9, width, width) + conv_bn(1, prev + 5 * width, out)
        prev = out
    assert expected == 2_976_896
    assert n_params(VoVNetBackbone(ModelConfig())) == expected
    # --no-flow: only the first conv changes (3 input channels instead of 5)
    assert n_params(VoVNetBackbone(ModelConfig(in_channels=3))) == expected - 9 * 2 * 64


def test_pyramid_parameter_count_matches_table_2():
    head = 256
    widths = (512, *LEVELS)
    down = sum(conv_bn(3, a, b) for a, b in itertools.pairwise(widths))
    lateral = sum(c * head + head for c in LEVELS)
    assert down == 3 * (512 * 512 + 512 * 1024 + 2 * 1024 * 1024 + 1024 * 2048) + 2 * sum(LEVELS)
    pyramid = TemporalPyramid(512, LEVELS, head)
    assert n_params(pyramid.down) == down
    assert n_params(pyramid) == down + lateral == 16_396_544


def test_backbone_shapes_follow_table_1():
    net = VoVNetBackbone(ModelConfig()).eval()
    x = torch.zeros(2, 5, 128, 128)
    with torch.no_grad():
        stem = net.stem(x)
        assert stem.shape == (2, 128, 32, 32)  # two stride-2 convs
        sizes = []
        y = stem
        for m in net.stages:
            y = m(y)
            if isinstance(m, OSAModule):
                sizes.append(tuple(y.shape[1:]))
        assert sizes == [(128, 32, 32), (256, 16, 16), (384, 8, 8), (512, 4, 4)]
        assert net(x).shape == (2, 512)


def test_pyramid_shapes_follow_table_2():
    pyramid = TemporalPyramid(512, LEVELS, 256).eval()
    x = torch.zeros(1, 512, 128)
    with torch.no_grad():
        shapes = []
        y = x
        for level in pyramid.down:
            y = level(y)
            shapes.append(tuple(y.shape[1:]))
        fused = pyramid(x)
    assert shapes == [(512, 64), (1024, 32), (1024, 16), (1024, 8), (2048, 4)]
    assert [tuple(f.shape[1:]) for f in fused] == [(256, 64), (256, 32), (256, 16), (256, 8), (256, 4)]


def test_full_network_outputs_one_prediction_per_position():
    net = VoVNetSpotter(SMALL_MODEL).eval()
    with torch.no_grad():
        logits, dists = net(torch.zeros(2, 64, 5, 32, 32))
    positions = 32 + 16 + 8 + 4 + 2
    assert logits.shape == dists.shape == (2, positions, 2)
    assert (dists >= 0).all()
    # the class bias starts at the 1 % prior
    assert torch.allclose(torch.sigmoid(logits), torch.full_like(logits, 0.01), atol=0.02)


def test_points_and_target_assignment():
    pts = points(64, 5)
    assert len(pts) == 62
    assert pts.center[:3].tolist() == [0.5, 2.5, 4.5]  # stride 2, centre of frames (0, 1), (2, 3)…
    cls_t, reg_t, pos = assign_targets(pts, torch.tensor([[10.0, 15.0]]), torch.tensor([0]))
    # a 6-frame micro-expression: the three finest positions inside it
    assert pos.nonzero().flatten().tolist() == [5, 6, 7]
    assert cls_t[pos].tolist() == [[1.0, 0.0]] * 3
    # centre 10.5: 0.5 frames after onset, 4.5 before offset, in units of the stride 2
    assert reg_t[5].tolist() == [0.25, 2.25]
    # a 40-frame macro-expression is learnt on coarser levels only
    _, _, pos = assign_targets(pts, torch.tensor([[10.0, 49.0]]), torch.tensor([1]))
    assert pos.any() and (pts.stride[pos] >= 8).all()
