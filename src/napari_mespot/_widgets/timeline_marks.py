"""What the timeline marks besides the intervals themselves, painted with QPainter.

Four marks tell the annotator something about intervals or spans that the lanes' colours do not:

- the **selected event**: the other runs' copies of the selected candidate's expression
  (:mod:`napari_mespot.core.review.events`), outlined in dashes, and the event's span as a
  bracket under the ruler — what ``A`` will settle;
- a comparison's **outcomes**: a strip under each interval, found / false / missed;
- **untrusted** spans: frames the latest run did not analyse or did not trust, hatched across
  every lane;
- annotators' **disagreements** (the Compare dock's agreement): a strip along the ruler's foot,
  coloured by kind.

The view (:mod:`.timeline_view`) decides when; these functions only draw, from its geometry.
"""

from __future__ import annotations

from typing import Protocol

from qtpy.QtCore import QLineF, QRectF, Qt
from qtpy.QtGui import QBrush, QColor, QPainter, QPen

from napari_mespot._widgets import colours
from napari_mespot.core.review.model import ReviewModel
from napari_mespot.core.review.timeline import LANE_H, RULER_H, Lane


class TimelineView(Protocol):
    """What the marks need of the timeline view (:class:`.timeline_view.TimelineView`)."""

    model: ReviewModel
    lanes: list[Lane]
    scale: float
    untrusted: list[tuple[int, int]]
    event_keys: frozenset[tuple[str, str]]
    event_span: tuple[int, int] | None
    disagreements: list[tuple[int, int, str]]

    def x_of(self, frame: float) -> float: ...


#: Outcome strips under intervals after a comparison: found, false alarm, missed.
OUTCOME_COLOURS = {outcome: QColor(c) for outcome, c in colours.OUTCOME_COLOURS.items()}
OUTCOME_H = 4
#: Frames the latest spotter run did not analyse (no face) or did not trust (unreliable): hatched.
UNTRUSTED = QColor(255, 255, 255, 60)
#: The selected event's other copies: a dashed outline in the selection's white.
EVENT_COPY = QColor("#ffffff")
#: The strip of annotators' disagreements along the ruler's foot, by kind.
DISAGREEMENT_COLOURS = {kind: QColor(c) for kind, c in colours.DISAGREEMENT_COLOURS.items()}
DISAGREEMENT_H = 5


def paint_outcomes(painter: QPainter, marks: dict[str, str], lane: Lane, idx, x0, x1, bottom: float) -> None:
    """A strip under each of ``lane``'s intervals ``idx`` (spanning ``x0``–``x1``) that has an
    outcome in ``marks`` (interval id → "tp" / "fp" / "fn")."""
    painter.setPen(Qt.PenStyle.NoPen)
    for k, a, b in zip(idx.tolist(), x0.tolist(), x1.tolist(), strict=True):
        outcome = marks.get(lane.ids[k])
        if outcome is not None:
            painter.setBrush(OUTCOME_COLOURS[outcome])
            painter.drawRect(QRectF(a, bottom - OUTCOME_H, b - a, OUTCOME_H))


def paint_untrusted(painter: QPainter, view: TimelineView, first: float, last: float) -> None:
    """Hatch the view's untrusted spans across every lane."""
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QBrush(UNTRUSTED, Qt.BrushStyle.BDiagPattern))
    bottom = RULER_H + LANE_H * len(view.lanes)
    for a, b in view.untrusted:
        if b + 1 >= first and a <= last:
            width = max(1.5, (b + 1 - a) * view.scale)
            painter.drawRect(QRectF(view.x_of(a), RULER_H, width, bottom - RULER_H))


def paint_event_copies(painter: QPainter, view: TimelineView, lane: Lane, top: float, height: float) -> None:
    """Outline, in dashes, ``lane``'s copies of the selected event other than the selection."""
    selection = view.model.selection
    ids = [i for track, i in view.event_keys if track == lane.name and (track, i) != selection]
    if not ids:
        return
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(EVENT_COPY, 1.5, Qt.PenStyle.DashLine))
    for interval_id in ids:
        if interval_id in lane.ids:
            i = lane.ids.index(interval_id)
            x0, x1 = view.x_of(lane.onset[i]), view.x_of(lane.offset[i] + 1)
            painter.drawRect(QRectF(x0 - 1, top - 1, max(x1 - x0, 1.5) + 2, height + 2))


def paint_event_span(painter: QPainter, view: TimelineView) -> None:
    """A bracket under the ruler over the selected event's frames (when it has several copies)."""
    if view.event_span is None or len(view.event_keys) < 2:
        return
    onset, offset = view.event_span
    x0, x1 = view.x_of(onset), view.x_of(offset + 1)
    y = RULER_H - 2
    painter.setPen(QPen(EVENT_COPY, 1.5))
    painter.drawLines([QLineF(x0, y, x1, y), QLineF(x0, y - 4, x0, y), QLineF(x1, y - 4, x1, y)])


def paint_disagreements(painter: QPainter, view: TimelineView, first: float, last: float) -> None:
    """The disagreements' strip along the ruler's foot: (onset, offset, kind) spans."""
    painter.setPen(Qt.PenStyle.NoPen)
    for onset, offset, kind in view.disagreements:
        if offset + 1 >= first and onset <= last:
            painter.setBrush(QBrush(DISAGREEMENT_COLOURS[kind]))
            width = max(2.0, (offset + 1 - onset) * view.scale)
            painter.drawRect(QRectF(view.x_of(onset), RULER_H - DISAGREEMENT_H, width, DISAGREEMENT_H))
