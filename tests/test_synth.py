"""Synthetic face videos: determinism, ground-truth sanity, and that the motion is really there.

The motion checks measure what a spotter would measure (Farneback flow between the onset and
apex frames) and compare it with what the ground truth promises: the right region, the right
direction, the right time, and nothing elsewhere.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest

from napari_mespot.cli import main
from napari_mespot.core.intervals import type_by_duration
from napari_mespot.core.labels.native import read_native_csv
from napari_mespot.core.synth.face import au_field
from napari_mespot.core.synth.generator import (
    AU_REGION,
    SAMPLE_NAME,
    SAMPLE_SEED,
    SAMPLE_SETTINGS,
    SUPPORTED_AUS,
    SynthError,
    SynthScene,
    SynthSettings,
    dataset_video_name,
    scripted_expression,
    write_synthetic_video,
)
from napari_mespot.core.synth.schedule import AU_COMBINATIONS, envelope

ROOT = Path(__file__).resolve().parents[1]
SHORT = SynthSettings(duration_s=6.0, n_me=1, n_mae=1)
#: Nothing but the scripted expressions moves or changes.
QUIET = SynthSettings(duration_s=3.0, head_drift=False, head_shakes=False, blinks=False,
                      noise_sigma=0.0, flicker=False)


def gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def rigid_motion(scene: SynthScene, k: int, points: np.ndarray) -> np.ndarray:
    """Where the head pose of frame ``k`` carries neutral-face ``points`` (N, 2): c + R (p - c) + t."""
    tx, ty, roll = scene.head_pose(k)
    c = np.array(scene.face.center)
    rot = np.array([[np.cos(roll), -np.sin(roll)], [np.sin(roll), np.cos(roll)]])
    return c + (points - c) @ rot.T + np.array([tx, ty])


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(gray(a), gray(b), None, 0.5, 3, 15, 5, 5, 1.2, 0)


def region_box(scene: SynthScene, region: str) -> tuple[int, int, int, int]:
    """The AU-prototype paper's region (eq. 9-12, gamma 0.2/0.6) around the eye or mouth corners."""
    left, right = scene.face.point("eye_outer" if region == "eye" else "mouth_corner")
    w, cy = right[0] - left[0], (left[1] + right[1]) / 2
    return int(left[0] - 0.2 * w), int(cy - 0.6 * w), int(right[0] + 0.2 * w), int(cy + 0.6 * w)


def mean_speed(f: np.ndarray, box: tuple[int, int, int, int]) -> float:
    x0, y0, x1, y1 = box
    return float(np.linalg.norm(f[y0:y1, x0:x1], axis=2).mean())


# -- settings and schedule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"size": (641, 480)}, "even"),
        ({"fps": 0}, "fps"),
        ({"me_duration_s": (0.2, 0.7)}, "at most 0.5 s"),
        ({"n_me": -1}, "counts"),
        ({"duration_s": 5.0, "n_me": 4, "n_mae": 4}, "the video lasts 5 s"),
        ({"mae_duration_s": (0.5, 1.0)}, "would be typed me"),
        ({"au_stagger": 0.5}, "au_stagger"),
    ],
)
def test_impossible_settings_are_refused_clearly(changes, message):
    with pytest.raises(SynthError, match=message):
        SynthScene(SynthSettings(**changes), 0)


def test_envelope_is_zero_at_onset_and_offset_and_one_at_apex():
    env = envelope(10, 3, 2)
    assert env[0] == 0 and env[-1] == 0
    assert np.all(env[1:-1] > 0)
    assert np.all(env[3:6] == 1) and env.max() == 1
    assert np.all(np.diff(env[:4]) > 0) and np.all(np.diff(env[5:]) < 0)


