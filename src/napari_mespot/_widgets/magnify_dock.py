"""The "Magnify motion" dock: the selected interval's aligned face, its motion magnified, looped
in slow motion beside the video.

What to magnify is the review's selected interval (timeline, table or the review keys), with a
little context before and after so the loop starts and ends on a still face, or a frame range.
The science is :func:`napari_mespot.core.face.magnified.magnified_face` (align the face, then
Eulerian magnification with the factor and band of the settings form), run as a generator in
napari's ``thread_worker`` with a progress bar and Cancel; an error — no face, too short a
stretch, a band the frame rate cannot hold — is one line in the dock.

The result is one 2-D RGB image layer to the right of everything on the canvas (at the video's
scale), and a ``QTimer`` swaps its data for the next magnified frame at the video's frame rate
divided by the slow-motion factor: the loop runs on its own, whatever frame the viewer's slider
shows, so the annotator can watch the magnified movement again and again while stepping the
video by hand. Magnifying again replaces the layer's frames; a cancelled run leaves the canvas
as it was.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from magicgui import widgets
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from napari_mespot._widgets.settings_form import form_values, settings_form
from napari_mespot._widgets.video_review import review_for, unwrap, video_layers
from napari_mespot._widgets.worker import JobError, run_job
from napari_mespot.core.errors import MespotError
from napari_mespot.core.face.align import DEFAULT_SIZE
from napari_mespot.core.face.magnified import check_stretch, magnified_face
from napari_mespot.core.media.magnify import MagnifySettings
from napari_mespot.core.progress import Progress

log = logging.getLogger(__name__)

LAYER = "mespot magnified face"
#: What to magnify: the review's selected interval (with context), or the frame range fields.
SELECTED, FRAME_RANGE = "selected interval", "frame range"
#: Gap (in the video's pixels) between the canvas's content and the magnified face.
GAP = 12
#: Settings the form leaves at their defaults (the pyramid's inner workings).
ADVANCED = ("levels", "order")


class MagnifyDock(QWidget):
    """Magnify the motion of an interval's aligned face and loop it in slow motion."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self._outcome = ""
        #: The magnified frames on show, the first one's frame in the video, and the loop's place.
        self.clip: np.ndarray | None = None
        self.clip_start = 0
        self.position = 0
        self.layer = None
        self.fps = 0.0
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.step)

        self.video_combo = widgets.ComboBox(label="video", choices=self._video_choices)
        self.source = widgets.ComboBox(label="magnify", choices=[SELECTED, FRAME_RANGE], value=SELECTED)
        self.first = widgets.SpinBox(label="first frame", min=0, max=10**8, visible=False)
        self.last = widgets.SpinBox(label="last frame", value=30, min=0, max=10**8, visible=False)
        self.context = widgets.FloatSpinBox(label="context (s)", value=0.3, min=0.0, max=5.0, step=0.1)
        self.settings = settings_form(MagnifySettings, skip=ADVANCED)
        self.slow = widgets.FloatSpinBox(label="slow motion (× slower)", value=4.0, min=1.0, max=50.0)
        self.magnify_button = widgets.PushButton(text="Magnify")
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.play_button = widgets.PushButton(text="Stop", enabled=False)
        self.status = widgets.Label(value="select an interval (or a frame range), then Magnify")
        self.status.native.setWordWrap(True)  # a long message wraps; it never widens the dock
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)

        form = widgets.Container(widgets=[self.video_combo, self.source, self.first, self.last, self.context])
        buttons = widgets.Container(
            widgets=[self.magnify_button, self.cancel_button, self.play_button],
            layout="horizontal",
            labels=False,
        )
        layout = QVBoxLayout(self)
        for w in (form, self.settings, widgets.Container(widgets=[self.slow]), buttons):
            layout.addWidget(w.native)
        layout.addWidget(self.progress)
        layout.addWidget(self.status.native)
        layout.addStretch(1)

        self.source.changed.connect(self._source_changed)
        self.magnify_button.changed.connect(self.magnify)
        self.cancel_button.changed.connect(self.cancel)
        self.play_button.changed.connect(self.toggle_loop)
        self.slow.changed.connect(self._set_rate)
        self.viewer.layers.events.inserted.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.layers.events.removed.connect(self._layer_removed)

    def _video_choices(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in video_layers(self.viewer)]

    def _source_changed(self, source: str) -> None:
        self.first.visible = self.last.visible = source == FRAME_RANGE
        self.context.visible = source == SELECTED

    # -- what to magnify -----------------------------------------------------------------------
    def stretch(self, layer) -> tuple[int, int]:
        """Frames ``start..stop-1`` to magnify: the selected interval and its context, or the
        frame range; a :class:`MespotError` says why there are none."""
        video = unwrap(layer.data)
        if self.source.value == FRAME_RANGE:
            return int(self.first.value), int(self.last.value) + 1
        model = review_for(layer).model
        if model.selection is None:
            raise MespotError(
                "no interval is selected: select one (timeline, table or N), or magnify a frame range"
            )
        interval = model.find(*model.selection)
        context = round(self.context.value * video.fps)
        return max(0, interval.onset - context), min(len(video), interval.offset + 1 + context)

    def magnify(self, *_: Any) -> None:
        """Check what to magnify here (one line when it cannot be), then compute it in a worker."""
        layer = self.video_combo.value
        if layer is None:
            self._say("open a video first (File → Open, or File → Open Sample → napari-mespot)")
            return
        from napari_mespot.plugins import get_landmark_provider

        try:
            settings = MagnifySettings(**form_values(self.settings))
            start, stop = self.stretch(layer)
            video = unwrap(layer.data)
            check_stretch(video, start, stop, settings, DEFAULT_SIZE)
        except MespotError as exc:
            self._say(f"cannot magnify: {exc}")
            return
        provider = get_landmark_provider("mediapipe")
        worker = run_job(magnified_face, video, start, stop, settings, provider)
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(lambda clip: self._show(layer, clip, start, settings))
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        self.worker, self._outcome = worker, "cancelled"
        self.magnify_button.enabled, self.cancel_button.enabled = False, True
        self.progress.setValue(0)
        self._say(f"magnifying frames {start}–{stop - 1} of {layer.name} ×{settings.factor:g} …")
        worker.start()

    def cancel(self, *_: Any) -> None:
        if self.worker is not None:
            self.worker.quit()
            self._say("cancelling …")

    def _on_progress(self, p: Progress) -> None:
        if p.fraction is not None:
            self.progress.setValue(round(100 * p.fraction))

    def _on_error(self, exc: Exception) -> None:
        """One line in the dock; an unexpected error's traceback goes to the log only."""
        self._outcome = "failed"
        if not isinstance(exc, MespotError) or isinstance(exc, JobError):
            log.error("magnifying failed", exc_info=exc)
        text = str(exc) if isinstance(exc, MespotError) else f"{type(exc).__name__}: {exc}"
        self._say(f"magnifying failed: {text}")

    def _on_finished(self) -> None:
        self.worker = None
        self.magnify_button.enabled, self.cancel_button.enabled = True, False
        if self._outcome == "cancelled":
            self.progress.setValue(0)
            self._say("cancelled: nothing magnified")

    # -- the layer and its loop ----------------------------------------------------------------
    def _show(self, video_layer, clip: np.ndarray, start: int, settings: MagnifySettings) -> None:
        """Put ``clip`` on the canvas (replacing the frames shown before) and loop it."""
        self._outcome = "done"
        self.timer.stop()
        self.clip, self.clip_start, self.position = clip, start, 0
        self.fps = float(unwrap(video_layer.data).fps)
        scale = tuple(video_layer.scale[-2:])
        if self.layer is None or self.layer not in self.viewer.layers:
            self.layer = unwrap(self.viewer.add_image(clip[0], name=LAYER, rgb=True, scale=scale))
        else:
            self.layer.data, self.layer.scale = clip[0], scale
        self.layer.translate = (video_layer.translate[-2], self._right_edge() + GAP * scale[-1])
        band = f"{settings.low_hz:g}–{settings.high_hz:g} Hz"
        self.layer.metadata.update(
            video=video_layer.name, frames=(start, start + len(clip) - 1), factor=settings.factor, band=band
        )
        self._say(
            f"frames {start}–{start + len(clip) - 1} of {video_layer.name}: motion in {band} "
            f"×{settings.factor:g}, looped {self.slow.value:g}× slower"
        )
        self.play()

    def _right_edge(self) -> float:
        """Where the canvas's content ends on the right (the video, crops beside it), in world px."""
        edges = [
            float(layer.extent.world[1][-1])
            for layer in self.viewer.layers
            if unwrap(layer) is not self.layer
        ]
        return max(edges, default=0.0)

    def play(self) -> None:
        if self.clip is None:
            return
        self._set_rate()
        self.timer.start()
        self.play_button.text, self.play_button.enabled = "Stop", True

    def stop(self) -> None:
        self.timer.stop()
        self.play_button.text = "Play"

    def toggle_loop(self, *_: Any) -> None:
        if self.timer.isActive():
            self.stop()
        else:
            self.play()

    def step(self) -> None:
        """Show the next magnified frame (the loop's tick)."""
        if self.clip is None or self.layer is None:
            self.stop()
            return
        self.position = (self.position + 1) % len(self.clip)
        self.layer.data = self.clip[self.position]

    @property
    def frame(self) -> int | None:
        """The video frame the magnified layer shows now (None when nothing is magnified)."""
        return None if self.clip is None else self.clip_start + self.position

    def _set_rate(self, *_: Any) -> None:
        if self.fps > 0:
            self.timer.setInterval(max(1, round(1000 * self.slow.value / self.fps)))

    def _layer_removed(self, event) -> None:
        self.video_combo.reset_choices()
        if self.layer is not None and unwrap(event.value) is self.layer:
            self.stop()
            self.clip, self.layer = None, None
            self.play_button.enabled = False

    def _say(self, message: str) -> None:
        self.status.value = message
