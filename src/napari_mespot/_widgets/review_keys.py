"""The keyboard review workflow: one set of actions per viewer, the shortcuts, and the help panel.

Every review dock (timeline, interval table, this panel) and napari's canvas send keys to the
same :class:`ReviewActions`, so a key does the same thing wherever the focus is, and every action
is a plain :class:`~napari_mespot.core.review.model.ReviewModel` call — the docks redraw from the model's
signals, never from the action. The actions work on the *current video* (the active layer when
it is a video, else the one last used) and on the model's selection.

A refused edit (:class:`~napari_mespot.core.review.model.ReviewError`) becomes a message in napari's
status bar and in the docks, never an exception in the event loop.

The keys are bound on the viewer once, by :func:`actions_for`, as soon as there is something to
review — no review dock needs to be open (see :func:`enable_review_keys`). They
never take a key from napari: a key that napari's viewer keymap or another plugin (or a
script) already binds on the viewer is left alone (and listed in :attr:`ReviewActions.unbound`);
a layer's own keys (e.g. a Points layer's ``A``) win while that layer is the active one.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psygnal import Signal, SignalGroup
from qtpy.QtCore import Qt, QTimer
from qtpy.QtGui import QKeyEvent, QKeySequence
from qtpy.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from napari_mespot._widgets.video_review import VideoReview, review_for, unwrap, video_layers
from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import format_aus
from napari_mespot.core.review import actions as review_actions
from napari_mespot.core.review.actions import NEW_INTERVAL_SECONDS, NO_SELECTION, Selection
from napari_mespot.core.review.events import DEFAULT_EVENT_IOU, Event, EventIndex
from napari_mespot.core.review.model import ReviewError, ReviewModel

if TYPE_CHECKING:
    import napari

log = logging.getLogger(__name__)

#: Default playback speed of the slow-motion loop.
SLOW_MOTION = 0.25


@dataclass(frozen=True)
class Shortcut:
    """A key (Qt portable text, e.g. ``Ctrl+Shift+Z``), the action it runs, and its help line."""

    key: str
    action: str
    args: tuple = ()
    help: str = ""

    @property
    def napari_key(self) -> str:
        """The same key in napari's ``bind_key`` spelling."""
        return self.key.replace("Ctrl+", "Control-").replace("Shift+", "Shift-").replace("Alt+", "Alt-")


