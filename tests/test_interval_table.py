"""The interval table dock: filter, sort, double-click jump, in-place edits shared with the timeline."""

from __future__ import annotations

import pytest
from qtpy.QtCore import QPoint, Qt

from napari_mespot._widgets.interval_table import COLUMNS, IntervalTableWidget
from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import CORRECTED

pytestmark = pytest.mark.gui

MACHINE = "prototype 1"


@pytest.fixture
def docks(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    model = review_for(layer).model
    model.add_track(
        MACHINE,
        [
            Interval(300, 310, "me", aus=(12,), score=0.3, source="prototype", id="c1"),
            Interval(120, 180, "mae", apex=140, aus=(1, 2), score=0.9, source="prototype", id="c2"),
            Interval(600, 604, "me", aus=(4,), score=0.5, source="prototype", id="c3"),
        ],
        run=MACHINE,
    )
    table = IntervalTableWidget(viewer)
    timeline = TimelineWidget(viewer)
    viewer.window.add_dock_widget(table, area="right", name="intervals")
    viewer.window.add_dock_widget(timeline, area="bottom", name="timeline")
    qtbot.waitUntil(table.view.isVisible)
    return viewer, model, table, timeline


def column(table, name: str) -> list[str]:
    col = COLUMNS.index(name)
    return [table.proxy.index(r, col).data() for r in range(table.proxy.rowCount())]


def cell_center(table, row: int, name: str):
    return table.view.visualRect(table.proxy.index(row, COLUMNS.index(name))).center()


def test_rows_of_every_track_with_decisions_as_status(docks):
    _, model, table, _ = docks
    assert table.proxy.rowCount() == 6 + 3  # ground truth of the sample + the machine track
    model.accept(MACHINE, "c2")
    table.track_filter.setCurrentText(MACHINE)
    assert dict(zip(column(table, "id"), column(table, "status"), strict=True)) == {
        "c2": "accepted",
        "c1": "candidate",
        "c3": "candidate",
    }
    assert CORRECTED in [table.track_filter.itemText(i) for i in range(table.track_filter.count())]
    assert table.count.text() == "3 of 10 intervals"


def test_filters_by_track_type_status_and_au(docks):
    _, model, table, _ = docks
    table.track_filter.setCurrentText(MACHINE)
    assert column(table, "id") == ["c2", "c1", "c3"]  # sorted by onset
    table.type_filter.setCurrentText("me")
    assert column(table, "id") == ["c1", "c3"]
    table.type_filter.setCurrentText("all")
    table.au_filter.setText("1+2")
    assert column(table, "id") == ["c2"]
    table.au_filter.setText("")
    model.reject(MACHINE, "c3")
    table.status_filter.setCurrentText("rejected")
    assert column(table, "id") == ["c3"]
    table.track_filter.setCurrentText(GROUND_TRUTH)
    table.status_filter.setCurrentText("truth")
    assert len(column(table, "id")) == 6


def test_sorting_is_numeric(docks, qtbot):
    _, _, table, _ = docks
    table.track_filter.setCurrentText(MACHINE)
    table.view.sortByColumn(COLUMNS.index("score"), Qt.SortOrder.DescendingOrder)
    assert column(table, "id") == ["c2", "c3", "c1"]
    table.view.sortByColumn(COLUMNS.index("frames"), Qt.SortOrder.AscendingOrder)
    assert column(table, "frames") == ["5", "11", "61"]  # not "11" < "5" < "61"
    header = table.view.horizontalHeader()
    index = COLUMNS.index("onset")
    left = header.sectionViewportPosition(index)
    centre = QPoint(left + header.sectionSize(index) // 2, header.height() // 2)
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=centre)  # a click on the header
    assert header.sortIndicatorSection() == index
    assert column(table, "onset") in (["120", "300", "600"], ["600", "300", "120"])


def test_double_click_jumps_to_the_interval_and_timeline_follows(docks, qtbot):
    viewer, model, table, timeline = docks
    table.track_filter.setCurrentText(MACHINE)
    timeline.view.show_frames(0, 50)
    row = column(table, "id").index("c3")
    where = cell_center(table, row, "track")
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=where)  # a real double click
    qtbot.mouseDClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=where)  # starts with a click
    assert viewer.dims.current_step[0] == 600
    assert model.selection == (MACHINE, "c3")
    view = timeline.view
    assert view.start <= 600 <= view.start + view.visible_frames


def test_cell_edit_is_the_same_model_edit_as_the_timeline(docks, qtbot):
    _, model, table, timeline = docks
    table.track_filter.setCurrentText(MACHINE)
    row = column(table, "id").index("c2")
    assert table.proxy.setData(table.proxy.index(row, COLUMNS.index("onset")), "125")
    decided = model.decision_for(MACHINE, "c2")
    assert (decided.onset, decided.status) == (125, "edited")
    assert model.find(MACHINE, "c2").onset == 120
    corrected = next(lane for lane in timeline.view.lanes if lane.name == CORRECTED)
    assert corrected.onset.tolist() == [125]  # the timeline redrew from the same edit
    table.track_filter.setCurrentText(CORRECTED)
    assert table.proxy.setData(table.proxy.index(0, COLUMNS.index("aus")), "L12+4")
    assert model.decision_for(MACHINE, "c2").aus == (4, 12)
    assert not table.proxy.setData(table.proxy.index(0, COLUMNS.index("offset")), "100")
    assert "offset" in table.actions.viewer.status
    assert model.undo() and model.decision_for(MACHINE, "c2").aus == (1, 2)


def test_ground_truth_rows_are_read_only_and_keys_work_in_the_table(docks, qtbot):
    _, model, table, _ = docks
    table.track_filter.setCurrentText(GROUND_TRUTH)
    assert not table.proxy.flags(table.proxy.index(0, COLUMNS.index("onset"))) & Qt.ItemFlag.ItemIsEditable
    table.track_filter.setCurrentText(MACHINE)
    qtbot.mouseClick(table.view.viewport(), Qt.MouseButton.LeftButton, pos=cell_center(table, 0, "track"))
    assert model.selection == (MACHINE, "c2")
    qtbot.keyClick(table.view, Qt.Key.Key_R)
    assert model.decision_for(MACHINE, "c2").status == "rejected"
    assert column(table, "status")[0] == "rejected"
    model.select(MACHINE, "c3")
    assert table.view.selectionModel().selectedRows()[0].row() == column(table, "id").index("c3")
