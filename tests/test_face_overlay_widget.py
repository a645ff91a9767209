"""The face overlay dock in a real napari viewer (Xvfb): layers appear, follow the slider, and the
workers never touch a layer (``make_napari_viewer_proxy`` fails the test if one does)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from napari_mespot._reader import video_layer_data
from napari_mespot._widgets.face_overlay import CROP, FLOW, HEATMAP, LANDMARKS, REGIONS, FaceOverlayWidget
from napari_mespot.core.flow.display import FEATURE_POINTS
from napari_mespot.core.media.video import open_video

pytestmark = pytest.mark.gui


@pytest.fixture
def copy_video(fixtures_dir, tmp_path, monkeypatch):
    """A private copy of a fixture video, so the landmark cache is written beside the copy."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))

    def make(name: str):
        path = tmp_path / name
        shutil.copy(fixtures_dir / "video" / name, path)
        return path

    return make


def open_in(viewer, path):
    data, kwargs, _ = video_layer_data(open_video(path))
    layer = viewer.add_image(data, **kwargs)
    viewer.dims.set_current_step(0, 0)  # napari starts in the middle of the stack
    return layer


def dock(viewer) -> FaceOverlayWidget:
    widget = FaceOverlayWidget(viewer)
    viewer.window.add_dock_widget(widget, name="face overlay")
    return widget


def test_overlays_follow_the_frame(make_napari_viewer_proxy, qtbot, copy_video):
    viewer = make_napari_viewer_proxy()
    open_in(viewer, copy_video("single_face.mp4"))
    widget = dock(viewer)
    assert widget.video_combo.currentText() == "single_face"
    assert widget.landmarks is None  # nothing cached yet

    widget.find_landmarks()
    qtbot.waitUntil(lambda: widget.landmarks is not None, timeout=60_000)
    assert len(widget.landmarks.missing_frames()) == 0
    qtbot.waitUntil(lambda: widget.overlay is not None and widget.overlay.frame == 0, timeout=30_000)

    points, regions = viewer.layers[LANDMARKS], viewer.layers[REGIONS]
    assert points.data.shape == (len(FEATURE_POINTS["mediapipe"]), 2)  # eyes, brows, lips, nose
    widget.all_landmarks.setChecked(True)
    assert points.data.shape == (468, 2)
    widget.all_landmarks.setChecked(False)
    assert regions.nshapes == 2
    first_points = points.data.copy()
    vectors = viewer.layers[FLOW]
    assert len(vectors.data) > 100 and vectors.data.shape[1:] == (2, 2)
    assert viewer.layers[HEATMAP].data.shape == (360, 640)
    assert viewer.layers[CROP.format("eye")].data.shape == (240, 280, 3)
    assert viewer.layers[CROP.format("mouth")].data.shape == (160, 260, 3)
    # Frame 0 against itself: no motion.
    assert widget.overlay.reference == 0 and widget.overlay.speed.max() < 0.05

    viewer.dims.set_current_step(0, 40)
    assert not np.allclose(points.data, first_points)  # landmarks follow at once
    qtbot.waitUntil(lambda: widget.overlay is not None and widget.overlay.frame == 40, timeout=30_000)
    # 30 fps, 7 s windows stepping 3.5 s: frame 40 lies in the window starting at frame 0.
    assert widget.overlay.reference == 0
    assert widget.overlay.speed.max() > 0.5
    np.testing.assert_array_equal(vectors.data, widget.overlay.vectors)
    # Arrows start inside the reference frame's eye and mouth regions (drawn on the face).
    assert (vectors.data[:, 0, 0] > 0).all() and (vectors.data[:, 0, 0] < 360).all()

    # Scrubbing quickly: the slider never waits and the last frame wins.
    for frame in range(41, 61):
        viewer.dims.set_current_step(0, frame)
    qtbot.waitUntil(lambda: widget.overlay is not None and widget.overlay.frame == 60, timeout=30_000)

    widget.ref_mode.setCurrentText("fixed frame")
    widget.ref_frame.setValue(50)
    qtbot.waitUntil(lambda: widget.overlay is not None and widget.overlay.reference == 50, timeout=30_000)
    widget.color_by.setCurrentText("magnitude")
    assert vectors.edge_colormap.name == "viridis"
    widget.color_by.setCurrentText("direction")
    assert vectors.edge_colormap.name == "hsv"


def test_cached_landmarks_reopen_instantly(make_napari_viewer_proxy, qtbot, copy_video):
    path = copy_video("single_face.mp4")
    viewer = make_napari_viewer_proxy()
    open_in(viewer, path)
    widget = dock(viewer)
    widget.find_landmarks()
    qtbot.waitUntil(lambda: widget.landmarks is not None, timeout=60_000)
    assert list(path.parent.glob("single_face.mp4.mespot-landmarks-*.npz"))

    viewer2 = make_napari_viewer_proxy()
    open_in(viewer2, path)
    widget2 = dock(viewer2)  # picks the cached landmarks up by itself
    qtbot.waitUntil(lambda: widget2.landmarks is not None, timeout=10_000)
    np.testing.assert_array_equal(widget2.landmarks.points, widget.landmarks.points)


