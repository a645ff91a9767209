"""What the VoVNet network is fed: flow only (``--no-image``) and the training-time flow changes.

A flow-only network must get the flow alone, at every stage where a window is built — training,
threshold choice and spotting — and its checkpoint must say so, so that spotting rebuilds the
input it was trained on.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from napari_mespot.cli import main
from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.vovnet import (
    SMALL_MODEL,
    DataSettings,
    LabelledVideo,
    SpotSettings,
    TrainSettings,
    load_checkpoint,
    spot,
    train,
)
from napari_mespot.core.spotters.vovnet.augment import flow_factors, mirror, scale_flow
from napari_mespot.core.spotters.vovnet.data import Features, cache_key
from napari_mespot.core.spotters.vovnet.settings import from_dict, to_dict
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

FLOW_ONLY = DataSettings(input_size=32, flow_method="dis", flow_size=64, flow_gap=2, image=False)


def _features(image: bool) -> Features:
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 256, (6, 8, 8, 3)).astype(np.uint8)
    flow = rng.normal(0, 0.1, (6, 2, 8, 8)).astype(np.float16)
    return Features(frames, flow, np.ones(6, bool), flow_scale=20.0, image=image)


def test_a_flow_only_window_holds_the_scaled_flow_and_nothing_else():
    both, flow_only = _features(True), _features(False)
    x, valid = flow_only.window(0, 8)
    assert valid == 6 and x.shape == (8, 2, 8, 8)
    expected = torch.from_numpy(np.asarray(flow_only.flow, np.float32)) * 20.0
    assert torch.equal(x[:6], expected) and not x[6:].any()
    # the same flow as the flow channels of a crop + flow window
    assert torch.equal(both.window(0, 8)[0][:, 3:], x)


def test_input_channels_follow_the_settings():
    assert (DataSettings().channels, DataSettings().flow_x_channel) == (5, 3)
    assert (DataSettings(flow=False).channels, DataSettings(flow=False).flow_x_channel) == (3, None)
    assert (FLOW_ONLY.channels, FLOW_ONLY.flow_x_channel) == (2, 0)
    with pytest.raises(ValueError, match="needs an input"):
        DataSettings(image=False, flow=False)
    # a checkpoint written before the setting existed feeds the crop, as it was trained to
    old = {k: v for k, v in to_dict(DataSettings()).items() if k != "image"}
    assert from_dict(DataSettings, old).image is True


def test_mirroring_negates_the_flows_x_component_wherever_it_is():
    x = torch.randn(3, 4, 5, 6, 6)
    which = torch.tensor([True, False, True])
    out = mirror(x, which, flow_x=3)
    assert torch.equal(out[1], x[1])
    assert torch.equal(out[0, :, :3], x[0, :, :3].flip(-1))
    assert torch.equal(out[0, :, 3], -x[0, :, 3].flip(-1)) and torch.equal(out[0, :, 4], x[0, :, 4].flip(-1))
    flow = x[:, :, 3:]
    out = mirror(flow, which, flow_x=0)
    assert torch.equal(out[2, :, 0], -flow[2, :, 0].flip(-1))
    assert torch.equal(out[2, :, 1], flow[2, :, 1].flip(-1))
    crops = x[:, :, :3]
    assert torch.equal(mirror(crops, which, flow_x=None)[0], crops[0].flip(-1))


def test_flow_scaling_changes_the_flow_channels_only_within_the_jitter():
    x = torch.randn(4, 2, 5, 3, 3)
    out = scale_flow(x, torch.tensor([0.5, 1.0, 2.0, 1.5]), flow_x=3)
    assert torch.equal(out[:, :, :3], x[:, :, :3])
    assert torch.allclose(out[0, :, 3:], 0.5 * x[0, :, 3:]) and torch.allclose(out[2, :, 3:], 2 * x[2, :, 3:])
    factors = flow_factors(4000, 0.5, torch.Generator().manual_seed(1))
    assert factors.min() >= 1 / 1.5 and factors.max() <= 1.5
    # log-uniform: as many windows shrunk as grown, and both ends reached
    assert abs(float(torch.log(factors).mean())) < 0.02
    assert factors.min() < 1 / 1.45 and factors.max() > 1.45
    assert torch.equal(flow_factors(5, 0.0, torch.Generator()), torch.ones(5))
    with pytest.raises(ValueError, match="flow_jitter"):
        TrainSettings(flow_jitter=-0.1)


def test_cli_refuses_a_network_without_input(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["vovnet", "train", "x", "--no-image", "--no-flow", "--out", "m.pt"])
    assert exc.value.code == 2
    assert "--no-image" in capsys.readouterr().err


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vovnet-inputs")
    settings = SynthSettings(
        duration_s=2.5,
        size=(320, 240),
        n_me=0,
        n_mae=1,
        mae_duration_s=(0.8, 1.0),
        mae_amplitude_px=(3.0, 4.0),
        head_shakes=False,
        blinks=False,
        min_gap_s=0.3,
    )
    videos = []
    for seed in (81, 82):
        result = run_to_end(write_synthetic_video(folder / f"c{seed}.mp4", settings, seed))
        videos.append(LabelledVideo(str(folder / f"c{seed}.mp4"), tuple(result.intervals), f"s{seed}"))
    return folder, videos


def test_a_flow_only_checkpoint_records_its_input_and_spots_with_it(clips, tmp_path):
    torch.set_num_threads(1)
    folder, videos = clips
    config = dataclasses.replace(SMALL_MODEL, in_channels=FLOW_ONLY.channels)
    settings = TrainSettings(
        epochs=1, batch_size=2, lr=0.002, window=32, window_stride=16, device="cpu", flow_jitter=0.5
    )
    cache = folder / "cache"
    result = run_to_end(train(videos, tmp_path / "m.pt", config, FLOW_ONLY, settings, cache_dir=cache))
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt.data.image is False and ckpt.config.in_channels == 2
    assert ckpt.meta["train_settings"]["flow_jitter"] == 0.5
    # one cache entry serves crop + flow and flow-only networks alike
    with open_video(videos[0].path) as video:
        assert cache_key(video, FLOW_ONLY) == cache_key(video, dataclasses.replace(FLOW_ONLY, image=True))
        n = len(video)
        # the network takes two channels: spotting fails unless it rebuilds the flow-only input
        out = run_to_end(spot(video, ckpt, SpotSettings(device="cpu", cache_dir=str(cache))))
    assert out.curves.shape == (2, n) and np.isfinite(out.curves).any()
    assert all(isinstance(iv, Interval) and 0 <= iv.onset <= iv.offset < n for iv in out.intervals)
