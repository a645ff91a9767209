"""Eq. 21–23 on hand-made flow fields."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.spotters.prototype.matching import FrameMatcher, match_region


def test_match_region_is_the_sum_of_the_hadamard_product():
    flows = np.array([[[[1, 0], [0, 2]]], [[[0, 1], [3, 0]]]], dtype=np.float32)  # (T=2, h=1, w=2, 2)
    protos = np.array([[[[2, 1], [1, -1]]], [[[0, 0], [1, 0]]]], dtype=np.float32)  # (V=2, ...)
    # p = Σ F∘M: frame 0 vs M0: 1*2 + 0*1 + 0*1 + 2*(-1) = 0; frame 1 vs M0: 0 + 1 + 3 + 0 = 4;
    # M1 picks the second pixel's x: frame 0 -> 0, frame 1 -> 3.
    assert match_region(flows, protos).tolist() == [[0.0, 4.0], [0.0, 3.0]]


def test_the_frame_matcher_keeps_the_prototype_order_across_regions():
    eye = np.zeros((3, 2, 2, 2), np.float32)
    eye[:, 0, 0, 1] = [1, 2, 3]  # y motion of one eye pixel
    mouth = np.zeros((3, 1, 3, 2), np.float32)
    mouth[:, 0, 2, 0] = [5, 0, -5]
    m_mouth = np.zeros((1, 3, 2), np.float32)
    m_mouth[0, 2, 0] = 2
    m_eye = np.zeros((2, 2, 2), np.float32)
    m_eye[0, 0, 1] = -1
    match = FrameMatcher([m_mouth, m_eye], ["mouth", "eye"])
    w = np.stack([match({"eye": eye[k], "mouth": mouth[k]}) for k in range(3)], axis=1)
    assert w.tolist() == [[10.0, 0.0, -10.0], [-1.0, -2.0, -3.0]]


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        match_region(np.zeros((1, 2, 2, 2)), np.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="differ in shape"):
        FrameMatcher([np.zeros((1, 1, 2))], ["a"])({"a": np.zeros((2, 1, 2))})
    with pytest.raises(ValueError, match="no flow for region 'b'"):
        FrameMatcher([np.zeros((1, 1, 2)), np.zeros((1, 1, 2))], ["a", "b"])({"a": np.zeros((1, 1, 2))})
    with pytest.raises(ValueError, match="one region per prototype"):
        FrameMatcher([np.zeros((1, 1, 2))], ["a", "b"])
