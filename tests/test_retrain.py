"""Retraining the AU-prototype spotter from corrected review sessions."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.review.session import ReviewSession
from napari_mespot.core.spotters.prototype import Prototype, PrototypeSet
from napari_mespot.jobs.retrain import RetrainError, corrected_clips, open_corrected, retrain_prototypes


@pytest.fixture
def corrected_video(scripted_video):
    """The scripted video's session holds the annotator's corrections: every expression added
    with its apex and AUs, plus one rejected candidate that must not count."""
    path, truth = scripted_video
    with open_video(path) as video:
        model = ReviewSession.open(video).model
        for iv in truth:
            model.add(iv.onset, iv.offset, iv.type, apex=iv.apex, aus=iv.aus)
        model.add_track("run", [truth[0].evolve(id="c1", source="prototype")])
        model.reject("run", "c1")
    return path, truth


def base_set() -> PrototypeSet:
    """A base with AU12 (to be relearnt) and AU15 (no corrections: kept as it is)."""
    zeros = np.zeros((160, 260, 2), np.float32)
    down = zeros.copy()
    down[60:120, 20:80, 1] = 1.0
    return PrototypeSet(
        (Prototype(12, "mouth", zeros, 50, 9.0), Prototype(15, "mouth", down, 40, 7.0)),
        provenance={"source": "base"},
    )


@pytest.mark.slow
def test_relearns_the_corrected_aus_keeps_the_others_and_recalibrates(corrected_video):
    path, _ = corrected_video
    videos = open_corrected([str(path) + ".mespot.json"])
    clips = corrected_clips(videos)
    assert len(clips) == 3  # the rejected candidate is not training data
    retrained = run_to_end(retrain_prototypes(videos, base_set(), min_count=1))

    assert retrained.aus == (12, 15, 4)
    assert retrained[12].count == 2 and retrained[4].count == 1 and retrained[15].count == 40
    assert retrained.provenance["relearnt_aus"] == [4, 12] and retrained.provenance["kept_from_base"] == [15]
    assert np.array_equal(retrained[15].field, base_set()[15].field)
    # The relearnt smile moves the mouth corners up (negative y in image coordinates).
    field = retrained[12].field
    assert np.abs(field).max() > 0.5
    corners = np.concatenate([field[40:130, 10:90, 1].ravel(), field[40:130, 170:250, 1].ravel()])
    assert corners.mean() < 0
    # Thresholds were chosen again on the corrected video, for every AU.
    assert np.all(np.isfinite(retrained.thresholds()))
    assert retrained.calibration["videos"] == ["clip"]


def test_sessions_without_usable_corrections_are_refused(tmp_path, fixtures_dir):
    path = tmp_path / "clip.mp4"
    path.write_bytes((fixtures_dir / "video" / "single_face.mp4").read_bytes())
    with open_video(path) as video:
        ReviewSession.open(video).model.add(5, 20)  # no apex, no AUs
    videos = open_corrected([str(path) + ".mespot.json"])
    with pytest.raises(RetrainError, match="nothing to learn from"):
        run_to_end(retrain_prototypes(videos, base_set()))


def test_a_session_whose_video_is_gone_is_reported(tmp_path, fixtures_dir):
    path = tmp_path / "clip.mp4"
    path.write_bytes((fixtures_dir / "video" / "single_face.mp4").read_bytes())
    with open_video(path) as video:
        ReviewSession.open(video).model.add(5, 20)
    path.unlink()
    with pytest.raises(RetrainError, match="is not there"):
        open_corrected([str(path) + ".mespot.json"])


@pytest.mark.slow
def test_cli_learns_from_sessions(corrected_video, tmp_path, capsys):
    from napari_mespot.cli import main

    path, _ = corrected_video
    base = tmp_path / "base.npz"
    base_set().save(base)
    out = tmp_path / "new.npz"
    args = ["prototypes", "learn", "--sessions", str(path) + ".mespot.json", "--base", str(base)]
    assert main([*args, "--min-count", "2", "--out", str(out)]) == 0
    learnt = PrototypeSet.load(out)
    # AU12 has two corrected clips, AU4 one: only AU12 is relearnt at --min-count 2.
    assert learnt.provenance["relearnt_aus"] == [12] and learnt.aus == (12, 15)
    assert "relearnt AUs: [12]" in capsys.readouterr().out


def test_cli_reports_a_missing_session(tmp_path, capsys):
    from napari_mespot.cli import main

    code = main(["prototypes", "learn", "--sessions", str(tmp_path / "nope.mespot.json"), "--out", "x.npz"])
    assert code == 2 and "nope.mespot.json" in capsys.readouterr().err


@pytest.mark.slow
def test_vovnet_trains_on_corrected_sessions(corrected_video, tmp_path, fixtures_dir):
    """Two corrected videos (two subjects: one trains, one validates) give a checkpoint."""
    from napari_mespot.cli import main
    from napari_mespot.core.spotters.vovnet import load_checkpoint

    path, truth = corrected_video
    second = tmp_path / "second" / "clip2.mp4"
    second.parent.mkdir()
    second.write_bytes(path.read_bytes())
    with open_video(second) as video:
        model = ReviewSession.open(video).model
        for iv in truth:
            model.add(iv.onset, iv.offset, iv.type, apex=iv.apex, aus=iv.aus)
    out = tmp_path / "model.pt"
    sessions = [str(path) + ".mespot.json", str(second) + ".mespot.json"]
    args = ["vovnet", "train", "--sessions", *sessions, "--out", str(out), "--from-scratch", "--small"]
    args += ["--epochs", "1"]
    args += ["--flow", "dis", "--input-size", "48", "--window", "64", "--batch-size", "4", "--threads", "1"]
    assert main([*args, "--quiet"]) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.config.in_channels == 5  # RGB + two flow channels
    assert "init" not in ckpt.meta and ckpt.meta["sessions"] == sessions