# Keys napari's Image layer already uses (C, O, X, Y, Z, 1, 2) are avoided: a layer's own keys
# win over the viewer's while it is the active layer.
SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("N", "step_candidate", (1,), "next unreviewed event (an expression as all runs found it)"),
    Shortcut("Shift+N", "step_candidate", (-1,), "previous unreviewed event"),
    Shortcut("A", "accept", (), "accept the selected interval (its event's other copies: rejected)"),
    Shortcut("R", "reject", (), "reject the selected interval"),
    Shortcut("Q", "set_at_frame", ("onset",), "set the onset at the current frame"),
    Shortcut("W", "set_at_frame", ("apex",), "set the apex at the current frame"),
    Shortcut("E", "set_at_frame", ("offset",), "set the offset at the current frame"),
    Shortcut("Shift+Q", "snap", ("onset",), "snap the onset to where the run's curve leaves its baseline"),
    Shortcut("Shift+W", "snap", ("apex",), "snap the apex to the run's curve's peak in the interval"),
    Shortcut("Shift+E", "snap", ("offset",), "snap the offset to where the run's curve is back at baseline"),
    Shortcut("M", "new_interval", (), f"new interval at the current frame ({NEW_INTERVAL_SECONDS} s)"),
    Shortcut("T", "toggle_type", (), "change the type (ME ↔ MaE)"),
    Shortcut("U", "edit_aus", (), "edit the action units"),
    Shortcut("Delete", "delete", (), "delete an added interval / undo the decision on a candidate"),
    Shortcut("L", "toggle_loop", (False,), "play the selected interval in a loop (again: stop)"),
    Shortcut("Shift+L", "toggle_loop", (True,), "play the selected interval in a loop, slow motion"),
    Shortcut("Ctrl+Z", "undo", (), "undo the last edit"),
    Shortcut("Ctrl+Shift+Z", "redo", (), "redo"),
)
_BY_KEY = {s.key: s for s in SHORTCUTS}
#: The panel's buttons: a key and a short name (the help table and the tooltips say the rest),
#: short enough for two columns in a narrow dock.
BUTTONS = (
    ("Shift+N", "previous"),
    ("N", "next"),
    ("A", "accept"),
    ("R", "reject"),
    ("Shift+Q", "snap onset"),
    ("Shift+E", "snap offset"),
    ("Shift+W", "snap apex"),
    ("L", "loop"),
    ("Shift+L", "slow loop"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Shift+Z", "redo"),
)


def key_text(event: QKeyEvent) -> str:
    """A key event as portable text (``Shift+L``), the way :data:`SHORTCUTS` spells keys."""
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    return QKeySequence(event.key() | modifiers.value).toString(QKeySequence.SequenceFormat.PortableText)


class ReviewActionsEvents(SignalGroup):
    #: (VideoReview or None) when the current video changes.
    review_changed = Signal(object)
    #: (text) a message for the user: a refused edit, "no more candidates", what was undone.
    message = Signal(str)
    #: the user asked to edit the selected interval's AUs (the help panel focuses its AU field).
    aus_requested = Signal()
    #: (playing) when the interval loop starts or stops.
    loop_changed = Signal(bool)
    #: (IoU) when the overlap that makes copies of one event changes.
    event_iou_changed = Signal(float)


class ReviewActions:
    """What the review keys do, for one viewer; get it with :func:`actions_for`."""

    def __init__(self, viewer: napari.Viewer) -> None:
        # weakly: the registry maps viewer → actions, and a value holding its key keeps it alive
        self._viewer = weakref.ref(viewer)
        self.events = ReviewActionsEvents()
        self.review: VideoReview | None = None
        self.slow_motion = SLOW_MOTION
        #: Candidates overlapping by at least this IoU are copies of one event (see set_event_iou).
        self.event_iou = DEFAULT_EVENT_IOU
        self._loop_speed = 1.0
        self._loop = QTimer()
        self._loop.timeout.connect(self._loop_tick)
        viewer.layers.events.inserted.connect(self._follow_layers)
        viewer.layers.events.removed.connect(self._follow_layers)
        viewer.layers.selection.events.active.connect(self._follow_layers)
        #: Shortcuts not bound on the viewer because napari (or the user, or a plugin) binds the key.
        self.unbound = self._bind_keys(viewer)

    @property
    def viewer(self) -> napari.Viewer:
        return self._viewer()

    # -- the current video ---------------------------------------------------------------------
    def _follow_layers(self, *_: Any) -> None:
        layers = video_layers(self.viewer)
        active = self.viewer.layers.selection.active
        current = self.review.layer if self.review is not None else None
        if active in layers:
            chosen = active
        elif current in layers:
            chosen = current
        else:
            chosen = layers[0] if layers else None
        if chosen is current:
            return
        self.stop_loop()
        try:
            self.review = review_for(chosen) if chosen is not None else None
        except MespotError as exc:  # a sidecar of another video, a damaged one
            self.review = None
            self.message(str(exc))
        self.events.review_changed.emit(self.review)

    @property
    def frame(self) -> int:
        return int(self.viewer.dims.current_step[0])

    def seek(self, frame: int) -> None:
        if self.review is not None:
            frame = min(max(int(frame), 0), self.review.model.n_frames - 1)
        self.viewer.dims.set_current_step(0, frame)

    def message(self, text: str) -> None:
        self.viewer.status = text
        self.events.message.emit(text)

    # -- key dispatch --------------------------------------------------------------------------
    def handle_key(self, event: QKeyEvent) -> bool:
        """Run the action bound to ``event``'s key; ``False`` when the key is not a review key."""
        shortcut = _BY_KEY.get(key_text(event))
        if shortcut is None:
            return False
        self.run(shortcut)
        return True

    def run(self, shortcut: Shortcut) -> None:
        try:
            getattr(self, shortcut.action)(*shortcut.args)
        except MespotError as exc:
            self.message(str(exc))

    def _bind_keys(self, viewer: napari.Viewer) -> tuple[Shortcut, ...]:
        """Bind every shortcut on ``viewer`` whose key is free there; the others are returned."""
        from napari.utils.key_bindings import coerce_keybinding

        taken = taken_keys(viewer)
        unbound = []
        for shortcut in SHORTCUTS:
            if coerce_keybinding(shortcut.napari_key) in taken:
                unbound.append(shortcut)
                continue
            viewer.bind_key(shortcut.napari_key, self._napari_callback(shortcut))
        if unbound:
            log.warning(
                "review keys left to napari: %s (they work in the review docks)",
                ", ".join(s.key for s in unbound),
            )
        return tuple(unbound)

    def _napari_callback(self, shortcut: Shortcut):
        def callback(viewer: Any) -> None:
            self.run(shortcut)

        callback.__doc__ = shortcut.help  # napari lists it in its key-binding help
        return callback

    # -- the review actions (napari_mespot.core.review.actions) --------------------------------
    def _model(self, missing: str = "open a video first") -> ReviewModel:
        if self.review is None:
            raise ReviewError(missing)
        return self.review.model

    def selected(self) -> Selection | None:
        return None if self.review is None else review_actions.selected(self.review.model)

    def set_event_iou(self, value: float) -> None:
        """Group candidates overlapping by IoU >= ``value`` into events from now on."""
        if not 0 < value <= 1:
            raise ReviewError(f"the event IoU must be in (0, 1], got {value}")
        self.event_iou = float(value)
        self.events.event_iou_changed.emit(self.event_iou)

    def event_index(self) -> EventIndex:
        if self.review is None:
            raise ReviewError("open a video first")
        return self.review.event_index(self.event_iou)

    def selected_event(self) -> Event | None:
        """The event of the selected interval (``None``: nothing selected, or added by hand)."""
        if self.review is None:
            return None
        return review_actions.selected_event(self.review.model, self.event_index())

    def step_candidate(self, step: int) -> None:
        """Go to the next or previous unreviewed event (its start) and select its best copy."""
        event = review_actions.step_event(self._model(), self.event_index(), self.frame, step)
        self.seek(event.onset)

    def accept(self) -> None:
        model = self._model(NO_SELECTION)
        review_actions.accept(model, self.event_index())
        settled = len(model.log[-1].changes) - 1
        if settled:
            copies = "copy" if settled == 1 else "copies"
            self.message(f"accepted; {settled} other {copies} of this event rejected as duplicates")

    def snap(self, field: str) -> None:
        """Snap the selection's ``field`` to its run's curve (near the current frame)."""
        model = self._model(NO_SELECTION)
        value = review_actions.snap(model, field, self.frame, self.review.results, self.review.curve_problems)
        self.message(f"{field} snapped to frame {value}")

    def reject(self) -> None:
        review_actions.reject(self._model(NO_SELECTION))

    def set_at_frame(self, field: str) -> None:
        review_actions.set_at_frame(self._model(NO_SELECTION), field, self.frame)

    def toggle_type(self) -> None:
        review_actions.toggle_type(self._model(NO_SELECTION))

    def edit_aus(self) -> None:
        review_actions.require_selection(self._model(NO_SELECTION))
        if len(self.events.aus_requested):
            self.events.aus_requested.emit()
            return
        text, ok = QInputDialog.getText(None, "Action units", "AUs (e.g. 1+2+L12):")
        if ok:
            self.set_aus(text)

    def set_aus(self, text: str) -> None:
        review_actions.set_aus(self._model(NO_SELECTION), text)

    def new_interval(self) -> None:
        review_actions.new_interval(self._model(), self.frame)

    def delete(self) -> None:
        review_actions.delete(self._model(NO_SELECTION))

    def undo(self) -> None:
        self.message(review_actions.undo(self._model("nothing to undo")))

    def redo(self) -> None:
        self.message(review_actions.redo(self._model("nothing to redo")))

    # -- looped playback -----------------------------------------------------------------------
    @property
    def looping(self) -> bool:
        return self._loop.isActive()

    def toggle_loop(self, slow: bool = False) -> None:
        if self.looping:
            self.stop_loop()
        else:
            review_actions.require_selection(self._model(NO_SELECTION))
            self._loop_speed = self.slow_motion if slow else 1.0
            self._loop.start(max(1, round(1000 / (self.review.model.fps * self._loop_speed))))
            self.seek(self.selected()[2].onset)
            self.events.loop_changed.emit(True)

    def stop_loop(self) -> None:
        if self.looping:
            self._loop.stop()
            self.events.loop_changed.emit(False)

    def _loop_tick(self) -> None:
        """Next frame of the selected interval as it stands now (edits while playing count)."""
        found = self.selected() if self.viewer is not None else None
        if found is None:  # the selection was undone, or the viewer closed
            self.stop_loop()
            return
        current = found[2]
        frame = self.frame + 1
        self.seek(frame if current.onset <= frame <= current.offset else current.onset)


def taken_keys(viewer: napari.Viewer) -> set:
    """The keys bound on ``viewer`` before ours — its own keymap (a script's, another plugin's)
    and napari's viewer keymaps (the class keymaps of its type) — as napari ``KeyBinding``s.

    The user's keymap needs no check: napari consults it before every other one.
    """
    maps = [viewer.keymap]
    maps += [cls.class_keymap for cls in type(viewer).__mro__ if hasattr(cls, "class_keymap")]
    return {key for keymap in maps for key in keymap}


_ACTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def actions_for(viewer: napari.Viewer) -> ReviewActions:
    """The one :class:`ReviewActions` of ``viewer`` (created, and its keys bound, on first use)."""
    viewer = unwrap(viewer)
    actions = _ACTIONS.get(viewer)
    if actions is None:
        actions = _ACTIONS[viewer] = ReviewActions(viewer)
        # Only now: following a layer creates its review state, which asks for these actions.
        actions._follow_layers()
    return actions


def describe(interval: Interval, fps: float) -> str:
    """One line about an interval, for the panel and the timeline's hover tip."""
    apex = "–" if interval.apex is None else str(interval.apex)
    aus = format_aus(interval.aus) or "none"
    score = "" if interval.score is None else f", score {interval.score:.3g}"
    return (
        f"{interval.type.upper()} {interval.onset}–{interval.offset} (apex {apex}), "
        f"{interval.length} frames = {interval.duration(fps):.2f} s, {interval.status}, AUs {aus}{score}"
    )


class ReviewKeysWidget(QWidget):
    """The review panel: the selected interval, its AUs, loop speed, buttons and the shortcut help."""

    def __init__(self, napari_viewer: napari.Viewer) -> None:
        super().__init__()
        self.actions = actions_for(napari_viewer)
        self._model = None
        self.video = QLabel()
        self.current = QLabel()
        self.current.setWordWrap(True)
        self.aus = QLineEdit()
        self.aus.setPlaceholderText("AUs, e.g. 1+2+L12 — Enter applies")
        self.aus.returnPressed.connect(lambda: self._run(self.actions.set_aus, self.aus.text()))
        self.slow = QDoubleSpinBox()
        self.slow.setRange(0.05, 1.0)
        self.slow.setSingleStep(0.05)
        self.slow.setValue(self.actions.slow_motion)
        self.slow.setSuffix(" × speed")
        self.slow.valueChanged.connect(lambda v: setattr(self.actions, "slow_motion", float(v)))
        self.event_iou = QDoubleSpinBox()
        self.event_iou.setRange(0.05, 1.0)
        self.event_iou.setSingleStep(0.05)
        self.event_iou.setValue(self.actions.event_iou)
        self.event_iou.setToolTip(
            "candidates of the runs that overlap by at least this IoU are one event: "
            "N visits it once, A on one copy rejects the others"
        )
        self.event_iou.valueChanged.connect(lambda v: self._run(self.actions.set_event_iou, float(v)))
        self.status = QLabel()
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Video:", self.video)
        form.addRow("Selected:", self.current)
        form.addRow("AUs:", self.aus)
        form.addRow("Slow motion:", self.slow)
        form.addRow("Event IoU ≥", self.event_iou)
        buttons = QGridLayout()
        for i, (key, text) in enumerate(BUTTONS):
            shortcut = _BY_KEY[key]
            button = QPushButton(f"{text} [{key}]")
            button.setToolTip(shortcut.help)
            button.clicked.connect(lambda _=False, s=shortcut: self.actions.run(s))
            buttons.addWidget(button, i // 2, i % 2)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        hint = QLabel(
            "<b>Shortcuts</b> — in the viewer as soon as a video is open (no dock needed), "
            "and in every review dock"
        )
        hint.setWordWrap(True)
        layout.addWidget(hint)
        layout.addWidget(self._help_table(self.actions.unbound))

        events = self.actions.events
        events.review_changed.connect(self._set_review)
        events.message.connect(self._show_message)
        events.aus_requested.connect(self._focus_aus)
        events.event_iou_changed.connect(self._show_selected)
        self._set_review(self.actions.review)

    @staticmethod
    def _help_table(unbound: tuple[Shortcut, ...]) -> QTableWidget:
        """Every shortcut; one whose key this viewer already uses says where it still works."""
        table = QTableWidget(len(SHORTCUTS), 2)
        table.setHorizontalHeaderLabels(["key", "action"])
        for row, shortcut in enumerate(SHORTCUTS):
            text = shortcut.help
            if shortcut in unbound:
                text += " (the viewer already uses this key: press it in a review dock)"
            table.setItem(row, 0, QTableWidgetItem(shortcut.key))
            table.setItem(row, 1, QTableWidgetItem(text))
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setStretchLastSection(True)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.resizeColumnToContents(0)
        table.setMinimumHeight(table.rowHeight(0) * 6)  # the rest scrolls
        return table

    def _run(self, action, *args) -> None:
        try:
            action(*args)
        except MespotError as exc:
            self.actions.message(str(exc))

    def _show_message(self, text: str) -> None:
        self.status.setText(text)

    def _set_review(self, review: VideoReview | None) -> None:
        if self._model is not None:
            self._model.events.changed.disconnect(self._show_selected)
            self._model.events.selection_changed.disconnect(self._show_selected)
        self._model = review.model if review is not None else None
        if self._model is not None:
            self._model.events.changed.connect(self._show_selected)
            self._model.events.selection_changed.connect(self._show_selected)
        self.video.setText(review.layer.name if review is not None else "no video layer")
        self._show_selected()

    def _show_selected(self, *_: Any) -> None:
        found = self.actions.selected()
        if found is None:
            self.current.setText("nothing selected (N: next candidate)")
            self.aus.clear()
            return
        track, _, interval = found
        event = self.actions.selected_event()
        n_copies = len(event.members) if event is not None else 1
        copies = f" — one of {n_copies} copies of this event" if n_copies > 1 else ""
        self.current.setText(f"{track}: {describe(interval, self.actions.review.model.fps)}{copies}")
        if not self.aus.hasFocus():
            self.aus.setText(interval.aus_raw or format_aus(interval.aus))

    def _focus_aus(self) -> None:
        self.aus.setFocus()
        self.aus.selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.actions.handle_key(event):
            super().keyPressEvent(event)


def enable_review_keys(layer=None) -> None:
    """Bind the review keys in napari's current viewer (when it shows ``layer``, if given).

    napari has no hook for "a layer entered a viewer", and npe2 manifests cannot contribute
    keybindings to napari 0.9, so the moments napari-mespot itself sees — its reader and sample
    data returning a video, a review state being created — bind them through the public
    :func:`napari.current_viewer`. Binding is once per viewer (:func:`actions_for`);
    outside a viewer (scripts, the CLI) nothing happens.
    """
    import napari

    viewer = napari.current_viewer()
    if viewer is None or (layer is not None and layer not in viewer.layers):
        return
    actions_for(viewer)
