"""Events in the review docks: N visits an expression found by two runs once, A settles its other
copy in one undoable edit, the timeline outlines the copies, and the event IoU is a setting."""

from __future__ import annotations

import pytest
from qtpy.QtCore import Qt

from napari_mespot._widgets.review_keys import ReviewKeysWidget
from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.video_review import review_for
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import DUPLICATE_OF

pytestmark = pytest.mark.gui

CTRL = Qt.KeyboardModifier.ControlModifier
# Both runs found the ME at 60: 60–70 and 61–70 share 10 of 11 frames (IoU 0.91), one event.
# Each found one expression the other did not.
RUN_A = [Interval(60, 70, "me", id="a1"), Interval(200, 240, "mae", id="a2")]
RUN_B = [Interval(61, 70, "me", id="b1"), Interval(400, 410, "me", id="b2")]
COPIES = {("run a", "a1"), ("run b", "b1")}


@pytest.fixture
def docks(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    model = review_for(layer).model
    model.add_track("run a", RUN_A, run="run a")
    model.add_track("run b", RUN_B, run="run b")
    timeline, panel = TimelineWidget(viewer), ReviewKeysWidget(viewer)
    viewer.window.add_dock_widget(timeline, area="bottom")
    viewer.window.add_dock_widget(panel, area="right")
    qtbot.waitUntil(timeline.view.isVisible)
    viewer.dims.set_current_step(0, 0)
    return viewer, model, timeline.view, panel


def near_white(colour) -> bool:
    return min(colour.red(), colour.green(), colour.blue()) >= 200


def outline_pixels(view, track: str, interval_id: str) -> int:
    """How many rows of ``track``'s lane have a near-white pixel just left of the interval's
    onset (the outline is drawn a pixel outside it; the candidate's own fill is translucent)."""
    row = next(r for r, lane in enumerate(view.lanes) if lane.name == track)
    lane = view.lanes[row]
    x = round(view.x_of(lane.onset[lane.ids.index(interval_id)]))
    rect = view.lane_rect(row)
    image = view.grab().toImage()
    rows = range(int(rect.top()) + 3, int(rect.bottom()) - 3)
    return sum(any(near_white(image.pixelColor(c, y)) for c in range(x - 3, x)) for y in rows)


def test_n_visits_the_expression_once_and_a_settles_the_other_copy(docks, qtbot):
    viewer, model, view, panel = docks
    view.resize(1200, view.height())
    view.show_frames(40, 90)
    qtbot.keyClick(view, Qt.Key.Key_N)
    assert model.selection in COPIES and viewer.dims.current_step[0] == 60
    other = next(iter(COPIES - {model.selection}))
    assert view.event_keys == COPIES and view.event_span == (60, 70)
    assert "one of 2 copies of this event" in panel.current.text()
    assert outline_pixels(view, *other) >= 3  # the other copy is outlined (dashed, so not every pixel)

    qtbot.keyClick(view, Qt.Key.Key_A)
    chosen = model.selection
    assert model.decision_for(*chosen).status == "accepted"
    settled = model.decision_for(*other)
    assert settled.status == "rejected" and settled.get_extra(DUPLICATE_OF) == "/".join(chosen)
    assert "1 other copy of this event rejected" in panel.status.text()
    assert len(model.log) == 1

    visited = []
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_N)
        visited.append(model.selection)
    assert visited == [("run a", "a2"), ("run b", "b2"), ("run b", "b2")]
    assert "no unreviewed candidate after frame 400" in viewer.status
    assert view.event_keys == {("run b", "b2")} and view.event_span == (400, 410)

    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)  # one undo takes the whole accept back
    assert model.decision_for(*chosen) is None and model.decision_for(*other) is None


def test_the_event_iou_is_a_setting_of_the_keys_panel(docks, qtbot):
    _, model, view, panel = docks
    assert panel.event_iou.value() == pytest.approx(0.5)
    panel.event_iou.setValue(0.95)  # above the copies' IoU of 10/11: two events now
    qtbot.keyClick(view, Qt.Key.Key_N)
    first = model.selection
    assert view.event_keys == {first} and "copies" not in panel.current.text()
    view.resize(1200, view.height())
    view.show_frames(40, 90)
    assert outline_pixels(view, *next(iter(COPIES - {first}))) == 0  # no longer outlined
    qtbot.keyClick(view, Qt.Key.Key_A)
    assert len(model.corrected) == 1  # nothing else settled
    qtbot.keyClick(view, Qt.Key.Key_N)
    assert model.selection == next(iter(COPIES - {first}))  # the other copy is reviewed on its own
    panel.event_iou.setValue(0.5)
    assert view.event_keys == COPIES  # the timeline follows the setting at once
