"""Retraining measured on corrections it did not train on (jobs/heldout.py)."""

from __future__ import annotations

import pytest
from tests.test_retrain import base_set

from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.span import FrameSpan
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.review.session import ReviewSession
from napari_mespot.core.spotters.prototype import PrototypeSettings
from napari_mespot.jobs.heldout import HELD_OUT_SHARE, held_out_folds, retrain_prototypes_checked
from napari_mespot.jobs.retrain import RetrainError, open_corrected, training_video


def corrected(path, intervals) -> list:
    """``path``'s session with ``intervals`` added as corrections, opened for retraining."""
    with open_video(path) as video:
        model = ReviewSession.open(video).model
        for iv in intervals:
            model.add(iv.onset, iv.offset, iv.type, apex=iv.apex, aus=iv.aus)
    return open_corrected([str(path) + ".mespot.json"])


@pytest.fixture
def clip(fixtures_dir, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes((fixtures_dir / "video" / "single_face.mp4").read_bytes())  # 72 frames
    return path


def test_one_video_holds_out_its_last_third_and_trains_on_the_frames_before(clip):
    kept = [Interval(2, 8, "me"), Interval(12, 20, "me"), Interval(30, 50, "mae"), Interval(55, 60, "me")]
    videos = corrected(clip, [*kept[:2], Interval(24, 33, "me"), *kept[2:]])
    protocol, (fold,) = held_out_folds(videos)
    # 5 kept: the last round(5/3) = 2 are held out from 30 on; 24–33 reaches into them: held out too
    assert round(5 * HELD_OUT_SHARE) == 2
    assert fold.start == 24 and [iv.onset for iv in fold.truth] == [24, 30, 55]
    assert [iv.onset for iv in fold.train[0].kept] == [2, 12]
    assert fold.train[0].frames == 24 and fold.test.frames is None
    assert protocol.startswith(
        "held-out share of one video: its last 3 of 5 corrected intervals, frames 24–71"
    )
    span = run_to_end(training_video(fold.train[0], PrototypeSettings()))
    assert isinstance(span.video, FrameSpan) and len(span.video) == len(span.landmarks) == 24


def test_two_videos_leave_one_out(clip, tmp_path):
    other = tmp_path / "other" / "clip2.mp4"
    other.parent.mkdir()
    other.write_bytes(clip.read_bytes())
    videos = corrected(clip, [Interval(2, 8, "me")]) + corrected(other, [Interval(10, 30, "mae")])
    protocol, folds = held_out_folds(videos)
    assert protocol == "leave-one-video-out over 2 videos"
    assert [(f.test.name, [t.name for t in f.train], f.start) for f in folds] == [
        ("clip", ["clip2"], 0),
        ("clip2", ["clip"], 0),
    ]


def test_too_few_corrections_to_hold_any_out_are_said(clip):
    with pytest.raises(RetrainError, match="too few to hold some out"):
        held_out_folds(corrected(clip, [Interval(2, 8, "me")]))


@pytest.mark.slow
def test_retrained_prototypes_are_measured_on_the_held_out_expression(scripted_video):
    path, truth = scripted_video  # two smiles (AU12), then a frown (AU4)
    videos = corrected(path, truth)
    settings = PrototypeSettings()
    prototypes, report = run_to_end(
        retrain_prototypes_checked(videos, base_set(), min_count=1, settings=settings)
    )
    assert prototypes.provenance["relearnt_aus"] == [4, 12] and report.learnt == "relearnt AU 4, 12"
    held = report.held_out
    assert held is not None, report.not_measured
    assert held.corrections == 1 and "its last 1 of 3 corrected intervals" in held.protocol
    assert 0.0 <= held.before <= 1.0 and 0.0 <= held.after <= 1.0
    assert (
        f"overall F1 {held.before:.2f} with the current model, {held.after:.2f} retrained" in report.summary()
    )


def test_a_retraining_that_learns_nothing_is_not_measured(scripted_video):
    path, truth = scripted_video
    _, report = run_to_end(
        retrain_prototypes_checked(
            corrected(path, truth), base_set(), min_count=5, settings=PrototypeSettings()
        )
    )
    assert report.learnt == "" and report.held_out is None
    why = "no AU has 5 corrected clips with an apex and AU codes; most: AU12: 2, AU4: 1"
    assert report.summary() == f"retraining learnt nothing ({why})"
