"""VoVNet spots in seconds: a video at another frame rate than the checkpoint's is read at the
checkpoint's rate and its result mapped back to the video's own frames.

The end-to-end check writes one short clip of the first generator (seed 777014, used by no
other test, development run or checkpoint) at 30 fps and again at 200 fps (each 200-fps frame
shows the 30-fps frame nearest in time) and spots both with the shipped checkpoint: the same
content in time must give the same intervals in seconds, within two frames at 30 fps (as
``tests/test_robust_spot.py`` asks of the prototype spotter). Read at 200 fps as it is, the
network sees every expression last 6.7 times as many frames as any it was trained on.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_mespot.core.face.cache import load_cached
from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.video import open_video
from napari_mespot.core.media.writer import write_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.vovnet import (
    CheckpointError,
    DataSettings,
    LabelledVideo,
    SpotSettings,
    default_checkpoint,
    default_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
    spot,
)
from napari_mespot.core.spotters.vovnet.checkpoint import UNRECORDED_FPS
from napari_mespot.core.spotters.vovnet.data import cache_key
from napari_mespot.core.spotters.vovnet.decode import Detections
from napari_mespot.core.spotters.vovnet.spotter import to_intervals
from napari_mespot.core.spotters.vovnet.timebase import Resampling, SampledVideo, on_timebase, stream_at
from napari_mespot.core.synth import augment
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

SEED = 777014
#: Short and clear: expressions the shipped checkpoint finds at 30 fps, among the usual distractors.
CLIP = SynthSettings(
    duration_s=10.0, n_me=1, n_mae=2, me_amplitude_px=(2.5, 3.0), mae_amplitude_px=(5.0, 7.0)
)
TOLERANCE_S = 2 / 30


def test_sampled_frames_map_back_to_the_video_frames_nearest_in_time():
    """20 frames at 200 fps (0.1 s) read at 30 fps: the sample times inside the video are 0, 1/30
    and 2/30 s (3/30 s is its end); sampled frame k is video frame round(k · 20/3) (0, 7, 13);
    video frame j belongs to sampled frame round(j · 0.15), the last three (0.085-0.095 s,
    nearer the end) to the last sample."""
    r = Resampling(20, 200.0, 30.0)
    assert r.indices.tolist() == [0, 7, 13]
    assert r.owners.tolist() == [0] * 4 + [1] * 6 + [2] * 10
    assert (r.video_span(0, 0), r.video_span(1, 1), r.video_span(1, 2)) == ((0, 3), (4, 9), (4, 19))
    curves = np.array([[1.0, 2.0, 3.0]])
    assert r.video_curves(curves).tolist() == [[1.0] * 4 + [2.0] * 6 + [3.0] * 10]
    # the same 0.1 s at 30 fps is three frames too: the clip at either rate is one stream
    assert len(Resampling(2000, 200.0, 30.0)) == 300 and len(Resampling(1999, 200.0, 30.0)) == 300
    assert len(Resampling(2001, 200.0, 30.0)) == 301
    label = Interval(onset=5, offset=12, apex=9, type="me")
    on_stream = r.sampled_interval(label)
    assert (on_stream.onset, on_stream.apex, on_stream.offset) == (1, 1, 2)


def test_a_slower_video_repeats_frames_and_a_close_rate_is_left_alone():
    """5 frames at 25 fps read at 30 fps: frame 3 is read twice (3 · 25/30 = 2.5 → 3 and 3.33 → 3);
    sampled frame 3 has no video frame of its own (1.2 · 3 = 3.6 → 4), so alone it stands for
    the frame it reads."""
    up = Resampling(5, 25.0, 30.0)
    assert up.indices.tolist() == [0, 1, 2, 3, 3, 4] and up.owners.tolist() == [0, 1, 2, 4, 5]
    assert up.video_span(3, 3) == (3, 3) and up.video_span(3, 4) == (3, 3) and up.video_span(4, 5) == (3, 4)
    close = Resampling(7, 29.97, 30.0)
    assert close.identity and close.indices.tolist() == close.owners.tolist() == list(range(7))


def test_intervals_are_mapped_onset_apex_offset_to_the_video_frames():
    r = Resampling(20, 200.0, 30.0)
    dets = Detections(torch.tensor([[1.0, 2.0]]), torch.tensor([0.9]), torch.tensor([0]))
    curves = np.array([[0.1, 0.5, 0.9], [0.0, 0.0, 0.0]], np.float32)
    (iv,) = to_intervals(dets, np.array([0.5, 0.5]), curves, np.ones(3, bool), 0.3, None, r)
    # sampled 1..2 → video frames 4..19; the apex is sampled frame 2, which reads video frame 13
    assert (iv.onset, iv.apex, iv.offset, iv.type, iv.id) == (4, 13, 19, "me", "vovnet-4-19")


def _without_fps(path, out):
    """``path``'s checkpoint as one written before checkpoints recorded their frame rate."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    config = json.loads(blob["config"])
    del config["fps"]
    torch.save({**blob, "config": json.dumps(config)}, out)
    return out


