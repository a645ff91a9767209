"""Regenerate the review screenshots: docs/review_docks.png (the whole window) and one image per
dock (review_timeline.png, review_table.png, review_keys.png, review_export.png).

Run under a display (``xvfb-run -a .venv/bin/python docs/review_screenshot.py``). The scene is the
shipped synthetic sample with its ground truth and a *scripted* candidate track ("candidates
(scripted)": the ground truth moved by a few frames, one missed, plus two false alarms), reviewed
through the same actions the keys run: accepted, rejected, a dragged-style onset edit, an added
interval. The session goes to a temporary folder, never to the user's data folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACK = "candidates (scripted)"


def scripted_candidates(truth) -> list:
    from napari_mespot.core.intervals import Interval

    shifts = (2, -3, 4, -2, 1)
    moved = [
        iv.evolve(
            onset=iv.onset + s,
            offset=iv.offset + s,
            apex=iv.apex + s,
            source="scripted",
            id=f"s{k}",
            score=0.55 + 0.08 * k,
            status="candidate",
        )
        for k, (iv, s) in enumerate(zip(truth[:5], shifts, strict=True))
    ]
    false_alarms = [
        Interval(20, 29, "me", apex=24, aus=(4,), score=0.31, source="scripted", id="f1"),
        Interval(530, 545, "me", apex=536, aus=(12,), score=0.42, source="scripted", id="f2"),
    ]
    return moved + false_alarms


def main(out: Path = ROOT / "docs") -> None:
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mespot-shot-")
    import napari
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QApplication

    from napari_mespot._widgets.export_panel import ExportWidget
    from napari_mespot._widgets.interval_table import IntervalTableWidget
    from napari_mespot._widgets.review_keys import ReviewKeysWidget, actions_for
    from napari_mespot._widgets.timeline import TimelineWidget
    from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1600, 1000)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    review = review_for(layer)
    model = review.model
    model.add_track(TRACK, scripted_candidates(model.tracks[GROUND_TRUTH].sorted()), run=TRACK)

    timeline, table, keys, export = (
        TimelineWidget(viewer),
        IntervalTableWidget(viewer),
        ReviewKeysWidget(viewer),
        ExportWidget(viewer),
    )
    viewer.window.add_dock_widget(timeline, area="bottom", name="Review timeline")
    keys_dock = viewer.window.add_dock_widget(keys, area="right", name="Review keys and help")
    table_dock = viewer.window.add_dock_widget(table, area="right", name="Review interval table")
    viewer.window.add_dock_widget(export, area="left", name="Export corrected intervals")
    viewer.window._qt_window.resizeDocks([keys_dock, table_dock], [330, 470], Qt.Orientation.Vertical)
    viewer.window._qt_window.resizeDocks([table_dock], [760], Qt.Orientation.Horizontal)

    actions = actions_for(viewer)
    viewer.dims.set_current_step(0, 0)
    actions.step_candidate(1)  # f1, a false alarm
    actions.reject()
    actions.step_candidate(1)  # s0
    actions.accept()
    actions.step_candidate(1)  # s1: its onset is 3 frames early
    viewer.dims.set_current_step(0, 100)
    actions.set_at_frame("onset")
    actions.step_candidate(1)  # s2
    actions.accept()
    actions.set_aus("1+2+L12")
    viewer.dims.set_current_step(0, 612)
    actions.new_interval()
    viewer.dims.set_current_step(0, 380)
    actions.step_candidate(1)  # s3, left for later; the playhead is on its onset
    timeline.view.show_frames(0, 719)
    table.track_filter.setCurrentText("all")
    app = QApplication.instance()
    for _ in range(20):
        app.processEvents()
    model.select(*model.selection)  # scroll the table to it, now that the docks have their sizes
    app.processEvents()

    viewer.screenshot(str(out / "review_docks.png"), canvas_only=False)
    for widget, name in ((timeline, "timeline"), (table, "table"), (keys, "keys"), (export, "export")):
        widget.grab().save(str(out / f"review_{name}.png"))
        print(out / f"review_{name}.png")
    viewer.close()
    print(out / "review_docks.png")


if __name__ == "__main__":
    sys.exit(main())
