"""MEGC metric against hand-computed cases (docs/architecture.md §6)."""

from __future__ import annotations

import pytest

from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.metrics import evaluate, iou_matrix, match_intervals, sweep


def me(onset: int, offset: int) -> Interval:
    return Interval(onset, offset, "me")


def mae(onset: int, offset: int) -> Interval:
    return Interval(onset, offset, "mae")


def test_iou_matrix_counts_inclusive_frames():
    m = iou_matrix([me(0, 9)], [me(5, 14), me(0, 4), me(10, 20)])
    # [0,9]∩[5,14] = 5 frames, union 15; [0,4] is half of [0,9]; [10,20] touches nothing
    assert m.tolist() == [[pytest.approx(1 / 3), 0.5, 0.0]]


def test_perfect_prediction():
    ev = evaluate({"v": [me(10, 19)]}, {"v": [me(10, 19)]})
    assert (ev.me.tp, ev.me.fp, ev.me.fn) == (1, 0, 0)
    assert ev.overall.f1 == 1.0


def test_k_is_inclusive_threshold():
    gt, pred = {"v": [me(0, 9)]}, {"v": [me(0, 4)]}  # IoU exactly 0.5
    assert evaluate(gt, pred, k=0.5).me.tp == 1
    assert evaluate(gt, pred, k=0.6).me.tp == 0


@pytest.mark.parametrize("matching", ["one-to-one", "megc2020"])
def test_no_predictions_and_no_ground_truth(matching):
    ev = evaluate({"v": [me(0, 9)]}, {}, matching=matching)
    assert (ev.me.tp, ev.me.fp, ev.me.fn, ev.me.precision, ev.me.recall, ev.me.f1) == (0, 0, 1, 0, 0, 0)
    ev = evaluate({}, {"v": [me(0, 9)]}, matching=matching)
    assert (ev.me.tp, ev.me.fp, ev.me.fn, ev.overall.f1) == (0, 1, 0, 0.0)


def test_one_prediction_over_two_ground_truths_modes_differ():
    gt = {"v": [me(0, 4), me(5, 9)]}
    pred = {"v": [me(0, 9)]}  # IoU 0.5 with each half
    one = evaluate(gt, pred, matching="one-to-one")
    assert (one.me.tp, one.me.fp, one.me.fn) == (1, 0, 1)
    assert one.me.f1 == pytest.approx(2 / 3)  # 2·1 / (1 + 2)
    official = evaluate(gt, pred, matching="megc2020")
    # both ground truths are hit; the prediction count stays 1 − (2 − 2) = 1 → FP = 1 − 2
    assert (official.me.tp, official.me.fp, official.me.fn) == (2, -1, 0)
    assert official.me.f1 == pytest.approx(4 / 3)


def test_two_predictions_on_one_ground_truth_modes_differ():
    gt = {"v": [me(0, 9)]}
    pred = {"v": [me(0, 9), me(1, 9)]}
    one = evaluate(gt, pred, matching="one-to-one")
    assert (one.me.tp, one.me.fp, one.me.fn) == (1, 1, 0)
    assert one.me.precision == 0.5
    assert one.me.f1 == pytest.approx(2 / 3)
    official = evaluate(gt, pred, matching="megc2020")
    # the second hit on the same ground truth is not a false positive: N_pred − (2 − 1) = 1
    assert (official.me.tp, official.me.fp, official.me.fn) == (1, 0, 0)
    assert official.me.f1 == 1.0


def test_one_to_one_is_greedy_by_iou_not_by_order():
    gt = [me(0, 9), me(5, 14)]
    # P1: IoU 7/13 with gt0, 8/12 with gt1; P2: IoU 9/10 with gt1, 4/15 with gt0
    pred = [me(3, 12), me(6, 14)]
    pairs = match_intervals(gt, pred, 0.5)
    assert sorted((g, p) for g, p, _ in pairs) == [(0, 0), (1, 1)]
    assert dict(((g, p), v) for g, p, v in pairs)[(1, 1)] == pytest.approx(0.9)
    assert evaluate({"v": gt}, {"v": pred}).me.tp == 2


def test_matching_is_type_aware():
    ev = evaluate({"v": [me(0, 9)]}, {"v": [mae(0, 9)]})
    assert (ev.me.tp, ev.me.fn, ev.me.fp) == (0, 1, 0)
    assert (ev.mae.tp, ev.mae.fp, ev.mae.fn) == (0, 1, 0)
    assert (ev.overall.tp, ev.overall.n_pred, ev.overall.n_gt, ev.overall.f1) == (0, 1, 1, 0.0)


def test_predictions_typed_by_duration_use_the_fps():
    gt = {"v": VideoIntervals("v", (me(0, 9),), fps=30.0)}
    pred = {"v": [mae(0, 9)]}  # typed MaE, but 10 frames at 30 fps = 0.33 s → ME
    assert evaluate(gt, pred, type_by="duration").me.tp == 1
    assert evaluate(gt, pred, type_by="duration", fps=10.0).mae.fp == 1  # 1 s → MaE
    with pytest.raises(ValueError, match="fps"):
        evaluate({"v": [me(0, 9)]}, pred, type_by="duration")


def test_counts_are_micro_averaged_over_videos():
    gt = {"a": [me(0, 9)], "b": [me(0, 9), me(20, 29), me(40, 49)]}
    pred = {"a": [me(0, 9)]}
    ev = evaluate(gt, pred)
    # macro-averaging per video would give (1 + 0) / 2; the MEGC metric sums counts first
    assert (ev.me.tp, ev.me.n_pred, ev.me.n_gt) == (1, 1, 4)
    assert ev.me.f1 == pytest.approx(2 / 5)
    assert ev.me.recall == pytest.approx(1 / 4)


def test_overall_sums_both_types():
    gt = {"v": [me(0, 9), mae(100, 199), mae(300, 399)]}
    pred = {"v": [me(0, 9), mae(100, 199), mae(500, 599), me(700, 705)]}
    ev = evaluate(gt, pred)
    assert (ev.me.tp, ev.me.fp, ev.me.fn) == (1, 1, 0)
    assert (ev.mae.tp, ev.mae.fp, ev.mae.fn) == (1, 1, 1)
    assert (ev.overall.tp, ev.overall.fp, ev.overall.fn) == (2, 2, 1)
    assert ev.overall.f1 == pytest.approx(4 / 7)  # 2·2 / (4 + 3)
    assert ev.overall.precision == 0.5
    assert ev.overall.recall == pytest.approx(2 / 3)


def test_per_video_breakdown_includes_videos_from_either_side():
    ev = evaluate({"a": [me(0, 9)]}, {"b": [me(0, 9)]})
    by_video = {v.video: v for v in ev.videos}
    assert set(by_video) == {"a", "b"}
    assert (by_video["a"].me.fn, by_video["b"].me.fp) == (1, 1)
    d = ev.to_dict()
    assert [v["video"] for v in d["videos"]] == ["a", "b"]
    assert d["overall"]["fp"] == 1 and d["overall"]["fn"] == 1


def test_sweep_over_k():
    gt, pred = {"v": [me(0, 9)]}, {"v": [me(0, 3)]}  # IoU 0.4
    f1 = {k: ev.overall.f1 for k, ev in sweep(gt, pred).items()}
    assert f1 == {0.3: 1.0, 0.4: 1.0, 0.5: 0.0}


def test_bad_arguments():
    with pytest.raises(ValueError):
        evaluate({}, {}, k=0)
    with pytest.raises(ValueError):
        evaluate({}, {}, matching="best")
    with pytest.raises(ValueError):
        evaluate({}, {}, type_by="length")
