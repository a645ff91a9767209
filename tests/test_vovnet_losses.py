"""The losses of eq. 6–11, decoding and temporal NMS against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from napari_mespot.core.spotters.vovnet.decode import Detections, nms, one_type_per_event, segment_iou
from napari_mespot.core.spotters.vovnet.losses import detection_loss, focal_loss, iou_loss, smooth_l1


def test_focal_loss_by_hand():
    logits = torch.tensor([0.0, 0.0, math.log(3.0), math.log(3.0)])
    targets = torch.tensor([1.0, 0.0, 1.0, 0.0])
    got = focal_loss(logits, targets)
    ln2, ln4_3, ln4 = math.log(2), math.log(4 / 3), math.log(4)
    expected = [
        0.25 * 0.5**2 * ln2,  # positive, p = 0.5: w = α, p_t = p
        0.75 * 0.5**2 * ln2,  # negative, p = 0.5: w = 1 − α, p_t = 1 − p
        0.25 * 0.25**2 * ln4_3,  # positive, p = 0.75
        0.75 * 0.75**2 * ln4,  # negative, p = 0.75: p_t = 0.25, (1 − p_t)^2 = 0.5625
    ]
    assert got.tolist() == pytest.approx(expected, rel=1e-6)
    assert expected[0] == pytest.approx(0.0433217, rel=1e-5)


def test_focal_loss_is_finite_for_confident_mistakes():
    got = focal_loss(torch.tensor([-200.0, 200.0]), torch.tensor([1.0, 0.0]))
    assert torch.isfinite(got).all()
    assert got.tolist() == pytest.approx([0.25 * 200, 0.75 * 200])


def test_smooth_l1_by_hand():
    got = smooth_l1(torch.tensor([0.5, -2.0, 1.0, 0.0]), torch.zeros(4))
    assert got.tolist() == pytest.approx([0.125, 1.5, 0.5, 0.0])


def test_iou_loss_by_hand():
    pred = torch.tensor([[0.0, 4.0], [0.0, 1.0], [3.0, 7.0]])
    target = torch.tensor([[2.0, 6.0], [2.0, 3.0], [3.0, 7.0]])
    # inter 2, union 4 + 4 − 2 = 6; disjoint; identical
    assert iou_loss(pred, target).tolist() == pytest.approx([1 - 2 / 6, 1.0, 0.0])


def test_detection_loss_sums_the_three_terms_per_positive():
    logits = torch.zeros(1, 2, 2)  # p = 0.5 everywhere
    cls_t = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    positive = torch.tensor([[True, False]])
    valid = torch.ones(1, 2, dtype=torch.bool)
    dists = torch.tensor([[[2.0, 2.0], [0.0, 0.0]]])
    reg_t = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    terms = detection_loss(logits, dists, cls_t, reg_t, positive, valid)
    ln2 = math.log(2)
    assert float(terms["focal"]) == pytest.approx(0.25 * 0.25 * ln2 + 3 * 0.75 * 0.25 * ln2)
    assert float(terms["l1"]) == pytest.approx(1.0)  # two distances off by 1: 2 × 0.5
    assert float(terms["iou"]) == pytest.approx(0.5)  # (−2, 2) vs (−1, 1): 2 / 4
    assert float(terms["total"]) == pytest.approx(sum(float(terms[k]) for k in ("focal", "l1", "iou")))
    # padding positions count for nothing
    masked = detection_loss(logits, dists, cls_t, reg_t, positive, torch.tensor([[True, False]]))
    assert float(masked["focal"]) == pytest.approx(0.25 * 0.25 * ln2 + 0.75 * 0.25 * ln2)


def test_segment_iou_uses_inclusive_frames():
    a = torch.tensor([[0.0, 9.0]])
    b = torch.tensor([[5.0, 14.0], [10.0, 19.0]])
    assert segment_iou(a, b).tolist() == [[pytest.approx(5 / 15), 0.0]]


def test_nms_keeps_the_best_of_overlapping_same_class_intervals():
    dets = Detections(
        torch.tensor([[0.0, 9.0], [1.0, 10.0], [0.0, 9.0], [30.0, 40.0]]),
        torch.tensor([0.6, 0.9, 0.5, 0.3]),
        torch.tensor([1, 1, 0, 1]),
    )
    kept = nms(dets, 0.5)
    # the 0.6 MaE overlaps the 0.9 MaE (IoU 9/11); the ME survives (other class)
    assert kept.scores.tolist() == pytest.approx([0.5, 0.9, 0.3])
    assert kept.classes.tolist() == [0, 1, 1]


def test_nms_also_drops_a_short_copy_nested_in_a_better_one():
    # 590-597 inside 587-602: IoU 8/16 = 0.5 is not above 0.5, but all of it lies inside
    segments = torch.tensor([[587.0, 602.0], [590.0, 597.0]])
    dets = Detections(segments, torch.tensor([0.9, 0.8]), torch.tensor([1, 1]))
    assert nms(dets, 0.5).segments.tolist() == [[587.0, 602.0]]


def test_an_me_inside_a_mae_is_the_same_event_and_one_beside_it_is_not():
    dets = Detections(
        torch.tensor([[0.0, 20.0], [5.0, 9.0], [18.0, 30.0], [50.0, 55.0]]),
        torch.tensor([0.4, 0.9, 0.7, 0.6]),
        torch.tensor([1, 0, 0, 0]),
    )
    kept = one_type_per_event(dets, me=0, mae=1)
    # 5-9 lies wholly inside the MaE; 18-30 has 3 of its 13 frames inside; 50-55 none
    assert kept.segments.tolist() == [[0.0, 20.0], [18.0, 30.0], [50.0, 55.0]]


def test_vovnet_reports_no_one_frame_interval():
    from napari_mespot.core.spotters.vovnet.spotter import to_intervals

    segments = torch.tensor([[420.0, 420.2], [430.0, 440.0]])
    dets = Detections(segments, torch.tensor([0.9, 0.9]), torch.tensor([1, 1]))
    curves = np.zeros((2, 500), np.float32)
    kept = to_intervals(dets, np.array([0.5, 0.5]), curves, np.ones(500, bool), 0.5)
    assert [(iv.onset, iv.offset) for iv in kept] == [(430, 440)]
