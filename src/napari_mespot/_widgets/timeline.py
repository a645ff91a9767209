"""Timeline dock: one lane per track along the video's time, drawn with QPainter.

Why a hand-drawn widget: a review video has 30 000+ frames and hundreds of intervals per track,
and the playhead moves on every frame step. Each lane keeps its intervals as sorted numpy arrays
(rebuilt only when the model changes), so finding what is visible is two binary searches, and a
frame step repaints only the two thin strips under the old and new playhead.

Everything shown comes from the shared :class:`~napari_mespot._widgets.video_review.VideoReview`:
the lanes redraw from the model's signals, and a dragged handle is one ``model.edit`` on release
(on a candidate that edit writes the corrected copy; the machine track is never changed).
Interaction: wheel zooms around the cursor (horizontal wheel / Shift+wheel pans), dragging empty
space or the scrollbar pans, a click seeks (and selects the interval under it), the ruler scrubs,
the handles at onset, apex and offset of candidates and corrected intervals can be dragged, and
the hover tip tells type, frames, status, AUs and score.
"""

from __future__ import annotations

import math
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
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollBar,
    QSizePolicy,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from napari_mespot._widgets.review_keys import actions_for, describe
from napari_mespot._widgets.video_review import VideoReview
from napari_mespot.core.errors import MespotError
from napari_mespot.core.review.model import CORRECTED, ReviewModel, Track

if TYPE_CHECKING:
    import napari

LABEL_W = 118  # the track names' column
RULER_H = 22
LANE_H = 24
HANDLE_PX = 5  # how close (pixels) the cursor must be to grab a handle
MAX_PX_PER_FRAME = 40.0
DRAG_START_PX = 3  # movement that turns a click into a pan

BACKGROUND = QColor("#262930")
LANE_COLORS = (QColor("#30343c"), QColor("#2b2f36"))
CORRECTED_LANE = QColor("#33302a")
TEXT = QColor("#d6d6d6")
GRID = QColor(255, 255, 255, 28)
PLAYHEAD = QColor("#ff4d4d")
SELECTION = QColor("#ffffff")
TYPE_COLORS = {"me": QColor("#4fa3f7"), "mae": QColor("#f0a030")}
#: Border colour per status; a candidate has none (translucent fill), a rejected one is hatched.
STATUS_BORDERS = {
    "accepted": QColor("#5fd35f"),
    "edited": QColor("#ffd84a"),
    "added": QColor("#55e0e0"),
    "rejected": QColor("#e05050"),
}
STATUS_KEYS = ("truth", "candidate", "accepted", "rejected", "edited", "added")
TYPES = ("me", "mae")
KIND_ORDER = {"gt": 0, "machine": 1, "corrected": 2}


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


#: Outcome strips under intervals after a comparison: found, false alarm, missed.
OUTCOME_COLOURS = {"tp": QColor(60, 200, 90), "fp": QColor(230, 60, 60), "fn": QColor(255, 160, 0)}
OUTCOME_H = 4


class Lane:
    """One track's intervals as sorted arrays: what painting and hit-testing search.

    Ground-truth and machine tracks never change (a new run replaces the Track object), so
    after an edit their arrays are kept and only the colours (the decisions) are recomputed.
    """

    def __init__(self, track: Track) -> None:
        self.track = track
        self.name = track.name
        self.kind = track.kind
        self.editable = track.kind != "gt"  # the reference is not dragged by accident
        items = track.sorted()
        n = len(items)
        self.ids = [iv.id for iv in items]
        self.onset = np.fromiter((iv.onset for iv in items), np.int64, n)
        self.offset = np.fromiter((iv.offset for iv in items), np.int64, n)
        self.apex = np.fromiter((-1 if iv.apex is None else iv.apex for iv in items), np.int64, n)
        # Sorted by onset, offsets are not monotonic: their running maximum is, and it bounds
        # the first interval that can reach a given frame.
        self.reach = np.maximum.accumulate(self.offset) if n else self.offset
        self._type_base = np.fromiter((TYPES.index(iv.type) * len(STATUS_KEYS) for iv in items), np.int64, n)
        self._statuses = [iv.status for iv in items]
        self.style = self._type_base

    def recolour(self, decisions: dict[str, str]) -> Lane:
        """Style each interval by type and review status (a candidate's is its decision's)."""
        if self.kind == "gt":
            statuses = ["truth"] * len(self.ids)
        elif self.kind == "corrected":
            statuses = self._statuses
        else:
            statuses = [decisions.get(f"{self.name}/{i}", "candidate") for i in self.ids]
        codes = np.fromiter((STATUS_KEYS.index(st) for st in statuses), np.int64, len(statuses))
        self.style = self._type_base + codes
        return self

    def __len__(self) -> int:
        return len(self.ids)

    def visible(self, first: float, last: float) -> np.ndarray:
        """Indices of the intervals that overlap frames ``first``–``last``."""
        lo = int(np.searchsorted(self.reach, first, side="left"))
        hi = int(np.searchsorted(self.onset, last, side="right"))
        if hi <= lo:
            return np.empty(0, np.int64)
        idx = np.arange(lo, hi)
        return idx[self.offset[lo:hi] >= first]


