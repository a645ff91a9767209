"""The varied training mix: the generator's knobs drawn per video, the ground truth untouched."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mespot.cli import main
from napari_mespot.core.labels.native import read_native_csv
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.synth.footage import FootageRanges
from napari_mespot.core.synth.generator import SynthSettings
from napari_mespot.core.synth.varied import (
    SceneRanges,
    face_room,
    varied_scene,
    varied_settings,
    write_varied_dataset,
)

BASE = SynthSettings(duration_s=4.0, n_me=1, n_mae=1, mae_duration_s=(0.6, 1.0), min_gap_s=0.5)
#: Small frames only, so the test renders fast.
SMALL = SceneRanges(sizes=((320, 240), (256, 144)))


def test_amplitudes_and_head_motion_scale_with_the_drawn_face():
    ranges = SceneRanges()
    for seed in range(30):
        s = varied_settings(BASE, ranges, np.random.default_rng(seed))
        width, height = s.size
        assert s.size in ranges.sizes
        eye_px = s.eye_distance_frac * width
        # the default face: eyes 0.3 x 640 = 192 px apart in a 480-px frame
        scale = eye_px / (0.4 * height)
        assert ranges.face_scale[0] <= scale <= ranges.face_scale[1]
        px = eye_px / 192.0
        assert s.me_amplitude_px == pytest.approx((0.7 * px, 2.5 * px))
        assert s.mae_amplitude_px == pytest.approx((2.5 * px, 9.0 * px))
        assert s.shake_amplitude_px == pytest.approx((3.0 * px, 10.0 * px))
        assert 0 <= s.drift_px <= 4.0 * px
        # what the base fixes stays
        assert (s.duration_s, s.fps, s.n_me, s.n_mae, s.mae_duration_s) == (4.0, 30.0, 1, 1, (0.6, 1.0))


def test_the_largest_face_still_fits_the_frame():
    ranges = SceneRanges(face_scale=(1.4, 1.4), drift_px=(0.0, 0.0))
    for k in range(4):
        scene, _ = varied_scene(BASE, 90, k, ranges, FootageRanges())
        room = face_room(scene)
        assert min(room) >= 0
        low, high = scene.face.landmarks.min(axis=0), scene.face.landmarks.max(axis=0)
        assert low.min() >= 0 and high[0] <= scene.settings.size[0] and high[1] <= scene.settings.size[1]


def test_a_video_is_a_function_of_seed_and_index():
    a, fa = varied_scene(BASE, 3, 1, SMALL, FootageRanges())
    b, fb = varied_scene(BASE, 3, 1, SMALL, FootageRanges())
    _, fc = varied_scene(BASE, 3, 2, SMALL, FootageRanges())
    assert a.settings == b.settings and a.intervals == b.intervals and fa.record() == fb.record()
    assert np.array_equal(fa.apply(a.frame(40), 40), fb.apply(b.frame(40), 40))
    assert fa.record() != fc.record()


def test_the_mix_keeps_the_scenes_ground_truth_frame_for_frame(tmp_path):
    out = tmp_path / "mix"
    results = run_to_end(write_varied_dataset(out, BASE, 3, 2, SMALL))
    truth = read_native_csv(out / "ground_truth.csv")
    records = json.loads((out / "variations.json").read_text())
    assert sorted(records) == ["varied_3_000", "varied_3_001"] == [r.path.stem for r in results]
    assert sorted(truth) == sorted(records)
    for k, name in enumerate(sorted(truth)):
        scene, footage = varied_scene(BASE, 3, k, SMALL, FootageRanges())
        # the frames of every expression are the scene's: footage never moves time
        assert [(iv.onset, iv.apex, iv.offset, iv.type) for iv in truth[name]] == [
            (iv.onset, iv.apex, iv.offset, iv.type) for iv in scene.intervals
        ]
        assert records[name]["footage"] == footage.record()
        assert records[name]["scene"]["size"] == list(scene.settings.size)
        with open_video(out / f"{name}.mp4") as video:
            assert video.shape[:3] == (len(scene), scene.settings.size[1], scene.settings.size[0])
            decoded = np.asarray(video[60], np.float64)
        expected = footage.apply(scene.frame(60), 60).astype(np.float64)
        # what was written is that frame, up to H.264 at the drawn quality
        assert np.abs(decoded - expected).mean() < 4.0


def test_the_cli_writes_the_mix(tmp_path):
    out = tmp_path / "mix"
    assert main(["synth", str(out), "--vary", "--seed", "4", "--duration", "4", "--me", "1", "--mae", "1",
                 "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "distractors.csv", "ground_truth.csv", "variations.json", "varied_4_000.mp4"
    ]


def test_drawn_options_are_refused_with_vary(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "x"), "--vary", "--size", "640x480", "--crf", "20"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--size" in err[0] and "--crf" in err[0]
    assert not (tmp_path / "x").exists()