@pytest.mark.parametrize("seed", range(6))
def test_ground_truth_is_sane(seed):
    settings = SynthSettings()
    scene = SynthScene(settings, seed)
    intervals = scene.intervals
    fps, gap = settings.fps, round(settings.min_gap_s * settings.fps)
    assert sum(iv.type == "me" for iv in intervals) == settings.n_me
    assert sum(iv.type == "mae" for iv in intervals) == settings.n_mae
    assert intervals[0].onset >= gap and intervals[-1].offset <= len(scene) - 1 - gap
    for a, b in pairwise(intervals):
        assert b.onset - a.offset >= gap
    for iv in intervals:
        seconds = iv.length / fps
        assert iv.type == type_by_duration(iv.length, fps)
        assert (0.2 <= seconds <= 0.5) if iv.type == "me" else (0.5 < seconds <= 4.0)
        assert iv.onset < iv.apex < iv.offset
        assert iv.aus in AU_COMBINATIONS and iv.source == "gt"
    kinds = {d.kind for d in scene.distractors}
    assert kinds == {"head_drift", "head_shake", "blink", "noise", "flicker"}
    for d in scene.distractors:
        if d.kind in ("blink", "head_shake"):
            assert all(d.end < iv.onset or d.start > iv.offset for iv in intervals), d


@pytest.mark.parametrize("seed", range(20))
def test_every_seed_fits_when_the_shortest_expressions_fit(seed):
    settings = SynthSettings(duration_s=8.0, n_me=2, n_mae=2)
    intervals = SynthScene(settings, seed).intervals
    assert len(intervals) == 4 and intervals[-1].offset < len(SynthScene(settings, seed)) - settings.fps


def test_expressions_cover_every_au_over_a_few_videos():
    seen = {au for seed in range(5) for iv in SynthScene(SynthSettings(), seed).intervals for au in iv.aus}
    assert seen == set(SUPPORTED_AUS)


# -- determinism ---------------------------------------------------------------------------------


def test_same_seed_same_video_different_seed_different_video():
    a, b, c = SynthScene(SHORT, 11), SynthScene(SHORT, 11), SynthScene(SHORT, 12)
    assert [iv.evolve(id="") for iv in a.intervals] == [iv.evolve(id="") for iv in b.intervals]
    assert [iv.id for iv in a.intervals] == [iv.id for iv in b.intervals]
    assert a.distractors == b.distractors
    for k in (0, a.intervals[0].apex, a.intervals[1].apex, len(a) - 1):
        np.testing.assert_array_equal(a.frame(k), b.frame(k))
    assert [(iv.onset, iv.offset, iv.aus) for iv in a.intervals] != \
           [(iv.onset, iv.offset, iv.aus) for iv in c.intervals]
    assert not np.array_equal(a.frame(0), c.frame(0))


def test_switching_head_shakes_off_changes_only_the_shakes():
    settings = SynthSettings(duration_s=20.0, n_me=2, n_mae=2, shakes_per_minute=6.0)
    with_shakes = SynthScene(settings, 5)
    without = SynthScene(replace(settings, head_shakes=False), 5)
    shakes = [d for d in with_shakes.distractors if d.kind == "head_shake"]
    assert len(shakes) == 2
    assert [d for d in with_shakes.distractors if d.kind != "head_shake"] == without.distractors
    assert [iv.id for iv in with_shakes.intervals] == [iv.id for iv in without.intervals]
    assert [iv.evolve(id="") for iv in with_shakes.intervals] == \
           [iv.evolve(id="") for iv in without.intervals]
    shake = shakes[0]
    middle = (shake.start + shake.end) // 2
    assert not np.array_equal(with_shakes.frame(middle), without.frame(middle))
    np.testing.assert_array_equal(with_shakes.frame(shake.start - 2), without.frame(shake.start - 2))



def test_staggered_aus_start_and_end_inside_their_expression_which_stays_the_union():
    settings = SynthSettings(duration_s=60.0, n_me=6, n_mae=6)
    plain, staggered = SynthScene(settings, 11), SynthScene(replace(settings, au_stagger=0.4), 11)
    # Only the AUs' timing is drawn anew: the schedule and every distractor are the same.
    assert plain.expressions == staggered.expressions
    assert plain.distractors == staggered.distractors
    column = {au: i for i, au in enumerate(SUPPORTED_AUS)}
    courses, shifted = staggered.au_time_courses, 0
    for ex in staggered.expressions:
        around = slice(ex.onset - 1, ex.offset + 2)  # expressions lie at least 1 s apart
        moving = [np.flatnonzero(courses[around, column[au]]) + ex.onset - 1 for au in ex.aus]
        for frames in moving:  # each AU moves on one run of frames inside the expression
            assert frames.min() > ex.onset and frames.max() < ex.offset
            assert np.all(np.diff(frames) == 1)
        union = courses[ex.onset : ex.offset + 1, [column[au] for au in ex.aus]].sum(axis=1)
        assert union[0] == 0 and union[-1] == 0 and np.all(union[1:-1] > 0)
        # One AU spans the whole expression; without staggering every AU does.
        assert any(f.min() == ex.onset + 1 and f.max() == ex.offset - 1 for f in moving)
        shifted += sum(f.min() > ex.onset + 1 or f.max() < ex.offset - 1 for f in moving)
        plain_course = plain.au_time_courses[ex.onset : ex.offset + 1, [column[au] for au in ex.aus]]
        expected = np.tile(ex.envelope()[:, None], (1, len(ex.aus)))
        np.testing.assert_allclose(plain_course / plain_course.max(axis=0), expected, rtol=1e-6, atol=1e-7)
    assert shifted >= 3, "some AUs of the several-AU expressions must start late or end early"
    assert sum(len(ex.aus) > 1 for ex in staggered.expressions) >= 3


