"""Timeline dock: one lane per track along the video's time, synced with napari's frame slider.

Everything shown comes from the shared :class:`~napari_mespot._widgets.video_review.VideoReview`:
the lanes (:class:`~.timeline_view.TimelineView`) redraw from the model's signals, and a dragged
handle is one ``model.edit`` on release (on a candidate that edit writes the corrected copy; the
machine track is never changed). Interaction: wheel zooms around the cursor (horizontal wheel /
Shift+wheel pans), dragging empty space or the scrollbar pans, a click seeks (and selects the
interval under it), the ruler scrubs, the handles at onset, apex and offset of candidates and
corrected intervals can be dragged, and the hover tip tells type, frames, status, AUs and score.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QEvent, Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QScrollBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from napari_mespot._widgets.colours import (
    DISAGREEMENT_COLOURS,
    OUTCOME_COLOURS,
    STATUS_COLOURS,
    TYPE_COLOURS,
    coloured,
    swatch,
)
from napari_mespot._widgets.review_keys import actions_for
from napari_mespot._widgets.timeline_view import TimelineView
from napari_mespot._widgets.video_review import VideoReview
from napari_mespot.core.review.timeline import LANE_H, RULER_H

if TYPE_CHECKING:
    import napari


OUTCOMES = (("tp", "found"), ("fp", "false"), ("fn", "missed"))
DISAGREEMENTS = (("only_a", "only A"), ("only_b", "only B"), ("type", "typed differently"))
LEGEND = " &nbsp; ".join(
    (
        swatch(TYPE_COLOURS["me"], "ME"),
        swatch(TYPE_COLOURS["mae"], "MaE"),
        "faint: candidate",
        "border "
        + " · ".join(coloured(STATUS_COLOURS[s], s) for s in ("accepted", "edited", "added", "rejected"))
        + " (hatched)",
        "white tick: apex",
        "strip after Compare: " + " · ".join(coloured(OUTCOME_COLOURS[o], t) for o, t in OUTCOMES),
        "dashed: the selected event's other copies (bracket under the ruler: its frames)",
        "ruler strip after Agreement: "
        + " · ".join(coloured(DISAGREEMENT_COLOURS[k], t) for k, t in DISAGREEMENTS),
        "white hatching across lanes: not analysed or unreliable in the latest run (nothing spotted there)",
    )
)


#: Lanes shown at once; more tracks scroll (the dock's height stays bounded under the canvas).
MAX_VISIBLE_LANES = 4


class TimelineWidget(QWidget):
    """The timeline dock: the current video's tracks, synced with napari's frame slider."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.actions = actions_for(napari_viewer)
        self._review: VideoReview | None = None
        self.view = TimelineView()
        self.view.key_handler = self.actions.handle_key
        self.scrollbar = QScrollBar(Qt.Orientation.Horizontal)
        self.title = QLabel()
        self.status = QLabel()
        follow = QCheckBox("follow playhead")
        follow.setChecked(True)
        follow.toggled.connect(lambda on: setattr(self.view, "follow", on))
        buttons = []
        for text, tip, slot in (
            ("fit", "show the whole video", self.view.fit),
            ("−", "zoom out (or wheel)", lambda: self.view.zoom(1 / 2)),
            ("+", "zoom in (or wheel)", lambda: self.view.zoom(2)),
        ):
            button = QPushButton(text)
            button.setToolTip(tip)
            button.setMaximumWidth(44)
            button.clicked.connect(slot)
            buttons.append(button)
        bar = QHBoxLayout()
        bar.addWidget(self.title)
        bar.addWidget(self.status, 1)  # messages beside the title: no line of their own
        for button in buttons:
            bar.addWidget(button)
        bar.addWidget(follow)
        legend = QLabel(LEGEND)
        legend.setToolTip(LEGEND)
        for label in (legend, self.status):  # one line each, cut when narrow: the height stays put
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # The lanes scroll vertically beyond MAX_VISIBLE_LANES tracks: the dock's height stays bounded.
        self.lanes = QScrollArea()
        self.lanes.setWidget(self.view)
        self.lanes.setWidgetResizable(True)
        self.lanes.setFrameShape(QFrame.Shape.NoFrame)
        self.lanes.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.lanes)
        layout.addWidget(self.scrollbar)
        layout.addWidget(legend)

        self.view.frame_requested.connect(self.actions.seek)
        self.view.message.connect(self.actions.message)
        self.view.view_changed.connect(self._sync_scrollbar)
        self.scrollbar.valueChanged.connect(lambda v: self.view.set_view(float(v)))
        napari_viewer.dims.events.current_step.connect(self._on_step)
        self.actions.events.review_changed.connect(self._set_review)
        self.actions.events.message.connect(self._show_message)
        self.actions.events.event_iou_changed.connect(self._show_event)
        self._set_review(self.actions.review)

    def _show_message(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def _fit_lanes(self, *_: Any) -> None:
        """Show every lane, up to :data:`MAX_VISIBLE_LANES` (more scroll)."""
        shown = min(self.view.sizeHint().height(), RULER_H + MAX_VISIBLE_LANES * LANE_H + 4)
        self.lanes.setFixedHeight(shown + 2 * self.lanes.frameWidth())  # napari's theme keeps a frame

    def showEvent(self, event) -> None:
        self._fit_lanes()  # the theme's frame around the lanes is known once shown
        super().showEvent(event)

    def event(self, event: QEvent) -> bool:
        """Keep the dock as tall as its content and no taller: the lanes, the controls and the
        legend — more height would only be empty."""
        if event.type() == QEvent.Type.LayoutRequest:
            self.setMaximumHeight(self.layout().sizeHint().height())
        return super().event(event)

    def _set_review(self, review: VideoReview | None) -> None:
        if self._review is not None:
            self._review.events.outcomes_changed.disconnect(self._on_outcomes)
            self._review.model.events.tracks_changed.disconnect(self._fit_lanes)
            self._review.events.results_changed.disconnect(self._on_results)
            self._review.events.agreement_changed.disconnect(self._on_agreement)
            self._review.model.events.selection_changed.disconnect(self._show_event)
            self._review.model.events.tracks_changed.disconnect(self._show_event)
        self._review = review
        self.view.set_model(review.model if review is not None else None)  # its lanes first
        if review is not None:
            review.events.outcomes_changed.connect(self._on_outcomes)
            review.model.events.tracks_changed.connect(self._fit_lanes)
            review.events.results_changed.connect(self._on_results)
            review.events.agreement_changed.connect(self._on_agreement)
            review.model.events.selection_changed.connect(self._show_event)
            review.model.events.tracks_changed.connect(self._show_event)
        self._fit_lanes()
        self._on_outcomes()
        self._on_results()
        self._on_agreement()
        self._show_event()
        self.title.setText(f"<b>{review.layer.name}</b>" if review is not None else "no video layer")
        self._on_step()

    def _on_results(self, *_: Any) -> None:
        """Hatch what the latest run skipped or found unreliable."""
        results = list(self._review.results.values()) if self._review is not None else []
        latest = results[-1] if results else None
        spans = [] if latest is None else [(s.start, s.end) for s in (*latest.skipped, *latest.unreliable)]
        self.view.set_untrusted(spans)

    def _show_event(self, *_: Any) -> None:
        """Mark the copies of the selected interval's event (what ``A`` settles)."""
        event = self.actions.selected_event() if self._review is not None else None
        if event is None:
            self.view.set_event(frozenset(), None)
        else:
            self.view.set_event(frozenset(event.keys), (event.onset, event.offset))

    def _on_agreement(self, *_: Any) -> None:
        """Mark where two annotators disagree (the Compare dock's agreement)."""
        found = self._review.agreement if self._review is not None else None
        spans = [] if found is None else [(d.onset, d.offset, d.kind) for d in found.disagreements]
        self.view.set_disagreements(spans)

    def _on_outcomes(self) -> None:
        self.view.set_outcomes(self._review.outcomes if self._review is not None else {})

    def _on_step(self, *_: Any) -> None:
        self.view.set_playhead(int(self.viewer.dims.current_step[0]))

    def _sync_scrollbar(self) -> None:
        view = self.view
        visible = math.ceil(view.visible_frames)
        self.scrollbar.blockSignals(True)
        self.scrollbar.setRange(0, max(0, view.n_frames - visible))
        self.scrollbar.setPageStep(max(1, visible))
        self.scrollbar.setSingleStep(max(1, visible // 10))
        self.scrollbar.setValue(round(view.start))
        self.scrollbar.blockSignals(False)
