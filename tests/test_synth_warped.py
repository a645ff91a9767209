"""The warped generator: the motion is where and as large as the ground truth says, distractors
are what they claim, and seeds, frame rates and identities behave.

Motion is measured the way a spotter would (OpenCV Farneback flow between two rendered frames);
expected values come from the settings and the geometry (amplitude x gain x face size), never
from the code's own output.
"""

from __future__ import annotations

from dataclasses import replace
from itertools import pairwise

import cv2
import numpy as np
import pytest

from napari_mespot.cli import main
from napari_mespot.core.intervals import type_by_duration
from napari_mespot.core.labels import read_labels
from napari_mespot.core.labels.unreliable import read_unreliable_csv
from napari_mespot.core.synth.settings import SynthError
from napari_mespot.core.synth.warped import WarpedScene, WarpedSettings
from napari_mespot.core.synth.warped.action_units import GAIN, FaceFrame
from napari_mespot.core.synth.warped.identity import FACE_OVAL
from napari_mespot.core.synth.warped.scene import OCCLUDED_FRACTION
from napari_mespot.core.synth.warped.timeline import scripted

#: Nothing but what a test switches on moves or changes; the face's size is fixed.
STILL = WarpedSettings(duration_s=4.0, size=(480, 360), n_me=0, n_mae=0, iod_frac=(0.3, 0.3), blinks=False,
                       drift=False, shakes=False, talking=False, hand=False, lighting=False, noise=False)
SMALL = WarpedSettings(duration_s=6.0, size=(240, 180), n_me=1, n_mae=1)