# -- the motion is where and when the ground truth says -----------------------------------------


def test_face_is_neutral_exactly_outside_the_expression():
    ex = scripted_expression(20, 12, (12,), 1.5, QUIET.fps)
    scene = SynthScene(QUIET, 0, [ex])
    neutral = scene.frame(ex.onset - 5)
    np.testing.assert_array_equal(scene.frame(ex.onset), neutral)
    np.testing.assert_array_equal(scene.frame(ex.offset), neutral)
    assert not np.array_equal(scene.frame(ex.onset + 1), neutral)
    assert not np.array_equal(scene.frame(ex.offset - 1), neutral)


@pytest.mark.parametrize("au", SUPPORTED_AUS)
def test_micro_expression_motion_is_in_its_region_and_direction(au):
    amplitude = 1.5
    ex = scripted_expression(20, 12, (au,), amplitude, QUIET.fps)
    scene = SynthScene(QUIET, 0, [ex])
    f = flow(scene.frame(ex.onset), scene.frame(ex.apex))
    own, other = AU_REGION[au], ({"eye", "mouth"} - {AU_REGION[au]}).pop()
    assert mean_speed(f, region_box(scene, own)) > 3 * mean_speed(f, region_box(scene, other))
    field = au_field(QUIET.size, QUIET.eye_distance_frac, au)
    strong = np.linalg.norm(field, axis=2) > 0.5
    center_x = QUIET.size[0] / 2
    for side in (slice(None, int(center_x)), slice(int(center_x), None)):
        mask = np.zeros_like(strong)
        mask[:, side] = strong[:, side]
        measured, true = f[mask].mean(axis=0), amplitude * field[mask].mean(axis=0)
        cosine = measured @ true / (np.linalg.norm(measured) * np.linalg.norm(true))
        assert cosine > 0.9, (measured, true)
        assert 0.4 * np.linalg.norm(true) < np.linalg.norm(measured) < 1.3 * np.linalg.norm(true)
    far = np.linalg.norm(field, axis=2) < 0.01
    assert np.percentile(np.linalg.norm(f[far], axis=1), 99) < 0.1


def test_prototypes_learned_from_one_video_recognise_the_aus_in_another():
    """What the AU-prototype spotter relies on (docs/architecture.md §2.1): the apex flow of an AU,
    learned on a clean video, matches that AU best among the AUs of its region in a noisy one."""
    clean = replace(QUIET, duration_s=7.0)
    noisy = replace(clean, head_drift=True, noise_sigma=1.5, flicker=True)

    def apex_flows(settings: SynthSettings, amplitude: float, seed: int) -> dict[int, np.ndarray]:
        script = [scripted_expression(5 + 25 * i, 12, (au,), amplitude, settings.fps)
                  for i, au in enumerate(SUPPORTED_AUS)]
        scene = SynthScene(settings, seed, script)
        flows = {}
        for au, ex in zip(SUPPORTED_AUS, script, strict=True):
            x0, y0, x1, y1 = region_box(scene, AU_REGION[au])
            flows[au] = flow(scene.frame(ex.onset)[y0:y1, x0:x1], scene.frame(ex.apex)[y0:y1, x0:x1])
        return flows

    prototypes = apex_flows(clean, 1.5, 0)
    observed = apex_flows(noisy, 1.0, 9)
    for au in SUPPORTED_AUS:
        scores = {other: float((observed[au] * prototypes[other]).sum())
                  for other in SUPPORTED_AUS if AU_REGION[other] == AU_REGION[au]}
        assert max(scores, key=scores.get) == au, scores


