"""The review keys' logic without a window: stepping, the selection as it stands, refusals."""

from __future__ import annotations

import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.review import actions
from napari_mespot.core.review.model import CORRECTED, ReviewError, ReviewModel


@pytest.fixture
def model() -> ReviewModel:
    m = ReviewModel(fps=30, n_frames=1000)
    m.add_track("a", [Interval(100, 110, "me", id="a1"), Interval(600, 700, "mae", id="a2")], run="r1")
    m.add_track("b", [Interval(300, 400, "mae", id="b1")], run="r2")
    return m


def test_stepping_visits_the_nearest_candidate_of_any_run_and_selects_it(model):
    assert actions.step_candidate(model, 0, 1).id == "a1"
    assert actions.step_candidate(model, 150, 1).id == "b1" and model.selection == ("b", "b1")
    assert actions.step_candidate(model, 650, -1).id == "a2"  # starts before 650
    with pytest.raises(ReviewError, match="no unreviewed candidate after frame 900"):
        actions.step_candidate(model, 900, 1)


def test_a_decided_candidate_is_seen_as_its_corrected_copy(model):
    actions.step_candidate(model, 0, 1)
    actions.set_at_frame(model, "offset", 120)
    track, interval_id, current = actions.selected(model)
    assert (track, interval_id) == ("a", "a1")
    assert (current.onset, current.offset, current.status) == (100, 120, "edited")
    assert model.find("a", "a1").offset == 110  # the machine's output is untouched


def test_keys_without_a_selection_say_what_to_do(model):
    for action in (actions.accept, actions.reject, actions.toggle_type, actions.delete):
        with pytest.raises(ReviewError, match="select an interval first"):
            action(model)


def test_aus_are_parsed_and_nonsense_is_refused(model):
    actions.step_candidate(model, 0, 1)
    actions.set_aus(model, "L12+4")
    assert actions.selected(model).current.aus == (4, 12)
    with pytest.raises(ReviewError, match="no AU codes in 'smile'"):
        actions.set_aus(model, "smile")


def test_new_interval_is_added_selected_and_kept_inside_the_clip(model):
    added = actions.new_interval(model, 995, seconds=0.3)
    assert (added.onset, added.offset) == (995, 999)  # 9 frames asked, the clip ends at 999
    assert model.selection == (CORRECTED, added.id)


@pytest.mark.parametrize("frame", [999, 1000, 1500, -1])
def test_new_interval_past_the_end_of_a_shorter_clip_is_refused(model, frame):
    with pytest.raises(ReviewError, match="cannot add an interval: frame"):
        actions.new_interval(model, frame)
    assert len(model.corrected) == 0 and not model.log


@pytest.mark.parametrize("field", ["onset", "apex", "offset"])
def test_boundaries_outside_the_clip_are_refused(model, field):
    actions.step_candidate(model, 0, 1)
    with pytest.raises(ReviewError, match=f"cannot set the {field}: frame 1000 is outside this video"):
        actions.set_at_frame(model, field, 1000)
    assert not model.log
    actions.set_at_frame(model, "offset", 999)  # the last frame itself is in the clip
    assert actions.selected(model).current.offset == 999


def test_delete_undo_and_redo(model):
    actions.step_candidate(model, 0, 1)
    with pytest.raises(ReviewError, match="no decision"):
        actions.delete(model)
    actions.accept(model)
    assert actions.undo(model) == "undo accept"
    assert actions.redo(model) == "redo accept"
    with pytest.raises(ReviewError, match="nothing to redo"):
        actions.redo(model)
