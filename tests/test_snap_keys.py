"""Snapping from the keys and the panel: Shift+Q/W/E move the selected candidate's onset, apex
and offset to its run's curve; an interval without a curve is one line in the panel."""

from __future__ import annotations

import json

import numpy as np
import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QPushButton

from napari_mespot._widgets.review_keys import ReviewKeysWidget
from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.video_review import review_for
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.snapping import snap_apex, snap_offset, snap_onset
from napari_mespot.core.spotters.base import SpotResult

pytestmark = pytest.mark.gui

SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier
RUN = "prototype 1"
#: The curve is flat at 0 but for one movement over frames 200–229, peaking at 212: every frame
#: above the flat floor has left the baseline, so by construction it starts at 200 and ends at 229.
ONSET, APEX, OFFSET = 200, 212, 229
CANDIDATE = Interval(195, 225, "mae", apex=220, source="prototype", id="c1")


def movement_curve(n_frames: int) -> np.ndarray:
    curve = np.zeros(n_frames, np.float32)
    curve[ONSET : APEX + 1] = np.linspace(0.1, 3.0, APEX - ONSET + 1)
    curve[APEX + 1 : OFFSET + 1] = np.linspace(2.8, 0.1, OFFSET - APEX)
    return curve


@pytest.fixture
def docks(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    review = review_for(layer)
    n = review.model.n_frames
    result = SpotResult.for_video(
        review.video,
        "prototype",
        [CANDIDATE],
        curve_labels=("AU12",),
        curves=movement_curve(n)[None],
        thresholds=np.ones(1),
        windows=((0, n - 1),),
    )
    review.add_result(RUN, result)
    timeline, panel = TimelineWidget(viewer), ReviewKeysWidget(viewer)
    viewer.window.add_dock_widget(timeline, area="bottom")
    viewer.window.add_dock_widget(panel, area="right")
    qtbot.waitUntil(timeline.view.isVisible)
    viewer.dims.set_current_step(0, 100)
    return viewer, review, timeline.view, panel


def test_snap_keys_move_the_boundaries_to_the_runs_curve(docks, qtbot):
    viewer, review, view, _ = docks
    model = review.model
    curve = movement_curve(model.n_frames)
    qtbot.keyClick(view, Qt.Key.Key_N)
    assert model.selection == (RUN, "c1")
    viewer.dims.set_current_step(0, 205)
    qtbot.keyClick(view, Qt.Key.Key_Q, SHIFT)
    snapped = model.decision_for(RUN, "c1")
    assert snapped.onset == ONSET == snap_onset(curve, 205, model.fps)
    assert snapped.status == "edited" and model.find(RUN, "c1") == CANDIDATE  # the run is untouched
    qtbot.keyClick(view, Qt.Key.Key_E, SHIFT)
    assert model.decision_for(RUN, "c1").offset == OFFSET == snap_offset(curve, 205, model.fps)
    qtbot.keyClick(view, Qt.Key.Key_W, SHIFT)
    assert model.decision_for(RUN, "c1").apex == APEX == snap_apex(curve, ONSET, OFFSET)

    saved = json.loads(review.session.path.read_text(encoding="utf-8"))  # autosaved, each edit
    assert [entry["action"] for entry in saved["log"]] == ["edit"] * 3
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert model.decision_for(RUN, "c1").apex == CANDIDATE.apex  # undone: the apex as it was


def test_the_snap_button_and_the_message_without_a_curve(docks, qtbot):
    viewer, review, view, panel = docks
    model = review.model
    model.add_track("hand run", [Interval(400, 420, "me", id="h1")], run="hand run")  # no curves
    qtbot.keyClick(view, Qt.Key.Key_N)
    viewer.dims.set_current_step(0, 205)
    button = next(b for b in panel.findChildren(QPushButton) if b.text() == "snap onset [Shift+Q]")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert model.decision_for(RUN, "c1").onset == ONSET
    assert panel.status.text() == f"onset snapped to frame {ONSET}"

    model.select("hand run", "h1")
    viewer.dims.set_current_step(0, 405)
    qtbot.keyClick(view, Qt.Key.Key_Q, SHIFT)
    assert panel.status.text().startswith("no curve to snap to: run 'hand run' kept no curves")
    assert "\n" not in panel.status.text() and model.decision_for("hand run", "h1") is None
