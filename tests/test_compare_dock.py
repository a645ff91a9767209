"""The Compare dock in a real viewer: MEGC table, outcomes for the timeline, paired curves."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot._widgets.compare_dock import CompareDock
from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for
from napari_mespot.core.intervals import Interval
from napari_mespot.core.spotters.base import SpotResult

pytestmark = pytest.mark.gui


def fake_run(n_frames: int, intervals: list[Interval]) -> SpotResult:
    curves = np.zeros((1, n_frames), np.float32)
    return SpotResult(
        "synthetic_face", "fake", 30.0, n_frames, tuple(intervals), ("AU1",), curves, np.ones(1)
    )


def test_compare_scores_outcomes_and_curves(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    review = review_for(layer)
    truth = review.model.tracks[GROUND_TRUTH].sorted()
    hit = truth[0]
    review.add_result(
        "fake 1",
        fake_run(
            len(layer.data),
            [
                Interval(hit.onset, hit.offset, hit.type, source="fake", id="hit"),
                Interval(700, 710, "me", source="fake", id="miss"),
            ],
        ),
    )
    dock = CompareDock(viewer)
    dock.reference_combo.value = GROUND_TRUTH
    dock.runs.value = ["fake 1"]
    dock.run()

    overall = dock.comparisons[0].evaluation.overall
    assert (overall.tp, overall.fp, overall.fn) == (1, 1, len(truth) - 1)
    assert dock.overall_f1["fake 1"] == pytest.approx(2 / (2 + len(truth)))
    assert dock.table.rowCount() == 3 and dock.table.item(2, 1).text() == "overall"
    assert dock.table.item(2, 7).text() == f"{2 / (2 + len(truth)):.4f}"
    assert review.outcomes["fake 1"] == {"hit": "tp", "miss": "fp"}
    assert review.outcomes[GROUND_TRUTH][hit.id] == "tp"
    assert sum(o == "fn" for o in review.outcomes[GROUND_TRUTH].values()) == len(truth) - 1

    assert len(dock.figure.axes) == 1 and len(dock.playheads) == 1
    viewer.dims.set_current_step(0, 321)
    assert dock.playheads[0].get_xdata()[0] == 321


def test_a_new_run_appears_in_the_choices(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    dock = CompareDock(viewer)
    assert list(dock.runs.choices) == []
    review_for(layer).add_result("fake 1", fake_run(len(layer.data), []))
    assert list(dock.runs.choices) == ["fake 1"]
    assert set(dock.reference_combo.choices) == {GROUND_TRUTH, "corrected"}


def test_the_timeline_marks_the_outcomes(make_napari_viewer_proxy, qtbot):
    from napari_mespot._widgets.timeline import TimelineWidget
    from napari_mespot._widgets.timeline_marks import OUTCOME_COLOURS, OUTCOME_H

    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    review = review_for(layer)
    hit = review.model.tracks[GROUND_TRUTH].sorted()[0]
    review.add_result(
        "fake 1", fake_run(len(layer.data), [Interval(hit.onset, hit.offset, hit.type, id="hit")])
    )
    timeline = TimelineWidget(viewer)
    viewer.window.add_dock_widget(timeline, area="bottom")
    dock = CompareDock(viewer)
    dock.reference_combo.value = GROUND_TRUTH
    dock.runs.value = ["fake 1"]
    dock.run()
    assert timeline.view.outcomes["fake 1"] == {"hit": "tp"}

    view = timeline.view
    view.resize(1200, view.sizeHint().height())
    view.show_frames(hit.onset - 5, hit.offset + 5)
    image = view.grab().toImage()
    row = next(r for r, lane in enumerate(view.lanes) if lane.name == "fake 1")
    rect = view.lane_rect(row)
    x = round(view.x_of((hit.onset + hit.offset + 1) / 2))
    y = round(rect.bottom() - 3 - OUTCOME_H / 2)
    got, want = image.pixelColor(x, y), OUTCOME_COLOURS["tp"]
    # The strip's colour, give or take the pixel format's rounding (a miss is red or orange).
    assert (
        max(abs(got.red() - want.red()), abs(got.green() - want.green()), abs(got.blue() - want.blue())) <= 8
    )


def test_ground_truth_is_loaded_from_a_label_file(make_napari_viewer_proxy, fixtures_dir, tmp_path):
    from napari_mespot.core.labels.native import write_native_csv

    viewer = make_napari_viewer_proxy()
    layer = viewer.open(str(fixtures_dir / "video" / "single_face.mp4"), plugin="napari-mespot")[0]
    truth = tmp_path / "truth.csv"
    write_native_csv(truth, {"single_face": [Interval(3, 9, "me"), Interval(20, 60, "mae")], "other": []})
    dock = CompareDock(viewer)
    dock.gt_file.value = truth
    dock.load_ground_truth()
    track = review_for(layer).model.tracks[GROUND_TRUTH]
    assert track.read_only and [(iv.onset, iv.offset) for iv in track] == [(3, 9), (20, 60)]
    assert dock.reference_combo.value == GROUND_TRUTH

    wrong = tmp_path / "wrong.csv"
    write_native_csv(wrong, {"a": [Interval(1, 2)], "b": [Interval(1, 2)]})
    dock.gt_file.value = wrong
    dock.load_ground_truth()  # reported, not raised; the loaded truth stays
    assert len(review_for(layer).model.tracks[GROUND_TRUTH]) == 2
