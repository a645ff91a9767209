"""The review model: machine tracks stay untouched, every decision is logged and undoable."""

from __future__ import annotations

import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import CORRECTED, ReviewError, ReviewModel


@pytest.fixture
def model() -> ReviewModel:
    m = ReviewModel(fps=30, n_frames=1000)
    m.add_track(
        "prototype",
        [
            Interval(100, 110, "me", apex=105, aus=(12,), score=2.0, source="prototype", id="c1"),
            Interval(300, 400, "mae", apex=350, aus=(4,), score=1.5, source="prototype", id="c2"),
            Interval(600, 700, "mae", apex=650, source="prototype", id="c3"),
        ],
        run="run-1",
    )
    return m


def test_accept_copies_the_candidate_with_provenance_and_leaves_the_machine_track(model):
    events = []
    model.events.changed.connect(lambda action, ids: events.append((action, ids)))
    kept = model.accept("prototype", "c1")
    assert model.find("prototype", "c1").status == "candidate"  # machine output untouched
    assert kept.id != "c1" and kept.status == "accepted"
    assert (kept.onset, kept.apex, kept.offset, kept.aus) == (100, 105, 110, (12,))
    assert kept.get_extra("origin") == "prototype/c1" and kept.get_extra("origin_run") == "run-1"
    assert events == [("accept", (kept.id,))]
    assert model.log[-1].origin == "prototype/c1"


def test_reject_then_accept_the_same_candidate_keeps_one_decision(model):
    model.reject("prototype", "c2")
    model.accept("prototype", "c2")
    decisions = [iv for iv in model.corrected if iv.get_extra("origin") == "prototype/c2"]
    assert [iv.status for iv in decisions] == ["accepted"]
    assert model.kept() == decisions


def test_editing_a_candidate_writes_an_edited_copy_and_clamps_the_apex(model):
    edited = model.edit("prototype", "c2", onset=360)
    assert model.find("prototype", "c2").onset == 300
    assert (edited.onset, edited.apex, edited.offset, edited.status) == (360, 360, 400, "edited")
    again = model.edit(CORRECTED, edited.id, offset=390, aus=(4, 7))
    assert (again.id, again.offset, again.aus, again.status) == (edited.id, 390, (4, 7), "edited")
    assert len(model.corrected) == 1


def test_add_types_by_duration(model):
    short = model.add(10, 24)  # 15 frames at 30 fps = 0.5 s → ME
    long = model.add(30, 45)  # 16 frames → MaE
    assert (short.type, short.status, short.source) == ("me", "added", "annotator")
    assert long.type == "mae"


def test_undo_redo_walks_the_history_exactly(model):
    a = model.accept("prototype", "c1")
    e = model.edit(CORRECTED, a.id, offset=120)
    model.delete(e.id)
    assert len(model.corrected) == 0
    assert model.undo() and model.corrected.intervals[a.id].offset == 120
    assert model.undo() and model.corrected.intervals[a.id].offset == 110
    assert model.undo() and len(model.corrected) == 0
    assert not model.undo()
    assert model.redo() and model.corrected.intervals[a.id].status == "accepted"
    assert model.redo() and model.corrected.intervals[a.id].offset == 120
    model.add(800, 805)  # a new edit drops the redo branch
    assert not model.redo()
    assert [e.action for e in model.log][:4] == ["accept", "edit", "delete", "undo delete"]


def test_invalid_edits_are_refused_without_changing_anything(model):
    a = model.accept("prototype", "c1")
    with pytest.raises(ReviewError, match="before onset"):
        model.edit(CORRECTED, a.id, offset=50)
    with pytest.raises(ReviewError, match="after the last frame"):
        model.edit(CORRECTED, a.id, offset=5000)
    with pytest.raises(ReviewError, match="cannot be edited"):
        model.edit(CORRECTED, a.id, status="accepted")
    with pytest.raises(ReviewError, match="corrected track"):
        model.add_track(CORRECTED, [])
    assert model.corrected.intervals[a.id] == a and len(model.log) == 1


def test_next_candidate_skips_reviewed_ones(model):
    assert model.next_candidate("prototype", frame=0).id == "c1"
    model.accept("prototype", "c1")
    assert model.next_candidate("prototype", frame=0).id == "c2"
    assert model.next_candidate("prototype", frame=650, step=-1).id == "c3"
    assert model.next_candidate("prototype", frame=700) is None
