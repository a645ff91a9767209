"""The Compare dock: score spotter runs against a reference track, side by side.

Pick a reference (the ground truth or the annotator's corrected track) and one or more runs;
the dock shows the MEGC table (ME, MaE, overall at the chosen k), publishes each interval's
outcome (TP / FP / FN) on the layer's review state for the timeline to mark, and plots the
curves of two runs one above the other over the same frames, both linked to the slider. Its
agreement panel (:mod:`.agreement_panel`) compares the video's labels with a second annotator's.
"""

from __future__ import annotations

from typing import Any

from magicgui import widgets
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QGroupBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from napari_mespot._widgets.agreement_panel import AgreementPanel
from napari_mespot._widgets.curves_plot import plot_result
from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for, video_layers
from napari_mespot.core.compare import Comparison, compare
from napari_mespot.core.errors import MespotError
from napari_mespot.core.metrics import DEFAULT_KS, MATCHING_MODES

COLUMNS = ("run", "type", "TP", "FP", "FN", "precision", "recall", "F1")


class CompareDock(QWidget):
    """MEGC metrics of runs against a reference, per-interval outcomes, paired curves."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.video_combo = widgets.ComboBox(label="video", choices=self._video_choices)
        self.gt_file = widgets.FileEdit(label="ground truth file", mode="r", filter="*.csv *.json *.xlsx")
        self.load_gt_button = widgets.PushButton(text="Load as ground truth")
        self.reference_combo = widgets.ComboBox(label="reference", choices=self._reference_choices)
        self.runs = widgets.Select(label="runs", choices=self._run_choices)
        self.k_combo = widgets.ComboBox(label="k (IoU)", choices=sorted(DEFAULT_KS), value=0.5)
        self.matching_combo = widgets.ComboBox(label="matching", choices=list(MATCHING_MODES))
        self.compare_button = widgets.PushButton(text="Compare")
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.figure = Figure(figsize=(8, 3), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.playheads: list = []
        self.comparisons: list[Comparison] = []
        self.agreement = AgreementPanel(napari_viewer, lambda: self.video_combo.value)
        agreement_box = QGroupBox("Agreement with a second annotator")
        QVBoxLayout(agreement_box).addWidget(self.agreement)

        form = widgets.Container(
            widgets=[
                self.video_combo,
                self.gt_file,
                self.load_gt_button,
                self.reference_combo,
                self.runs,
                self.k_combo,
                self.matching_combo,
                self.compare_button,
            ]
        )
        layout = QVBoxLayout(self)
        layout.addWidget(form.native)
        layout.addWidget(self.table)
        layout.addWidget(agreement_box)
        layout.addWidget(self.canvas, stretch=1)

        self.video_combo.changed.connect(self._video_changed)
        self.compare_button.changed.connect(self.run)
        self.load_gt_button.changed.connect(self.load_ground_truth)
        self.k_combo.changed.connect(self._rerun)
        self.matching_combo.changed.connect(self._rerun)
        self.viewer.layers.events.inserted.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.layers.events.removed.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.canvas.mpl_connect("button_press_event", self._on_click)
        self._video_changed()

    # -- choices ---------------------------------------------------------------------------------
    def _video_choices(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in video_layers(self.viewer)]

    def _tracks(self, kinds: tuple[str, ...]) -> list[str]:
        layer = self.video_combo.value
        if layer is None:
            return []
        return [name for name, t in review_for(layer).model.tracks.items() if t.kind in kinds]

    def _reference_choices(self, *_: Any) -> list[str]:
        return self._tracks(("gt", "corrected"))

    def _run_choices(self, *_: Any) -> list[str]:
        return self._tracks(("machine",))

    def _video_changed(self, *_: Any) -> None:
        layer = self.video_combo.value
        if layer is not None:
            review = review_for(layer)
            review.model.events.tracks_changed.connect(self._tracks_changed)
        self._tracks_changed()

    def _tracks_changed(self, *_: Any) -> None:
        self.reference_combo.reset_choices()
        self.runs.reset_choices()
        self.agreement.reset_choices()

    def load_ground_truth(self, *_: Any) -> None:
        layer = self.video_combo.value
        if layer is None:
            return
        try:
            n = review_for(layer).load_ground_truth(self.gt_file.value)
        except (MespotError, OSError) as exc:
            show_error(str(exc))
            return
        self.reference_combo.value = GROUND_TRUTH
        show_info(f"ground truth: {n} intervals for {layer.name}")

    # -- comparing -------------------------------------------------------------------------------
    def _rerun(self, *_: Any) -> None:
        if self.comparisons:
            self.run()

    def run(self, *_: Any) -> None:
        layer = self.video_combo.value
        reference = self.reference_combo.value
        runs = list(self.runs.value)
        if layer is None or reference is None or not runs:
            return
        review = review_for(layer)
        self.comparisons = compare(
            review.model, reference, runs, k=float(self.k_combo.value), matching=self.matching_combo.value
        )
        review.set_outcomes(
            {c.method: c.predictions for c in self.comparisons}, reference, self._reference_outcomes()
        )
        self._fill_table()
        self._plot_curves(review, runs[:2])

    def _reference_outcomes(self) -> dict[str, str]:
        """Per reference interval, "tp" when any compared run found it, else "fn"."""
        merged: dict[str, str] = {}
        for c in self.comparisons:
            for iv_id, outcome in c.references.items():
                if merged.get(iv_id) != "tp":
                    merged[iv_id] = outcome.outcome
        return merged

    def _fill_table(self) -> None:
        rows = []
        for c in self.comparisons:
            ev = c.evaluation
            for kind, counts in (("ME", ev.me), ("MaE", ev.mae), ("overall", ev.overall)):
                rows.append(
                    (
                        c.method,
                        kind,
                        counts.tp,
                        counts.fp,
                        counts.fn,
                        counts.precision,
                        counts.recall,
                        counts.f1,
                    )
                )
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for col, value in enumerate(row):
                text = f"{value:.4f}" if isinstance(value, float) else str(value)
                self.table.setItem(r, col, QTableWidgetItem(text))

    def _plot_curves(self, review, runs: list[str]) -> None:
        self.figure.clear()
        self.playheads = []
        shown = [run for run in runs if run in review.results]
        frame = int(self.viewer.dims.current_step[0])
        axes = self.figure.subplots(len(shown), 1, sharex=True, squeeze=False)[:, 0] if shown else []
        for ax, run in zip(axes, shown, strict=True):
            self.playheads.append(plot_result(ax, review.results[run], frame))
            ax.set_title(run, fontsize="small", loc="left")
        for playhead in self.playheads:
            playhead.set_animated(False)
        self.canvas.draw_idle()

    def _on_step(self, event=None) -> None:
        frame = int(self.viewer.dims.current_step[0])
        for playhead in self.playheads:
            playhead.set_xdata([frame, frame])
        if self.playheads:
            self.canvas.draw_idle()

    def _on_click(self, event) -> None:
        if event.inaxes is None or event.xdata is None:
            return
        self.viewer.dims.set_current_step(0, max(0, round(event.xdata)))

    @property
    def overall_f1(self) -> dict[str, float]:
        return {c.method: c.evaluation.overall.f1 for c in self.comparisons}
