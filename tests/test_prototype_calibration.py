"""Threshold choice on training margins (hand-made margins, expected ranges worked out by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.spotters.prototype import PrototypeError
from napari_mespot.core.spotters.prototype.calibration import choose_thresholds


def _margins() -> np.ndarray:
    m = np.full((2, 20), 0.1)
    m[0, 2:5] = [1.0, 5.0, 1.0]  # AU1 expression, strong
    m[0, 10:13] = [1.0, 3.0, 1.0]  # AU1 expression, weaker
    m[0, 16] = 2.0  # motion outside any expression: a false alarm below θ = 2
    m[1, 5] = 4.0  # the second AU never occurs in the ground truth
    return m


TRUTH = [Interval(2, 4, "me", aus=(1,)), Interval(10, 12, "me", aus=(1,))]


def test_threshold_separates_expressions_from_other_motion():
    thresholds, report = choose_thresholds([_margins()], [TRUTH], [1, 2])
    # θ < 2: both found, one false alarm (F1 0.8); 2 <= θ < 3: both found, none (F1 1);
    # 3 <= θ < 5: one found (F1 0.67). The middle of the best range lies in [2, 3).
    assert 2.0 <= thresholds[1] < 3.0
    assert report["AU1"] == {"events": 2, "f1": 1.0}
    # Without training expressions: the largest margin seen, so it never fires on training data.
    assert thresholds[2] == pytest.approx(4.0)


def test_an_au_that_never_moves_needs_a_fallback():
    m = _margins()
    m[1] = 0.0
    with pytest.raises(PrototypeError, match="AU2"):
        choose_thresholds([m], [TRUTH], [1, 2])
    thresholds, report = choose_thresholds([m], [TRUTH], [1, 2], fallback={2: 7.5})
    assert thresholds[2] == 7.5 and report["AU2"]["events"] == 0
