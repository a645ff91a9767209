"""Regenerate docs/workspace_1920.png and docs/workspace_1366.png: the review workspace on a screen
of 1920×1080 and of 1366×768.

Run each size under a display of that size, e.g.::

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python docs/workspace_screenshot.py 1920 1080
    xvfb-run -a -s "-screen 0 1366x768x24" .venv/bin/python docs/workspace_screenshot.py 1366 768

The scene is the shipped synthetic sample with its ground truth and two AU-prototype runs (the
``fast`` and ``paper`` presets), opened with the one menu entry (Layers → Annotate → Review
workspace), a few candidates reviewed with the keys' actions. The session goes to a temporary
folder, never to the user's data folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("fast", "paper")


def spot_runs(video) -> dict:
    """The sample spotted with each of :data:`PRESETS`: {run name: SpotResult}."""
    from napari_mespot.core.progress import run_to_end
    from napari_mespot.core.registry import spotters

    prototype = spotters.get("prototype").load()
    return {
        f"prototype {preset}": run_to_end(prototype.run(video, None, prototype.presets[preset]))
        for preset in PRESETS
    }


def main(width: int, height: int, out: Path = ROOT / "docs") -> Path:
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mespot-shot-")
    import napari
    from qtpy.QtWidgets import QApplication

    from napari_mespot._widgets.review_keys import actions_for
    from napari_mespot._widgets.video_review import review_for
    from napari_mespot._widgets.workspace import open_review_workspace

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(width, height)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    review = review_for(layer)
    for run, result in spot_runs(review.video).items():
        review.add_result(run, result)
    open_review_workspace(viewer)
    actions = actions_for(viewer)
    actions.seek(0)
    for decide in (actions.accept, actions.reject, actions.accept):
        actions.step_candidate(1)
        decide()
    actions.step_candidate(1)
    app = QApplication.instance()
    for _ in range(30):
        app.processEvents()
    path = out / f"workspace_{width}.png"
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    viewer.close()
    return path


if __name__ == "__main__":
    print(main(int(sys.argv[1]), int(sys.argv[2])))
