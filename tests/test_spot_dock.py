"""The "Spot expressions" dock and the curves plot, driven in a real napari window."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot._widgets.curves_plot import CurvesPlot
from napari_mespot._widgets.spot_dock import SpotWidget
from napari_mespot._widgets.video_review import review_for
from napari_mespot.core.device import cuda_available, fallback_note
from napari_mespot.core.spotters.prototype import Prototype, PrototypeSet

pytestmark = pytest.mark.gui
FIXTURE_VIDEOS = ("WolfgangLanger_Pexels.mp4", "face_noface.mov", "no_face.mp4", "single_face.mp4")


@pytest.fixture
def lip_corner_prototypes(tmp_path):
    """A hand-made AU12 prototype (mouth corners up and out) with a low threshold, so that the
    smiling clip produces spots; the science is tested elsewhere, this is the dock's plumbing."""
    field = np.zeros((160, 260, 2), np.float32)
    field[40:120, 20:80] = (-0.5, -1.0)
    field[40:120, 180:240] = (0.5, -1.0)
    path = tmp_path / "au12.npz"
    PrototypeSet((Prototype(12, "mouth", field, count=1, threshold=1.0),)).save(path)
    return path


def run_and_wait(qtbot, dock: SpotWidget) -> None:
    dock.run()
    assert dock.worker is not None, dock.status.value
    # The dock drops its worker when the worker's finished signal reaches it; waiting on the
    # signal itself would miss one already emitted (a cancelled run can end at once).
    qtbot.waitUntil(lambda: dock.worker is None, timeout=300_000)


