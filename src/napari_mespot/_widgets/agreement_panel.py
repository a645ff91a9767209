"""The agreement panel (part of the Compare dock): this video's labels against a second annotator's.

Correcting a ground truth starts with where two annotators differ. The panel takes annotator A
from the video's own tracks (the loaded ground truth, or the corrected track's kept intervals)
and B from a file — a label file in any readable format or a review session — and shows what
:func:`napari_mespot.core.agreement.agreement_with` computes: the matched F1 at IoU ≥ k, the
mean onset and offset differences of the matched pairs, and frame-level Cohen's κ. Each
disagreement is a row; a click moves the frame slider to it. The video's review state publishes
the result, so the timeline marks the disagreements along its ruler.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from magicgui import widgets
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from napari_mespot._widgets.video_review import VideoReview, review_for
from napari_mespot.core.agreement import Disagreement, VideoAgreement, agreement_with
from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import CORRECTED

#: What a disagreement's kind means, for its row.
KIND_TEXT = {"only_a": "only A", "only_b": "only B", "type": "typed differently"}


def interval_text(iv: Interval) -> str:
    return f"{iv.type.upper()} {iv.onset}–{iv.offset}"


def disagreement_text(d: Disagreement) -> str:
    """One row: what kind, and the interval(s) it is about."""
    if d.kind == "type":
        return f"{KIND_TEXT[d.kind]}: A {interval_text(d.a)} · B {interval_text(d.b)} (IoU {d.iou:.2f})"
    return f"{KIND_TEXT[d.kind]}: {interval_text(d.a or d.b)}"


def summary_text(result: VideoAgreement) -> str:
    """The three numbers, with what they were computed from."""

    def frames(value: float | None) -> str:
        return "–" if value is None else f"{value:.2f} frames"

    kappa = "undefined (one label everywhere)" if result.kappa is None else f"{result.kappa:.3f}"
    counts = result.counts
    return (
        f"F1 {counts.f1:.3f} ({counts.tp} matched of A {counts.n_gt}, B {counts.n_pred}) · "
        f"mean |onset Δ| {frames(result.onset_mae)} · mean |offset Δ| {frames(result.offset_mae)} · "
        f"κ {kappa} over {result.n_frames} frames · {len(result.disagreements)} disagreement(s)"
    )


class AgreementPanel(QWidget):
    """Agreement with a second annotator's labels of the video ``layer()`` returns."""

    def __init__(self, napari_viewer, layer: Callable[[], Any]) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self._layer = layer
        self.a_combo = widgets.ComboBox(label="annotator A", choices=self._a_choices)
        self.b_file = widgets.FileEdit(
            label="annotator B", mode="r", filter="*.csv *.json *.xlsx *.mespot.json"
        )
        self.k = widgets.FloatSpinBox(label="k (IoU)", value=0.5, min=0.05, max=1.0, step=0.05)
        self.button = widgets.PushButton(text="Agreement")
        form = widgets.Container(widgets=[self.a_combo, self.b_file, self.k, self.button])
        self.summary = QLabel("A: this video's ground truth or corrected track; B: a label file or session")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.disagreements = QListWidget()
        self.disagreements.setToolTip("click: go to the disagreement's first frame")
        self.result: VideoAgreement | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(form.native)
        layout.addWidget(self.summary)
        layout.addWidget(self.disagreements)
        self.button.changed.connect(self.run)
        self.disagreements.itemClicked.connect(self._go_to)

    def _review(self) -> VideoReview | None:
        layer = self._layer()
        return None if layer is None else review_for(layer)

    def _a_choices(self, *_: Any) -> list[str]:
        review = self._review()
        if review is None:
            return []
        return [name for name, t in review.model.tracks.items() if t.kind in ("gt", "corrected")]

    def reset_choices(self) -> None:
        self.a_combo.reset_choices()

    def _annotator_a(self, review: VideoReview) -> list[Interval]:
        """A's intervals: the corrected track's kept ones, or a ground truth's not rejected."""
        if self.a_combo.value == CORRECTED:
            return review.model.kept()
        return [iv for iv in review.model.tracks[self.a_combo.value] if iv.status != "rejected"]

    def run(self, *_: Any) -> None:
        review = self._review()
        if review is None or self.a_combo.value is None:
            self.summary.setText("open a video (and load its ground truth, or correct it) first")
            return
        try:
            result = agreement_with(
                self._annotator_a(review),
                self.b_file.value,
                review.names,
                review.model.n_frames,
                float(self.k.value),
            )
        except (MespotError, OSError) as exc:
            self.summary.setText(str(exc))
            return
        self.result = result
        self.summary.setText(summary_text(result))
        self.disagreements.clear()
        for d in result.disagreements:
            item = QListWidgetItem(disagreement_text(d))
            item.setData(Qt.ItemDataRole.UserRole, d.onset)
            self.disagreements.addItem(item)
        review.set_agreement(result)

    def _go_to(self, item: QListWidgetItem) -> None:
        self.viewer.dims.set_current_step(0, int(item.data(Qt.ItemDataRole.UserRole)))
