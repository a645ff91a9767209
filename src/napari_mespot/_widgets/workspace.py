"""The review workspace: every review dock, opened by one menu entry and arranged for the job.

Reviewing is watching the video while stepping through candidates, so the canvas keeps the
middle of the window; what runs along time sits under it and under napari's layer docks, as
wide as the window less the right-hand tabs — the timeline and the spotter's curves, one above
the other on a tall screen and side by side on a short one (below :data:`COMPACT_HEIGHT`), the
timeline no taller than its lanes and the curves never squeezed into a strip — and the docks
read one at a time are tabs on the right, the interval table first, at the window's full
height. Everything is sized to fit the screen the window is on, so the window never grows past
it: 1366×768 and 1920×1080 are held by tests/test_workspace.py.

Docks are named as napari names the same widgets opened from the Plugins menu, so a dock that
is already open is reused (and moved into place), never opened twice. The arrangement uses the
napari window's ``QMainWindow`` (``viewer.window._qt_window``): napari has no public call to
tabify or resize docks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import QDockWidget, QFrame, QScrollArea, QWidget

from napari_mespot._widgets.compare_dock import CompareDock
from napari_mespot._widgets.curves_plot import CurvesPlot
from napari_mespot._widgets.export_panel import ExportWidget
from napari_mespot._widgets.interval_table import IntervalTableWidget
from napari_mespot._widgets.magnify_dock import MagnifyDock
from napari_mespot._widgets.review_keys import ReviewKeysWidget
from napari_mespot._widgets.spot_dock import SpotWidget
from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.video_review import unwrap

if TYPE_CHECKING:
    import napari

PLUGIN = "napari-mespot"
#: The tabs on the right, first shown first: (napari.yaml display name, dock class, scrolls).
#: A dock whose form can be taller than the window scrolls instead of stretching the window.
RIGHT = (
    ("Review interval table", IntervalTableWidget, False),
    ("Review keys and help", ReviewKeysWidget, True),
    ("Export corrected intervals", ExportWidget, True),
    ("Compare runs", CompareDock, True),
    ("Spot expressions", SpotWidget, True),
    ("Magnify motion", MagnifyDock, True),
)
#: Under the canvas, top to bottom.
BOTTOM = (("Review timeline", TimelineWidget, False), ("Spotter curves", CurvesPlot, False))
#: Share of the window's width the right-hand tabs take (bounded below and above, in px).
RIGHT_SHARE, RIGHT_MIN, RIGHT_MAX = 0.27, 360, 520
#: Share of the window's height the curves plot takes (it never goes below its minimum height).
CURVES_SHARE = 0.24
#: Windows shorter than this (px) put the timeline and the curves side by side, not stacked:
#: stacked, they would leave the video a strip.
COMPACT_HEIGHT = 900
#: Side by side, the timeline's share of the width.
TIMELINE_SHARE = 0.55


def dock_name(display_name: str) -> str:
    """The name napari gives a dock opened from the Plugins menu (so the two are one dock)."""
    return f"{display_name} ({PLUGIN})"


def scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless vertical scroll area: a tall form scrolls in a short dock."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


@dataclass
class Workspace:
    """The workspace's docks (``QDockWidget``) and the review widgets inside them, by class."""

    docks: dict[type, QDockWidget]
    widgets: dict[type, Any]

    def __getitem__(self, cls: type) -> Any:
        return self.widgets[cls]


def _inner(widget: QWidget) -> QWidget:
    """The review widget inside a dock's content (unwrapping the scroll area)."""
    return widget.widget() if isinstance(widget, QScrollArea) else widget


def _dock(viewer: napari.Viewer, display_name: str, cls: type, area: str, scrolls: bool) -> tuple[Any, Any]:
    """The open dock of that name, else a new one in ``area``; (QDockWidget, review widget)."""
    window = viewer.window
    name = dock_name(display_name)
    existing = window._wrapped_dock_widgets.get(name)
    if existing is not None:
        return existing, _inner(existing.inner_widget())
    widget = cls(viewer)
    dock = window.add_dock_widget(
        scrolling(widget) if scrolls else widget, name=name, area=area, add_vertical_stretch=False
    )
    return dock, widget