def test_spotting_adds_a_machine_track_and_the_plot_follows_the_slider(
    make_napari_viewer_proxy, qtbot, fixtures_dir, lip_corner_prototypes
):
    viewer = make_napari_viewer_proxy()
    layer = viewer.open(str(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4"), plugin="napari-mespot")[0]
    dock = SpotWidget(viewer)
    plot = CurvesPlot(viewer)
    viewer.window.add_dock_widget(dock)
    viewer.window.add_dock_widget(plot, area="bottom")
    dock.prototypes.value = lip_corner_prototypes
    dock.video_combo.value = layer

    run_and_wait(qtbot, dock)

    review = review_for(layer)
    assert list(review.results) == ["prototype 1"], dock.status.value
    result = review.results["prototype 1"]
    track = review.model.tracks["prototype 1"]
    assert track.read_only and len(track) == len(result.intervals)
    assert dock.progress.value() == 100 and dock.status.value.startswith("prototype 1:")
    assert result.curves.shape == (1, len(layer.data))
    # The hand over the mouth (about frames 64-232 of this real clip) is not spotted in: found
    # unreliable where the face is whole, skipped where the hand pushes the chin out of the
    # frame; the plot hatches it.
    left_out = np.zeros(result.n_frames, dtype=bool)
    for s in (*result.skipped, *result.unreliable):
        left_out[s.start : s.end + 1] = True
    assert left_out[64:233].mean() > 0.95 and result.unreliable, (result.skipped, result.unreliable)
    assert all(not s.start <= iv.onset <= s.end for iv in result.intervals for s in result.unreliable)
    # The fixtures folder is read-only: landmark cache and session went to the user's folders.
    assert sorted(p.name for p in (fixtures_dir / "video").iterdir()) == sorted(FIXTURE_VIDEOS)

    # The plot shows that run: one curve and its threshold.
    assert plot.run_combo.value == "prototype 1"
    assert len(plot.axes.lines) == 3  # curve, threshold, playhead
    assert any(p.get_hatch() for p in plot.axes.patches)  # the unreliable span
    # Slider → playhead.
    viewer.dims.set_current_step(0, 123)
    assert plot.playhead.get_xdata()[0] == 123
    # Click on the plot → slider.
    plot.canvas.draw()
    x, y = plot.axes.transData.transform((300, np.nanmean(result.curves)))
    from matplotlib.backend_bases import MouseEvent

    plot.canvas.callbacks.process(
        "button_press_event", MouseEvent("button_press_event", plot.canvas, x, y, 1)
    )
    assert viewer.dims.current_step[0] == 300


def test_cancel_leaves_no_track(make_napari_viewer_proxy, qtbot, fixtures_dir, lip_corner_prototypes):
    viewer = make_napari_viewer_proxy()
    layer = viewer.open(str(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4"), plugin="napari-mespot")[0]
    dock = SpotWidget(viewer)
    dock.prototypes.value = lip_corner_prototypes
    dock.video_combo.value = layer
    dock.run()
    dock.cancel()
    qtbot.waitUntil(lambda: dock.worker is None, timeout=300_000)
    assert dock.status.value == "cancelled"
    assert review_for(layer).results == {}
    assert dock.run_button.enabled


@pytest.mark.skipif(cuda_available(), reason="this machine has a GPU: cuda is not refused")
def test_the_runs_notes_reach_the_status(
    make_napari_viewer_proxy, qtbot, fixtures_dir, lip_corner_prototypes
):
    """cuda chosen without a GPU: the run goes on on the CPU and the dock says so, as the CLI."""
    viewer = make_napari_viewer_proxy()
    layer = viewer.open(str(fixtures_dir / "video" / "single_face.mp4"), plugin="napari-mespot")[0]
    dock = SpotWidget(viewer)
    dock.prototypes.value = lip_corner_prototypes
    dock.video_combo.value = layer
    dock.settings.device.value = "cuda"
    run_and_wait(qtbot, dock)
    assert list(review_for(layer).results) == ["prototype 1"], dock.status.value
    assert fallback_note("the farneback flow") in dock.status.value


def test_bad_settings_are_reported_not_run(make_napari_viewer_proxy, fixtures_dir, lip_corner_prototypes):
    viewer = make_napari_viewer_proxy()
    viewer.open(str(fixtures_dir / "video" / "single_face.mp4"), plugin="napari-mespot")
    dock = SpotWidget(viewer)
    dock.prototypes.value = lip_corner_prototypes
    dock.settings.fusion_delta.value = 1.5  # outside [0, 1)
    dock.run()
    assert dock.worker is None


def _corrected(viewer, scripted_video):
    """The dock on the scripted video whose every expression the annotator added, with a base
    set holding an AU12 prototype to relearn."""
    path, truth = scripted_video
    layer = viewer.open(str(path), plugin="napari-mespot")[0]
    review = review_for(layer)
    dock = SpotWidget(viewer)
    dock.video_combo.value = layer
    assert not dock.retrain_button.enabled and not dock.finetune_button.enabled
    assert dock.retrain_button.text == "Retrain prototypes: no corrections yet"
    assert dock.finetune_button.text == "Fine-tune VoVNet: no corrections yet"
    assert "accept, edit or add intervals first" in dock.retrain_button.tooltip
    review.model.add(truth[0].onset, truth[0].offset, truth[0].type)  # no apex, no AUs
    assert dock.retrain_button.text == "Retrain prototypes: no correction has apex + AUs"
    assert not dock.retrain_button.enabled and dock.finetune_button.enabled
    assert dock.finetune_button.text == "Fine-tune VoVNet on 1 corrections"
    review.model.undo()
    for iv in truth:
        review.model.add(iv.onset, iv.offset, iv.type, apex=iv.apex, aus=iv.aus)
    assert dock.retrain_button.enabled and dock.retrain_button.text == "Retrain prototypes from 3 corrections"
    base = path.with_name("base.npz")
    PrototypeSet((Prototype(12, "mouth", np.zeros((160, 260, 2), np.float32), 50, 9.0),)).save(base)
    dock.prototypes.value = base
    return dock, review, base


def _answer(monkeypatch, answer: str) -> list[str]:
    """Answer the dock's question with ``answer`` ("Yes"/"No"); returns the questions asked."""
    from qtpy.QtWidgets import QMessageBox

    asked = []

    def question(parent, title, text, buttons, default):
        asked.append(text)
        return getattr(QMessageBox.StandardButton, answer)

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def _retrained(viewer, qtbot, scripted_video, monkeypatch, answer: str, min_count: int):
    """Retrain in the dock on the corrected scripted video, answering its question with ``answer``;
    returns the dock, the review, the base prototypes' file and the questions asked."""
    dock, review, base = _corrected(viewer, scripted_video)
    dock.min_count.value = min_count
    asked = _answer(monkeypatch, answer)
    dock.retrain()
    qtbot.waitUntil(lambda: dock.worker is None, timeout=900_000)
    return dock, review, base, asked


@pytest.mark.slow
def test_retrain_asks_with_held_out_numbers_then_spots_with_the_new_prototypes(
    make_napari_viewer_proxy, qtbot, scripted_video, monkeypatch
):
    viewer = make_napari_viewer_proxy()
    dock, review, base, asked = _retrained(viewer, qtbot, scripted_video, monkeypatch, "Yes", 1)
    assert len(asked) == 1 and "did not train on (held-out share of one video" in asked[0], dock.status.value
    new_file = dock.prototypes.value
    assert new_file != base and new_file.parent == review.session.path.parent, dock.status.value
    retrained = PrototypeSet.load(new_file)
    assert retrained.provenance["relearnt_aus"] == [4, 12]
    assert "relearnt AU 4, 12" in dock.status.value and "the next Run uses" in dock.status.value

    run_and_wait(qtbot, dock)
    assert "prototype 1" in review.results and review.results["prototype 1"].curve_labels == ("AU12", "AU4")


@pytest.mark.slow
def test_a_retrained_model_the_annotator_declines_is_not_used(
    make_napari_viewer_proxy, qtbot, scripted_video, monkeypatch
):
    viewer = make_napari_viewer_proxy()
    dock, review, base, asked = _retrained(viewer, qtbot, scripted_video, monkeypatch, "No", 1)
    assert len(asked) == 1 and dock.prototypes.value == base, dock.status.value
    assert "the current prototypes stay" in dock.status.value
    assert list(review.session.path.parent.glob("clip.prototypes-*.npz"))  # kept, not used


def test_a_retraining_that_learns_nothing_keeps_the_model_without_asking(
    make_napari_viewer_proxy, qtbot, scripted_video, monkeypatch
):
    # AU12 has two corrected clips, AU4 one: none reaches three
    viewer = make_napari_viewer_proxy()
    dock, review, base, asked = _retrained(viewer, qtbot, scripted_video, monkeypatch, "Yes", 3)
    assert not asked and dock.prototypes.value == base
    assert "learnt nothing" in dock.status.value and "the current prototypes stay" in dock.status.value
    assert not list(review.session.path.parent.glob("clip.prototypes-*.npz"))


def test_an_error_while_retraining_is_one_message_in_the_dock(
    make_napari_viewer_proxy, qtbot, scripted_video, monkeypatch
):
    from napari_mespot.jobs import heldout

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")
        yield

    monkeypatch.setattr(heldout, "retrain_prototypes", broken)
    dock, _, _ = _corrected(make_napari_viewer_proxy(), scripted_video)
    dock.min_count.value = 1
    dock.retrain()
    # an exception reaching the event loop would fail the test (pytest-qt captures it)
    qtbot.waitUntil(lambda: dock.worker is None, timeout=300_000)
    assert dock.status.value == "Retraining failed: RuntimeError: disk on fire"
    assert dock.retrain_button.enabled and dock.run_button.enabled


@pytest.mark.slow
def test_the_vovnet_method_runs_from_the_dock(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    dock = SpotWidget(viewer)
    dock.video_combo.value = layer
    dock.method_combo.value = "vovnet"
    assert not dock.checkpoint.native.isHidden() and dock.prototypes.native.isHidden()
    run_and_wait(qtbot, dock)
    result = review_for(layer).results["vovnet 1"]
    assert result.curve_labels == ("me", "mae") and result.curves.shape == (2, len(layer.data))
    assert review_for(layer).model.tracks["vovnet 1"].read_only


@pytest.fixture
def energy_plugin():
    from energy_plugin import EnergyPlugin
    from napari_mespot import plugins

    plugins.register(EnergyPlugin(), name="energy-test-plugin")
    yield
    plugins.unregister("energy-test-plugin")


def test_a_plugin_spotter_is_offered_and_runs_from_the_dock(
    make_napari_viewer_proxy, qtbot, energy_plugin, tmp_path
):
    from energy_plugin import FPS, EnergySettings, square_frames
    from napari_mespot.core.media.writer import write_video

    path = write_video(tmp_path / "square.mp4", square_frames(), fps=FPS)
    viewer = make_napari_viewer_proxy()
    layer = viewer.open(str(path), plugin="napari-mespot")[0]
    dock = SpotWidget(viewer)
    assert dock.method_combo.choices == ("prototype", "vovnet", "energy")
    assert dock.method_combo.native.itemText(2) == "frame-difference energy (test plugin)"
    dock.video_combo.value = layer
    dock.method_combo.value = "energy"
    form = dock.forms["energy"]
    assert not form.native.isHidden() and dock.settings.native.isHidden()
    assert "energy" not in dock.model_files and dock.prototypes.native.isHidden()
    assert [w.name for w in form] == ["factor", "floor", "min_frames", "me_max_s"]
    form.me_max_s.value = 0.2  # the form's values are the run's settings: 10 frames are then MaE

    run_and_wait(qtbot, dock)

    result = review_for(layer).results["energy 1"]
    assert result.settings == EnergySettings(me_max_s=0.2)
    assert [(iv.onset, iv.offset, iv.type) for iv in result.intervals] == [(20, 29, "mae")]
    assert review_for(layer).model.tracks["energy 1"].read_only
    assert dock.status.value.startswith("energy 1: 1 intervals")


def test_a_preset_fills_the_form_and_a_run_gets_its_values(make_napari_viewer_proxy):
    from dataclasses import replace

    from napari_mespot.core.spotters.prototype import PRESETS
    from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET

    viewer = make_napari_viewer_proxy()
    viewer.open_sample("napari-mespot", "synthetic_face")
    dock = SpotWidget(viewer)
    combo = dock.preset_combos["prototype"]
    # The dock starts where mespot spot, batch and demo do: the default preset.
    assert combo.value == DEFAULT_PRESET == "robust" and "vovnet" not in dock.preset_combos
    assert dock._prepare("prototype")[2] == PRESETS["robust"]
    combo.value = "recommended"
    assert dock.settings.boundaries.value == "valleys"
    assert dock._prepare("prototype")[2] == PRESETS["recommended"]
    dock.settings.window_s.value = 5.0
    assert dock._prepare("prototype")[2] == replace(PRESETS["recommended"], window_s=5.0)


def test_the_model_field_shows_the_file_the_preset_spots_with(make_napari_viewer_proxy, tmp_path):
    """The fast preset spots with the shipped DIS prototypes: the field says so, goes back with
    the preset, and a file the user chose is never replaced by a preset change."""
    from napari_mespot.core.spotters.prototype import PrototypeSet, default_prototypes_path

    viewer = make_napari_viewer_proxy()
    viewer.open_sample("napari-mespot", "synthetic_face")
    dock = SpotWidget(viewer)
    combo = dock.preset_combos["prototype"]
    assert dock.prototypes.value.name == "robust_prototypes.npz"  # the default preset's
    combo.value = "fast"
    assert dock.prototypes.value.name == "fast_prototypes.npz"
    assert PrototypeSet.load(dock.prototypes.value).flow_method == "dis"
    assert dock._model_path("prototype") is None  # the preset's own default is what loads
    combo.value = "recommended"
    assert dock.prototypes.value.name == "default_prototypes.npz"
    dock.settings.shipped_prototypes.value = "fast"  # the form's field, not only the preset
    assert dock.prototypes.value.name == "fast_prototypes.npz"

    mine = tmp_path / "mine.npz"
    mine.write_bytes(default_prototypes_path("default").read_bytes())
    dock.prototypes.value = mine
    combo.value = "fast"
    assert dock.prototypes.value == mine and dock._model_path("prototype") == str(mine)


def test_a_presets_fields_the_form_leaves_out_still_reach_the_run(make_napari_viewer_proxy):
    """A plugin whose preset sets a field its form hides: the run gets the preset's value."""
    from energy_plugin import EnergySettings, energy_spotter
    from napari_mespot import plugins
    from napari_mespot.core.spotters.base import Spotter
    from napari_mespot.plugins import SpotterInfo, hookimpl

    base = energy_spotter()
    spotter = Spotter(
        settings=EnergySettings,
        spot=base.spot,
        load_model=base.load_model,
        presets={"loose": EnergySettings(factor=2.0), "high floor": EnergySettings(floor=9.0)},
        default_preset="loose",
        hidden=("floor",),
    )

    class Plugin:
        @hookimpl
        def mespot_spotters(self):
            return [SpotterInfo("energy-presets", "energy with presets", lambda: spotter)]

    plugins.register(Plugin(), name="energy-presets")
    try:
        viewer = make_napari_viewer_proxy()
        viewer.open_sample("napari-mespot", "synthetic_face")
        dock = SpotWidget(viewer)
    finally:
        plugins.unregister("energy-presets")
    form = dock.forms["energy-presets"]
    assert dock.preset_combos["energy-presets"].value == "loose" and form.factor.value == 2.0
    assert "floor" not in [w.name for w in form]
    dock.preset_combos["energy-presets"].value = "high floor"
    form.min_frames.value = 4
    assert dock._prepare("energy-presets")[2] == EnergySettings(floor=9.0, min_frames=4)
