"""The AU prototype viewer: each prototype as a magnitude heatmap with its direction map.

This is the paper's Fig. 8: the heatmap is H_j = sqrt(Mx² + My²) (eq. 32) over the aligned
region, and the direction map draws, on a regular grid, arrows from p to p + φ·M(p) (eq. 31),
φ being the amplification factor chosen here. Seeing the prototypes is how a user checks that
learnt (or shipped) prototypes move the right part of the face the right way.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from magicgui import widgets
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from napari.utils.notifications import show_error
from qtpy.QtWidgets import QVBoxLayout, QWidget

from napari_mespot._widgets.curves_plot import threshold_label
from napari_mespot.core.errors import MespotError
from napari_mespot.core.spotters.prototype import PRESETS, PrototypeSet, default_prototypes_path
from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET

GRID_STEP = 20


class PrototypeViewer(QWidget):
    """Heatmaps and direction maps of every AU in a prototype file."""

    def __init__(self, napari_viewer=None) -> None:
        super().__init__()
        shipped = PRESETS[DEFAULT_PRESET].shipped_prototypes  # the set a Run uses out of the box
        self.file = widgets.FileEdit(
            label="prototypes", value=default_prototypes_path(shipped), filter="*.npz", mode="r"
        )
        self.phi = widgets.FloatSlider(label="φ (arrow gain)", value=10.0, min=1.0, max=100.0)
        self.info = widgets.Label(value="")
        self.figure = Figure(figsize=(8, 5), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.prototypes: PrototypeSet | None = None
        controls = widgets.Container(widgets=[self.file, self.phi, self.info])
        layout = QVBoxLayout(self)
        layout.addWidget(controls.native)
        layout.addWidget(self.canvas, stretch=1)
        self.file.changed.connect(self.load)
        self.phi.changed.connect(lambda *_: self.redraw())
        self.load()

    def load(self, *_: Any) -> None:
        try:
            self.prototypes = PrototypeSet.load(self.file.value)
        except (MespotError, OSError) as exc:
            self.prototypes = None
            self.info.value = str(exc)
            show_error(str(exc))
        else:
            provenance = self.prototypes.provenance.get("description") or self.prototypes.provenance.get(
                "source", ""
            )
            self.info.value = f"{len(self.prototypes)} AUs, flow {self.prototypes.flow_method}. {provenance}"
        self.redraw()

    def redraw(self) -> None:
        self.figure.clear()
        if not self.prototypes:
            self.canvas.draw_idle()
            return
        n = len(self.prototypes)
        cols = min(4, n)
        rows = math.ceil(n / cols)
        for k, proto in enumerate(self.prototypes.prototypes):
            ax = self.figure.add_subplot(rows, cols, k + 1)
            heat = proto.magnitude()
            ax.imshow(heat, cmap="inferno")
            ys, xs = np.mgrid[
                GRID_STEP // 2 : heat.shape[0] : GRID_STEP, GRID_STEP // 2 : heat.shape[1] : GRID_STEP
            ]
            u, v = proto.field[ys, xs, 0], proto.field[ys, xs, 1]
            # Arrows from p to p + φ·M(p) in image pixels (eq. 31); the y axis points down.
            ax.quiver(
                xs,
                ys,
                u,
                v,
                color="cyan",
                angles="xy",
                scale_units="xy",
                scale=1.0 / self.phi.value,
                width=0.004,
            )
            title = f"{proto.label} ({proto.region}, n={proto.count})"
            if proto.threshold is not None:
                title += f"\n{threshold_label(proto.threshold, self.prototypes.threshold_unit)}"
            ax.set_title(title, fontsize="small")
            ax.set_axis_off()
        self.canvas.draw_idle()
