"""Agreement between annotators: every expected number below is computed by hand in the comments."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mespot.cli import main
from napari_mespot.core.agreement import (
    AgreementError,
    agreement,
    cohen_kappa,
    frame_labels,
    video_agreement,
)
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import write_native_csv
from napari_mespot.core.media.source import VideoIdentity
from napari_mespot.core.review.model import ReviewModel
from napari_mespot.core.review.session import ReviewSession

A = [Interval(10, 19, "me", id="a1"), Interval(40, 69, "mae", id="a2"), Interval(80, 84, "me", id="a3")]
B = [Interval(12, 21, "me", id="b1"), Interval(40, 64, "mae", id="b2"), Interval(88, 95, "mae", id="b3")]
# Matching (type-aware, IoU on inclusive frames):
#   ME  A 10–19 vs B 12–21: shared 12–19 = 8 frames, union 10 + 10 − 8 = 12 → IoU 0.667 → pair
#       |onset diff| = 2, |offset diff| = 2
#   MaE A 40–69 vs B 40–64: shared 25, union 30 + 25 − 25 = 30 → IoU 0.833 → pair
#       |onset diff| = 0, |offset diff| = 5
#   A ME 80–84 and B MaE 88–95 share nothing → one interval only A marks, one only B marks.
# F1 = 2·2 / (3 + 3) = 0.6667; mean |onset| = (2 + 0)/2 = 1.0; mean |offset| = (2 + 5)/2 = 3.5.
#
# Frames (100), rows A, columns B, order none/ME/MaE:
#   10–11 A ME, B none: 2      12–19 ME/ME: 8        20–21 A none, B ME: 2
#   40–64 MaE/MaE: 25          65–69 A MaE, B none: 5
#   80–84 A ME, B none: 5      88–95 A none, B MaE: 8
#   none/none: 100 − 55 = 45
CONFUSION = [[45, 2, 8], [7, 8, 0], [5, 0, 25]]
# p_o = (45 + 8 + 25)/100 = 0.78; marginals A (0.55, 0.15, 0.30), B (0.57, 0.10, 0.33)
# p_e = 0.55·0.57 + 0.15·0.10 + 0.30·0.33 = 0.3135 + 0.015 + 0.099 = 0.4275
# κ = (0.78 − 0.4275) / (1 − 0.4275) = 0.3525 / 0.5725
KAPPA = 0.3525 / 0.5725


def test_one_video_by_hand():
    result = video_agreement("v", A, B, 100)
    assert result.counts.tp == 2 and result.counts.f1 == pytest.approx(4 / 6)
    assert result.onset_mae == pytest.approx(1.0) and result.offset_mae == pytest.approx(3.5)
    assert result.confusion.tolist() == CONFUSION
    assert result.kappa == pytest.approx(KAPPA)
    assert [(d.kind, (d.a or d.b).onset) for d in result.disagreements] == [("only_a", 80), ("only_b", 88)]


def test_the_roles_of_a_and_b_do_not_change_the_numbers():
    ab, ba = video_agreement("v", A, B, 100), video_agreement("v", B, A, 100)
    assert (ab.counts.f1, ab.onset_mae, ab.offset_mae) == (ba.counts.f1, ba.onset_mae, ba.offset_mae)
    assert ab.kappa == pytest.approx(ba.kappa)
    assert ba.confusion.tolist() == np.array(CONFUSION).T.tolist()


def test_pooling_sums_pairs_and_confusions_not_per_video_scores():
    second = [Interval(0, 4, "me", id="x")]
    result = agreement(
        {"v": A, "w": second}, {"v": B, "w": second}, {"v": (100, "given"), "w": (10, "given")}
    )
    # w alone: 5 frames ME/ME and 5 none/none → p_o = 1, p_e = 0.5·0.5 + 0.5·0.5 = 0.5, κ = 1.
    assert result.videos[1].kappa == pytest.approx(1.0)
    # pooled: 3 pairs of 4 + 4 intervals → F1 = 6/8; mean |onset| = (2 + 0 + 0)/3;
    # mean |offset| = (2 + 5 + 0)/3 (the mean of the pairs, not of the videos' means)
    assert result.counts.f1 == pytest.approx(0.75)
    assert result.onset_mae == pytest.approx(2 / 3) and result.offset_mae == pytest.approx(7 / 3)
    # summed confusion over 110 frames: diagonal 50 + 13 + 25 = 88 → p_o = 88/110;
    # A marginals (60, 20, 30), B (62, 15, 33): p_e = (3720 + 300 + 990)/12100 = 5010/12100;
    # κ = (9680 − 5010) / (12100 − 5010) = 4670 / 7090
    assert result.kappa == pytest.approx(4670 / 7090)


def test_a_differently_typed_expression_is_a_type_disagreement():
    # A ME 10–20 (11 frames) vs B MaE 10–22 (13): IoU 11/13 = 0.85, but of different types:
    # no match (F1 = 0) and one "type" disagreement instead of two one-sided ones.
    result = video_agreement("v", [Interval(10, 20, "me")], [Interval(10, 22, "mae")], 30)
    assert result.counts.tp == 0 and result.counts.f1 == 0.0
    assert [d.kind for d in result.disagreements] == ["type"]
    assert result.disagreements[0].iou == pytest.approx(11 / 13)
    assert result.onset_mae is None


def test_frame_labels_put_an_me_over_the_mae_around_it():
    labels = frame_labels([Interval(3, 4, "me"), Interval(0, 7, "mae")], 10)
    assert labels.tolist() == [2, 2, 2, 1, 1, 2, 2, 2, 0, 0]


def test_kappa_is_undefined_when_chance_agreement_is_total():
    assert cohen_kappa(np.array([[20, 0, 0], [0, 0, 0], [0, 0, 0]])) is None
    assert cohen_kappa(np.zeros((3, 3), np.int64)) is None
    # perfect disagreement on two equally used labels: p_o = 0, p_e = 0.5 → κ = −1
    assert cohen_kappa(np.array([[0, 5, 0], [5, 0, 0], [0, 0, 0]])) == pytest.approx(-1.0)


def test_an_interval_past_the_last_frame_is_refused():
    with pytest.raises(AgreementError, match="past the video's 50 frames"):
        video_agreement("v", A, B, 50)


# -- the command ----------------------------------------------------------------------------------
@pytest.fixture
def label_files(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_native_csv(a, {"v": A})
    write_native_csv(b, {"v": B})
    return a, b


def test_cli_json_reproduces_the_hand_computed_numbers(label_files, capsys):
    a, b = label_files
    assert main(["agree", str(a), str(b), "--frames", "100", "--json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["f1"] == pytest.approx(4 / 6) and report["matched"] == 2
    assert report["onset_mae_frames"] == pytest.approx(1.0) and report["offset_mae_frames"] == pytest.approx(
        3.5
    )
    assert report["kappa"] == pytest.approx(KAPPA) and report["confusion"] == CONFUSION
    assert report["videos"][0]["frames_source"] == "given" and out.err == ""
    assert [d["kind"] for d in report["videos"][0]["disagreements"]] == ["only_a", "only_b"]


def test_cli_without_frame_counts_uses_the_last_label_and_says_so(label_files, capsys):
    a, b = label_files
    assert main(["agree", str(a), str(b)]) == 0
    out = capsys.readouterr()
    # last labelled frame 95 → 96 frames: the none/none cell loses the 4 tail frames 96–99 (45 → 41)
    # p_o = 74/96; marginals A (51, 15, 30), B (53, 10, 33):
    # p_e = (2703 + 150 + 990)/9216 = 3843/9216; κ = (7104 − 3843)/(9216 − 3843) = 3261/5373
    assert f"{3261 / 5373:.4f}" in out.out and "0.6667" in out.out
    assert "only A marks ME 80–84" in out.out and "only B marks MaE 88–95" in out.out
    assert "frame count of 1 video(s) is not known" in out.err


def test_cli_reads_a_session_with_its_frame_count(label_files, tmp_path, capsys):
    model = ReviewModel(fps=30, n_frames=120)
    model.add_track("run", [Interval(iv.onset, iv.offset, iv.type, id=iv.id) for iv in B])
    for iv in B:
        model.accept("run", iv.id)
    model.reject("run", "b3")  # the annotator drops B's MaE 88–95: only A's 80–84 stays unmatched
    identity = VideoIdentity(path="v.mp4", size_bytes=1, n_frames=120, content_hash="0" * 64)
    sidecar = tmp_path / "v.mp4.mespot.json"
    ReviewSession(sidecar, identity, model).save()
    assert main(["agree", str(label_files[0]), str(sidecar), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    video = report["videos"][0]
    assert (video["n_frames"], video["frames_source"], report["b_kind"]) == (120, "session", "session")
    assert report["f1"] == pytest.approx(2 * 2 / (3 + 2))


def test_cli_errors_are_one_line(label_files, tmp_path, capsys):
    a, _ = label_files
    other = tmp_path / "other.csv"
    write_native_csv(other, {"w": A})
    for argv, words in (
        (["agree", str(a), str(other)], "share no video"),
        (["agree", str(a), str(a), "--frames", "x"], "--frames x"),
        (["agree", str(a), str(a), "--frames", "=5"], "--frames =5"),
        (["agree", str(a), str(a), "--frames", "50"], "past the video's 50 frames"),
        (["agree", str(a), str(tmp_path / "nope.csv")], "no such"),
        (["agree", str(a), str(a), "--k", "0"], "--k"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("mespot agree: error: ") and err.count("\n") == 1 and words in err, err
