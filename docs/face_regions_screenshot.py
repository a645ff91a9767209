"""Regenerate docs/face_regions.png: the face overlay dock on the WolfgangLanger fixture clip.

Run under a display (``xvfb-run -a .venv/bin/python docs/face_regions_screenshot.py``). The
video is copied to a temporary folder so the landmark cache is not written into the fixtures.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

from napari_mespot._reader import video_layer_data
from napari_mespot._widgets.face_overlay import FaceOverlayWidget
from napari_mespot.core.media.video import open_video

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "fixtures" / "video" / "WolfgangLanger_Pexels.mp4"
FRAME = 300  # breaking into a smile, eyes open
REFERENCE = 296  # a sixth of a second earlier: the arrows show the smile's onset


def wait_for(condition, seconds: float = 120.0) -> None:
    """Run the Qt event loop (workers report through it) until ``condition()`` holds."""
    app = QApplication.instance()
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            sys.exit("timed out waiting for the overlay")
        app.processEvents()
        time.sleep(0.02)


def main(out: Path = ROOT / "docs" / "face_regions.png") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(shutil.copy(VIDEO, tmp))
        viewer = napari.Viewer(show=True)
        viewer.window.resize(1500, 850)
        data, kwargs, _ = video_layer_data(open_video(path))
        viewer.add_image(data, **kwargs)
        widget = FaceOverlayWidget(viewer)
        viewer.window.add_dock_widget(widget, name="mespot face overlay")
        viewer.dims.set_current_step(0, FRAME)
        widget.ref_mode.setCurrentText("fixed frame")
        widget.ref_frame.setValue(REFERENCE)
        widget.head_motion.setChecked(True)
        widget.phi.setValue(1.5)
        widget.find_landmarks()
        wait_for(lambda: widget.overlay is not None and widget.overlay.reference == REFERENCE)
        viewer.layers.selection.active = viewer.layers["mespot flow"]
        viewer.scene.camera.center = (185, 560)
        viewer.scene.camera.zoom = 1.4
        QApplication.instance().processEvents()
        viewer.screenshot(str(out), canvas_only=False)
        viewer.close()
    print(out)


if __name__ == "__main__":
    main()