def test_no_face_video_is_reported_not_drawn(make_napari_viewer_proxy, qtbot, copy_video):
    viewer = make_napari_viewer_proxy()
    open_in(viewer, copy_video("no_face.mp4"))
    widget = dock(viewer)
    widget.find_landmarks()
    qtbot.waitUntil(lambda: widget.landmarks is not None, timeout=60_000)
    qtbot.waitUntil(lambda: "no flow" in widget.status.text(), timeout=30_000)
    assert "frame 0: no face found" in widget.status.text()
    assert len(viewer.layers[LANDMARKS].data) == 0
    assert viewer.layers[REGIONS].nshapes == 0
    assert len(viewer.layers[FLOW].data) == 0
    assert widget.overlay is None


def test_imported_csv_landmarks_drive_the_overlay(make_napari_viewer_proxy, qtbot, copy_video, fixtures_dir):
    viewer = make_napari_viewer_proxy()
    open_in(viewer, copy_video("WolfgangLanger_Pexels.mp4"))
    widget = dock(viewer)
    # The OpenFace fixture belongs to another clip, but its 100 frames fit this 472-frame video.
    widget.import_csv(str(fixtures_dir / "landmarks" / "openface2_test.csv"))
    qtbot.waitUntil(lambda: widget.landmarks is not None, timeout=30_000)
    assert widget.landmarks.scheme == "ibug68"
    assert viewer.layers[LANDMARKS].data.shape == (51, 2)  # iBUG 17–67: no jaw line
    viewer.dims.set_current_step(0, 200)  # beyond the CSV: no face there
    assert len(viewer.layers[LANDMARKS].data) == 0
    assert "frame 200: no face" in widget.status.text() or "no flow" in widget.status.text()


def test_cancelled_landmark_job_leaves_nothing_behind(make_napari_viewer_proxy, qtbot, copy_video):
    path = copy_video("WolfgangLanger_Pexels.mp4")
    viewer = make_napari_viewer_proxy()
    open_in(viewer, path)
    widget = dock(viewer)
    widget.find_landmarks()
    assert widget.cancel_button.isEnabled()
    widget.cancel()
    qtbot.waitUntil(lambda: not widget.cancel_button.isEnabled(), timeout=30_000)
    assert widget.landmarks is None
    assert not list(path.parent.glob("*.mespot-landmarks-*.npz"))
    assert LANDMARKS not in viewer.layers


def test_switching_video_clears_the_overlays(make_napari_viewer_proxy, qtbot, copy_video):
    viewer = make_napari_viewer_proxy()
    open_in(viewer, copy_video("single_face.mp4"))
    widget = dock(viewer)
    widget.find_landmarks()
    qtbot.waitUntil(lambda: widget.overlay is not None, timeout=60_000)
    open_in(viewer, copy_video("no_face.mp4"))
    widget.video_combo.setCurrentText("no_face")
    assert widget.landmarks is None
    assert len(viewer.layers[LANDMARKS].data) == 0 and len(viewer.layers[FLOW].data) == 0
    assert not viewer.layers[HEATMAP].data.any()
    qtbot.waitUntil(lambda: "no cached landmarks" in widget.status.text(), timeout=10_000)


def test_the_selected_interval_sets_the_spotters_reference_and_head_motion(
    make_napari_viewer_proxy, qtbot, copy_video
):
    from napari_mespot._widgets.video_review import review_for
    from napari_mespot.core.intervals import Interval
    from napari_mespot.core.spotters.base import SpotResult
    from napari_mespot.core.spotters.prototype import PrototypeSettings

    viewer = make_napari_viewer_proxy()
    layer = open_in(viewer, copy_video("single_face.mp4"))
    widget = dock(viewer)
    widget.find_landmarks()
    qtbot.waitUntil(lambda: widget.landmarks is not None, timeout=60_000)
    review = review_for(layer)
    n = len(review.video)
    run = SpotResult.for_video(
        review.video,
        "prototype",
        [Interval(45, 60, "mae", apex=50, source="prototype", id="p1")],
        curve_labels=("AU12",),
        curves=np.zeros((1, n), np.float32),
        thresholds=np.ones(1),
        windows=((0, 40), (30, 71)),
        settings=PrototypeSettings(head_motion="translation"),
    )
    review.add_result("prototype 1", run)
    review.model.add_track("notes", [Interval(20, 35, "mae", id="g1")], kind="gt")

    def drawn(reference: int, frame: int) -> bool:
        return widget.overlay is not None and (widget.overlay.reference, widget.overlay.frame) == (
            reference,
            frame,
        )

    viewer.dims.set_current_step(0, 50)
    review.model.select("prototype 1", "p1")
    # the run's window that holds the interval's onset starts at 30; the run removed translation
    qtbot.waitUntil(lambda: drawn(30, 50), timeout=30_000)
    assert widget.overlay.head_motion == "translation"
    assert "head motion removed: translation" in widget.status.text()
    accepted = review.model.accept("prototype 1", "p1")
    widget.overlay = None
    review.model.select("corrected", accepted.id)  # the corrected copy still knows its run
    qtbot.waitUntil(lambda: drawn(30, 50), timeout=30_000)
    review.model.select("notes", "g1")  # no run made this one: its onset, the fullest removal
    qtbot.waitUntil(lambda: drawn(20, 50), timeout=30_000)
    assert widget.overlay.head_motion == "similarity"
    widget.head_motion.setCurrentText("off")
    qtbot.waitUntil(
        lambda: widget.overlay is not None and widget.overlay.head_motion == "off", timeout=30_000
    )
    review.model.select(None)  # nothing selected: the current frame's window
    qtbot.waitUntil(lambda: drawn(0, 50), timeout=30_000)
    assert viewer.layers[HEATMAP].colorbar.visible and "px" in HEATMAP
