"""The "Spot expressions" dock: choose a video layer, a method and its settings, Run / Cancel.

The methods are the plugin registry's spotters (:func:`napari_mespot.plugins.spotters`, the
built-ins and any installed plugin's): each gets its model file field and a settings form built
from its settings dataclass, shown while it is the chosen method. The work is the spotter's
generator run in napari's ``thread_worker``: the worker never touches a layer; its progress
reaches the bar through ``yielded`` and its result reaches the review state through
``returned``, both on the main thread. Cancel closes the generator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from magicgui import widgets
from napari.qt.threading import thread_worker
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QProgressBar, QVBoxLayout, QWidget

from napari_mespot._widgets.settings_form import form_values, settings_form
from napari_mespot._widgets.video_review import review_for, video_layers
from napari_mespot.core.errors import MespotError
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import SpotResult, Spotter
from napari_mespot.core.spotters.prototype import PrototypeSet, PrototypeSettings
from napari_mespot.core.spotters.vovnet import (
    FINETUNE_EPOCHS,
    TrainResult,
    finetune_settings,
    load_checkpoint,
)
from napari_mespot.jobs.retrain import open_corrected, retrain_prototypes, retrain_vovnet
from napari_mespot.plugins import spotters

log = logging.getLogger(__name__)


@thread_worker
def _spot_job(spotter: Spotter, video, model_path: str | None, settings):
    return (yield from spotter.run(video, model_path, settings))


def _preset_name(spotter: Spotter) -> str:
    """The preset a method's form starts at: its default preset, the one ``mespot spot``,
    ``batch`` and ``demo`` use too, so the dock and the command line agree out of the box."""
    return spotter.default_preset or next(iter(spotter.presets))


def _starting_settings(spotter: Spotter) -> Any:
    name = _preset_name(spotter) if spotter.presets else ""
    return spotter.presets[name] if name else spotter.settings()


def _loaded_spotters() -> dict[str, tuple[str, Spotter]]:
    """Every registered spotter as (description, spotter); one that fails to load is left out
    (and logged) so a broken plugin cannot take the dock down."""
    loaded = {}
    for name, info in spotters().items():
        try:
            loaded[name] = (info.description, info.load())
        except Exception as exc:  # a third party's import error, say
            log.warning("spotter %r could not be loaded and is not offered: %s", name, exc)
    return loaded


@thread_worker
def _retrain_job(session_path: str, base_path: str, out: str, min_count: int, settings: PrototypeSettings):
    videos = open_corrected([session_path])
    prototypes = yield from retrain_prototypes(
        videos, PrototypeSet.load(base_path), min_count=min_count, settings=settings
    )
    prototypes.save(out)
    return out, prototypes


@thread_worker
def _finetune_job(session_path: str, init: str, out: str, epochs: int, device: str):
    """Fine-tune the checkpoint ``init`` on one session's corrections (jobs.retrain)."""
    settings = finetune_settings(load_checkpoint(init).window, epochs=epochs, device=device)
    return (yield from retrain_vovnet(open_corrected([session_path]), out, init, settings))


def _beside_session(layer, review, kind: str, suffix: str) -> tuple[Path, Path]:
    """The review's session file and a new, time-stamped model file next to it: retrained models
    stay with the corrections they came from and never replace an earlier one."""
    session = review.session.path
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return session, session.with_name(f"{layer.name}.{kind}-{stamp}{suffix}")


