"""Regenerate docs/overlay_smile.png: the face overlay explaining a real smile.

Run under a display (``xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python
docs/overlay_screenshot.py``). The clip is ``WolfgangLanger_Pexels.mp4`` from the shared
fixtures beside the repository (docs/architecture.md §8); its hand-annotated smile
(tests/data/real/labels.csv, ``wl-smile-1``: onset 228, apex 256) is loaded as the ground truth
and selected, so the overlay measures the flow from the smile's onset to its apex with the head
motion removed (similarity: no spotter run made this interval). Sessions and landmark caches go
to temporary folders.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "fixtures" / "video" / "WolfgangLanger_Pexels.mp4"
LABELS = ROOT / "tests" / "data" / "real" / "labels.csv"
SMILE = "wl-smile-1"


def wait_for(condition, seconds: float = 300.0) -> None:
    from qtpy.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the overlay did not appear")
        QApplication.instance().processEvents()
        time.sleep(0.02)


def main(out: Path = ROOT / "docs" / "overlay_smile.png") -> Path:
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="mespot-shot-")
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="mespot-shot-")
    import napari

    from napari_mespot._widgets.face_overlay import FaceOverlayWidget
    from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1600, 1000)
    layer = viewer.open(str(CLIP), plugin="napari-mespot")[0]
    review = review_for(layer)
    review.load_ground_truth(LABELS)
    smile = review.model.find(GROUND_TRUTH, SMILE)
    overlay = FaceOverlayWidget(viewer)
    viewer.window.add_dock_widget(overlay, name="Face overlay", area="right")
    overlay.find_landmarks()
    wait_for(lambda: overlay.landmarks is not None)
    viewer.dims.set_current_step(0, smile.apex)
    review.model.select(GROUND_TRUTH, SMILE)
    wait_for(lambda: overlay.overlay is not None and overlay.overlay.frame == smile.apex)
    wait_for(lambda: overlay.overlay.reference == smile.onset)
    face = overlay.landmarks.at(smile.apex)  # (x, y) points: centre the camera on the face
    (x0, y0), (x1, y1) = face.min(axis=0), face.max(axis=0)
    viewer.camera.center = ((y0 + y1) / 2, (x0 + x1) / 2)
    viewer.camera.zoom = 0.7 * viewer.window._qt_viewer.canvas.native.height() / (y1 - y0)
    for _ in range(20):
        wait_for(lambda: True)
    viewer.screenshot(str(out), canvas_only=False, flash=False)
    print(overlay.status.text())
    viewer.close()
    return out


if __name__ == "__main__":
    sys.exit(print(main()))
