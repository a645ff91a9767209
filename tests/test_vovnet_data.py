"""From videos to network input: windows, targets, face crops + flow and their on-disk cache."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import FaceLandmarks, MediaPipeFaceMesh
from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.vovnet import DataSettings, features_for_video
from napari_mespot.core.spotters.vovnet.data import Features, window_starts, window_targets
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

SETTINGS = DataSettings(input_size=32, flow_method="dis", flow_size=64, flow_gap=2)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vovnet-data")
    settings = SynthSettings(
        duration_s=3.0,
        size=(320, 240),
        n_me=0,
        n_mae=1,
        mae_duration_s=(1.0, 1.5),
        mae_amplitude_px=(6.0, 8.0),
        head_shakes=False,
        head_drift=False,
        blinks=False,
        min_gap_s=0.5,
    )
    # Lossless: libx264 at crf > 0 encodes the same frames differently from run to run when they
    # arrive while it works (measured: three different files in six runs), and this 3-s clip's
    # flow then moved by more than the expression; no head drift, so quiet frames are quiet.
    result = run_to_end(write_synthetic_video(folder / "clip.mp4", settings, 77, crf=0))
    return folder / "clip.mp4", result


def test_window_starts_cover_every_frame():
    assert window_starts(50, 64, 32) == [0]
    assert window_starts(200, 64, 32) == [0, 32, 64, 96, 128, 136]
    assert window_starts(128, 64, 32) == [0, 32, 64]


def test_window_targets_clip_or_drop_cut_expressions():
    ivs = [
        Interval(onset=10, offset=15, type="me"),
        Interval(onset=50, offset=89, type="mae"),
        Interval(onset=60, offset=200, type="mae"),
    ]
    segs, classes = window_targets(ivs, 0, 64)
    # the 40-frame MaE keeps 14 of 40 frames inside: dropped; the last starts outside
    assert segs.tolist() == [[10.0, 15.0]] and classes.tolist() == [0]
    # frames 40..103: the first MaE is whole; 44 of the last one's 141 frames are not enough
    segs, classes = window_targets(ivs, 40, 64)
    assert segs.tolist() == [[10.0, 49.0]] and classes.tolist() == [1]


def test_window_pads_after_the_end():
    frames = np.full((5, 8, 8, 3), 255, np.uint8)
    flow = np.ones((5, 2, 8, 8), np.float16)
    x, valid = Features(frames, flow, np.ones(5, bool)).window(2, 8)
    assert valid == 3 and x.shape == (8, 5, 8, 8)
    assert torch.all(x[3:] == 0) and torch.all(x[:3, 3:] == 1)


def test_video_normalisation_removes_a_videos_exposure_and_colour():
    rng = np.random.default_rng(1)
    frames = rng.integers(60, 160, (6, 8, 8, 3)).astype(np.float64)
    found = np.array([True, True, False, True, True, True])
    frames[2] = 255  # no face: left out of the statistics
    # the same face under another exposure and white balance
    other = np.rint(frames * 0.7 + np.array([30.0, 10.0, -5.0]))
    other[2] = 0
    windows = {}
    for norm in ("fixed", "video"):
        windows[norm] = [
            Features(f.astype(np.uint8), None, found, image_norm=norm).window(0, 6)[0][found]
            for f in (frames, other)
        ]
    a, b = windows["video"]
    assert torch.allclose(a, b, atol=0.05)
    # zero mean and unit spread per channel over the face frames
    assert torch.allclose(a.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(a.std(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-4)
    fixed_a, fixed_b = windows["fixed"]
    assert (fixed_a - fixed_b).abs().mean() > 0.2


def test_the_normalisation_is_not_part_of_the_cache_key_and_defaults_to_fixed(clip):
    from napari_mespot.core.spotters.vovnet.data import cache_key
    from napari_mespot.core.spotters.vovnet.settings import from_dict, to_dict

    with open_video(clip[0]) as video:
        keys = {cache_key(video, dataclasses.replace(SETTINGS, image_norm=n)) for n in ("fixed", "video")}
        assert len(keys) == 1
        assert cache_key(video, dataclasses.replace(SETTINGS, flow_gap=3)) not in keys
    old = {k: v for k, v in to_dict(SETTINGS).items() if k != "image_norm"}  # a checkpoint from before
    assert from_dict(DataSettings, old).image_norm == "fixed"
    with pytest.raises(ValueError, match="image_norm"):
        DataSettings(image_norm="frame")


def test_features_are_cached_and_memory_mapped(clip, tmp_path):
    path, truth = clip
    with open_video(path) as video:
        first = run_to_end(features_for_video(video, SETTINGS, tmp_path))
        again = run_to_end(features_for_video(video, SETTINGS, tmp_path))
        assert isinstance(again.frames, np.memmap) and isinstance(again.flow, np.memmap)
        assert np.array_equal(first.frames, again.frames) and np.array_equal(first.flow, again.flow)
        n = len(video)
        assert first.frames.shape == (n, 32, 32, 3) and first.flow.shape == (n, 2, 32, 32)
        assert first.found.all()
        # the first flow_gap frames have no earlier frame to compare with
        assert not first.flow[:2].any()
        # the macro-expression moves the face more than the quiet frames do
        motion = np.abs(np.asarray(first.flow, np.float32)).mean(axis=(1, 2, 3))
        iv = truth.intervals[0]
        assert motion[iv.onset : iv.offset + 1].max() > 2 * np.median(motion[2 : iv.onset])
        # other settings, other cache entry; no flow for the ablation
        no_flow = run_to_end(features_for_video(video, dataclasses.replace(SETTINGS, flow=False), tmp_path))
        assert no_flow.flow is None
    assert len([p for p in tmp_path.iterdir() if p.is_dir()]) == 2


def test_frames_without_a_face_stay_blank(clip):
    path, _ = clip
    with open_video(path) as video:
        lm = run_to_end(MediaPipeFaceMesh().detect(video[:20]))
        points = lm.points.copy()
        points[5:8] = np.nan
        gap = FaceLandmarks(points, lm.confidence, lm.scheme, lm.provider)
        clip20 = np.asarray(video[:20])
    feats = run_to_end(
        features_for_video(_Frames(clip20, 30.0), dataclasses.replace(SETTINGS, smooth_frames=1), None, gap)
    )
    assert feats.found.tolist() == [k not in (5, 6, 7) for k in range(20)]
    assert not feats.frames[5:8].any() and not feats.flow[5:8].any()


class _Frames:
    """An in-memory video (never cached)."""

    def __init__(self, frames: np.ndarray, fps: float) -> None:
        self.frames, self.fps = frames, fps

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, k):
        return self.frames[k]


def test_flows_through_the_torch_port_are_opencvs_within_its_bound(clip, monkeypatch):
    """The GPU path of the features (here on CPU tensors): pairs batched, each with its own
    reference, through the DIS port, which tests/test_flow_torch_dis.py holds to 1e-3 px mean of
    OpenCV's. A small batch makes the run flush several full batches and a partial last one."""
    from napari_mespot.core.spotters.vovnet import data

    path, _ = clip
    monkeypatch.setattr(data, "FLOW_BATCH", 7)
    with open_video(path) as video:
        lm = run_to_end(landmarks_for_video(video, MediaPipeFaceMesh()))
        cv = run_to_end(data.compute_features(video, lm, SETTINGS))
        port = run_to_end(data.compute_features(video, lm, SETTINGS, flow_device="cpu"))
    assert np.array_equal(cv.frames, port.frames) and np.array_equal(cv.found, port.found)
    a, b = np.asarray(cv.flow, np.float32), np.asarray(port.flow, np.float32)
    epe = np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
    assert epe.mean() <= 1e-3, float(epe.mean())
    assert not b[:2].any()  # the first flow_gap frames have no pair
    # a pair written to its neighbour's frame would be far outside the bound
    shifted = np.hypot(a[3:, 0] - a[2:-1, 0], a[3:, 1] - a[2:-1, 1])
    assert shifted.mean() > 5e-3, float(shifted.mean())
