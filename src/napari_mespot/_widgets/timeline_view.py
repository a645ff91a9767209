"""The timeline's painted lanes, ruler and playhead (QPainter), and its mouse and wheel handling.

Why a hand-drawn widget: a review video has 30 000+ frames and hundreds of intervals per track,
and the playhead moves on every frame step. Each lane keeps its intervals as sorted numpy arrays
(rebuilt only when the model changes), so finding what is visible is two binary searches, and a
frame step repaints only the two thin strips under the old and new playhead. Where things are —
frame ↔ x, zoom, ticks, what is under the cursor — is :mod:`napari_mespot.core.review.timeline`;
this module paints it and turns mouse gestures into model edits (a dragged handle is one
``model.edit`` on release).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from qtpy.QtCore import QEvent, QLineF, QPointF, QRect, QRectF, QSize, Qt, Signal
from qtpy.QtGui import (
    QBrush,
    QColor,
    QFont,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QWheelEvent,
)
from qtpy.QtWidgets import (
    QSizePolicy,
    QToolTip,
    QWidget,
)

from napari_mespot._widgets import colours
from napari_mespot._widgets import timeline_marks as marks
from napari_mespot._widgets.review_keys import describe
from napari_mespot.core.errors import MespotError
from napari_mespot.core.review.model import CORRECTED, ReviewModel
from napari_mespot.core.review.timeline import (
    LABEL_W,
    LANE_H,
    RULER_H,
    STATUS_KEYS,
    TYPES,
    Hit,
    Lane,
    TimelineGeometry,
    hit_at,
    lanes_for,
)

if TYPE_CHECKING:
    pass

DRAG_START_PX = 3  # movement that turns a click into a pan

BACKGROUND = QColor("#262930")
LANE_COLORS = (QColor("#30343c"), QColor("#2b2f36"))
CORRECTED_LANE = QColor("#33302a")
TEXT = QColor("#d6d6d6")
GRID = QColor(255, 255, 255, 28)
PLAYHEAD = QColor(colours.PLAYHEAD)
SELECTION = QColor("#ffffff")
TYPE_COLORS = {kind: QColor(c) for kind, c in colours.TYPE_COLOURS.items()}
#: Border colour per status; a candidate has none (translucent fill), a rejected one is hatched.
STATUS_BORDERS = {status: QColor(c) for status, c in colours.STATUS_COLOURS.items()}


def _style(kind: str, status: str) -> tuple[QBrush, QPen]:
    """Fill and border of an interval of type ``kind`` shown with ``status``."""
    color = QColor(TYPE_COLORS[kind])
    if status == "rejected":
        grey = QColor(130, 130, 130, 110)
        return QBrush(grey, Qt.BrushStyle.BDiagPattern), QPen(STATUS_BORDERS["rejected"], 1)
    if status == "candidate":
        color.setAlpha(120)
        return QBrush(color), QPen(Qt.PenStyle.NoPen)
    if status == "truth":
        return QBrush(color), QPen(color.lighter(150), 1)
    return QBrush(color), QPen(STATUS_BORDERS[status], 2)


STYLES = [_style(kind, status) for kind in TYPES for status in STATUS_KEYS]


@dataclass
class Drag:
    """A handle being dragged; the model is edited once, on release."""

    hit: Hit
    original: int
    value: int


class TimelineView(QWidget):
    """The painted lanes, ruler and playhead of one :class:`ReviewModel`."""

    #: (frame) the user clicked, scrubbed or dragged a handle to this frame.
    frame_requested = Signal(int)
    #: the visible range changed (zoom or pan): the dock updates its scrollbar.
    view_changed = Signal()
    #: (text) a refused edit, for the status bar.
    message = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: ReviewModel | None = None
        self.lanes: list[Lane] = []
        self.playhead = 0
        self._geometry = TimelineGeometry()
        self.follow = True  # keep the playhead in view
        self.key_handler = None  # callable(QKeyEvent) -> bool: the review keys
        self._drag: Drag | None = None
        self._press: QPointF | None = None
        self._panning = False
        self._scrubbing = False
        self._press_start = 0.0
        self._static: QPixmap | None = None  # lanes, ruler and labels as last drawn
        #: track → interval id → "tp" / "fp" / "fn", from the Compare dock's last comparison.
        self.outcomes: dict[str, dict[str, str]] = {}
        #: (first, last) frames the latest spotter run skipped or found unreliable.
        self.untrusted: list[tuple[int, int]] = []
        #: The selected event's copies, (track, interval id), and its (onset, offset).
        self.event_keys: frozenset[tuple[str, str]] = frozenset()
        self.event_span: tuple[int, int] | None = None
        #: (onset, offset, kind) of two annotators' disagreements, from the Compare dock.
        self.disagreements: list[tuple[int, int, str]] = []
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMinimumWidth(LABEL_W + 120)

    # -- model ---------------------------------------------------------------------------------
    def set_model(self, model: ReviewModel | None) -> None:
        if self.model is not None:
            self.model.events.changed.disconnect(self._rebuild)
            self.model.events.tracks_changed.disconnect(self._rebuild)
            self.model.events.selection_changed.disconnect(self._on_selection)
        self.model = model
        self._drag = None
        if model is not None:
            model.events.changed.connect(self._rebuild)
            model.events.tracks_changed.connect(self._rebuild)
            model.events.selection_changed.connect(self._on_selection)
        self._rebuild()
        self.fit()

    def _rebuild(self, *_: Any) -> None:
        """Re-read the lanes (a decision recolours its candidate, so every lane is recoloured)."""
        self.lanes = lanes_for(self.model, self.lanes)
        self.setMinimumHeight(self.sizeHint().height())
        self.updateGeometry()
        self._invalidate()

    def set_untrusted(self, spans: list[tuple[int, int]]) -> None:
        """Hatch these (first, last) frame spans across every lane (nothing was spotted there)."""
        self.untrusted = spans
        self._invalidate()

    def set_outcomes(self, outcomes: dict[str, dict[str, str]]) -> None:
        """Mark intervals as found, false or missed (a strip under each, coloured by outcome)."""
        self.outcomes = outcomes
        self._invalidate()

    def set_event(self, keys: frozenset[tuple[str, str]], span: tuple[int, int] | None) -> None:
        """Mark the selected event's copies (dashed) and its span (a bracket under the ruler)."""
        self.event_keys, self.event_span = keys, span
        self._invalidate()

    def set_disagreements(self, spans: list[tuple[int, int, str]]) -> None:
        """Mark two annotators' disagreements, (onset, offset, kind), along the ruler's foot."""
        self.disagreements = spans
        self._invalidate()

    def _on_selection(self, selection: tuple[str, str] | None = None) -> None:
        """Bring a selection made elsewhere (table, keys) into view, keeping the zoom."""
        if selection is not None and self._drag is None:
            interval = self.model.find(*selection)
            if interval.offset < self.start or interval.onset > self.start + self.visible_frames:
                self.set_view(interval.onset - self.visible_frames * 0.1)
        self._invalidate()

    def sizeHint(self) -> QSize:
        return QSize(800, RULER_H + LANE_H * max(1, len(self.lanes)) + 4)

    # -- geometry (napari_mespot.core.review.timeline) -----------------------------------------
    @property
    def geometry(self) -> TimelineGeometry:
        """The view's geometry, kept in step with the widget's width and the model's video."""
        g = self._geometry
        g.width = self.width()
        g.n_frames = self.model.n_frames if self.model is not None else 1
        g.fps = self.model.fps if self.model is not None else 30.0
        return g

    @property
    def start(self) -> float:
        return self._geometry.start

    @property
    def scale(self) -> float:
        return self._geometry.scale

    @property
    def n_frames(self) -> int:
        return self.geometry.n_frames

    @property
    def track_width(self) -> int:
        return self.geometry.track_width

    @property
    def visible_frames(self) -> float:
        return self.geometry.visible_frames

    def x_of(self, frame: float) -> float:
        return self.geometry.x_of(frame)

    def frame_at(self, x: float) -> float:
        return self.geometry.frame_at(x)

    def lane_at(self, y: float) -> Lane | None:
        row = TimelineGeometry.row_at(y, len(self.lanes))
        return None if row is None else self.lanes[row]

    def lane_rect(self, row: int) -> QRectF:
        return QRectF(*self.geometry.lane_box(row))

    def set_view(self, start: float, scale: float | None = None) -> None:
        """Show frames from ``start`` at ``scale`` pixels per frame (clamped to the video)."""
        self.geometry.set_view(start, scale)
        self._invalidate()
        self.view_changed.emit()

    def fit(self) -> None:
        """The whole video in view."""
        self.set_view(0.0, self.geometry.min_scale)

    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        """Zoom by ``factor`` keeping the frame under ``anchor_x`` (default: the playhead) in place."""
        if anchor_x is None:
            anchor_x = min(max(self.x_of(self.playhead + 0.5), LABEL_W), self.width())
        self.geometry.zoom(factor, anchor_x)
        self._invalidate()
        self.view_changed.emit()

    def show_frames(self, first: int, last: int) -> None:
        """Zoom so that ``first``–``last`` fill the view with a margin (the table's "jump")."""
        self.geometry.show_frames(first, last)
        self._invalidate()
        self.view_changed.emit()

    def resizeEvent(self, event) -> None:
        """A fitted view stays fitted; a zoomed one keeps its zoom."""
        super().resizeEvent(event)
        geometry = self.geometry
        geometry.resize(event.oldSize().width(), self.width())
        self._invalidate()
        self.view_changed.emit()

    # -- playhead ------------------------------------------------------------------------------
    def set_playhead(self, frame: int) -> None:
        """Move the playhead; repaints two thin strips unless the view has to follow."""
        frame = int(frame)
        if frame == self.playhead:
            return
        old = self.playhead
        self.playhead = frame
        if self.follow and self._drag is None and not self.geometry.shows(frame):
            self.set_view(frame - self.visible_frames * 0.1)  # page on, with a little context
            return
        self.update(self._playhead_rect(old))
        self.update(self._playhead_rect(frame))

    def _playhead_rect(self, frame: int) -> QRect:
        x = self.x_of(frame + 0.5)
        half = max(3.0, self.scale / 2 + 2)
        # the ruler's frame label beside the playhead is up to ~60 px wide
        return QRect(int(x - half) - 1, 0, int(2 * half) + 64, self.height())

    # -- painting ------------------------------------------------------------------------------
    def _invalidate(self) -> None:
        """Lanes, ruler or labels changed: draw them again (into the cache) on the next paint."""
        self._static = None
        self.update()

    def paintEvent(self, event) -> None:
        """Blit the cached lanes, then draw what moves (playhead, a dragged handle) on top.

        A frame step repaints two thin strips, so it costs a blit and a line whatever the number
        of intervals; the lanes are drawn again only after an edit, a zoom, a pan or a resize.
        """
        ratio = self.devicePixelRatioF()
        if self._static is None or self._static.size() != self.size() * ratio:
            self._static = self._render_static(ratio)
        painter = QPainter(self)
        clip = event.rect()
        source = QRectF(clip.x() * ratio, clip.y() * ratio, clip.width() * ratio, clip.height() * ratio)
        painter.drawPixmap(QRectF(clip), self._static, source)
        painter.setClipRect(QRectF(LABEL_W, 0, self.track_width, self.height()))
        if self._drag is not None:
            self._paint_drag(painter)
        self._paint_playhead(painter)
        painter.end()

    def _render_static(self, ratio: float) -> QPixmap:
        pixmap = QPixmap(self.size() * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(BACKGROUND)
        painter = QPainter(pixmap)
        painter.setFont(self.font())
        first = max(self.start - 1, 0)
        last = min(self.start + self.visible_frames + 1, self.n_frames)
        painter.setClipRect(QRectF(LABEL_W, 0, self.track_width, self.height()))
        self._paint_ruler(painter, first, last)
        for row, lane in enumerate(self.lanes):
            self._paint_lane(painter, row, lane, first, last)
        marks.paint_untrusted(painter, self, first, last)
        marks.paint_disagreements(painter, self, first, last)
        marks.paint_event_span(painter, self)
        painter.setClipping(False)
        self._paint_labels(painter)
        painter.end()
        return pixmap

    def _paint_labels(self, painter: QPainter) -> None:
        painter.fillRect(QRectF(0, 0, LABEL_W, self.height()), BACKGROUND)
        painter.setPen(TEXT)
        if self.model is None:
            painter.drawText(QRectF(4, 0, self.width(), RULER_H), Qt.AlignmentFlag.AlignVCenter, "no video")
            return
        fps = self.model.fps
        painter.drawText(QRectF(4, 0, LABEL_W - 6, RULER_H), Qt.AlignmentFlag.AlignVCenter, f"{fps:.4g} fps")
        for row, lane in enumerate(self.lanes):
            rect = QRectF(4, RULER_H + row * LANE_H, LABEL_W - 8, LANE_H)
            text = painter.fontMetrics().elidedText(
                f"{lane.name} ({len(lane)})", Qt.TextElideMode.ElideMiddle, int(rect.width())
            )
            painter.drawText(rect, Qt.AlignmentFlag.AlignVCenter, text)

    def _paint_ruler(self, painter: QPainter, first: float, last: float) -> None:
        font = QFont(painter.font())
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        ticks = self.geometry.ticks(first, last)
        painter.setPen(QPen(GRID, 1))
        painter.drawLines([QLineF(self.x_of(t), RULER_H - 6, self.x_of(t), self.height()) for t, _ in ticks])
        painter.setPen(TEXT)
        for t, label in ticks:
            painter.drawText(QPointF(self.x_of(t) + 3, RULER_H - 8), label)

    def _paint_lane(self, painter: QPainter, row: int, lane: Lane, first: float, last: float) -> None:
        rect = self.lane_rect(row)
        painter.fillRect(rect, CORRECTED_LANE if lane.kind == "corrected" else LANE_COLORS[row % 2])
        idx = lane.visible(first, last)
        if not len(idx):
            return
        top, height = rect.top() + 3, rect.height() - 6
        x0 = LABEL_W + (lane.onset[idx] - self.start) * self.scale
        x1 = LABEL_W + (lane.offset[idx] + 1 - self.start) * self.scale
        x1 = np.maximum(x1, x0 + 1.5)  # an interval never vanishes when zoomed out
        styles = lane.style[idx]
        for style in np.unique(styles):
            brush, pen = STYLES[style]
            painter.setBrush(brush)
            painter.setPen(pen)
            sel = styles == style
            painter.drawRects(
                [
                    QRectF(a, top, b - a, height)
                    for a, b in zip(x0[sel].tolist(), x1[sel].tolist(), strict=True)
                ]
            )
        apex = lane.apex[idx]
        has_apex = (apex >= 0) & (x1 - x0 >= 4)  # an apex tick on a 2-pixel interval says nothing
        if has_apex.any():
            xa = (LABEL_W + (apex[has_apex] + 0.5 - self.start) * self.scale).tolist()
            painter.setPen(QPen(QColor(255, 255, 255, 220), 2))
            painter.drawLines([QLineF(x, top, x, top + height) for x in xa])
        if self.outcomes.get(lane.name):
            marks.paint_outcomes(painter, self.outcomes[lane.name], lane, idx, x0, x1, top + height)
        marks.paint_event_copies(painter, self, lane, top, height)
        self._paint_selection(painter, row, lane, top, height)

    def _paint_selection(self, painter: QPainter, row: int, lane: Lane, top: float, height: float) -> None:
        selection = self.model.selection
        if selection is None:
            return
        ids = {selection[1]} if selection[0] == lane.name else set()
        if lane.kind == "corrected" and selection[0] != CORRECTED and selection[0] in self.model.tracks:
            decided = self.model.decision_for(*selection)
            ids = {decided.id} if decided is not None else set()
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(
            QPen(SELECTION, 2, Qt.PenStyle.SolidLine if selection[0] == lane.name else Qt.PenStyle.DotLine)
        )
        for interval_id in ids:
            if interval_id in lane.ids:
                i = lane.ids.index(interval_id)
                x0, x1 = self.x_of(lane.onset[i]), self.x_of(lane.offset[i] + 1)
                painter.drawRect(QRectF(x0 - 1, top - 2, max(x1 - x0, 1.5) + 2, height + 4))
                if lane.editable:
                    self._paint_handles(painter, lane, i, top, height)

    def _paint_handles(self, painter: QPainter, lane: Lane, i: int, top: float, height: float) -> None:
        painter.setBrush(SELECTION)
        painter.setPen(Qt.PenStyle.NoPen)
        marks = [self.x_of(lane.onset[i]), self.x_of(lane.offset[i] + 1)]
        if lane.apex[i] >= 0:
            marks.append(self.x_of(lane.apex[i] + 0.5))
        for x in marks:
            painter.drawRect(QRectF(x - 2, top + height / 2 - 5, 4, 10))

    def _paint_drag(self, painter: QPainter) -> None:
        drag = self._drag
        row = next(i for i, lane in enumerate(self.lanes) if lane.name == drag.hit.track)
        edge = drag.value + (1 if drag.hit.part == "offset" else 0.5 if drag.hit.part == "apex" else 0)
        x = self.x_of(edge)
        painter.setPen(QPen(STATUS_BORDERS["edited"], 2, Qt.PenStyle.DashLine))
        rect = self.lane_rect(row)
        painter.drawLine(QLineF(x, RULER_H, x, rect.bottom()))
        painter.drawText(QPointF(x + 4, rect.top() + 12), f"{drag.hit.part} {drag.value}")

    def _paint_playhead(self, painter: QPainter) -> None:
        x = self.x_of(self.playhead + 0.5)
        if self.scale >= 4:
            band = QColor(PLAYHEAD)
            band.setAlpha(50)
            painter.fillRect(QRectF(self.x_of(self.playhead), RULER_H, self.scale, self.height()), band)
        painter.setPen(QPen(PLAYHEAD, 1.5))
        painter.drawLine(QLineF(x, 0, x, self.height()))
        painter.drawText(QPointF(x + 3, RULER_H - 8), str(self.playhead))

    # -- hit testing ---------------------------------------------------------------------------
    def hit_at(self, pos: QPointF) -> Hit | None:
        """The interval (and handle) under ``pos``; handles of the selection win ties."""
        if self.model is None:
            return None
        selected = self.model.selection[1] if self.model.selection else None
        return hit_at(self.lanes, self.geometry, pos.x(), pos.y(), selected)

    def tooltip_at(self, pos: QPointF) -> str:
        hit = self.hit_at(pos)
        if hit is None:
            return ""
        interval = self.model.find(hit.track, hit.interval_id)
        lines = [
            f"<b>{hit.track}</b> · {interval.source} · id {interval.id}",
            describe(interval, self.model.fps),
        ]
        if interval.note:
            lines.append(f"note: {interval.note}")
        if hit.track != CORRECTED:
            decided = self.model.decision_for(hit.track, hit.interval_id)
            if decided is not None:
                lines.append(f"decision: {describe(decided, self.model.fps)}")
        if hit.part != "body" and self.lane_by_name(hit.track).editable:
            lines.append(f"drag to move the {hit.part}")
        return "<br>".join(lines)

    def lane_by_name(self, name: str) -> Lane:
        return next(lane for lane in self.lanes if lane.name == name)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            text = self.tooltip_at(QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    # -- mouse ---------------------------------------------------------------------------------
    def _clamp_frame(self, frame: float) -> int:
        return self.geometry.clamp_frame(frame)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.model is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        pos = event.position()
        self._press, self._press_start = pos, self.start
        if pos.y() < RULER_H and pos.x() >= LABEL_W:
            self._scrubbing = True
            self.frame_requested.emit(self._clamp_frame(self.frame_at(pos.x())))
            return
        hit = self.hit_at(pos)
        if hit is not None and hit.part != "body":
            interval = self.model.find(hit.track, hit.interval_id)
            value = getattr(interval, hit.part)
            self._drag = Drag(hit, value, value)
            self.model.select(hit.track, hit.interval_id)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag is not None:
            self._move_drag(pos)
        elif self._scrubbing:
            self.frame_requested.emit(self._clamp_frame(self.frame_at(pos.x())))
        elif self._press is not None:
            if self._panning or abs(pos.x() - self._press.x()) > DRAG_START_PX:
                self._panning = True
                self.set_view(self._press_start - (pos.x() - self._press.x()) / self.scale)
        else:
            hit = self.hit_at(pos)
            cursor = Qt.CursorShape.ArrowCursor
            if hit is not None and hit.part != "body" and self.lane_by_name(hit.track).editable:
                cursor = Qt.CursorShape.SizeHorCursor
            self.setCursor(cursor)

    def _move_drag(self, pos: QPointF) -> None:
        drag = self._drag
        value = self.geometry.handle_frame(drag.hit.part, pos.x())
        if value != drag.value:
            drag.value = value
            self.frame_requested.emit(value)
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return super().mouseReleaseEvent(event)
        drag, panning, scrubbing = self._drag, self._panning, self._scrubbing
        self._press, self._drag, self._panning, self._scrubbing = None, None, False, False
        if drag is not None:
            if drag.value != drag.original:
                self._commit(drag)
            self.update()
        elif not panning and not scrubbing:
            self._click(event.position())

    def _commit(self, drag: Drag) -> None:
        try:
            self.model.edit(drag.hit.track, drag.hit.interval_id, **{drag.hit.part: drag.value})
        except MespotError as exc:
            self.message.emit(str(exc))

    def _click(self, pos: QPointF) -> None:
        """Seek to the clicked frame; select the interval under it (or clear the selection)."""
        if pos.x() < LABEL_W:
            return
        hit = self.hit_at(pos)
        if hit is not None:
            self.model.select(hit.track, hit.interval_id)
        elif self.lane_at(pos.y()) is not None:
            self.model.select(None)
        self.frame_requested.emit(self._clamp_frame(self.frame_at(pos.x())))

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        if delta.x() or event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            amount = delta.x() or delta.y()
            self.set_view(self.start - amount / 120 * self.visible_frames * 0.1)
        elif delta.y():
            self.zoom(1.25 ** (delta.y() / 120), event.position().x())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Review keys first; ←/→ step one frame, as they do on napari's canvas."""
        if self.key_handler is not None and self.key_handler(event):
            return
        steps = {Qt.Key.Key_Left: -1, Qt.Key.Key_Right: 1}
        if event.key() in steps and self.model is not None:
            self.frame_requested.emit(self._clamp_frame(self.playhead + steps[event.key()]))
        else:
            super().keyPressEvent(event)
