"""The "Spot expressions" dock: choose a video layer, a method and its settings, Run / Cancel.

The work is the core spotter generator run in napari's ``thread_worker``: the worker never
touches a layer; its progress reaches the bar through ``yielded`` and its result reaches the
review state through ``returned``, both on the main thread. Cancel closes the generator.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from magicgui import widgets
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from ..core.errors import MespotError
from ..core.progress import Progress
from ..core.retrain import open_corrected, retrain_prototypes
from ..core.spotters.base import SpotResult, settings_from_mapping
from ..core.spotters.prototype import PrototypeSet, PrototypeSettings, default_prototypes_path
from ..core.spotters.prototype import spot as prototype_spot
from ..core.spotters.prototype.peaks import BOUNDARIES
from ..core.spotters.prototype.settings import DEVICES
from ..core.spotters.vovnet import default_checkpoint_path
from ..core.spotters.vovnet.settings import SpotSettings as VovnetSettings
from ..plugins import flow_methods
from .settings_form import form_values, settings_form
from .video_review import review_for, video_layers

METHODS = {"prototype": "AU prototypes (He et al., ECAI 2023)", "vovnet": "VoVNet (Electronics 2023)"}


@thread_worker
def _spot_job(video, prototypes_path: str, settings: PrototypeSettings):
    prototypes = PrototypeSet.load(prototypes_path)
    return (yield from prototype_spot(video, prototypes, settings))


@thread_worker
def _vovnet_job(video, checkpoint_path: str, settings):
    from ..core.spotters import vovnet

    checkpoint = vovnet.load_checkpoint(checkpoint_path, vovnet.resolve_device(settings.device))
    return (yield from vovnet.spot(video, checkpoint, settings))


@thread_worker
def _retrain_job(session_path: str, base_path: str, out: str, min_count: int, settings: PrototypeSettings):
    videos = open_corrected([session_path])
    prototypes = yield from retrain_prototypes(
        videos, PrototypeSet.load(base_path), min_count=min_count, settings=settings
    )
    prototypes.save(out)
    return out, prototypes


class SpotWidget(QWidget):
    """Run a spotter on a video layer; the result becomes a machine track of its review."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self._outcome = ""
        self.video_combo = widgets.ComboBox(label="video", choices=self._video_choices)
        self.method_combo = widgets.ComboBox(
            label="method", choices=[(label, key) for key, label in METHODS.items()]
        )
        self.prototypes = widgets.FileEdit(
            label="prototypes", value=default_prototypes_path(), filter="*.npz", mode="r"
        )
        self.checkpoint = widgets.FileEdit(
            label="checkpoint", value=default_checkpoint_path(), filter="*.pt", mode="r", visible=False
        )
        self.vovnet_settings = settings_form(
            VovnetSettings, choices={"device": DEVICES}, skip=("cache_dir", "batch_size")
        )
        self.vovnet_settings.visible = False
        self.settings = settings_form(
            PrototypeSettings,
            choices={
                "boundaries": BOUNDARIES,
                "device": DEVICES,
                "flow_method": [None, *sorted(flow_methods())],
            },
            skip=("landmarks", "flow_batch"),
        )
        self.min_count = widgets.SpinBox(label="min clips per AU", value=3, min=1, max=1000)
        self.retrain_button = widgets.PushButton(text="Retrain prototypes from this video's corrections")
        self.run_button = widgets.PushButton(text="Run")
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.status = widgets.Label(value="")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)

        header = widgets.Container(
            widgets=[self.video_combo, self.method_combo, self.prototypes, self.checkpoint]
        )
        buttons = widgets.Container(
            widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False
        )
        retrain = widgets.Container(widgets=[self.min_count, self.retrain_button])
        layout = QVBoxLayout(self)
        for w in (header, self.settings, self.vovnet_settings, buttons):
            layout.addWidget(w.native)
        layout.addWidget(self.progress)
        layout.addWidget(self.status.native)
        layout.addWidget(retrain.native)
        layout.addStretch(1)

        self.run_button.changed.connect(self.run)
        self.method_combo.changed.connect(self._method_changed)
        self.retrain_button.changed.connect(self.retrain)
        self.cancel_button.changed.connect(self.cancel)
        self.viewer.layers.events.inserted.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.layers.events.removed.connect(lambda e: self.video_combo.reset_choices())

    def _video_choices(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in video_layers(self.viewer)]

    def _method_changed(self, method: str) -> None:
        prototype = method == "prototype"
        for w in (self.prototypes, self.settings, self.min_count, self.retrain_button):
            w.visible = prototype
        self.checkpoint.visible = self.vovnet_settings.visible = not prototype

    def _prepare(self, form, cls):
        """The chosen layer, its review state and the settings of ``form``; ``None`` (after
        telling the user) when there is no video or a setting is refused."""
        layer = self.video_combo.value
        if layer is None:
            show_error("Open a video first (File → Open, or File → Open Sample → napari-mespot).")
            return None
        try:
            return layer, review_for(layer), settings_from_mapping(cls, form_values(form))
        except (MespotError, ValueError) as exc:
            show_error(str(exc))
            return None

    def run(self, *_: Any) -> None:
        vovnet = self.method_combo.value == "vovnet"
        prepared = self._prepare(
            *((self.vovnet_settings, VovnetSettings) if vovnet else (self.settings, PrototypeSettings))
        )
        if prepared is None:
            return
        layer, review, settings = prepared
        if vovnet:
            worker = _vovnet_job(review.video, str(self.checkpoint.value), settings)
        else:
            worker = _spot_job(review.video, str(self.prototypes.value), settings)
        self._start(worker, lambda result: self._on_result(review, result), f"spotting {layer.name} …")

    def retrain(self, *_: Any) -> None:
        """Learn prototypes from the corrections made on this video, next to its session file.

        The new file becomes the dock's prototypes, so the next Run uses it and the Compare dock
        can set its run beside the old one's.
        """
        prepared = self._prepare(self.settings, PrototypeSettings)
        if prepared is None:
            return
        layer, review, settings = prepared
        session = review.session.path
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = session.with_name(f"{layer.name}.prototypes-{stamp}.npz")
        worker = _retrain_job(
            str(session), str(self.prototypes.value), str(out), self.min_count.value, settings
        )
        self._start(worker, self._on_retrained, f"learning prototypes from {layer.name}'s corrections …")

    def _start(self, worker, on_result, message: str) -> None:
        self._outcome = "cancelled"
        self.worker = worker
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(on_result)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        for button in (self.run_button, self.retrain_button):
            button.enabled = False
        self.cancel_button.enabled = True
        self.status.value = message
        worker.start()

    def cancel(self, *_: Any) -> None:
        if self.worker is not None:
            self.worker.quit()
            self.status.value = "cancelling …"

    def _on_progress(self, p: Progress) -> None:
        if p.fraction is not None:
            self.progress.setValue(round(100 * p.fraction))
        if p.message:
            self.status.value = p.message

    def _on_result(self, review, result: SpotResult) -> None:
        run = review.unique_run_name(result.method)
        review.add_result(run, result)
        skipped = sum(s.length for s in result.skipped)
        message = f"{run}: {len(result.intervals)} intervals"
        if skipped:
            message += f"; {skipped} frames skipped (no face)"
        self.status.value = message
        self._outcome = "done"
        show_info(message)

    def _on_retrained(self, outcome) -> None:
        out, prototypes = outcome
        self.prototypes.value = out
        relearnt = prototypes.provenance.get("relearnt_aus", [])
        message = (
            f"new prototypes {Path(out).name}: relearnt AUs {relearnt or 'none'}; the next Run uses them"
        )
        self.status.value = message
        self._outcome = "done"
        show_info(message)

    def _on_error(self, exc: Exception) -> None:
        self._outcome = "failed"
        self.status.value = f"failed: {exc}"
        show_error(f"Spotting failed: {exc}")

    def _on_finished(self) -> None:
        self.run_button.enabled = self.retrain_button.enabled = True
        self.cancel_button.enabled = False
        if self._outcome == "cancelled":
            self.status.value = "cancelled"
            self.progress.setValue(0)
        self.worker = None