class SpotWidget(QWidget):
    """Run a spotter on a video layer; the result becomes a machine track of its review."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self._outcome = ""
        self.video_combo = widgets.ComboBox(label="video", choices=self._video_choices)
        loaded = _loaded_spotters()
        self.spotters = {name: spotter for name, (_, spotter) in loaded.items()}
        self.method_combo = widgets.ComboBox(
            label="method", choices=[(label, name) for name, (label, _) in loaded.items()]
        )
        #: method name → the settings its form was filled from (a preset, else the defaults):
        #: a run is these with the form's values, so a preset's fields the form omits still count.
        self.bases = {name: _starting_settings(spotter) for name, spotter in self.spotters.items()}
        #: method name → the default model its field shows while the user chose no other file;
        #: it follows the preset and the form (the prototype ``fast`` preset has its own file).
        self._shown_default = {
            name: spotter.default_model_path(self.bases[name]) for name, spotter in self.spotters.items()
        }
        #: method name → its model file field (methods without a model file have none).
        self.model_files = {
            name: widgets.FileEdit(
                label=spotter.model_label,
                value=self._shown_default[name] or "",
                filter=spotter.model_filter,
                mode="r",
            )
            for name, spotter in self.spotters.items()
            if spotter.model_label
        }
        #: method name → its settings form.
        self.forms = {
            name: settings_form(spotter.settings, choices=spotter.choices, skip=spotter.hidden)
            for name, spotter in self.spotters.items()
        }
        #: method name → its preset choice (methods with presets); choosing one fills the form.
        self.preset_combos = {
            name: widgets.ComboBox(label="preset", choices=list(spotter.presets), value=_preset_name(spotter))
            for name, spotter in self.spotters.items()
            if spotter.presets
        }
        for name, combo in self.preset_combos.items():
            self._fill_form(name, self.bases[name])
            combo.changed.connect(lambda preset, name=name: self._apply_preset(name, preset))
        for name, form in self.forms.items():
            form.changed.connect(lambda *_, name=name: self._follow_default_model(name))
        self.prototypes, self.settings = self.model_files["prototype"], self.forms["prototype"]
        self.checkpoint, self.vovnet_settings = self.model_files["vovnet"], self.forms["vovnet"]
        self.min_count = widgets.SpinBox(label="min clips per AU", value=3, min=1, max=1000)
        self.retrain_button = widgets.PushButton(text="Retrain prototypes from this video's corrections")
        self.finetune_epochs = widgets.SpinBox(
            label="fine-tuning epochs", value=FINETUNE_EPOCHS, min=1, max=1000
        )
        self.finetune_button = widgets.PushButton(text="Fine-tune VoVNet on this video's corrections")
        self.run_button = widgets.PushButton(text="Run")
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.status = widgets.Label(value="")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)

        header = widgets.Container(
            widgets=[
                self.video_combo,
                self.method_combo,
                *self.model_files.values(),
                *self.preset_combos.values(),
            ]
        )
        buttons = widgets.Container(
            widgets=[self.run_button, self.cancel_button], layout="horizontal", labels=False
        )
        retrain = widgets.Container(
            widgets=[self.min_count, self.retrain_button, self.finetune_epochs, self.finetune_button]
        )
        layout = QVBoxLayout(self)
        for w in (header, *self.forms.values(), buttons):
            layout.addWidget(w.native)
        layout.addWidget(self.progress)
        layout.addWidget(self.status.native)
        layout.addWidget(retrain.native)
        layout.addStretch(1)

        self.run_button.changed.connect(self.run)
        self.method_combo.changed.connect(self._method_changed)
        self.retrain_button.changed.connect(self.retrain)
        self.finetune_button.changed.connect(self.finetune)
        self.cancel_button.changed.connect(self.cancel)
        self.viewer.layers.events.inserted.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.layers.events.removed.connect(lambda e: self.video_combo.reset_choices())
        self._method_changed(self.method_combo.value)

    def _video_choices(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in video_layers(self.viewer)]

    def _method_changed(self, method: str) -> None:
        """Show the chosen method's model file and settings only."""
        for name, w in (*self.model_files.items(), *self.preset_combos.items(), *self.forms.items()):
            w.visible = name == method
        for w in (self.min_count, self.retrain_button):
            w.visible = method == "prototype"
        for w in (self.finetune_epochs, self.finetune_button):
            w.visible = method == "vovnet"

    def _apply_preset(self, method: str, preset: str) -> None:
        self.bases[method] = self.spotters[method].presets[preset]
        self._fill_form(method, self.bases[method])
        self._follow_default_model(method)

    def _fill_form(self, method: str, settings: Any) -> None:
        for w in self.forms[method]:
            w.value = getattr(settings, w.name)

    def _follow_default_model(self, method: str) -> None:
        """Show the default model of ``method``'s current settings in its field, unless the user
        chose another file there."""
        field = self.model_files.get(method)
        if field is None:
            return
        try:
            settings = dataclasses.replace(self.bases[method], **form_values(self.forms[method]))
        except (MespotError, ValueError):
            return  # a half-typed value: _prepare reports it on Run
        shown = self._shown_default[method]
        default = self.spotters[method].default_model_path(settings)
        if default != shown and (self._model_path(method) is None):
            self._shown_default[method] = default
            field.value = default or ""

    def _model_path(self, method: str) -> str | None:
        """The chosen model file of ``method``; ``None`` while the field is empty or still shows
        the default file, so the method picks its default model (which its settings may name)."""
        field = self.model_files.get(method)
        if field is None or str(field.value) in ("", "."):
            return None
        default = self._shown_default[method]
        return None if default is not None and Path(field.value) == Path(default) else str(field.value)

    def _prepare(self, method: str):
        """The chosen layer, its review state and ``method``'s settings (its form's values over
        the preset the form was filled from); ``None`` (after telling the user) when there is no
        video or a setting is refused."""
        layer = self.video_combo.value
        if layer is None:
            show_error("Open a video first (File → Open, or File → Open Sample → napari-mespot).")
            return None
        try:
            settings = dataclasses.replace(self.bases[method], **form_values(self.forms[method]))
            return layer, review_for(layer), settings
        except (MespotError, ValueError) as exc:
            show_error(str(exc))
            return None

    def run(self, *_: Any) -> None:
        method = self.method_combo.value
        spotter = self.spotters[method]
        prepared = self._prepare(method)
        if prepared is None:
            return
        layer, review, settings = prepared
        worker = _spot_job(spotter, review.video, self._model_path(method), settings)
        self._start(worker, lambda result: self._on_result(review, result), f"spotting {layer.name} …")

    def retrain(self, *_: Any) -> None:
        """Learn prototypes from the corrections made on this video, next to its session file.

        The new file becomes the dock's prototypes, so the next Run uses it and the Compare dock
        can set its run beside the old one's.
        """
        prepared = self._prepare("prototype")
        if prepared is None:
            return
        layer, review, settings = prepared
        session, out = _beside_session(layer, review, "prototypes", ".npz")
        worker = _retrain_job(
            str(session), str(self.prototypes.value), str(out), self.min_count.value, settings
        )
        self._start(worker, self._on_retrained, f"learning prototypes from {layer.name}'s corrections …")

    def finetune(self, *_: Any) -> None:
        """Fine-tune the dock's VoVNet checkpoint on this video's corrections, next to its session
        file, on the device of the VoVNet settings.

        The new checkpoint becomes the dock's, so the next Run uses it and the Compare dock can
        set its run beside the old one's.
        """
        prepared = self._prepare("vovnet")
        if prepared is None:
            return
        layer, review, settings = prepared
        session, out = _beside_session(layer, review, "vovnet", ".pt")
        init = self._model_path("vovnet") or str(self.spotters["vovnet"].default_model_path(settings))
        worker = _finetune_job(str(session), init, str(out), self.finetune_epochs.value, settings.device)
        self._start(worker, self._on_finetuned, f"fine-tuning VoVNet on {layer.name}'s corrections …")

    def _start(self, worker, on_result, message: str) -> None:
        self._outcome = "cancelled"
        self.worker = worker
        worker.yielded.connect(self._on_progress)
        worker.returned.connect(on_result)
        worker.errored.connect(self._on_error)
        worker.finished.connect(self._on_finished)
        for button in (self.run_button, self.retrain_button, self.finetune_button):
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
            reasons = sorted({s.reason for s in result.skipped})
            message += f"; {skipped} frames skipped ({', '.join(reasons)})"
        if result.unreliable:
            reasons = sorted({s.reason.split(" (")[0] for s in result.unreliable})
            unreliable = sum(s.length for s in result.unreliable)
            message += f"; {unreliable} frames unreliable, not spotted ({', '.join(reasons)})"
        message += "".join(f"; {note}" for note in result.notes)  # what `mespot spot` prints too
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

    def _on_finetuned(self, result: TrainResult) -> None:
        self.checkpoint.value = result.checkpoint
        before = result.init["val_total"] if result.init else float("nan")
        message = (
            f"new checkpoint {result.checkpoint.name}: validation loss {before:.3f} → "
            f"{result.best_val_loss:.3f} "
            f"(epoch {result.best_epoch} of {len(result.history)}); the next Run uses it"
        )
        self.status.value = message
        self._outcome = "done"
        show_info(message)

    def _on_error(self, exc: Exception) -> None:
        self._outcome = "failed"
        self.status.value = f"failed: {exc}"
        show_error(f"Spotting failed: {exc}")

    def _on_finished(self) -> None:
        self.run_button.enabled = self.retrain_button.enabled = self.finetune_button.enabled = True
        self.cancel_button.enabled = False
        if self._outcome == "cancelled":
            self.status.value = "cancelled"
            self.progress.setValue(0)
        self.worker = None