def gray(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return cv2.calcOpticalFlowFarneback(gray(a), gray(b), None, 0.5, 3, 11, 5, 5, 1.1, 0)


def flow_at(f: np.ndarray, point: np.ndarray, radius: int = 2) -> np.ndarray:
    x, y = np.round(point).astype(int)
    return np.median(f[y - radius:y + radius + 1, x - radius:x + radius + 1].reshape(-1, 2), axis=0)


# -- motion ------------------------------------------------------------------------------------------


def test_a_smile_moves_the_mouth_corners_outwards_and_up_by_its_amplitude():
    amplitude = 0.05  # IOD
    scene = WarpedScene(STILL, 1, [scripted(1.0, 2.2, {12: amplitude}, STILL.fps)])
    (smile,) = scene.intervals
    f = flow(scene.frame(smile.onset), scene.frame(smile.apex))
    lm = scene.landmarks(smile.onset)
    frame = FaceFrame.of(lm)
    expected = amplitude * GAIN[12] * scene.iod
    for corner, outwards in ((61, -1.0), (291, 1.0)):
        v = flow_at(f, lm[corner])
        along, up = float(v @ frame.x) * outwards, -float(v @ frame.y)
        assert along > 0 and up > 0, (corner, v)  # outwards and upwards
        assert 0.5 * expected < np.linalg.norm(v) < 1.5 * expected, (corner, v, expected)
    # The nose and the eyes stay put: the motion is the mouth's.
    for still in (1, 4, 33, 263, 159, 386):
        assert np.linalg.norm(flow_at(f, lm[still])) < 0.1 * expected, still


def test_each_unit_moves_its_own_region_only():
    amplitude = 0.05
    fps = STILL.fps
    script = [scripted(0.5, 1.4, {1: amplitude}, fps), scripted(2.0, 2.9, {15: amplitude}, fps)]
    scene = WarpedScene(replace(STILL, duration_s=3.5), 2, script)
    brows, depressor = scene.intervals
    lm = scene.landmarks(0)
    frame = FaceFrame.of(lm)
    f_brow = flow(scene.frame(brows.onset), scene.frame(brows.apex))
    f_mouth = flow(scene.frame(depressor.onset), scene.frame(depressor.apex))
    inner_brow, corner = lm[107], lm[61]
    assert -flow_at(f_brow, inner_brow) @ frame.y > 0.5 * amplitude * scene.iod  # AU1: inner brow up
    assert np.linalg.norm(flow_at(f_brow, corner)) < 0.1
    assert flow_at(f_mouth, corner) @ frame.y > 0.4 * amplitude * scene.iod  # AU15: corner down
    assert np.linalg.norm(flow_at(f_mouth, inner_brow)) < 0.1


def test_away_from_expressions_the_face_only_moves_with_the_head():
    """With drift, lighting and noise on, the mouth corners move as the head pose carries them
    between quiet frames, and beyond that by the smile's amplitude at its apex."""
    settings = replace(STILL, duration_s=5.0, drift=True, lighting=True, noise=True)
    amplitude = 0.04
    scene = WarpedScene(settings, 3, [scripted(3.0, 4.0, {12: amplitude}, settings.fps)])
    (smile,) = scene.intervals
    corners = scene.identity.landmarks[[61, 291]]

    def beyond_the_head(a: int, b: int) -> float:
        f = flow(scene.frame(a), scene.frame(b))
        start, carried = scene.project(a, corners), scene.project(b, corners)
        pairs = zip(start, carried, strict=True)
        return max(float(np.linalg.norm(flow_at(f, p) - (q - p))) for p, q in pairs)

    quiet = beyond_the_head(20, 30)
    moving = beyond_the_head(smile.onset, smile.apex)
    assert quiet < 0.3
    assert moving > 0.5 * amplitude * GAIN[12] * scene.iod > 3 * quiet


def test_expression_motion_starts_after_onset_and_ends_at_offset():
    scene = WarpedScene(replace(SMALL, duration_s=12.0, n_me=3, n_mae=3), 5)
    assert len(scene.intervals) == 6
    for iv in scene.intervals:
        strength = [scene.expression_strength(k) for k in range(iv.onset - 1, iv.offset + 2)]
        assert strength[0] == strength[1] == 0 and strength[-2] == strength[-1] == 0  # still at both ends
        assert all(s > 0 for s in strength[2:-2])
        assert iv.apex == iv.onset + 1 + int(np.argmax(strength[2:-2]))


# -- schedule ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_ground_truth_is_sane_and_apexes_are_off_centre(seed):
    settings = WarpedSettings(duration_s=40.0, size=(240, 180))
    scene = WarpedScene(settings, seed)
    intervals, fps = scene.intervals, settings.fps
    assert [iv.type for iv in intervals].count("me") == settings.n_me
    assert [iv.type for iv in intervals].count("mae") == settings.n_mae
    for a, b in pairwise(intervals):
        assert (b.onset - a.offset) / fps >= 2 * settings.margin_s
    for iv in intervals:
        assert iv.type == type_by_duration(iv.length, fps)
        assert (0.2 <= iv.length / fps <= 0.5) if iv.type == "me" else (0.6 <= iv.length / fps <= 4.1)
        assert abs((iv.apex - iv.onset) / (iv.offset - iv.onset) - 0.5) > 0.05
    placed = [d for d in scene.distractors if d.kind in ("head_shake", "talking", "hand", "lighting")]
    for d in placed:  # never on an expression
        assert all(d.end < iv.onset or d.start > iv.offset for iv in intervals), d


def test_the_units_of_one_expression_overlap_in_time_with_staggered_courses():
    settings = replace(SMALL, duration_s=20.0, n_me=3, n_mae=3)
    multi = [ex for seed in range(6) for ex in WarpedScene(settings, seed).expressions if len(ex.tracks) > 1]
    assert len(multi) >= 3
    for ex in multi:
        lead, others = ex.tracks[0], ex.tracks[1:]
        assert (lead.start, lead.end) == (ex.onset / settings.fps, ex.offset / settings.fps)
        for t in others:
            assert t.sample(np.array([lead.peak]))[0] > 0  # all units act together at the apex
            assert lead.start <= t.start and t.end <= lead.end
        assert any((t.start, t.peak, t.end) != (lead.start, lead.peak, lead.end) for t in others)


def test_talking_moves_the_mouth_but_is_not_an_expression():
    settings = replace(STILL, duration_s=12.0, talking=True, talking_per_minute=30.0, n_me=1, n_mae=1)
    scene = WarpedScene(settings, 4)
    talks = [d for d in scene.distractors if d.kind == "talking"]
    assert talks
    for talk in talks:
        assert all(talk.end < iv.onset or talk.start > iv.offset for iv in scene.intervals)
    talk = talks[0]
    lm = scene.landmarks(talk.start)
    frames = range(talk.start, talk.end + 1)
    opening = [float(np.linalg.norm(scene.landmarks(k)[14] - lm[14])) for k in frames]
    assert max(opening) > 0.01 * scene.iod
    # rhythmic: the lower lip comes back up between syllables
    assert sum(1 for a, b in pairwise(np.sign(np.diff(opening))) if a > 0 > b) >= 2


def test_impossible_settings_are_refused_clearly():
    with pytest.raises(SynthError, match="the video lasts 3 s"):
        WarpedSettings(duration_s=3.0, n_me=3, n_mae=3)
    with pytest.raises(SynthError, match=r"at most 0\.45 s"):
        WarpedSettings(me_duration_s=(0.2, 0.6))
    with pytest.raises(SynthError, match="even"):
        WarpedSettings(size=(641, 480))


# -- distractors -----------------------------------------------------------------------------------


def test_the_hand_covers_the_face_in_its_occlusion_spans_only():
    settings = replace(STILL, duration_s=8.0, hand=True, hands_per_minute=20.0)
    with_hand = WarpedScene(settings, 6)
    without = WarpedScene(replace(settings, hand=False), 6)
    assert with_hand.occlusions
    for start, end in with_hand.occlusions:
        middle = (start + end) // 2
        outline = with_hand.project(middle, with_hand.identity.landmarks[list(FACE_OVAL)])
        face = np.zeros(settings.size[::-1], np.uint8)
        cv2.fillPoly(face, [np.round(outline).astype(np.int32)], 1)
        difference = with_hand.frame(middle).astype(int) - without.frame(middle).astype(int)
        changed = np.abs(difference).max(axis=2) > 10
        assert changed[face > 0].mean() > OCCLUDED_FRACTION
    hands = [d for d in with_hand.distractors if d.kind == "hand"]
    occluded = {k for a, b in with_hand.occlusions for k in range(a, b + 1)}
    outside = [k for k in range(len(with_hand)) if not any(h.start <= k <= h.end for h in hands)]
    for k in outside[:: max(1, len(outside) // 8)]:
        assert k not in occluded
        assert np.array_equal(with_hand.frame(k), without.frame(k))


def test_switching_a_distractor_off_changes_nothing_else():
    a = WarpedScene(replace(SMALL, duration_s=20.0), 8)
    b = WarpedScene(replace(SMALL, duration_s=20.0, shakes=False), 8)
    assert [iv.evolve(id="") for iv in a.intervals] == [iv.evolve(id="") for iv in b.intervals]
    assert [d for d in a.distractors if d.kind != "head_shake"] == list(b.distractors)


# -- seeds, identities, frame rates -----------------------------------------------------------------


def test_same_seed_same_video_and_other_seeds_other_faces():
    a, b = WarpedScene(SMALL, 11), WarpedScene(SMALL, 11)
    assert [iv.to_dict() for iv in a.intervals] == [iv.to_dict() for iv in b.intervals]
    for k in (0, 57, len(a) - 1):
        assert np.array_equal(a.frame(k), b.frame(k))
    scenes = [WarpedScene(SMALL, seed) for seed in range(4)]
    shapes, colours = [], []
    for s in scenes:
        lm = s.identity.landmarks
        frame = FaceFrame.of(lm)
        local = np.column_stack([(lm - lm[33]) @ frame.x, (lm - lm[33]) @ frame.y]) / frame.iod
        shapes.append(local)
        cheeks = s.identity.image[tuple(np.round(lm[[50, 280, 205, 425]][:, ::-1]).astype(int).T)]
        colours.append(cheeks.mean(axis=0))
    for i in range(4):
        for j in range(i + 1, 4):
            assert scenes[i].identity.description != scenes[j].identity.description
            assert np.abs(shapes[i] - shapes[j]).mean() > 0.005  # face geometry differs
            assert np.abs(colours[i] - colours[j]).max() > 3  # and so does the skin
    assert not np.array_equal(scenes[0].frame(0), scenes[1].frame(0))


def test_200_fps_has_the_same_events_in_seconds():
    slow = WarpedScene(replace(SMALL, duration_s=8.0), 21)
    fast = WarpedScene(replace(SMALL, duration_s=8.0, fps=200.0), 21)
    assert len(fast) == 1600
    assert len(slow.intervals) == len(fast.intervals) == 2
    for a, b in zip(slow.intervals, fast.intervals, strict=True):
        assert a.type == b.type and a.aus == b.aus
        for name in ("onset", "offset"):
            assert abs(getattr(a, name) / 30.0 - getattr(b, name) / 200.0) <= 1 / 60 + 1 / 400
        assert abs(a.apex / 30.0 - b.apex / 200.0) <= 2 / 30
    kinds = [(d.kind, d.start / 30.0, d.end / 30.0) for d in slow.distractors]
    fast_kinds = [(d.kind, d.start / 200.0, d.end / 200.0) for d in fast.distractors]
    assert [k for k, *_ in kinds] == [k for k, *_ in fast_kinds]
    for (_, s0, e0), (_, s1, e1) in zip(kinds, fast_kinds, strict=True):
        # rounding to frames, or a span cut at the last frame (7.967 s against 7.995 s)
        assert abs(s0 - s1) <= 1 / 30 and abs(e0 - e1) <= 1 / 30


# -- files -----------------------------------------------------------------------------------------------


def test_cli_writes_videos_ground_truth_and_spans(tmp_path, capsys):
    out = tmp_path / "w"
    args = ["synth", str(out), "--generator", "warped", "--seed", "3", "--count", "2", "--duration", "5",
            "--size", "160x128", "--me", "1", "--mae", "1", "--quiet"]
    assert main(args) == 0
    videos = sorted(p.stem for p in out.glob("*.mp4"))
    assert videos == ["warped_3_000", "warped_3_001"]
    truth = read_labels(out / "ground_truth.csv")
    assert sorted(truth.videos) == videos
    scene = WarpedScene(WarpedSettings(duration_s=5.0, size=(160, 128), n_me=1, n_mae=1), (3, 1))
    written = truth.videos["warped_3_001"].intervals
    assert [iv.to_dict() for iv in written] == [iv.to_dict() for iv in scene.intervals]
    assert truth.videos["warped_3_001"].fps == 30.0
    assert read_unreliable_csv(out / "unreliable.csv") == {}
    header = (out / "distractors.csv").read_text().splitlines()[0]
    assert header == "video,kind,start,end,amplitude"
    from napari_mespot.core.media.video import open_video

    with open_video(out / "warped_3_001.mp4") as video:
        assert len(video) == 150 and video.fps == 30.0
        decoded = video[60].astype(int)
    assert np.abs(decoded - scene.frame(60).astype(int)).mean() < 6  # the encode of the same frame


def test_cli_refuses_the_first_generators_options(capsys):
    assert main(["synth", "x", "--generator", "warped", "--no-blinks"]) != 0
    assert "--no-blinks" in capsys.readouterr().err
