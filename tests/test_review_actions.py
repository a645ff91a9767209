"""The review keys' logic without a window: stepping, the selection as it stands, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.review import actions
from napari_mespot.core.review.events import EventIndex
from napari_mespot.core.review.model import CORRECTED, ReviewError, ReviewModel
from napari_mespot.core.spotters.base import SpotResult


@pytest.fixture
def model() -> ReviewModel:
    m = ReviewModel(fps=30, n_frames=1000)
    m.add_track("a", [Interval(100, 110, "me", id="a1"), Interval(600, 700, "mae", id="a2")], run="r1")
    m.add_track("b", [Interval(300, 400, "mae", id="b1")], run="r2")
    return m


def step(model: ReviewModel, frame: int, direction: int) -> Interval:
    """Step to the next/previous event as ``N``/``Shift+N`` do; the copy it selected."""
    return actions.step_event(model, EventIndex(model), frame, direction).representative()[1]


def test_stepping_visits_the_nearest_candidate_of_any_run_and_selects_it(model):
    assert step(model, 0, 1).id == "a1"
    assert step(model, 150, 1).id == "b1" and model.selection == ("b", "b1")
    assert step(model, 650, -1).id == "a2"  # starts before 650
    with pytest.raises(ReviewError, match="no unreviewed candidate after frame 900"):
        step(model, 900, 1)


def test_a_decided_candidate_is_seen_as_its_corrected_copy(model):
    step(model, 0, 1)
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
    step(model, 0, 1)
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
    step(model, 0, 1)
    with pytest.raises(ReviewError, match=f"cannot set the {field}: frame 1000 is outside this video"):
        actions.set_at_frame(model, field, 1000)
    assert not model.log
    actions.set_at_frame(model, "offset", 999)  # the last frame itself is in the clip
    assert actions.selected(model).current.offset == 999


def test_delete_undo_and_redo(model):
    step(model, 0, 1)
    with pytest.raises(ReviewError, match="no decision"):
        actions.delete(model)
    actions.accept(model)
    assert actions.undo(model) == "undo accept"
    assert actions.redo(model) == "redo accept"
    with pytest.raises(ReviewError, match="nothing to redo"):
        actions.redo(model)


# -- events: one expression found by several runs ----------------------------------------------


@pytest.fixture
def copies() -> ReviewModel:
    """Two runs that each found the expressions at 100 and 300 (IoU 9/11 and 1.0 between the
    copies), run a also a lone one at 500, and run b one starting on the same frame as a's
    copy at 300 but five times longer (IoU 11/51 with it: another event)."""
    m = ReviewModel(fps=30, n_frames=1000)
    m.add_track(
        "a",
        [
            Interval(100, 110, "me", id="a1"),
            Interval(300, 310, "me", id="a2"),
            Interval(500, 510, "me", id="a3"),
        ],
        run="a",
    )
    m.add_track(
        "b",
        [
            Interval(101, 110, "me", id="b1"),
            Interval(300, 310, "me", id="b2"),
            Interval(300, 350, "mae", id="b3"),
        ],
        run="b",
    )
    return m


def test_n_visits_each_expression_once_and_no_event_that_shares_an_onset_is_skipped(copies):
    index, frame, visited = EventIndex(copies), 0, []
    while True:
        try:
            event = actions.step_event(copies, index, frame, 1)
        except ReviewError as exc:
            assert "no unreviewed candidate after frame 500" in str(exc)
            break
        visited.append(sorted(event.keys))
        assert copies.selection in event.keys
        frame = event.onset
    assert visited == [
        [("a", "a1"), ("b", "b1")],
        [("a", "a2"), ("b", "b2")],
        [("b", "b3")],
        [("a", "a3")],
    ]
    copies.select("b", "b3")  # standing on b3's event at 300, back is the other event at 300
    back = actions.step_event(copies, index, 300, -1)
    assert sorted(back.keys) == [("a", "a2"), ("b", "b2")] and copies.selection in back.keys


def test_accept_rejects_the_other_copies_and_one_undo_takes_it_back(copies):
    index = EventIndex(copies)
    actions.step_event(copies, index, 0, 1)
    track, interval_id, _ = actions.selected(copies)
    actions.accept(copies, index)
    other = ("b", "b1") if track == "a" else ("a", "a1")
    assert copies.decision_for(track, interval_id).status == "accepted"
    assert copies.decision_for(*other).status == "rejected"
    assert copies.decision_for(*other).get_extra("duplicate_of") == f"{track}/{interval_id}"
    assert actions.step_event(copies, index, 100, 1).onset == 300  # the event is settled
    assert actions.undo(copies) == "undo accept"
    assert copies.decision_for(track, interval_id) is None and copies.decision_for(*other) is None


def test_accepting_a_corrected_copy_settles_its_event_too(copies):
    index = EventIndex(copies)
    copies.select("a", "a2")
    actions.set_at_frame(copies, "onset", 302)  # an edited copy: the event counts as settled
    edited = copies.decision_for("a", "a2")
    copies.select(CORRECTED, edited.id)
    assert sorted(actions.selected_event(copies, index).keys) == [("a", "a2"), ("b", "b2")]
    actions.accept(copies, index)
    assert copies.decision_for("b", "b2").status == "rejected"
    assert copies.find(CORRECTED, edited.id).status == "accepted"


# -- snapping to the run's curve ---------------------------------------------------------------

#: A curve flat at 0 but for one movement over frames 200–229 (rising to its peak at 212); each
#: frame above the flat floor is "departed", so by construction the movement is 200–229.
MOVEMENT = (200, 212, 229)


def snapping_result(model: ReviewModel) -> SpotResult:
    curve = np.zeros(model.n_frames, np.float32)
    onset, apex, offset = MOVEMENT
    curve[onset : apex + 1] = np.linspace(0.1, 2.0, apex - onset + 1)
    curve[apex + 1 : offset + 1] = np.linspace(1.9, 0.1, offset - apex)
    intervals = tuple(model.tracks["a"].sorted())
    return SpotResult(
        "v", "prototype", model.fps, model.n_frames, intervals, ("AU12",), curve[None], np.array([2.0])
    )


def test_snapping_moves_the_boundaries_to_the_movement_and_the_apex_to_its_peak():
    model = ReviewModel(fps=30, n_frames=1000)
    model.add_track("a", [Interval(195, 225, "mae", id="a1")], run="a")
    results = {"a": snapping_result(model)}
    model.select("a", "a1")
    assert actions.snap(model, "onset", 205, results) == MOVEMENT[0]
    assert actions.snap(model, "offset", 205, results) == MOVEMENT[2]
    assert actions.snap(model, "apex", 0, results) == MOVEMENT[1]
    snapped = actions.selected(model).current
    assert (snapped.onset, snapped.apex, snapped.offset, snapped.status) == (*MOVEMENT, "edited")
    assert [e.action for e in model.log] == ["edit"] * 3 and actions.undo(model) == "undo edit"
    assert model.find("a", "a1").onset == 195  # the run's candidate is untouched


def test_snapping_says_why_it_cannot():
    model = ReviewModel(fps=30, n_frames=1000)
    model.add_track("a", [Interval(195, 225, "mae", id="a1"), Interval(700, 710, "me", id="a2")], run="a")
    results = {"a": snapping_result(model)}
    model.select("a", "a2")
    with pytest.raises(ReviewError, match="curve shows no movement near frame 705"):
        actions.snap(model, "onset", 705, results)
    with pytest.raises(ReviewError, match=r"^no curve to snap to: run 'a' kept no curves"):
        actions.snap(model, "onset", 705, {})
    with pytest.raises(ReviewError, match=r"^no curve to snap to: the file is gone$"):
        actions.snap(model, "onset", 705, {}, {"a": "the file is gone"})
    actions.new_interval(model, 300)
    with pytest.raises(ReviewError, match="this interval was added by hand"):
        actions.snap(model, "onset", 305, results)
    assert [e.action for e in model.log] == ["add"]
