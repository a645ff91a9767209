"""The "Spot expressions" dock: choose a video layer, a method and its settings, Run / Cancel.

The methods are the plugin registry's spotters (:func:`napari_mespot.plugins.spotters`, the
built-ins and any installed plugin's): each gets its model file field and a settings form built
from its settings dataclass, shown while it is the chosen method. The work is the spotter's
generator run in napari's ``thread_worker``: the worker never touches a layer; its progress
reaches the bar through ``yielded`` and its result reaches the review state through
``returned``, both on the main thread. Cancel closes the generator. A job's error is one line
in the dock (and the log), never a traceback in napari's event loop.

Retraining from this video's corrections (prototypes or a VoVNet fine-tune) cannot silently
make things worse (:mod:`napari_mespot.jobs.heldout`): a retraining that learnt nothing leaves
the current model in place, and one that did is measured on corrections it did not train on
and offered with those numbers — the annotator decides whether the next Run uses it. The
buttons say what there is to learn from, and are off while there is nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from pathlib import Path
from typing import Any

from magicgui import widgets
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QMessageBox, QProgressBar, QVBoxLayout, QWidget

from napari_mespot._widgets.settings_form import form_values, settings_form
from napari_mespot._widgets.video_review import review_for, video_layers
from napari_mespot._widgets.worker import JobError, run_job
from napari_mespot.core.errors import MespotError
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import SpotResult, Spotter
from napari_mespot.core.spotters.prototype import PrototypeSet, PrototypeSettings
from napari_mespot.core.spotters.vovnet import FINETUNE_EPOCHS, finetune_settings, load_checkpoint
from napari_mespot.jobs.heldout import Retrained, finetune_vovnet_checked, retrain_prototypes_checked
from napari_mespot.jobs.retrain import open_corrected, teaches_a_prototype
from napari_mespot.plugins import spotters

log = logging.getLogger(__name__)


def _spot(spotter: Spotter, video, model_path: str | None, settings):
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


def _retrain(session_path: str, base_path: str, out: str, min_count: int, settings: PrototypeSettings):
    """Prototypes from one session's corrections, measured held out (jobs.heldout); saved to
    ``out`` only when they relearnt something."""
    base = PrototypeSet.load(base_path)
    videos = open_corrected([session_path])
    prototypes, report = yield from retrain_prototypes_checked(
        videos, base, min_count=min_count, settings=settings
    )
    if report.learnt:
        prototypes.save(out)
        report = dataclasses.replace(report, path=Path(out))
    return report


def _finetune(session_path: str, init: str, out: str, epochs: int, spot_settings):
    """Fine-tune the checkpoint ``init`` on one session's corrections, measured held out."""
    device, cache = spot_settings.device, spot_settings.cache_dir or None
    settings = finetune_settings(load_checkpoint(init).window, epochs=epochs, device=device)
    videos = open_corrected([session_path])
    _, report = yield from finetune_vovnet_checked(
        videos, out, init, settings, device=device, cache_dir=cache
    )
    return report


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
        self._failure = ""  # what a failed job's message starts with
        self._corrections = None  # the review model whose corrections the retrain buttons count
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
        self.video_combo.changed.connect(self._follow_corrections)
        self.viewer.layers.events.inserted.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.layers.events.removed.connect(lambda e: self.video_combo.reset_choices())
        self._method_changed(self.method_combo.value)
        self._follow_corrections()

    def _video_choices(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in video_layers(self.viewer)]

    def _follow_corrections(self, *_: Any) -> None:
        """Count the chosen video's corrections again whenever they change."""
        if self._corrections is not None:
            self._corrections.events.changed.disconnect(self._update_retrain_buttons)
        self._corrections = None
        layer = self.video_combo.value
        if layer is not None:
            with contextlib.suppress(MespotError):  # a sidecar of another video: nothing to learn
                self._corrections = review_for(layer).model
        if self._corrections is not None:
            self._corrections.events.changed.connect(self._update_retrain_buttons)
        self._update_retrain_buttons()

    def _update_retrain_buttons(self, *_: Any) -> None:
        """Say on the buttons what there is to learn from; off while there is nothing."""
        kept = self._corrections.kept() if self._corrections is not None else []
        teaching = sum(map(teaches_a_prototype, kept))
        busy = self.worker is not None
        none = "no corrections on this video yet: accept, edit or add intervals first"
        if not kept:
            proto_text, vovnet_text = (
                "Retrain prototypes: no corrections yet",
                "Fine-tune VoVNet: no corrections yet",
            )
            proto_tip = vovnet_tip = none
        else:
            proto_text = (
                f"Retrain prototypes from {teaching} corrections"
                if teaching
                else "Retrain prototypes: no correction has apex + AUs"
            )
            proto_tip = (
                f"{teaching} of the {len(kept)} corrected intervals have an apex and AU codes to learn from"
            )
            vovnet_text = f"Fine-tune VoVNet on {len(kept)} corrections"
            vovnet_tip = f"the {len(kept)} corrected intervals of this video"
        self.retrain_button.tooltip, self.finetune_button.tooltip = proto_tip, vovnet_tip
        self.retrain_button.text, self.finetune_button.text = proto_text, vovnet_text
        self.retrain_button.enabled = bool(teaching) and not busy
        self.finetune_button.enabled = bool(kept) and not busy

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
        worker = run_job(_spot, spotter, review.video, self._model_path(method), settings)
        self._start(
            worker, lambda result: self._on_result(review, result), f"spotting {layer.name} …", "Spotting"
        )

    def retrain(self, *_: Any) -> None:
        """Learn prototypes from the corrections made on this video, next to its session file.

        When they relearnt an AU the annotator is asked, with their held-out F1 beside the
        current prototypes', whether the next Run uses them (then the Compare dock can set
        its run beside the old one's).
        """
        prepared = self._prepare("prototype")
        if prepared is None:
            return
        layer, review, settings = prepared
        session, out = _beside_session(layer, review, "prototypes", ".npz")
        worker = run_job(
            _retrain, str(session), str(self.prototypes.value), str(out), self.min_count.value, settings
        )
        message = f"learning prototypes from {layer.name}'s corrections, then measuring them held out …"
        self._start(
            worker, lambda report: self._decide(report, "prototypes", self.prototypes), message, "Retraining"
        )

    def finetune(self, *_: Any) -> None:
        """Fine-tune the dock's VoVNet checkpoint on this video's corrections, next to its session
        file, on the device of the VoVNet settings.

        When the fine-tuning changed the weights the annotator is asked, with the held-out F1
        of both checkpoints, whether the next Run uses the new one.
        """
        prepared = self._prepare("vovnet")
        if prepared is None:
            return
        layer, review, settings = prepared
        session, out = _beside_session(layer, review, "vovnet", ".pt")
        init = self._model_path("vovnet") or str(self.spotters["vovnet"].default_model_path(settings))
        worker = run_job(_finetune, str(session), init, str(out), self.finetune_epochs.value, settings)
        message = f"fine-tuning VoVNet on {layer.name}'s corrections, then measuring it held out …"
        self._start(
            worker, lambda report: self._decide(report, "checkpoint", self.checkpoint), message, "Fine-tuning"
        )

    def _start(self, worker, on_result, message: str, job: str) -> None:
        self._outcome = "cancelled"
        self._failure = f"{job} failed"
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

    def _decide(self, report: Retrained, what: str, field) -> None:
        """Switch the dock to a retrained model only when it learnt something and the annotator,
        shown its held-out numbers, says so."""
        self._outcome = "done"
        stay = "stay" if what.endswith("s") else "stays"
        if not report.learnt:
            message = f"{report.summary()}; the current {what} {stay}"
        elif self.ask_to_switch(report, what):
            field.value = report.path
            message = f"{report.summary()}; the next Run uses {report.path.name}"
        else:
            kept = f"{report.path.name} is kept beside the session"
            message = f"{report.summary()}; the current {what} {stay} ({kept})"
        self.status.value = message
        show_info(message)

    def ask_to_switch(self, report: Retrained, what: str) -> bool:
        """Ask whether the next Run uses the retrained ``what``; the default answer is "no" unless
        it did at least as well held out."""
        yes, no = QMessageBox.StandardButton.Yes, QMessageBox.StandardButton.No
        held = report.held_out
        default = yes if held is not None and held.after >= held.before else no
        question = f"{report.summary()}.\n\nUse the retrained {what} for the next Run?"
        return QMessageBox.question(self, f"Use the retrained {what}?", question, yes | no, default) == yes

    def _on_error(self, exc: Exception) -> None:
        """One line in the dock and a notification; the traceback of an unexpected error goes to
        the log, not to napari's event loop."""
        self._outcome = "failed"
        if not isinstance(exc, MespotError) or isinstance(exc, JobError):
            log.error("%s", self._failure, exc_info=exc)
        text = str(exc) if isinstance(exc, MespotError) else f"{type(exc).__name__}: {exc}"
        self.status.value = f"{self._failure}: {text}"
        show_error(f"{self._failure}: {text}")

    def _on_finished(self) -> None:
        self.run_button.enabled = True
        self.cancel_button.enabled = False
        if self._outcome == "cancelled":
            self.status.value = "cancelled"
            self.progress.setValue(0)
        self.worker = None
        self._update_retrain_buttons()
