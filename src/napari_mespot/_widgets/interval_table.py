"""Interval table dock: every interval of every track, sortable, filterable, editable in place.

The table is a view of the shared review model, like the timeline: it is rebuilt from the model's
signals, and a cell edit is the same ``model.edit`` a dragged handle makes (on a candidate, the
corrected copy changes; the machine row keeps what the spotter said and shows the decision as
its status). Double-click jumps napari's slider to the interval; the review keys work here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from qtpy.QtGui import QKeyEvent
from qtpy.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from napari_mespot._widgets.review_keys import actions_for
from napari_mespot._widgets.video_review import VideoReview
from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import EXPRESSION_TYPES, STATUSES, Interval
from napari_mespot.core.labels import format_aus, parse_au_string
from napari_mespot.core.review.model import ReviewModel

if TYPE_CHECKING:
    import napari

COLUMNS = (
    "track",
    "onset",
    "apex",
    "offset",
    "frames",
    "seconds",
    "type",
    "status",
    "aus",
    "score",
    "note",
    "id",
)
#: Columns whose edit becomes a ``model.edit`` of the same field.
EDITABLE = ("onset", "apex", "offset", "type", "aus", "note")
#: Status shown for ground-truth intervals nobody has decided on.
TRUTH = "truth"
ALL = "all"


@dataclass(frozen=True)
class Row:
    """One interval as the table shows it: its track, the interval, and its review status."""

    track: str
    interval: Interval
    status: str


def table_rows(model: ReviewModel) -> list[Row]:
    """Every interval of every track; a candidate's status is the decision made on it."""
    decisions = {
        origin: iv.status for iv in model.corrected.intervals.values() if (origin := iv.get_extra("origin"))
    }
    rows = []
    for track in model.tracks.values():
        for iv in track.sorted():
            if track.kind == "corrected":
                status = iv.status
            else:
                status = decisions.get(f"{track.name}/{iv.id}", TRUTH if track.kind == "gt" else "candidate")
            rows.append(Row(track.name, iv, status))
    return rows


#: Cell values by column: sorting asks for them n·log(n) times, so each is one cheap call.
_VALUES = {
    "track": lambda row, fps: row.track,
    "onset": lambda row, fps: row.interval.onset,
    "apex": lambda row, fps: row.interval.apex,
    "offset": lambda row, fps: row.interval.offset,
    "frames": lambda row, fps: row.interval.length,
    "seconds": lambda row, fps: round(row.interval.length / fps, 3),
    "type": lambda row, fps: row.interval.type,
    "status": lambda row, fps: row.status,
    "aus": lambda row, fps: format_aus(row.interval.aus),
    "score": lambda row, fps: row.interval.score,
    "note": lambda row, fps: row.interval.note,
    "id": lambda row, fps: row.interval.id,
}


