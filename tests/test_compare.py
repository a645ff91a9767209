"""Per-interval comparison of a run with a reference track (hand-computed cases)."""

from __future__ import annotations

import pytest

from napari_mespot.core.compare import compare
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import CORRECTED, ReviewModel


@pytest.fixture
def model() -> ReviewModel:
    m = ReviewModel(fps=30, n_frames=1000)
    m.add_track("gt", [Interval(0, 9, "me", id="A"), Interval(100, 199, "mae", id="B")], kind="gt")
    m.add_track(
        "run",
        [
            Interval(2, 9, "me", id="P1"),  # IoU 8/10 = 0.8 with A
            Interval(150, 260, "mae", id="P2"),  # IoU 50/161 = 0.31 with B
            Interval(500, 510, "me", id="P3"),  # nothing there
            Interval(0, 12, "mae", id="P4"),  # overlaps A but the types differ
        ],
    )
    return m


def test_outcomes_and_counts(model):
    (c,) = compare(model, "gt", ["run"], k=0.5)
    assert {i: o.outcome for i, o in c.predictions.items()} == {
        "P1": "tp",
        "P2": "fp",
        "P3": "fp",
        "P4": "fp",
    }
    assert c.predictions["P1"].partner == "A" and c.predictions["P1"].iou == pytest.approx(0.8)
    assert {i: o.outcome for i, o in c.references.items()} == {"A": "tp", "B": "fn"}
    overall = c.evaluation.overall
    assert (overall.tp, overall.fp, overall.fn) == (1, 3, 1)
    assert overall.f1 == pytest.approx(2 * 1 / (4 + 2))


def test_a_lower_k_turns_the_near_miss_into_a_hit(model):
    (c,) = compare(model, "gt", ["run"], k=0.3)
    assert c.predictions["P2"].outcome == "tp" and c.references["B"].outcome == "tp"


def test_the_corrected_track_counts_only_what_the_annotator_kept(model):
    model.accept("run", "P1")
    model.reject("run", "P3")
    (c,) = compare(model, CORRECTED, ["run"], k=0.5)
    assert len(c.references) == 1  # the rejected decision is not a reference interval
    assert c.predictions["P1"].outcome == "tp" and c.predictions["P3"].outcome == "fp"
