"""The prototype viewer draws eq. 32 heatmaps and eq. 31 direction maps."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.quiver import Quiver

from napari_mespot._widgets.prototype_viewer import GRID_STEP, PrototypeViewer
from napari_mespot.core.spotters.prototype import Prototype, PrototypeSet

pytestmark = pytest.mark.gui


@pytest.fixture
def prototype_file(tmp_path):
    field = np.zeros((240, 280, 2), np.float32)
    field[:, :140] = (3.0, 4.0)  # magnitude 5 on the left half, pointing right and down
    path = tmp_path / "p.npz"
    PrototypeSet((Prototype(4, "eye", field, count=12, threshold=2.5),)).save(path)
    return path


def test_heatmap_and_arrows_follow_the_equations(qtbot, prototype_file):
    viewer = PrototypeViewer()
    qtbot.addWidget(viewer)
    viewer.file.value = prototype_file
    viewer.phi.value = 10.0
    (ax,) = viewer.figure.axes
    heat = ax.images[0].get_array()
    assert heat[0, 0] == pytest.approx(5.0) and heat[0, 200] == pytest.approx(0.0)  # eq. 32
    quiver = next(c for c in ax.collections if isinstance(c, Quiver))
    # Eq. 31: arrow from p to p + φ·M(p), in image pixels.
    assert quiver.scale == pytest.approx(1 / 10.0) and quiver.scale_units == "xy"
    left = quiver.X < 140
    assert np.allclose(quiver.U[left], 3.0) and np.allclose(quiver.V[left], 4.0)
    assert np.allclose(quiver.U[~left], 0.0)
    assert quiver.X.min() == GRID_STEP // 2
    title = ax.get_title()
    assert "AU4" in title and "n=12" in title and "θ = 2.5 (matching index)" in title


def test_a_broken_file_is_reported(qtbot, tmp_path):
    viewer = PrototypeViewer()
    qtbot.addWidget(viewer)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    viewer.file.value = bad
    assert viewer.prototypes is None and "bad.npz" in viewer.info.value
    assert viewer.figure.axes == []
