"""The prototype viewer draws eq. 32 heatmaps and eq. 31 direction maps."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.quiver import Quiver

from napari_mespot._widgets.prototype_viewer import GRID_STEP, PrototypeViewer
from napari_mespot.core.spotters.prototype import Prototype, PrototypeSet
from napari_mespot.core.spotters.prototype.normalise import FLOOR_UNIT

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


def test_thresholds_calibrated_on_normalised_curves_say_so(qtbot, tmp_path):
    """A set calibrated with ``normalise="floor"`` (the robust preset's) has θ in noise floors, not
    in matching-index units; the viewer opens that set, the one a Run uses, by default."""
    viewer = PrototypeViewer()
    qtbot.addWidget(viewer)
    assert viewer.prototypes.threshold_unit == FLOOR_UNIT  # the shipped robust set
    assert all(FLOOR_UNIT in ax.get_title() for ax in viewer.figure.axes)
    field = np.zeros((160, 260, 2), np.float32)
    path = tmp_path / "floor.npz"
    calibration = {"settings": {"normalise": "floor"}}
    prototype = Prototype(12, "mouth", field, count=3, threshold=10.27)
    PrototypeSet((prototype,), calibration=calibration).save(path)
    viewer.file.value = path
    assert "θ = 10.3 (× noise floor)" in viewer.figure.axes[0].get_title()


def test_a_broken_file_is_reported(qtbot, tmp_path):
    viewer = PrototypeViewer()
    qtbot.addWidget(viewer)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    viewer.file.value = bad
    assert viewer.prototypes is None and "bad.npz" in viewer.info.value
    assert viewer.figure.axes == []
