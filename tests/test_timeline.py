"""The timeline dock driven like a user: playhead sync both ways, seek, pan, zoom, drag a handle."""

from __future__ import annotations

import pytest
from qtpy.QtCore import QPoint, QPointF, Qt
from qtpy.QtGui import QWheelEvent
from qtpy.QtWidgets import QApplication

from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import CORRECTED
from napari_mespot.core.review.timeline import LANE_H, RULER_H

pytestmark = pytest.mark.gui

MACHINE = "prototype 1"


@pytest.fixture
def timeline(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    model = review_for(layer).model
    model.add_track(
        MACHINE,
        [
            Interval(45, 56, "me", apex=49, aus=(1,), score=0.8, source="prototype", id="c1"),
            Interval(120, 180, "mae", apex=140, aus=(2,), score=0.6, source="prototype", id="c2"),
            Interval(300, 310, "me", source="prototype", id="c3"),
        ],
        run=MACHINE,
    )
    widget = TimelineWidget(viewer)
    viewer.window.add_dock_widget(widget, area="bottom", name="timeline")
    widget.view.resize(1000, widget.view.height())
    qtbot.waitUntil(lambda: widget.view.isVisible())
    widget.view.resize(1000, widget.view.height())
    QApplication.processEvents()
    return viewer, model, widget


def lane_y(view, name: str) -> float:
    row = [lane.name for lane in view.lanes].index(name)
    return RULER_H + row * LANE_H + LANE_H / 2


def point(view, frame: float, name: str) -> QPoint:
    return QPoint(round(view.x_of(frame)), round(lane_y(view, name)))


def drag(qtbot, view, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 6):
        qtbot.mouseMove(view, start + (end - start) * k / 5)
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=end)


def test_one_lane_per_track_and_decisions_recolour(timeline):
    _, model, widget = timeline
    view = widget.view
    assert [lane.name for lane in view.lanes] == [GROUND_TRUTH, MACHINE, CORRECTED]
    before = view.lanes[1].style.tolist()
    model.accept(MACHINE, "c1")
    assert view.lanes[1].style.tolist() != before
    assert len(view.lanes[2]) == 1
    assert view.lanes[1].visible(40, 44).tolist() == []
    assert view.lanes[1].visible(0, 46).tolist() == [0]
    assert view.lanes[1].visible(150, 305).tolist() == [1, 2]


def test_slider_moves_the_playhead_and_the_view_follows(timeline):
    viewer, _, widget = timeline
    view = widget.view
    viewer.dims.set_current_step(0, 333)
    assert view.playhead == 333
    view.zoom(8)
    viewer.dims.set_current_step(0, 700)
    assert view.start <= 700 < view.start + view.visible_frames
    assert widget.scrollbar.value() == round(view.start)