def test_motion_peaks_at_the_apex_in_a_full_video():
    """With drift, noise and flicker on, the face's own motion (flow minus the nose's flow, as
    head-motion compensation does) grows from onset to apex and is gone again at offset."""
    scene = SynthScene(SynthSettings(duration_s=8.0, n_me=1, n_mae=1, blinks=False, head_shakes=False), 2)
    nose = scene.face.landmarks[4]
    half = int(0.08 * scene.face.eye_distance)
    for iv in scene.intervals:
        field = sum(au_field(scene.settings.size, scene.settings.eye_distance_frac, au) for au in iv.aus)
        support = np.linalg.norm(field, axis=2) > 0.5
        onset = scene.frame(iv.onset)

        def speed(k: int, onset=onset, support=support) -> float:
            f = flow(onset, scene.frame(k))
            head = f[int(nose[1]) - half:int(nose[1]) + half, int(nose[0]) - half:int(nose[0]) + half]
            return float(np.linalg.norm(f[support] - head.reshape(-1, 2).mean(axis=0), axis=1).mean())

        at_apex = speed(iv.apex)
        before = speed(max(0, iv.onset - (iv.apex - iv.onset)))
        assert at_apex > 0.5 and at_apex > 3 * before, (iv, at_apex, before)
        assert speed(iv.offset) < 0.3 * at_apex


def test_head_shake_moves_the_whole_face_rigidly():
    settings = SynthSettings(duration_s=10.0, n_me=1, n_mae=1, head_drift=False, blinks=False,
                             noise_sigma=0.0, flicker=False, shakes_per_minute=12.0)
    scene = SynthScene(settings, 4)
    shake = next(d for d in scene.distractors if d.kind == "head_shake")
    k = max(range(shake.start, shake.end + 1), key=lambda i: abs(scene.head_pose(i)[0]))
    assert abs(scene.head_pose(k)[0]) > 0.8 * settings.shake_amplitude_px[0]
    f = flow(scene.frame(shake.start - 1), scene.frame(k))
    for region in ("eye", "mouth"):
        x0, y0, x1, y1 = region_box(scene, region)
        corners = np.array([[x0, y0], [x1, y0], [x0, y1], [x1, y1]], dtype=float)
        expected = (rigid_motion(scene, k, corners) - corners).mean(axis=0)
        measured = f[y0:y1, x0:x1].reshape(-1, 2).mean(axis=0)
        assert np.linalg.norm(measured - expected) < 0.25 * np.linalg.norm(expected), (measured, expected)


def test_blink_moves_the_eyes_not_the_mouth():
    settings = SynthSettings(duration_s=10.0, n_me=1, n_mae=1, head_drift=False, head_shakes=False,
                             noise_sigma=0.0, flicker=False, blinks_per_minute=20.0)
    scene = SynthScene(settings, 1)
    blink = next(d for d in scene.distractors if d.kind == "blink")
    k = max(range(blink.start, blink.end + 1), key=scene.blink_closure)
    f = flow(scene.frame(blink.start), scene.frame(k))
    assert mean_speed(f, region_box(scene, "eye")) > 5 * mean_speed(f, region_box(scene, "mouth")) + 0.01