@dataclass(frozen=True)
class Hit:
    """What is under the cursor: an interval of a track and which part of it."""

    track: str
    interval_id: str
    part: str  # "onset", "apex", "offset" or "body"


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
        self.start = 0.0  # first visible frame (fractional while zooming)
        self.scale = 1.0  # pixels per frame
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
        if self.model is None:
            self.lanes = []
        else:
            decisions = {
                origin: iv.status
                for iv in self.model.corrected.intervals.values()
                if (origin := iv.get_extra("origin"))
            }
            known = {id(lane.track): lane for lane in self.lanes if lane.kind != "corrected"}
            tracks = sorted(self.model.tracks.values(), key=lambda t: KIND_ORDER[t.kind])
            lanes = [known.get(id(t)) or Lane(t) for t in tracks]
            self.lanes = [lane.recolour(decisions) for lane in lanes]
        self.setMinimumHeight(self.sizeHint().height())
        self.updateGeometry()
        self._invalidate()

    def set_outcomes(self, outcomes: dict[str, dict[str, str]]) -> None:
        """Mark intervals as found, false or missed (a strip under each, coloured by outcome)."""
        self.outcomes = outcomes
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

    # -- geometry ------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self.model.n_frames if self.model is not None else 1

    @property
    def track_width(self) -> int:
        return max(1, self.width() - LABEL_W)

    @property
    def visible_frames(self) -> float:
        return self.track_width / self.scale

    def x_of(self, frame: float) -> float:
        return LABEL_W + (frame - self.start) * self.scale

    def frame_at(self, x: float) -> float:
        return self.start + (x - LABEL_W) / self.scale

    def lane_at(self, y: float) -> Lane | None:
        row = math.floor((y - RULER_H) / LANE_H)
        return self.lanes[row] if 0 <= row < len(self.lanes) and y >= RULER_H else None

    def lane_rect(self, row: int) -> QRectF:
        return QRectF(LABEL_W, RULER_H + row * LANE_H, self.track_width, LANE_H)

    @property
    def min_scale(self) -> float:
        return self.track_width / self.n_frames

    def set_view(self, start: float, scale: float | None = None) -> None:
        """Show frames from ``start`` at ``scale`` pixels per frame (clamped to the video)."""
        if scale is not None:
            self.scale = min(max(scale, self.min_scale), MAX_PX_PER_FRAME)
        self.start = min(max(start, 0.0), max(0.0, self.n_frames - self.visible_frames))
        self._invalidate()
        self.view_changed.emit()

    def fit(self) -> None:
        """The whole video in view."""
        self.set_view(0.0, self.min_scale)

    def zoom(self, factor: float, anchor_x: float | None = None) -> None:
        """Zoom by ``factor`` keeping the frame under ``anchor_x`` (default: the playhead) in place."""
        if anchor_x is None:
            anchor_x = min(max(self.x_of(self.playhead + 0.5), LABEL_W), self.width())
        anchor = self.frame_at(anchor_x)
        scale = min(max(self.scale * factor, self.min_scale), MAX_PX_PER_FRAME)
        self.set_view(anchor - (anchor_x - LABEL_W) / scale, scale)

    def show_frames(self, first: int, last: int) -> None:
        """Zoom so that ``first``–``last`` fill the view with a margin (the table's "jump")."""
        span = max(last - first + 1, 10) * 1.6
        self.set_view(first - (span - (last - first + 1)) / 2, self.track_width / span)

    def resizeEvent(self, event) -> None:
        """A fitted view stays fitted; a zoomed one keeps its zoom."""
        old_width = event.oldSize().width() - LABEL_W
        fitted = old_width <= 0 or self.scale <= old_width / self.n_frames * 1.0001
        super().resizeEvent(event)
        self.set_view(self.start, self.min_scale if fitted else self.scale)

    # -- playhead ------------------------------------------------------------------------------
    def set_playhead(self, frame: int) -> None:
        """Move the playhead; repaints two thin strips unless the view has to follow."""
        frame = int(frame)
        if frame == self.playhead:
            return
        old = self.playhead
        self.playhead = frame
        if (
            self.follow
            and self._drag is None
            and not (self.start <= frame < self.start + self.visible_frames)
        ):
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

    def _tick_step(self) -> tuple[int, bool]:
        """Frames between ruler ticks (about 80 px apart) and whether labels are times."""
        fps = self.model.fps if self.model is not None else 30.0
        for frames in (1, 2, 5, 10):
            if frames * self.scale >= 80 and frames < fps:
                return frames, False
        for seconds in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600):
            frames = max(1, round(seconds * fps))
            if frames * self.scale >= 80:
                return frames, True
        return max(1, round(3600 * fps)), True

    def _paint_ruler(self, painter: QPainter, first: float, last: float) -> None:
        step, as_time = self._tick_step()
        fps = self.model.fps if self.model is not None else 30.0
        font = QFont(painter.font())
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.85))
        painter.setFont(font)
        ticks = range(int(first // step) * step, int(last) + step, step)
        painter.setPen(QPen(GRID, 1))
        painter.drawLines([QLineF(self.x_of(t), RULER_H - 6, self.x_of(t), self.height()) for t in ticks])
        painter.setPen(TEXT)
        for t in ticks:
            label = str(t)
            if as_time:
                minutes, seconds = divmod(t / fps, 60)
                label = f"{minutes:.0f}:{seconds:04.1f}" if step < fps else f"{minutes:.0f}:{seconds:02.0f}"

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
        self._paint_outcomes(painter, lane, idx, x0, x1, top + height)
        self._paint_selection(painter, row, lane, top, height)

    def _paint_outcomes(self, painter: QPainter, lane: Lane, idx, x0, x1, bottom: float) -> None:
        marks = self.outcomes.get(lane.name)
        if not marks:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        for k, a, b in zip(idx.tolist(), x0.tolist(), x1.tolist(), strict=True):
            outcome = marks.get(lane.ids[k])
            if outcome is not None:
                painter.setBrush(OUTCOME_COLOURS[outcome])
                painter.drawRect(QRectF(a, bottom - OUTCOME_H, b - a, OUTCOME_H))

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
        lane = self.lane_at(pos.y())
        if lane is None or pos.x() < LABEL_W or self.model is None:
            return None
        tolerance = HANDLE_PX / self.scale
        frame = self.frame_at(pos.x())
        idx = lane.visible(frame - tolerance - 1, frame + tolerance + 1)
        if not len(idx):
            return None
        selected = self.model.selection[1] if self.model.selection else None
        # (rank, pixels away, hit): handles before bodies, the selection's before the others'
        found: list[tuple[int, float, Hit]] = []
        for i in idx.tolist():
            interval_id = lane.ids[i]
            rank = 0 if interval_id == selected else 1
            if lane.editable:
                handles = [("onset", lane.onset[i]), ("offset", lane.offset[i] + 1)]
                if lane.apex[i] >= 0:
                    handles.append(("apex", lane.apex[i] + 0.5))
                for part, edge in handles:
                    distance = abs(self.x_of(edge) - pos.x())
                    if distance <= HANDLE_PX:
                        found.append((rank, distance, Hit(lane.name, interval_id, part)))
            if lane.onset[i] <= frame < lane.offset[i] + 1:
                found.append((rank + 2, 0.0, Hit(lane.name, interval_id, "body")))
        return min(found, key=lambda item: item[:2])[2] if found else None

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
        return min(max(math.floor(frame), 0), self.n_frames - 1)

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
        raw = self.frame_at(pos.x())
        value = (
            round(raw) - 1
            if drag.hit.part == "offset"
            else (math.floor(raw) if drag.hit.part == "apex" else round(raw))
        )
        value = min(max(value, 0), self.n_frames - 1)
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


LEGEND = (
    "<span style='color:#4fa3f7'>■</span> ME &nbsp; <span style='color:#f0a030'>■</span> MaE &nbsp; "
    "faint: candidate &nbsp; border <span style='color:#5fd35f'>accepted</span> · "
    "<span style='color:#ffd84a'>edited</span> · <span style='color:#55e0e0'>added</span> · "
    "<span style='color:#e05050'>rejected</span> (hatched) &nbsp; white tick: apex &nbsp; "
    "strip after Compare: <span style='color:#3cc85a'>found</span> · "
    "<span style='color:#e63c3c'>false</span> · <span style='color:#ffa000'>missed</span>"
)


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
        self.status.setWordWrap(True)
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
        bar.addWidget(self.title, 1)
        for button in buttons:
            bar.addWidget(button)
        bar.addWidget(follow)
        legend = QLabel(LEGEND)
        legend.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        layout.addWidget(self.scrollbar)
        layout.addWidget(legend)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.view.frame_requested.connect(self.actions.seek)
        self.view.message.connect(self.actions.message)
        self.view.view_changed.connect(self._sync_scrollbar)
        self.scrollbar.valueChanged.connect(lambda v: self.view.set_view(float(v)))
        napari_viewer.dims.events.current_step.connect(self._on_step)
        self.actions.events.review_changed.connect(self._set_review)
        self.actions.events.message.connect(self._show_message)
        self._set_review(self.actions.review)

    def _show_message(self, text: str) -> None:
        self.status.setText(text)

    def _set_review(self, review: VideoReview | None) -> None:
        if self._review is not None:
            self._review.events.outcomes_changed.disconnect(self._on_outcomes)
        self._review = review
        if review is not None:
            review.events.outcomes_changed.connect(self._on_outcomes)
        self.view.set_model(review.model if review is not None else None)
        self._on_outcomes()
        self.title.setText(f"<b>{review.layer.name}</b>" if review is not None else "no video layer")
        self._on_step()

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
