"""The VoVNet input's head-motion removal and the crop warp of training windows.

The crop follows the head only at its own frame: a head that turns or shakes between the two
frames of a flow pair moves the whole crop content. ``head_motion="similarity"`` removes the
rigid part of each frame's flow before the network reads it; ``warp_jitter`` turns, scales and
shifts training windows so the network does not learn where the one training face's features
lie. Expected values here come from the fields the tests build, not from the code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from napari_mespot.cli import build_parser
from napari_mespot.commands.vovnet import model_and_data, train_settings
from napari_mespot.core.face.head_motion import crop_flows_without_similarity
from napari_mespot.core.spotters.vovnet import DataSettings, TrainSettings
from napari_mespot.core.spotters.vovnet.augment import WARP_DEGREES, WARP_SCALE, warp_windows
from napari_mespot.core.spotters.vovnet.data import Features
from napari_mespot.core.spotters.vovnet.settings import from_dict, to_dict

SIDE = 48


def _similarity_field(angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    """(2, SIDE, SIDE) displacement of every crop pixel under the similarity (x right, y down)."""
    gy, gx = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64)
    c, s = scale * math.cos(angle), scale * math.sin(angle)
    return np.stack([(c - 1) * gx - s * gy + tx, s * gx + (c - 1) * gy + ty])


def _rigid_flows_with_an_expression() -> tuple[np.ndarray, np.ndarray]:
    """Four frames: head motion of every kind plus a lip patch (8 % of the crop) moving 0.4 px
    down; frame 0 has no flow (no face). Returns the flows and the expression's mask."""
    mask = np.zeros((SIDE, SIDE), bool)
    mask[34:40, 16:32] = True
    flows = np.zeros((4, 2, SIDE, SIDE))
    for k, motion in enumerate([(0.03, 1.0, 0.0, 0.0), (0.0, 1.03, 0.5, -0.8), (-0.05, 0.98, -1.5, 1.0)], 1):
        flows[k] = _similarity_field(*motion)
        flows[k, 1][mask] += 0.4
    return flows.astype(np.float16), mask


def test_the_crop_flow_loses_its_rigid_part_and_keeps_the_expression():
    flows, mask = _rigid_flows_with_an_expression()
    out = crop_flows_without_similarity(flows)
    assert out.dtype == flows.dtype and out.shape == flows.shape
    assert not out[0].any()  # no face: nothing is made up
    for k in range(1, 4):
        rest = np.abs(out[k][:, ~mask])
        assert rest.max() < 0.01  # float16 flows: about 1e-3 px of rounding
        assert np.allclose(out[k, 1][mask], 0.4, atol=0.01) and np.abs(out[k, 0][mask]).max() < 0.01
        # before: the head motion was larger than the expression
        assert np.abs(flows[k].astype(np.float64) - out[k]).max() > 0.4


def test_the_network_reads_the_flow_the_settings_ask_for():
    flows, _ = _rigid_flows_with_an_expression()
    frames = np.zeros((4, SIDE, SIDE, 3), np.uint8)
    found = np.ones(4, bool)
    measured = Features(frames, flows, found, flow_scale=20.0, image=False)
    removed = Features(frames, flows, found, flow_scale=20.0, image=False, head_motion="similarity")
    x_measured, _ = measured.window(0, 4)
    x_removed, _ = removed.window(0, 4)
    assert torch.equal(x_measured, torch.from_numpy(flows.astype(np.float32)) * 20.0)
    assert torch.allclose(x_removed, torch.from_numpy(crop_flows_without_similarity(flows)).float() * 20.0)
    assert not torch.allclose(x_measured, x_removed, atol=1.0)
    # a checkpoint written before the setting existed reads the flow as measured
    old = {k: v for k, v in to_dict(DataSettings()).items() if k != "head_motion"}
    assert from_dict(DataSettings, old).head_motion == "off"
    with pytest.raises(ValueError, match="head_motion"):
        DataSettings(head_motion="translation")


def test_the_warp_turns_the_flow_vectors_with_the_content():
    # channel 0: two bright dots 20 px apart on a row; channels 1-2: the flow (1, 0) everywhere
    x = torch.zeros(16, 1, 3, SIDE, SIDE)
    x[:, :, 0, 24, 14] = x[:, :, 0, 24, 34] = 1.0
    x[:, :, 1] = 1.0
    out = warp_windows(x, torch.Generator().manual_seed(3), flow_x=1)
    for b in range(16):
        image = out[b, 0, 0]
        vector = out[b, 0, 1:, 24, 24]  # the crop's centre: far from the zero padding
        # the two dots' centres of mass, one on each side of the line through the centre
        # perpendicular to the turned row
        ys, xs = torch.meshgrid(*[torch.arange(SIDE, dtype=torch.float32)] * 2, indexing="ij")
        side = (xs - 23.5) * vector[0] + (ys - 23.5) * vector[1]
        dots = []
        for keep in (side < 0, side >= 0):
            w = image * keep
            dots.append(torch.stack([(w * xs).sum(), (w * ys).sum()]) / w.sum())
        # the content moved by the map that turned and scaled the vector (1, 0): the dots' offset
        # (20, 0) became 20 times the vector
        assert torch.allclose(dots[1] - dots[0], 20 * vector, atol=0.5)
        assert 1 / (1 + WARP_SCALE) - 1e-4 <= float(vector.norm()) <= 1 + WARP_SCALE + 1e-4
        assert abs(math.degrees(math.atan2(vector[1], vector[0]))) <= WARP_DEGREES + 1e-3


def test_the_warp_draws_a_new_geometry_per_window_and_leaves_no_flow_channel_alone():
    x = torch.zeros(8, 2, 2, SIDE, SIDE)
    x[:, :, 0] = 1.0
    out = warp_windows(x, torch.Generator().manual_seed(5), flow_x=0)
    centre = out[:, :, :, 24, 24]
    assert torch.allclose(centre[:, 0], centre[:, 1])  # one geometry for a window's frames
    angles = torch.atan2(centre[:, 0, 1], centre[:, 0, 0])
    assert len(set(np.round(angles.numpy(), 4))) == 8  # and another for each window
    assert torch.all(centre[:, 0, 1].abs() > 0)  # the y component got its share of the turn
    # without flow channels the grey levels are only moved, never scaled or mixed
    crops = torch.rand(2, 3, 1, SIDE, SIDE)
    moved = warp_windows(crops, torch.Generator().manual_seed(5), flow_x=None)
    assert float(moved.max()) <= 1.0 and float(moved.min()) >= 0.0


def test_the_cli_records_both_switches():
    parser = build_parser()
    args = parser.parse_args(
        [
            "vovnet",
            "train",
            "d",
            "--out",
            "m.pt",
            "--no-image",
            "--head-motion",
            "similarity",
            "--warp-jitter",
        ]
    )
    _, data = model_and_data(args, None)
    assert data.head_motion == "similarity" and not data.image
    assert train_settings(args, None).warp_jitter is True
    plain = parser.parse_args(["vovnet", "train", "d", "--out", "m.pt"])
    assert model_and_data(plain, None)[1].head_motion == "off"
    assert train_settings(plain, None).warp_jitter is False
    assert TrainSettings().warp_jitter is False