def test_the_checkpoint_records_its_rate_and_earlier_ones_mean_30_fps(tmp_path):
    shipped = json.loads(default_checkpoint_path().with_suffix(".json").read_text())
    assert shipped["fps"] == 30.0 == default_checkpoint().fps  # trained on 30-fps mespot synth videos
    old = load_checkpoint(_without_fps(default_checkpoint_path(), tmp_path / "old.pt"))
    assert old.fps == UNRECORDED_FPS == 30.0
    ckpt = default_checkpoint()
    ckpt.fps = 200.0
    path = save_checkpoint(tmp_path / "fast.pt", ckpt)
    assert json.loads(path.with_suffix(".json").read_text())["fps"] == 200.0
    assert load_checkpoint(path).fps == 200.0
    ckpt.fps = -1.0
    with pytest.raises(CheckpointError, match="fps must be a positive frame rate"):
        load_checkpoint(save_checkpoint(tmp_path / "bad.pt", ckpt))


def _tiny_video(path, fps: float, n: int):
    rng = np.random.default_rng(n)
    return write_video(path, (rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(n)), fps)


def test_the_feature_cache_key_holds_the_rate(tmp_path):
    settings = DataSettings()
    with open_video(_tiny_video(tmp_path / "v.mp4", 200.0, 40)) as video:
        native = cache_key(video, settings)
        at_30 = cache_key(stream_at(video, 30.0)[0], settings)
        at_25 = cache_key(stream_at(video, 25.0)[0], settings)
        assert stream_at(video, 199.0)[0] is video  # within the tolerance: the video itself
        assert len({native, at_30, at_25}) == 3 and None not in {native, at_30, at_25}
    frames = np.zeros((40, 32, 48, 3), np.uint8)
    assert cache_key(SampledVideo(frames, Resampling(40, 200.0, 30.0)), settings) is None  # in memory


def test_training_refuses_mixed_rates_and_fine_tuning_maps_labels_to_the_checkpoints_rate(tmp_path):
    slow = LabelledVideo(str(_tiny_video(tmp_path / "slow.mp4", 30.0, 12)), (), "a")
    label = Interval(onset=20, offset=60, type="me")
    fast = LabelledVideo(str(_tiny_video(tmp_path / "fast.mp4", 200.0, 80)), (label,), "b", frames=70)
    with pytest.raises(CheckpointError, match=r"mix frame rates: slow has 30 fps, fast 200 fps"):
        on_timebase([slow, fast], None)
    (same, mapped), rate = on_timebase([slow, fast], 30.0)
    assert rate == 30.0 and same is slow
    # 20 · 0.15 = 3, 60 · 0.15 = 9; the first 70 frames end at frame 69 → sampled 10, so 11 frames
    assert (mapped.intervals[0].onset, mapped.intervals[0].offset, mapped.frames) == (3, 9, 11)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """The clip at 30 fps and at 200 fps, both written losslessly from the same decoded frames,
    so the 200-fps frames nearest in time to the 30-fps ones hold the same pixels: what is
    compared is how the spotter reads time, not how the encoder treats a faster video (which
    moves VoVNet's macro-expression boundaries by more than two frames even between two
    lossy encodings at 30 fps)."""
    folder = tmp_path_factory.mktemp("vovnet-fps")
    source = run_to_end(write_synthetic_video(folder / "source.mp4", CLIP, SEED)).path
    with open_video(source) as video:
        at30 = write_video(folder / "at30.mp4", video.iter_frames(), 30.0, crf=0)
        nearest = np.minimum(np.floor(np.arange(len(video) * 200 // 30) * 30 / 200 + 0.5), len(video) - 1)
        frames = augment.augmented_frames(video.iter_frames(), None, nearest.astype(np.int64))
        at200 = write_video(folder / "at200.mp4", frames, 200.0, crf=0)
    return at30, at200, folder


def _spot(path, cache):
    settings = SpotSettings(device="cpu", cache_dir=str(cache))
    with open_video(path) as video:
        return run_to_end(spot(video, default_checkpoint(), settings))


def _seconds(result) -> np.ndarray:
    return np.array([(iv.onset / result.fps, (iv.offset + 1) / result.fps) for iv in result.intervals])


@pytest.mark.slow
def test_the_same_clip_at_200_fps_gives_the_same_intervals_in_time(clips):
    original, fast, folder = clips
    want = _spot(original, folder / "cache")
    assert len(want.intervals) >= 2  # something to compare: the check is not vacuous
    assert not any("resampled" in note for note in want.notes)
    got = _spot(fast, folder / "cache")
    assert got.fps == pytest.approx(200.0) and got.n_frames > 6 * want.n_frames
    assert any(note.startswith("spotted at 30 fps resampled from the video's 200 fps") for note in got.notes)
    assert got.curves.shape == (2, got.n_frames) and got.windows[-1][1] == got.n_frames - 1
    assert all(iv.onset <= iv.apex <= iv.offset < got.n_frames for iv in got.intervals)
    a, b = _seconds(want), _seconds(got)
    assert b.shape == a.shape, (a.round(2).tolist(), b.round(2).tolist())
    np.testing.assert_allclose(b, a, atol=TOLERANCE_S + 1e-9, rtol=0)
    assert [iv.type for iv in got.intervals] == [iv.type for iv in want.intervals]
    with open_video(fast) as video:
        provider = MediaPipeFaceMesh()
        stream = stream_at(video, 30.0)[0]
        read = load_cached(stream, provider)
        assert read is not None and len(read[0]) == len(stream) < got.n_frames / 6  # of the frames read
        assert load_cached(video, provider) is None  # and of no other frame
