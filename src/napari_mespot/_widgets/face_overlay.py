"""Dock widget: landmarks, eye/mouth regions, flow arrows, flow heatmap and aligned crops.

Only Qt and layer plumbing lives here; every number comes from the core
(:mod:`~napari_mespot.core.face.cache`, :mod:`~napari_mespot.core.face.regions`,
:mod:`~napari_mespot.core.flow.display`).

The overlay explains the interval under review: the flow is measured from the reference the
spotter run used for it (the first frame of the run's window; the interval's onset when no run
made it) with the head motion removed as that run removed it, so the arrows show what the
spotter matched. Without a selected interval it follows the spotting window of the current
frame. Arrows are scaled so the longest ones read at any motion size (the factor is in the
status line), the magnitude heatmap has a colour bar in region pixels, and only the eye, brow,
lip and nose landmarks are drawn unless all are asked for.

Threading: landmarks and flow are computed in ``thread_worker`` threads that receive plain
arrays and return plain results; layers are only touched in the ``returned``/``yielded`` slots,
which napari runs on the main thread. One flow job runs at a time; when the slider moves during
a job, the latest frame is computed next and stale results are dropped, so scrubbing never waits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_mespot._widgets.video_review import review_for, unwrap, video_layers
from napari_mespot.core.errors import MespotError
from napari_mespot.core.face.head_motion import HEAD_MOTION_MODES
from napari_mespot.core.face.landmarks import CsvLandmarkProvider, FaceLandmarks, LandmarkProvider
from napari_mespot.core.face.regions import EYE, MOUTH, NoFaceError, face_regions
from napari_mespot.core.flow.display import (
    ARROW_PX,
    FrameOverlay,
    feature_points,
    frame_overlay,
    spotter_reference,
    window_reference,
)
from napari_mespot.core.review.actions import selected
from napari_mespot.core.spotters.base import SpotResult
from napari_mespot.core.spotters.prototype import METHOD as PROTOTYPE

if TYPE_CHECKING:
    import napari

LANDMARKS = "mespot landmarks"
REGIONS = "mespot regions"
FLOW = "mespot flow"
HEATMAP = "mespot flow magnitude (region px)"
CROP = "mespot {} crop"
REGION_COLORS = {"eye": "lime", "mouth": "magenta"}
CROP_GAP = 12  # pixels between the video and the crops drawn beside it
CROP_SCALE = 0.5  # the normalised crops (280×240, 260×160) are drawn at half size
#: Reference choices: the spotter's for the selected interval, the current window's, a frame.
SPOTTER_REFERENCE, WINDOW_START, FIXED_FRAME = (
    "spotter's, for the selected interval",
    "window start",
    "fixed frame",
)
#: Head-motion choice that follows the spotter run of the selected interval.
AS_THE_RUN = "as the spotter run"
#: What "as the spotter run" removes when no run made the selected interval: the most complete.
WITHOUT_A_RUN = "similarity"


def _flow_job(video, landmarks, reference, frame, options) -> tuple[Any, FrameOverlay | str]:
    """Worker body: (video, the overlay of ``frame`` or why there is none); touches no layer."""
    try:
        return video, frame_overlay(video, landmarks, reference, frame, **options)
    except NoFaceError as exc:
        return video, f"no flow: {exc}"


def _landmark_job(video, provider: LandmarkProvider, cache_only: bool = False):
    """Worker body: yields Progress, returns (video, FaceLandmarks or None).

    From the cache when valid; with ``cache_only``, None instead of detecting. The video comes
    back with the result so a result for a video the user has since switched away from is dropped.
    """
    from napari_mespot.core.face.cache import landmarks_for_video, load_cached

    if cache_only:
        hit = load_cached(video, provider)
        return video, (hit[0] if hit else None)
    return video, (yield from landmarks_for_video(video, provider))


class FaceOverlayWidget(QWidget):
    """Face landmarks, regions and flow of the current frame of a video layer."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        from napari_mespot.plugins import flow_methods, landmark_providers

        self.viewer = napari_viewer
        self.landmarks: FaceLandmarks | None = None
        #: The flow overlay on screen (None until one was drawn).
        self.overlay: FrameOverlay | None = None
        self._flow_worker = None
        self._landmark_worker = None
        self._landmark_jobs = 0
        self._flow_pending = False
        self._selection_model = None  # the review model whose selected interval the flow explains

        self.video_combo = QComboBox()
        self.provider_combo = QComboBox()  # detectors; CSV import has its own button
        self.provider_combo.addItems([name for name in landmark_providers() if name != "csv"])
        self.find_button = QPushButton("Find landmarks")
        self.import_button = QPushButton("Import 68-point CSV…")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        self.method_combo = QComboBox()
        self.method_combo.addItems(list(flow_methods()))
        self.ref_mode = QComboBox()
        self.ref_mode.addItems([SPOTTER_REFERENCE, WINDOW_START, FIXED_FRAME])
        self.ref_frame = QSpinBox()
        self.ref_frame.setRange(0, 10**8)
        self.window_seconds = QDoubleSpinBox()
        self.window_seconds.setRange(0.5, 60.0)
        self.window_seconds.setValue(7.0)
        self.window_seconds.setSuffix(" s")
        self.phi = QDoubleSpinBox()
        self.phi.setRange(0.0, 100.0)
        self.phi.setSpecialValueText(f"auto (95th percentile {ARROW_PX:g} px)")
        self.phi.setValue(0.0)
        self.step = QSpinBox()
        self.step.setRange(4, 64)
        self.step.setValue(12)
        self.color_by = QComboBox()
        self.color_by.addItems(["direction", "magnitude"])
        self.head_motion = QComboBox()
        self.head_motion.addItems([AS_THE_RUN, *HEAD_MOTION_MODES])
        self.all_landmarks = QCheckBox("all landmarks (else eyes, brows, lips, nose)")
        self.show_flow = QCheckBox("compute flow")
        self.show_flow.setChecked(True)
        self.status = QLabel("open a video layer, then find or import landmarks")
        self.status.setWordWrap(True)

        buttons = QHBoxLayout()
        for b in (self.find_button, self.import_button, self.cancel_button):
            buttons.addWidget(b)
        form = QFormLayout()
        form.addRow("video", self.video_combo)
        form.addRow("landmarks", self.provider_combo)
        form.addRow(buttons)
        form.addRow(self.progress)
        form.addRow("flow method", self.method_combo)
        form.addRow("reference", self.ref_mode)
        form.addRow("reference frame", self.ref_frame)
        form.addRow("window", self.window_seconds)
        form.addRow("arrow scale φ", self.phi)
        form.addRow("arrow spacing (px)", self.step)
        form.addRow("colour by", self.color_by)
        form.addRow("head motion removed", self.head_motion)
        form.addRow(self.all_landmarks)
        form.addRow(self.show_flow)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.find_button.clicked.connect(self.find_landmarks)
        self.import_button.clicked.connect(self._ask_csv)
        self.cancel_button.clicked.connect(self.cancel)
        self.video_combo.currentIndexChanged.connect(self._video_changed)
        for signal in (
            self.method_combo.currentIndexChanged,
            self.ref_mode.currentIndexChanged,
            self.ref_frame.valueChanged,
            self.window_seconds.valueChanged,
            self.phi.valueChanged,
            self.step.valueChanged,
            self.head_motion.currentIndexChanged,
            self.show_flow.toggled,
        ):
            signal.connect(self.request_flow)
        self.all_landmarks.toggled.connect(self.update_overlays)
        self.color_by.currentIndexChanged.connect(self._recolor)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.viewer.layers.events.inserted.connect(self._refresh_videos)
        self.viewer.layers.events.removed.connect(self._refresh_videos)
        self._refresh_videos()

    # --- video and landmarks --------------------------------------------------------------------

    def _video_layers(self) -> list:
        return video_layers(self.viewer)

    def _refresh_videos(self, event: Any = None) -> None:
        current = self.video_combo.currentText()
        names = [layer.name for layer in self._video_layers()]
        self.video_combo.blockSignals(True)
        self.video_combo.clear()
        self.video_combo.addItems(names)
        if current in names:
            self.video_combo.setCurrentText(current)
        self.video_combo.blockSignals(False)
        if current not in names:
            self._video_changed()

    @property
    def video_layer(self):
        name = self.video_combo.currentText()
        return next((layer for layer in self.viewer.layers if layer.name == name), None)

    @property
    def video(self):
        """The layer's frame source, unwrapped from napari's plugin proxy (see ``unwrap``)."""
        layer = self.video_layer
        return None if layer is None else unwrap(layer.data)

    @property
    def fps(self) -> float:
        layer = self.video_layer
        return float(layer.metadata.get("fps", 30.0)) if layer is not None else 30.0

    def _video_changed(self, index: int = 0) -> None:
        self.landmarks = None
        self.overlay = None
        self._clear_overlays()
        self._follow_selection()
        layer = self.video_layer
        if layer is not None and hasattr(layer.data, "path"):
            self.find_landmarks(from_cache_only=True)

    def _follow_selection(self) -> None:
        """Redraw when the interval under review changes (its reference and run change)."""
        if self._selection_model is not None:
            self._selection_model.events.selection_changed.disconnect(self.request_flow)
        self._selection_model = None
        layer = self.video_layer
        if layer is None:
            return
        try:
            self._selection_model = review_for(layer).model
        except MespotError:  # a sidecar of another video: the overlay works without a review
            return
        self._selection_model.events.selection_changed.connect(self.request_flow)

    def find_landmarks(self, checked: bool = False, from_cache_only: bool = False) -> None:
        """Track the face with the chosen provider, or reopen its cached result instantly."""
        from napari_mespot.plugins import get_landmark_provider

        provider = get_landmark_provider(self.provider_combo.currentText())
        self._run_landmarks(provider, cache_only=from_cache_only)

    def import_csv(self, path: str) -> None:
        """Use 68-point landmarks from an OpenFace 2 / py-feat CSV for the current video."""
        self._run_landmarks(CsvLandmarkProvider(path))

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "68-point landmark CSV", "", "CSV (*.csv)")
        if path:
            self.import_csv(path)

    def _run_landmarks(self, provider: LandmarkProvider, cache_only: bool = False) -> None:
        from napari.qt.threading import create_worker

        video = self.video
        if video is None:
            self.status.setText("no video layer")
            return
        self.cancel()
        worker = create_worker(_landmark_job, video, provider, cache_only)
        worker.yielded.connect(self._on_landmark_progress)
        worker.returned.connect(self._on_landmarks)
        worker.errored.connect(self._on_error)
        # Bound methods (not lambdas), so PyQt disconnects them if the dock is deleted mid-job.
        worker.finished.connect(self._on_landmarks_finished)
        self._landmark_worker = worker
        self._landmark_jobs += 1
        self.progress.setVisible(True)
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"landmarks: {provider.name}…")
        worker.start()

    def cancel(self) -> None:
        if self._landmark_worker is not None:
            self._landmark_worker.quit()

    def _on_landmark_progress(self, p) -> None:
        self.progress.setMaximum(max(1, p.total or 1))
        self.progress.setValue(p.done)

    def _on_landmarks(self, result: tuple[Any, FaceLandmarks | None]) -> None:
        video, landmarks = result
        if video is not self.video:
            return
        if landmarks is None:
            self.status.setText("no cached landmarks for this video: find or import them")
            return
        self.landmarks = landmarks
        missing = len(landmarks.missing_frames())
        self.status.setText(
            f"landmarks ({landmarks.provider}): {len(landmarks) - missing} of {len(landmarks)} frames "
            f"with a face, {missing} without"
        )
        self.update_overlays()

    def _on_landmarks_finished(self) -> None:
        self._landmark_jobs -= 1
        if self._landmark_jobs:
            return  # a cancelled job finishing after its replacement started
        self._landmark_worker = None
        self.progress.setVisible(False)
        self.cancel_button.setEnabled(False)

    def _on_error(self, exc: Exception) -> None:
        if not isinstance(exc, MespotError):
            raise exc
        self.status.setText(str(exc))

    # --- overlays --------------------------------------------------------------------------------

    @property
    def frame(self) -> int:
        return int(self.viewer.dims.current_step[0])

    def spot_context(self) -> tuple[Any, SpotResult | None]:
        """The selected interval of this video's review and the run that made it (``None``s)."""
        model = self._selection_model
        found = selected(model) if model is not None else None
        if found is None:
            return None, None
        track, _, interval = found
        origin = interval.get_extra("origin") or ""
        results = review_for(self.video_layer).results
        result = results.get(track) or results.get(origin.rpartition("/")[0])
        return interval, result

    def reference_frame(self) -> int:
        """The flow reference: the spotter's for the selected interval (the first frame of the
        run's window, else the interval's onset), the current window's start, or a chosen frame."""
        mode = self.ref_mode.currentText()
        if mode == FIXED_FRAME:
            return int(self.ref_frame.value())
        interval, result = self.spot_context() if mode == SPOTTER_REFERENCE else (None, None)
        if interval is None:
            return window_reference(self.frame, self.fps, self.window_seconds.value())
        reference = None
        if result is not None and result.method == PROTOTYPE:
            reference = spotter_reference(result.windows, interval.onset)
        return interval.onset if reference is None else reference

    def head_motion_mode(self) -> str:
        """The head motion to remove: the chosen mode, or the selected interval's run's."""
        chosen = self.head_motion.currentText()
        if chosen != AS_THE_RUN:
            return chosen
        _, result = self.spot_context()
        settings = result.settings_dict() if result is not None else {}
        return str(settings.get("head_motion", WITHOUT_A_RUN))

    def _on_step(self, event: Any = None) -> None:
        self.update_overlays()

    def update_overlays(self) -> None:
        """Landmarks and regions of the current frame now; flow in the background."""
        self._update_landmark_layers()
        self.request_flow()

    def _clear_overlays(self) -> None:
        """Empty the overlay layers (another video: the old landmarks and flow do not apply)."""
        for name in (LANDMARKS, FLOW):
            if name in self.viewer.layers:
                self.viewer.layers[name].data = np.zeros((0, 2) if name == LANDMARKS else (0, 2, 2))
        if REGIONS in self.viewer.layers:
            self.viewer.layers[REGIONS].data = []
        if HEATMAP in self.viewer.layers:
            self.viewer.layers[HEATMAP].data = np.zeros_like(self.viewer.layers[HEATMAP].data)

    def _layer(self, name: str, factory):
        if name not in self.viewer.layers:
            factory()
        return self.viewer.layers[name]

    def _update_landmark_layers(self) -> None:
        lm = self.landmarks
        video = self.video
        if lm is None or video is None or len(lm) != len(video):
            return
        frame = min(self.frame, len(lm) - 1)
        pts = lm.at(frame) if self.all_landmarks.isChecked() else feature_points(lm, frame)
        points = self._layer(
            LANDMARKS,
            lambda: self.viewer.add_points(
                np.zeros((0, 2)), name=LANDMARKS, size=3, face_color="yellow", border_width=0
            ),
        )
        points.data = np.zeros((0, 2)) if pts is None else pts[:, ::-1]
        shapes = self._layer(
            REGIONS,
            lambda: self.viewer.add_shapes(name=REGIONS, edge_width=2, face_color="transparent"),
        )
        if pts is None:
            shapes.data = []
            self.status.setText(f"frame {frame}: no face")
            return
        shapes.data = []
        try:
            regions = face_regions(lm, frame, (EYE, MOUTH))
        except NoFaceError as exc:
            self.status.setText(str(exc))
            return
        shapes.add(
            [t.corners()[:, ::-1] for t in regions.values()],
            shape_type="polygon",
            edge_color=[REGION_COLORS[name] for name in regions],
            face_color="transparent",
        )

    def flow_options(self) -> dict[str, Any]:
        return {
            "method": self.method_combo.currentText(),
            "head_motion": self.head_motion_mode(),
            "step": int(self.step.value()),
            "scale": float(self.phi.value()) or None,  # 0: auto
        }

    def request_flow(self, *args: Any) -> None:
        """Start the flow of the current frame, or queue it behind the running job."""
        if self.landmarks is None or self.video is None or not self.show_flow.isChecked():
            return
        if self._flow_worker is not None:
            self._flow_pending = True
            return
        from napari.qt.threading import create_worker

        frame = min(self.frame, len(self.landmarks) - 1)
        worker = create_worker(
            _flow_job, self.video, self.landmarks, self.reference_frame(), frame, self.flow_options()
        )
        worker.returned.connect(self._on_flow)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_flow_finished)
        self._flow_worker = worker
        worker.start()

    def _on_flow_finished(self) -> None:
        self._flow_worker = None
        if self._flow_pending:
            self._flow_pending = False
            self.request_flow()

    def _on_flow(self, job: tuple[Any, FrameOverlay | str]) -> None:
        video, result = job
        if self.landmarks is None or video is not self.video:
            return  # the video changed while the job ran
        if isinstance(result, str):
            self.overlay = None
            self.status.setText(result)
            self._show_flow(np.zeros((0, 2, 2), np.float32), np.zeros(0), np.zeros(0), None)
            return
        if result.frame != self.frame:
            return  # the slider moved on; the pending job draws the current frame
        self.overlay = result
        self._show_flow(result.vectors, result.speed, result.angle, result.heatmap)
        self._show_crops(result.crops)
        self.status.setText(
            f"{result.method} flow {result.reference}→{result.frame}, head motion removed: "
            f"{result.head_motion}; arrows drawn ×{result.scale:.3g}; "
            f"max |flow| {max(float(result.speed.max(initial=0)), 0):.2f} px (region pixels)"
        )

    def _show_flow(self, vectors, speed, angle, heatmap) -> None:
        layer = self._layer(
            FLOW,
            lambda: self.viewer.add_vectors(
                np.zeros((0, 2, 2), np.float32),
                name=FLOW,
                edge_width=1.5,
                vector_style="arrow",
                features={"speed": np.zeros(0), "angle": np.zeros(0)},
            ),
        )
        layer.data = vectors
        layer.features = {"speed": speed, "angle": angle}
        self._recolor()
        if heatmap is None:
            if HEATMAP in self.viewer.layers:
                self.viewer.layers[HEATMAP].data = np.zeros_like(self.viewer.layers[HEATMAP].data)
            return
        if HEATMAP in self.viewer.layers:
            self.viewer.layers[HEATMAP].data = heatmap
        else:
            layer = self.viewer.add_image(
                heatmap, name=HEATMAP, colormap="inferno", blending="additive", opacity=0.7
            )
            layer.colorbar.visible = True  # its unit is in the layer's name
        self.viewer.layers[HEATMAP].contrast_limits = (0.0, max(1.0, float(np.percentile(heatmap, 99.9))))

    def _recolor(self, *args: Any) -> None:
        if FLOW not in self.viewer.layers or not len(self.viewer.layers[FLOW].data):
            return
        layer = self.viewer.layers[FLOW]
        if self.color_by.currentText() == "direction":
            layer.edge_colormap = "hsv"
            layer.edge_color = "angle"
            layer.edge_contrast_limits = (-np.pi, np.pi)
        else:
            layer.edge_colormap = "viridis"
            layer.edge_color = "speed"
            layer.edge_contrast_limits = (0.0, max(1e-3, float(layer.features["speed"].max())))

    def _show_crops(self, crops: dict[str, np.ndarray]) -> None:
        """The aligned crops beside the video, stacked top to bottom at half size."""
        layer = self.video_layer
        width = layer.data.shape[2] if layer is not None else 0
        top = 0.0
        for name, crop in crops.items():
            layer_name = CROP.format(name)
            if layer_name in self.viewer.layers:
                self.viewer.layers[layer_name].data = crop
            else:
                self.viewer.add_image(crop, name=layer_name, rgb=True, scale=(CROP_SCALE, CROP_SCALE))
            self.viewer.layers[layer_name].translate = (top, width + CROP_GAP)
            top += crop.shape[0] * CROP_SCALE + CROP_GAP
