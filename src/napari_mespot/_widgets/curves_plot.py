"""The matching-curves plot docked under the viewer: why each spot was made.

Shows a spotter run's per-frame curves (one per AU for the prototype method), each curve's
threshold as a dashed line of the same colour, the spotted intervals shaded by type, frames not
analysed (grey, hatched) and frames found unreliable (orange, hatched), and the current frame
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

from napari_mespot._widgets.video_review import review_for, video_layers
from napari_mespot.core.spotters.base import SpotResult

TYPE_COLOURS = {"me": "#e4572e", "mae": "#4c72b0"}
#: Colour of the hatched spans a spotter did not trust (``SpotResult.unreliable``).
UNRELIABLE_COLOUR = "#f0a030"


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
        ax.axvspan(span.start, span.end + 1, color="black", alpha=0.08, lw=0, hatch="//")
    for span in result.unreliable:
        ax.axvspan(span.start, span.end + 1, color=UNRELIABLE_COLOUR, alpha=0.2, lw=0, hatch="\\\\")
    ax.set_xlim(0, result.n_frames - 1)
    ax.set_xlabel(f"frame ({result.fps:.2f} fps)")
    ax.set_ylabel(result.method)
    ax.legend(loc="upper right", fontsize="small", ncols=min(8, len(result.curve_labels)))
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
        self.axes = self.figure.add_subplot()
        self.playhead = None
        self._background = None
        self._connected: Any = None

        controls = widgets.Container(widgets=[self.video_combo, self.run_combo], layout="horizontal")
        layout = QVBoxLayout(self)
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
        layer = self.video_combo.value
        return list(review_for(layer).results) if layer is not None else []

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

    # -- drawing ---------------------------------------------------------------------------------
    def redraw(self) -> None:
        self.axes.clear()
        result = self.result
        self.playhead = None
        if result is None:
            self.axes.text(
                0.5,
                0.5,
                "run a spotter to see its curves",
                ha="center",
                va="center",
                transform=self.axes.transAxes,
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