@pytest.mark.filterwarnings("ignore:SymbolDatabase.GetPrototype")
def test_mediapipe_finds_the_face_on_rendered_frames():
    import mediapipe as mp

    settings = SynthSettings(duration_s=10.0, n_me=1, n_mae=1, shakes_per_minute=12.0)
    scene = SynthScene(settings, 4)
    mae = next(iv for iv in scene.intervals if iv.type == "mae")
    shake = next(d for d in scene.distractors if d.kind == "head_shake")
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        for k in (mae.apex, (shake.start + shake.end) // 2):
            result = mesh.process(scene.frame(k))
            assert result.multi_face_landmarks, f"no face on frame {k}"
            points = result.multi_face_landmarks[0].landmark
            width, height = settings.size
            indices = [33, 263, 61, 291]
            found = np.array([[points[i].x * width, points[i].y * height] for i in indices])
            expected = rigid_motion(scene, k, scene.face.landmarks[indices])
            assert np.abs(found - expected).max() < 5, (found, expected)


# -- writing -------------------------------------------------------------------------------------


def test_written_video_decodes_to_the_rendered_frames(tmp_path):
    import av

    settings = SynthSettings(duration_s=2.0, size=(320, 240), n_me=1, n_mae=0, min_gap_s=0.5)
    gen = write_synthetic_video(tmp_path / "v.mp4", settings, 3, crf=18)
    steps = []
    try:
        while True:
            steps.append(next(gen))
    except StopIteration as stop:
        result = stop.value
    assert steps[-1].done == steps[-1].total == result.n_frames == 60
    scene = SynthScene(settings, 3)
    with av.open(str(result.path)) as container:
        decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(decoded) == 60 and decoded[0].shape == (240, 320, 3)
    for k in (0, result.intervals[0].apex, 59):
        err = np.mean((decoded[k].astype(float) - scene.frame(k)) ** 2)
        assert 10 * np.log10(255**2 / err) > 30


def test_closing_the_writer_early_leaves_nothing(tmp_path):
    gen = write_synthetic_video(tmp_path / "v.mp4", SynthSettings(duration_s=2.0, size=(160, 120),
                                                                  n_me=1, n_mae=0, min_gap_s=0.5), 1)
    for _ in range(5):
        next(gen)
    gen.close()
    assert list(tmp_path.iterdir()) == []


def test_cli_writes_videos_and_ground_truth(tmp_path, capsys):
    out = tmp_path / "new" / "data"
    rc = main(["synth", str(out), "--seed", "3", "--count", "2", "--duration", "4", "--me", "1",
               "--mae", "1", "--size", "320x240", "--no-head-shakes", "--quiet"])
    assert rc == 0
    names = [dataset_video_name(3, k) for k in range(2)]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.mp4" for n in names] + ["ground_truth.csv", "distractors.csv"])
    labels = read_native_csv(out / "ground_truth.csv")
    assert sorted(labels) == names
    settings = SynthSettings(duration_s=4.0, n_me=1, n_mae=1, size=(320, 240), head_shakes=False)
    for k, name in enumerate(names):
        expected = SynthScene(settings, (3, k)).intervals
        got = sorted(labels[name], key=lambda iv: iv.onset)
        assert [(iv.onset, iv.apex, iv.offset, iv.type, iv.aus) for iv in got] == \
               [(iv.onset, iv.apex, iv.offset, iv.type, iv.aus) for iv in expected]
    assert "head_shake" not in (out / "distractors.csv").read_text()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--count", "0"], "count must be at least 1"),
        (["--size", "321x240"], "even"),
        (["--duration", "2", "--me", "4"], "the video lasts 2 s"),
        (["--crf", "99"], "--crf"),
        (["--stagger", "0.5"], "--stagger is a share of an expression's length below 0.5"),
        (["--stagger", "0.2", "--generator", "warped"], "--stagger belong(s) to the face generator"),
        (["--sample", "--seed", "4"], "drop --seed"),
    ],
)
def test_cli_errors_are_one_clear_line(tmp_path, capsys, extra, message):
    rc = main(["synth", str(tmp_path / "out"), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert err.startswith("mespot synth: error:") and message in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_file_as_outdir(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    rc = main(["synth", str(target), "--duration", "4", "--me", "1", "--mae", "0", "--quiet"])
    assert rc == 2
    assert "is not a folder" in capsys.readouterr().err


# -- the shipped sample --------------------------------------------------------------------------


def test_sample_clip_matches_its_generator():
    mp4 = ROOT / "sample_data" / f"{SAMPLE_NAME}.mp4"
    csv = ROOT / "sample_data" / f"{SAMPLE_NAME}.gt.csv"
    assert mp4.stat().st_size < 3 * 1024 * 1024
    labels = read_native_csv(csv)[SAMPLE_NAME]
    scene = SynthScene(SAMPLE_SETTINGS, SAMPLE_SEED)
    assert [(iv.onset, iv.apex, iv.offset, iv.type, iv.aus, iv.id) for iv in labels] == \
           [(iv.onset, iv.apex, iv.offset, iv.type, iv.aus, iv.id) for iv in scene.intervals]
    assert {iv.type for iv in labels} == {"me", "mae"}
    assert any(d.kind == "head_shake" for d in scene.distractors)