def open_review_workspace(viewer: napari.Viewer) -> Workspace:
    """Open (or gather) every review dock and arrange them for reviewing (see the module
    docstring); returns them. The menu entry "Review workspace" runs this."""
    viewer = unwrap(viewer)  # napari hands plugins a proxy that hides the Qt window
    main = viewer.window._qt_window
    docks: dict[type, QDockWidget] = {}
    widgets: dict[type, Any] = {}
    for specs, area in ((RIGHT, "right"), (BOTTOM, "bottom")):
        for display_name, cls, scrolls in specs:
            docks[cls], widgets[cls] = _dock(viewer, display_name, cls, area, scrolls)
    # The right-hand tabs at full height; the bottom area under the canvas and napari's docks.
    main.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    main.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.BottomDockWidgetArea)
    right = [docks[cls] for _, cls, _ in RIGHT]
    bottom = [docks[cls] for _, cls, _ in BOTTOM]
    for dock in right:
        dock.setFloating(False)
        main.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    for dock in right[1:]:
        main.tabifyDockWidget(right[0], dock)
    for dock in bottom:
        dock.setFloating(False)
    main.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, bottom[0])
    compact = _screen_size(main)[1] < COMPACT_HEIGHT
    side = Qt.Orientation.Horizontal if compact else Qt.Orientation.Vertical
    main.splitDockWidget(bottom[0], bottom[1], side)
    right[0].raise_()
    workspace = Workspace(docks, widgets)
    fit_to_screen(viewer, workspace)
    QTimer.singleShot(0, viewer.reset_view)  # the video fills the canvas it now has
    return workspace


def fit_to_screen(viewer: napari.Viewer, workspace: Workspace) -> None:
    """Size the window to the screen it is on (never beyond it) and share it out: the
    right-hand tabs a bounded width, the timeline its lanes' height, the curves a share of the
    height above their minimum (side by side on a short screen: a share of the width each)."""
    main = viewer.window._qt_window
    screen = main.screen().availableGeometry()
    width, height = _screen_size(main)
    if main.isMaximized() or main.isFullScreen():
        width, height = main.width(), main.height()
    else:
        main.resize(width, height)
        frame = main.frameGeometry()
        x = min(max(frame.x(), screen.left()), screen.right() - frame.width() + 1)
        y = min(max(frame.y(), screen.top()), screen.bottom() - frame.height() + 1)
        main.move(x, y)
    right_width = int(min(max(width * RIGHT_SHARE, RIGHT_MIN), RIGHT_MAX))
    main.resizeDocks([workspace.docks[IntervalTableWidget]], [right_width], Qt.Orientation.Horizontal)
    timeline, curves = workspace.docks[TimelineWidget], workspace.docks[CurvesPlot]
    curves_height = max(workspace[CurvesPlot].minimumSizeHint().height(), int(height * CURVES_SHARE))
    timeline_height = workspace[TimelineWidget].sizeHint().height()
    if height < COMPACT_HEIGHT:  # side by side
        bottom_width = width - right_width
        widths = [int(bottom_width * TIMELINE_SHARE), int(bottom_width * (1 - TIMELINE_SHARE))]
        main.resizeDocks([timeline, curves], widths, Qt.Orientation.Horizontal)
        main.resizeDocks([curves], [max(timeline_height, curves_height)], Qt.Orientation.Vertical)
    else:
        main.resizeDocks([timeline, curves], [timeline_height, curves_height], Qt.Orientation.Vertical)


def _screen_size(main: QWidget) -> tuple[int, int]:
    """The window's size bounded by the screen it is on (less its title bar and borders)."""
    screen = main.screen().availableGeometry()
    frame = main.frameGeometry().size() - main.geometry().size()
    return min(main.width(), screen.width() - frame.width()), min(
        main.height(), screen.height() - frame.height()
    )