class IntervalTableModel(QAbstractTableModel):
    """Qt's view of :func:`table_rows`; edits go to the review model."""

    def __init__(self, report) -> None:
        super().__init__()
        self.review: ReviewModel | None = None
        self.rows: list[Row] = []
        self.sort_column = COLUMNS.index("onset")
        self.sort_order = Qt.SortOrder.AscendingOrder
        self._report = report  # callable(str): where a refused edit is told

    def set_model(self, model: ReviewModel | None) -> None:
        self.review = model
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self.rows = table_rows(self.review) if self.review is not None else []
        self._sort_rows()
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort here, in one Python ``list.sort``: a proxy would call :meth:`data` per comparison,
        over 100 ms for 2 000 rows after every edit."""
        self.sort_column, self.sort_order = column, order
        self.beginResetModel()
        self._sort_rows()
        self.endResetModel()

    def _sort_rows(self) -> None:
        get, fps = _VALUES[COLUMNS[self.sort_column]], self.review.fps if self.review else 1.0

        def key(row: Row) -> tuple:
            value = get(row, fps)
            return (value is not None, value if value is not None else 0)  # blanks first

        self.rows.sort(key=key, reverse=self.sort_order == Qt.SortOrder.DescendingOrder)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def value(self, row: Row, column: str) -> Any:
        """The cell's value (numbers stay numbers, so sorting is numeric)."""
        return _VALUES[column](row, self.review.fps)

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], COLUMNS[index.column()]
        value = self.value(row, column)
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            if column == "aus" and role == Qt.ItemDataRole.EditRole:
                return row.interval.aus_raw or value
            if column == "score" and value is not None:
                return f"{value:.3g}"
            return "" if value is None else str(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("onset", "apex", "offset", "frames"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        editable = index.isValid() and COLUMNS[index.column()] in EDITABLE
        if editable and self.review.tracks[self.rows[index.row()].track].kind != "gt":
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: QModelIndex, value: Any, role=Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        row, column = self.rows[index.row()], COLUMNS[index.column()]
        text = str(value).strip()
        try:
            changes = self._parse(column, text)
            # the model's changed signal rebuilds the rows (this row may move or change track)
            self.review.edit(row.track, row.interval.id, **changes)
        except MespotError as exc:
            self._report(str(exc))
            return False
        return True

    @staticmethod
    def _parse(column: str, text: str) -> dict[str, Any]:
        if column in ("onset", "offset", "apex"):
            if column == "apex" and text in ("", "-"):
                return {"apex": None}
            if not text.lstrip("-").isdigit():
                raise MespotError(f"{column} must be a frame number, got {text!r}")
            return {column: int(text)}
        if column == "type":
            kind = text.lower()
            if kind not in EXPRESSION_TYPES:
                raise MespotError(f"type must be one of {', '.join(EXPRESSION_TYPES)}, got {text!r}")
            return {"type": kind}
        if column == "aus":
            aus = parse_au_string(text)
            if text and not aus:
                raise MespotError(f"no AU codes in {text!r}; write them like 1+2+L12")
            return {"aus": aus, "aus_raw": text}
        return {"note": text}


class IntervalFilter(QSortFilterProxyModel):
    """Rows of one track / type / status, and with all the given AUs."""

    def __init__(self) -> None:
        super().__init__()
        self.track = ALL
        self.type = ALL
        self.status = ALL
        self.aus: tuple[int, ...] = ()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """The table model sorts (fast); this proxy keeps its order and only filters."""
        self.sourceModel().sort(column, order)

    def set_filter(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)
        self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        row = self.sourceModel().rows[source_row]
        return (
            self.track in (ALL, row.track)
            and self.type in (ALL, row.interval.type)
            and self.status in (ALL, row.status)
            and set(self.aus) <= set(row.interval.aus)
        )


class IntervalTableView(QTableView):
    """A table view that hands the review keys to the review actions."""

    def __init__(self, key_handler) -> None:
        super().__init__()
        self.key_handler = key_handler

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if self.state() == QAbstractItemView.State.EditingState or not self.key_handler(event):
            super().keyPressEvent(event)


class IntervalTableWidget(QWidget):
    """The interval table dock of the current video."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.actions = actions_for(napari_viewer)
        self.model: ReviewModel | None = None
        self.table_model = IntervalTableModel(self.actions.message)
        self.proxy = IntervalFilter()
        self.proxy.setSourceModel(self.table_model)
        self.view = IntervalTableView(self.actions.handle_key)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(COLUMNS.index("onset"), Qt.SortOrder.AscendingOrder)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(
            QAbstractItemView.EditTrigger.EditKeyPressed | QAbstractItemView.EditTrigger.SelectedClicked
        )
        self.view.verticalHeader().setVisible(False)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.view.horizontalHeader().setStretchLastSection(True)
        self.view.horizontalHeader().setResizeContentsPrecision(200)  # sample rows, stay fast

        self.track_filter = QComboBox()
        self.type_filter = QComboBox()
        self.type_filter.addItems([ALL, *EXPRESSION_TYPES])
        self.status_filter = QComboBox()
        self.status_filter.addItems([ALL, TRUTH, *STATUSES])
        self.au_filter = QLineEdit()
        self.au_filter.setPlaceholderText("AUs, e.g. 12 or 1+2")
        self.count = QLabel()
        for combo in (self.track_filter, self.type_filter, self.status_filter):  # a narrow dock fits
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(4)
        self.au_filter.setMinimumWidth(40)
        self.track_filter.currentTextChanged.connect(lambda t: self._filter(track=t or ALL))
        self.type_filter.currentTextChanged.connect(lambda t: self._filter(type=t))
        self.status_filter.currentTextChanged.connect(lambda t: self._filter(status=t))
        self.au_filter.textChanged.connect(lambda t: self._filter(aus=parse_au_string(t)))

        bar = QGridLayout()  # two rows of two filters: the table fits a narrow dock
        for k, (label, widget) in enumerate(
            (
                ("track", self.track_filter),
                ("type", self.type_filter),
                ("status", self.status_filter),
                ("AU", self.au_filter),
            )
        ):
            bar.addWidget(QLabel(label), k // 2, 2 * (k % 2))
            bar.addWidget(widget, k // 2, 2 * (k % 2) + 1)
        bar.setColumnStretch(1, 1)
        bar.setColumnStretch(3, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        layout.addWidget(self.count)

        self.view.doubleClicked.connect(self._jump)
        self.view.selectionModel().currentRowChanged.connect(self._select_current)
        self.actions.events.review_changed.connect(self._set_review)
        self._set_review(self.actions.review)

    # -- model ---------------------------------------------------------------------------------
    def _set_review(self, review: VideoReview | None) -> None:
        if self.model is not None:
            self.model.events.changed.disconnect(self._refresh)
            self.model.events.tracks_changed.disconnect(self._refresh)
            self.model.events.selection_changed.disconnect(self._show_selection)
        self.model = review.model if review is not None else None
        if self.model is not None:
            self.model.events.changed.connect(self._refresh)
            self.model.events.tracks_changed.connect(self._refresh)
            self.model.events.selection_changed.connect(self._show_selection)
        self.table_model.set_model(self.model)
        self._refresh()
        self.view.resizeColumnsToContents()

    def _refresh(self, *_: Any) -> None:
        self.table_model.refresh()
        names = [ALL, *(self.model.tracks if self.model is not None else ())]
        chosen = self.track_filter.currentText() or ALL
        self.track_filter.blockSignals(True)
        self.track_filter.clear()
        self.track_filter.addItems(names)
        self.track_filter.setCurrentText(chosen if chosen in names else ALL)
        self.track_filter.blockSignals(False)
        self._filter(track=self.track_filter.currentText())
        self._show_selection()

    def _filter(self, **values: Any) -> None:
        self.proxy.set_filter(**values)
        total = len(self.table_model.rows)
        self.count.setText(f"{self.proxy.rowCount()} of {total} intervals")

    # -- selection and jumping -----------------------------------------------------------------
    def row_of(self, track: str, interval_id: str) -> int | None:
        """The visible (sorted, filtered) row of an interval, if shown."""
        for source_row, row in enumerate(self.table_model.rows):
            if row.track == track and row.interval.id == interval_id:
                index = self.proxy.mapFromSource(self.table_model.index(source_row, 0))
                return index.row() if index.isValid() else None
        return None

    def row_data(self, row: int) -> Row:
        return self.table_model.rows[self.proxy.mapToSource(self.proxy.index(row, 0)).row()]

    def _show_selection(self, *_: Any) -> None:
        selection = self.model.selection if self.model is not None else None
        row = self.row_of(*selection) if selection is not None else None
        selection_model = self.view.selectionModel()
        selection_model.blockSignals(True)
        if row is None:
            self.view.clearSelection()
        else:
            self.view.selectRow(row)
            self.view.scrollTo(self.proxy.index(row, 0))
        selection_model.blockSignals(False)
        self.view.viewport().update()

    def _select_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and self.model is not None:
            row = self.row_data(current.row())
            if self.model.selection != (row.track, row.interval.id):
                self.model.select(row.track, row.interval.id)

    def _jump(self, index: QModelIndex) -> None:
        """Double-click: select the interval and move napari's slider to its onset."""
        row = self.row_data(index.row())
        self.model.select(row.track, row.interval.id)
        self.actions.seek(row.interval.onset)
