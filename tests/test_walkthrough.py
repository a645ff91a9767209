"""A whole annotator's session in a real napari window, as a user would do it.

spot → review 10 candidates with the keys → correct 3 → add 1 the spotter missed → export →
retrain the prototypes from the corrections → spot again → compare both runs with the ground
truth. The video is synthetic (seed 4242, used by no other test and not for the shipped
prototypes), so "the annotator's knowledge" is its ground truth. With MESPOT_SCREENSHOTS=DIR
set, screenshots of the docks are saved there (that is how docs/walkthrough_*.png are made).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from napari_mespot._widgets.compare_dock import CompareDock
from napari_mespot._widgets.curves_plot import CurvesPlot
from napari_mespot._widgets.export_panel import ExportWidget
from napari_mespot._widgets.interval_table import IntervalTableWidget
from napari_mespot._widgets.review_keys import actions_for
from napari_mespot._widgets.spot_dock import SpotWidget
from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.video_review import review_for
from napari_mespot.core.intervals import iou
from napari_mespot.core.labels import read_labels
from napari_mespot.core.labels.native import write_native_csv
from napari_mespot.core.metrics import evaluate
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import PrototypeSet, default_prototypes_path
from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET, PRESETS
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

pytestmark = [pytest.mark.gui, pytest.mark.slow]
SEED = 4242


def wait_for(qtbot, dock: SpotWidget, start) -> None:
    start()
    assert dock.worker is not None, dock.status.value
    # The dock drops its worker when the worker's finished signal reaches it; waiting on the
    # signal itself would miss one already emitted (a cancelled run can end at once).
    qtbot.waitUntil(lambda: dock.worker is None, timeout=900_000)


def screenshot(viewer, name: str) -> None:
    folder = os.environ.get("MESPOT_SCREENSHOTS")
    if folder:
        from skimage.io import imsave

        imsave(Path(folder) / f"walkthrough_{name}.png", viewer.screenshot(canvas_only=False, flash=False))


def best_truth(candidate, truth):
    return max(truth, key=lambda gt: iou(candidate, gt))


def test_spot_review_correct_add_export_retrain_respot_compare(
    make_napari_viewer_proxy, qtbot, tmp_path, monkeypatch
):
    settings = SynthSettings(duration_s=40.0, n_me=6, n_mae=6)
    synth = run_to_end(write_synthetic_video(tmp_path / "session.mp4", settings, SEED))
    truth = synth.intervals
    truth_file = tmp_path / "truth.csv"
    write_native_csv(truth_file, {"session": truth})

    viewer = make_napari_viewer_proxy()
    layer = viewer.open(str(synth.path), plugin="napari-mespot")[0]
    spot, curves, compare = SpotWidget(viewer), CurvesPlot(viewer), CompareDock(viewer)
    timeline = TimelineWidget(viewer)
    for dock, area in (
        (spot, "right"),
        (IntervalTableWidget(viewer), "right"),
        (ExportWidget(viewer), "left"),
    ):
        viewer.window.add_dock_widget(dock, area=area)
    viewer.window.add_dock_widget(timeline, area="bottom")
    viewer.window.add_dock_widget(curves, area="bottom")
    spot.video_combo.value = layer
    assert spot.prototypes.value == default_prototypes_path(PRESETS[DEFAULT_PRESET].shipped_prototypes)

    # 1. Spot with the shipped prototypes.
    wait_for(qtbot, spot, spot.run)
    review = review_for(layer)
    model = review.model
    candidates = model.tracks["prototype 1"]
    assert len(candidates) >= 10, spot.status.value
    screenshot(viewer, "spotted")

    # 2. Review 10 candidates with the keys' actions: accept what overlaps an expression.
    actions = actions_for(viewer)
    actions.seek(0)
    reviewed = {}
    for _ in range(10):
        actions.step_candidate(1)
        track, candidate_id, candidate = actions.selected()
        assert track == "prototype 1"
        if iou(candidate, best_truth(candidate, truth)) > 0:
            actions.accept()
        else:
            actions.reject()
        reviewed[candidate_id] = model.decision_for(track, candidate_id).status
    assert len(reviewed) == 10 and set(reviewed.values()) <= {"accepted", "rejected"}
    accepted = [i for i, status in reviewed.items() if status == "accepted"]
    assert len(accepted) >= 3

    # 3. Correct three accepted ones to the expression's true frames and AUs.
    corrected = []
    for candidate_id in accepted[:3]:
        model.select("prototype 1", candidate_id)
        gt = best_truth(candidates.intervals[candidate_id], truth)
        current = actions.selected()[2]
        order = ("onset", "offset") if gt.onset <= current.offset else ("offset", "onset")
        for field in (*order, "apex"):
            actions.seek(getattr(gt, field))
            actions.set_at_frame(field)
        actions.set_aus("+".join(map(str, gt.aus)))
        corrected.append((actions.selected()[2], gt))
    for interval, gt in corrected:
        assert (interval.onset, interval.apex, interval.offset, interval.aus) == (
            gt.onset,
            gt.apex,
            gt.offset,
            gt.aus,
        )
        assert interval.status == "edited"

    # 4. Add an expression the spotter missed (or the last one, if it missed none).
    found = {best_truth(c, truth).id for c in candidates if iou(c, best_truth(c, truth)) > 0}
    missed = next((gt for gt in truth if gt.id not in found), truth[-1])
    actions.seek(missed.onset)
    actions.new_interval()
    for field in ("offset", "apex"):
        actions.seek(getattr(missed, field))
        actions.set_at_frame(field)
    actions.set_aus("+".join(map(str, missed.aus)))
    added = actions.selected()[2]
    assert (added.onset, added.apex, added.offset, added.status) == (
        missed.onset,
        missed.apex,
        missed.offset,
        "added",
    )
    screenshot(viewer, "reviewed")

    # 5. Export the kept intervals and read them back.
    out = tmp_path / "corrected.csv"
    panel = next(w for w in viewer.window.dock_widgets.values() if isinstance(w, ExportWidget))
    panel.path.setText(str(out))
    panel.export()
    exported = read_labels(out).videos[panel.video_name.text()].intervals
    kept = model.kept()
    assert len(kept) == len(accepted) + 1
    assert sorted((iv.onset, iv.offset, iv.aus) for iv in exported) == sorted(
        (iv.onset, iv.offset, iv.aus) for iv in kept
    )

    # 6. Retrain from the corrections — the dock asks, with held-out numbers, and the annotator
    # says yes; 7. spot again with the new prototypes.
    from qtpy.QtWidgets import QMessageBox

    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a: asked.append(a[2]) or QMessageBox.StandardButton.Yes
    )
    spot.min_count.value = 1
    wait_for(qtbot, spot, spot.retrain)
    assert len(asked) == 1 and "did not train on" in asked[0], spot.status.value
    retrained = PrototypeSet.load(spot.prototypes.value)
    assert retrained.provenance["relearnt_aus"], spot.status.value
    assert retrained.calibration["videos"] == ["session"]
    wait_for(qtbot, spot, spot.run)
    assert "prototype 2" in review.results

    # 8. Load the ground truth and compare both runs with it.
    compare.gt_file.value = truth_file
    compare.load_ground_truth()
    assert compare.reference_combo.value == "ground truth"
    compare.runs.value = ["prototype 1", "prototype 2"]
    compare.run()
    assert compare.table.rowCount() == 6
    for comparison in compare.comparisons:
        run = model.tracks[comparison.method].sorted()
        expected = evaluate({"v": truth}, {"v": run}).overall
        assert comparison.evaluation.overall == expected
    assert timeline.view.outcomes.keys() >= {"prototype 1", "prototype 2"}
    viewer.window.add_dock_widget(compare, name="Compare runs", area="right")
    screenshot(viewer, "compared")