def test_click_on_the_timeline_moves_the_slider_and_selects(timeline, qtbot):
    viewer, model, widget = timeline
    view = widget.view
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point(view, 400.5, MACHINE))
    assert viewer.dims.current_step[0] == 400
    assert model.selection is None
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=point(view, 150.5, MACHINE))
    assert viewer.dims.current_step[0] == 150
    assert model.selection == (MACHINE, "c2")
    qtbot.mouseClick(view, Qt.MouseButton.LeftButton, pos=QPoint(round(view.x_of(600.5)), RULER_H // 2))
    assert viewer.dims.current_step[0] == 600


def test_dragging_a_candidate_handle_edits_the_corrected_copy(timeline, qtbot):
    viewer, model, widget = timeline
    view = widget.view
    view.show_frames(100, 200)
    drag(qtbot, view, point(view, 120, MACHINE), point(view, 110, MACHINE))
    assert model.find(MACHINE, "c2").onset == 120  # the machine track is never changed
    decided = model.decision_for(MACHINE, "c2")
    assert (decided.onset, decided.offset, decided.status) == (110, 180, "edited")
    assert viewer.dims.current_step[0] == 110  # the frame under the handle was shown while dragging
    corrected = next(lane for lane in view.lanes if lane.name == CORRECTED)
    assert corrected.onset.tolist() == [110]
    drag(qtbot, view, point(view, 181, MACHINE), point(view, 191, MACHINE))
    assert model.decision_for(MACHINE, "c2").offset == 190
    drag(qtbot, view, point(view, 140.5, MACHINE), point(view, 150.5, MACHINE))
    assert model.decision_for(MACHINE, "c2").apex == 150
    assert model.undo() and model.decision_for(MACHINE, "c2").apex == 140


def test_dragging_a_corrected_handle_and_a_refused_drag(timeline, qtbot):
    _, model, widget = timeline
    view = widget.view
    added = model.add(300, 320)
    view.show_frames(280, 340)
    drag(qtbot, view, point(view, 321, CORRECTED), point(view, 331, CORRECTED))
    assert model.find(CORRECTED, added.id).offset == 330
    model.edit(CORRECTED, added.id, apex=305)
    drag(qtbot, view, point(view, 305.5, CORRECTED), point(view, 335.5, CORRECTED))
    assert model.find(CORRECTED, added.id).apex == 305  # apex after the offset: refused
    assert "apex" in widget.status.text()


def test_the_ground_truth_cannot_be_dragged_and_empty_space_pans(timeline, qtbot):
    viewer, model, widget = timeline
    view = widget.view
    view.show_frames(90, 200)
    start, frame = view.start, viewer.dims.current_step[0]
    drag(qtbot, view, point(view, 100, GROUND_TRUTH), point(view, 140, GROUND_TRUTH))
    assert len(model.corrected) == 0
    assert view.start < start  # dragging right shows earlier frames
    assert viewer.dims.current_step[0] == frame


def test_wheel_zooms_around_the_cursor_and_scrollbar_pans(timeline):
    _, _, widget = timeline
    view = widget.view
    x = view.x_of(360)
    event = QWheelEvent(
        QPointF(x, 30),
        QPointF(view.mapToGlobal(QPoint(round(x), 30))),
        QPoint(),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    scale = view.scale
    QApplication.sendEvent(view, event)
    assert view.scale == pytest.approx(scale * 1.25**2)
    assert view.frame_at(x) == pytest.approx(360, abs=0.5)
    widget.scrollbar.setValue(widget.scrollbar.maximum())
    assert view.start + view.visible_frames == pytest.approx(view.n_frames, abs=1)
    view.fit()
    assert view.start == 0 and view.visible_frames == pytest.approx(720)


def test_hover_tip_tells_aus_and_score(timeline):
    _, model, widget = timeline
    view = widget.view
    tip = view.tooltip_at(QPointF(point(view, 50.5, MACHINE)))
    assert "AUs 1" in tip and "score 0.8" in tip and "ME 45–56" in tip
    model.reject(MACHINE, "c1")
    assert "decision" in view.tooltip_at(QPointF(point(view, 50.5, MACHINE)))
    assert view.tooltip_at(QPointF(point(view, 500.5, MACHINE))) == ""


def test_the_review_docks_open_from_the_plugin_menu_and_share_one_state(make_napari_viewer_proxy):
    from napari_mespot._widgets.review_keys import actions_for

    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    names = ("Review timeline", "Review interval table", "Review keys and help", "Export corrected intervals")
    widgets = [viewer.window.add_plugin_dock_widget("napari-mespot", name)[1] for name in names]
    assert {id(w.actions) for w in widgets} == {id(actions_for(viewer))}
    assert actions_for(viewer).review is review_for(layer)
    timeline = widgets[0]
    assert [lane.name for lane in timeline.view.lanes] == [GROUND_TRUTH, CORRECTED]
    viewer.dims.set_current_step(0, 45)
    assert timeline.view.playhead == 45


def test_the_docks_follow_the_active_video_layer(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    synthetic = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    widget = TimelineWidget(viewer)
    real = viewer.open_sample("napari-mespot", "single_face")[0]
    assert widget.view.model is review_for(real).model
    assert [lane.name for lane in widget.view.lanes] == [CORRECTED]
    viewer.layers.selection.active = synthetic
    assert widget.view.model is review_for(synthetic).model
    viewer.layers.remove(synthetic)
    assert widget.view.model is review_for(real).model
    viewer.layers.remove(real)
    assert widget.view.model is None and "no video" in widget.title.text()


def test_a_damaged_session_is_reported_and_nothing_is_edited(make_napari_viewer_proxy):
    from napari_mespot._sample_data import SYNTHETIC_VIDEO, sample_path
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.review.session import session_path_for

    with open_video(sample_path(SYNTHETIC_VIDEO)) as video:
        sidecar = session_path_for(video, beside_video=False)
    sidecar.parent.mkdir(parents=True, exist_ok=True)
    sidecar.write_text('{"format": "napari-mespot session", "version": 1, "tracks": [')
    viewer = make_napari_viewer_proxy()
    widget = TimelineWidget(viewer)
    viewer.open_sample("napari-mespot", "synthetic_face")
    assert widget.view.model is None
    assert "damaged" in widget.status.text() and "damaged" in viewer.status
    assert sidecar.read_text().endswith('"tracks": [')


def test_overlapping_intervals_the_selected_one_is_hit_first(timeline):
    _, model, widget = timeline
    view = widget.view
    long, short = model.add(400, 500), model.add(440, 460)
    view.show_frames(380, 520)
    where = QPointF(point(view, 450.5, CORRECTED))
    model.select(CORRECTED, short.id)
    assert view.hit_at(where).interval_id == short.id
    model.select(CORRECTED, long.id)
    assert view.hit_at(where).interval_id == long.id
    edge = QPointF(point(view, 440, CORRECTED))
    assert (view.hit_at(edge).interval_id, view.hit_at(edge).part) == (short.id, "onset")  # handles first


def test_the_latest_runs_skipped_and_unreliable_frames_are_hatched(timeline):
    """A run's frames without a face and its unreliable spans (nothing spotted there) are
    hatched across the lanes; a later run's spans replace them."""
    import numpy as np

    from napari_mespot.core.spotters.base import SkippedSpan, SpotResult

    viewer, model, widget = timeline
    review = review_for(viewer.layers[0])

    def result(skipped, unreliable):
        n = model.n_frames
        return SpotResult(
            "synthetic_face",
            "prototype",
            model.fps,
            n,
            (),
            ("AU1",),
            np.zeros((1, n), np.float32),
            np.ones(1),
            skipped=skipped,
            unreliable=unreliable,
        )

    review.add_result(
        "run a", result((SkippedSpan(0, 9, "no face found"),), (SkippedSpan(200, 260, "occluded"),))
    )
    assert widget.view.untrusted == [(0, 9), (200, 260)]
    before = widget.view.grab().toImage()
    review.add_result("run b", result((), ()))
    assert widget.view.untrusted == []
    assert widget.view.grab().toImage() != before  # the hatching was drawn, and is gone
