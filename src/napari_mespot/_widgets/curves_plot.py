"""The matching-curves plot docked under the viewer: why each spot was made.

Shows a spotter run's per-frame curves (one per AU for the prototype method), each curve's
threshold as a dashed line of the same colour, the spotted intervals shaded by type, frames not
analysed (grey, hatched) and frames found unreliable (purple, hatched), and the current frame
as a vertical line. Clicking the plot moves napari's frame slider there; moving
the slider moves the line. The line is redrawn by blitting, so scrubbing does not re-render
the curves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from magicgui import widgets
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QVBoxLayout, QWidget

from napari_mespot._widgets.colours import SKIPPED, TYPE_COLOURS
from napari_mespot._widgets.video_review import review_for, video_layers
from napari_mespot.core.spotters.base import SpotResult

#: The plot's least height (px): the curves, their thresholds and the frame axis stay readable.
MIN_PLOT_HEIGHT = 150


def short_number(value: float) -> str:
    """``1740.2`` → ``1.74e3``, ``0.42`` → ``0.42``: three significant digits, a short exponent."""
    if value == 0 or 0.01 <= abs(value) < 1000:
        return f"{value:.3g}"
    mantissa, exponent = f"{value:.2e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def threshold_label(value: float, unit: str) -> str:
    """A threshold with what it is measured in: ``θ = 1.74e3 (matching index)``."""
    return f"θ = {short_number(value)}" + (f" ({unit})" if unit else "")
#: Colour of the hatched spans a spotter did not trust (``SpotResult.unreliable``).
UNRELIABLE_COLOUR = "#9467bd"


def plot_result(ax, result: SpotResult, frame: int):
    """Draw ``result``'s curves, thresholds, intervals, skipped and unreliable spans on ``ax``;
    return the playhead line (animated, for blitting) placed at ``frame``."""
    ax.set_axis_on()
    frames = np.arange(result.n_frames)
    for k, label in enumerate(result.curve_labels):
        (line,) = ax.plot(frames, result.curves[k], lw=1.0, label=label)
        ax.axhline(result.thresholds[k], color=line.get_color(), lw=0.8, ls="--")
    for iv in result.intervals:
        ax.axvspan(iv.onset, iv.offset + 1, color=TYPE_COLOURS.get(iv.type, "grey"), alpha=0.18, lw=0)
    for span in result.skipped:
        ax.axvspan(span.start, span.end + 1, color=SKIPPED, alpha=0.08, lw=0, hatch="//")
    for span in result.unreliable:
        ax.axvspan(span.start, span.end + 1, color=UNRELIABLE_COLOUR, alpha=0.2, lw=0, hatch="\\\\")
    ax.set_xlim(0, result.n_frames - 1)
    ax.set_xlabel(f"frame ({result.fps:.2f} fps)")
    ax.set_ylabel(result.curve_unit or result.method)  # what the curves and their dashed θ measure
    # beside the axes, where it hides no curve (the constrained layout makes room for it)
    columns = 1 + len(result.curve_labels) // 7
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize="x-small", ncols=columns)
    return ax.axvline(frame, color="black", lw=1.2, animated=True)


class CurvesPlot(QWidget):
    """Curves, thresholds and intervals of one spotter run, linked to the frame slider."""

    def __init__(self, napari_viewer) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.video_combo = widgets.ComboBox(label="video", choices=self._video_choices)
        self.run_combo = widgets.ComboBox(label="run", choices=self._run_choices)
        self.figure = Figure(figsize=(8, 2.4), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(MIN_PLOT_HEIGHT)  # docked under the canvas: never a strip
        self.axes = self.figure.add_subplot()
        self.playhead = None
        self._background = None
        self._connected: Any = None

        controls = widgets.Container(widgets=[self.video_combo, self.run_combo], layout="horizontal")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.setSpacing(2)
        layout.addWidget(controls.native)
        layout.addWidget(self.canvas, stretch=1)

        self.video_combo.changed.connect(self._video_changed)
        self.run_combo.changed.connect(lambda *_: self.redraw())
        self.viewer.layers.events.inserted.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.layers.events.removed.connect(lambda e: self.video_combo.reset_choices())
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.canvas.mpl_connect("button_press_event", self._on_click)
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self._video_changed()

    # -- choices ---------------------------------------------------------------------------------
    def _video_choices(self, *_: Any) -> list[tuple[str, Any]]:
        return [(layer.name, layer) for layer in video_layers(self.viewer)]

    def _run_choices(self, *_: Any) -> list[str]:
        """The runs with curves, and those whose curves could not be read back (which say why)."""
        layer = self.video_combo.value
        if layer is None:
            return []
        review = review_for(layer)
        return [*review.results, *(run for run in review.curve_problems if run not in review.results)]

    def _video_changed(self, *_: Any) -> None:
        layer = self.video_combo.value
        if layer is not None:
            review = review_for(layer)
            if self._connected is not review:
                review.events.results_changed.connect(self._on_new_result)
                self._connected = review
        self.run_combo.reset_choices()
        self.redraw()

    def _on_new_result(self, run: str) -> None:
        self.run_combo.reset_choices()
        self.run_combo.value = run
        self.redraw()

    @property
    def result(self) -> SpotResult | None:
        layer, run = self.video_combo.value, self.run_combo.value
        if layer is None or run is None:
            return None
        return review_for(layer).results.get(run)

    @property
    def placeholder(self) -> str:
        """What the plot says when it has no curves to show."""
        layer, run = self.video_combo.value, self.run_combo.value
        if layer is not None and run in review_for(layer).curve_problems:
            return review_for(layer).curve_problems[run]
        return "run a spotter to see its curves"

    # -- drawing ---------------------------------------------------------------------------------
    def redraw(self) -> None:
        self.axes.clear()
        result = self.result
        self.playhead = None
        if result is None:
            self.axes.text(
                0.5, 0.5, self.placeholder, ha="center", va="center", wrap=True, transform=self.axes.transAxes
            )
            self.axes.set_axis_off()
        else:
            self.playhead = plot_result(self.axes, result, self.current_frame)
        self.canvas.draw_idle()

    @property
    def current_frame(self) -> int:
        return int(self.viewer.dims.current_step[0])

    def _on_draw(self, event=None) -> None:
        if self.playhead is not None:
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self.axes.draw_artist(self.playhead)

    def _on_step(self, event=None) -> None:
        if self.playhead is None:
            return
        self.playhead.set_xdata([self.current_frame, self.current_frame])
        if self._background is None:  # not drawn on screen yet: the first draw places it
            self.canvas.draw_idle()
            return
        self.canvas.restore_region(self._background)
        self.axes.draw_artist(self.playhead)
        self.canvas.blit(self.figure.bbox)

    def _on_click(self, event) -> None:
        if event.inaxes is not self.axes or event.xdata is None or self.result is None:
            return
        frame = int(np.clip(round(event.xdata), 0, self.result.n_frames - 1))
        self.viewer.dims.set_current_step(0, frame)
