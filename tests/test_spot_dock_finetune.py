"""The Spot dock's VoVNet fine-tuning: from this video's corrections to a new checkpoint that the
next Run uses, beside a run of the old one for the Compare dock."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from napari_mespot._widgets.spot_dock import SpotWidget
from napari_mespot._widgets.video_review import review_for
from napari_mespot.core.spotters.vovnet import default_checkpoint_path, load_checkpoint

pytestmark = pytest.mark.gui


def _corrected_dock(viewer, scripted_video) -> tuple[SpotWidget, object]:
    """The dock on the scripted video, whose every expression the annotator added; VoVNet chosen."""
    path, truth = scripted_video
    layer = viewer.open(str(path), plugin="napari-mespot")[0]
    review = review_for(layer)
    for iv in truth:
        review.model.add(iv.onset, iv.offset, iv.type, apex=iv.apex, aus=iv.aus)
    dock = SpotWidget(viewer)
    dock.video_combo.value = layer
    dock.method_combo.value = "vovnet"
    dock.vovnet_settings.device.value = "cpu"
    return dock, review


def _wait(qtbot, dock: SpotWidget) -> None:
    assert dock.worker is not None, dock.status.value
    # The dock drops its worker when the worker's finished signal reaches it; waiting on the
    # signal itself would miss one already emitted (a cancelled run can end at once).
    qtbot.waitUntil(lambda: dock.worker is None, timeout=600_000)


@pytest.mark.slow
def test_fine_tune_selects_the_new_checkpoint_and_both_runs_can_be_compared(
    make_napari_viewer_proxy, qtbot, scripted_video, monkeypatch
):
    from qtpy.QtWidgets import QMessageBox

    dock, review = _corrected_dock(make_napari_viewer_proxy(), scripted_video)
    assert not dock.finetune_button.native.isHidden() and dock.retrain_button.native.isHidden()
    dock.finetune_epochs.value = 1
    asked = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda *a: asked.append(a[2]) or QMessageBox.StandardButton.Yes
    )
    messages = []
    dock.finetune()
    dock.worker.yielded.connect(lambda p: messages.append(p.message))
    _wait(qtbot, dock)

    new = dock.checkpoint.value
    assert new.parent == review.session.path.parent and new.name.startswith("clip.vovnet-"), dock.status.value
    # asked once, with the loss it lowered and its F1 on the expression it did not train on
    assert len(asked) == 1 and "validation loss" in asked[0], dock.status.value
    assert "did not train on (held-out share of one video: its last 1 of 3" in asked[0]
    assert "the next Run uses" in dock.status.value
    assert any(m.startswith("epoch 1:") and " total " in m for m in messages)  # the running loss
    meta = load_checkpoint(new).meta
    assert meta["init"]["sha256"] == hashlib.sha256(default_checkpoint_path().read_bytes()).hexdigest()
    assert meta["sessions"] == [str(review.session.path)]

    dock.run()
    _wait(qtbot, dock)
    dock.checkpoint.value = default_checkpoint_path()
    dock.run()
    _wait(qtbot, dock)
    new_run, old_run = review.results["vovnet 1"], review.results["vovnet 2"]
    assert new_run.curves.shape == old_run.curves.shape == (2, len(review.video))
    # Two checkpoints, two sets of curves: the first run really used the fine-tuned one.
    assert not np.array_equal(new_run.curves, old_run.curves, equal_nan=True)


def test_cancelling_the_fine_tuning_writes_no_checkpoint(make_napari_viewer_proxy, qtbot, scripted_video):
    dock, review = _corrected_dock(make_napari_viewer_proxy(), scripted_video)
    dock.finetune()
    dock.cancel()
    _wait(qtbot, dock)
    assert dock.status.value == "cancelled"
    assert dock.checkpoint.value == default_checkpoint_path()
    assert not list(review.session.path.parent.glob("*.vovnet-*.pt"))
    assert dock.finetune_button.enabled and dock.run_button.enabled
