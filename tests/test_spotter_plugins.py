"""Spotters as plugins: a third-party spotter registered at run time is a CLI method like the
built-ins; name clashes and options a method lacks are user errors."""

from __future__ import annotations

import csv
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pluggy
import pytest

from energy_plugin import FPS, N_FRAMES, NAME, EnergyPlugin, EnergySettings, square_frames
from napari_mespot import plugins
from napari_mespot.cli import main
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.base import Spotter, settings_with
from napari_mespot.jobs.batch import BatchError, run_batch
from napari_mespot.plugins import DuplicateNameError, SpotterInfo, get_spotter, hookimpl, spotters


@dataclass
class ArrayVideo:
    frames: list[np.ndarray]
    fps: float = FPS
    path: str = "square.mp4"

    def __len__(self) -> int:
        return len(self.frames)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.frames[i]


@pytest.fixture
def energy_plugin():
    plugins.register(EnergyPlugin(), name="energy-test-plugin")
    yield
    plugins.unregister("energy-test-plugin")


@pytest.fixture(scope="module")
def square_video(tmp_path_factory):
    from napari_mespot.core.media.writer import write_video

    return write_video(tmp_path_factory.mktemp("square") / "square.mp4", square_frames(), fps=FPS)


def test_the_energy_spotter_finds_the_moving_square():
    """The test plugin is a real spotter: its interval is the span the square moves in."""
    result = run_to_end(EnergyPlugin().mespot_spotters()[0].load().run(ArrayVideo(square_frames())))
    assert [(iv.onset, iv.offset, iv.type) for iv in result.intervals] == [(20, 29, "me")]
    assert result.method == NAME and result.curves.shape == (1, N_FRAMES)
    # 2 × 6 columns × 32 rows change by 130 grey levels, over 96 × 96 pixels.
    assert result.curves[0, 25] == pytest.approx(2 * 6 * 32 * 130 / 96**2)


def test_builtins_come_first_and_the_registry_loads_no_torch_for_help():
    assert list(spotters())[:2] == ["prototype", "vovnet"]
    code = (
        "import sys\n"
        "from napari_mespot.cli import build_parser\n"
        "build_parser()\n"
        "from napari_mespot.plugins import spotters\n"
        "assert list(spotters())[:2] == ['prototype', 'vovnet']\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_registered_spotter_is_listed_in_spot_help(energy_plugin, capsys):
    with pytest.raises(SystemExit):
        main(["spot", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "{prototype,vovnet,energy}" in text
    assert "energy: frame-difference energy (test plugin)" in text


def test_a_registered_spotter_runs_from_the_cli_to_a_native_csv(energy_plugin, square_video, tmp_path):
    out = tmp_path / "energy.csv"
    assert main(["spot", str(square_video), "--method", NAME, "--out", str(out), "--quiet"]) == 0
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["video"], r["onset"], r["offset"], r["type"], r["source"]) for r in rows] == [
        ("square", "20", "29", "me", NAME)
    ]
    # --set reaches the method's settings: a run of 10 frames is not ME when ME ends at 0.2 s.
    assert main(["spot", str(square_video), "--method", NAME, "--out", str(out), "--quiet", "--force",
                 "--set", "me_max_s=0.2"]) == 0  # fmt: skip
    with open(out, newline="") as fh:
        assert [r["type"] for r in csv.DictReader(fh)] == ["mae"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--window", "3"], "--window: not a setting of this method (EnergySettings)"),
        (["--preset", "paper"], "this method has no presets"),
        (["--prototypes", "p.npz"], "--prototypes is not the model of --method energy"),
        (["--model", "m.bin"], "takes no model file"),
        (["--set", "speed=3"], "EnergySettings has no setting 'speed'"),
        (["--set", "factor=high"], "factor=high"),
    ],
)
def test_options_the_method_lacks_are_refused(energy_plugin, square_video, tmp_path, capsys, extra, message):
    argv = ["spot", str(square_video), "--method", NAME, "--out", str(tmp_path / "x.csv"), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()


def test_vovnet_refuses_prototype_options_instead_of_ignoring_them(tmp_path, capsys):
    argv = ["spot", "v.mp4", "--method", "vovnet", "--out", str(tmp_path / "x.csv"), "--flow", "dis"]
    assert main(argv) == 2
    assert "--flow: not a setting of this method (SpotSettings)" in capsys.readouterr().err


def test_duplicate_spotter_names_are_an_error():
    pm = pluggy.PluginManager(plugins.PROJECT)
    pm.add_hookspecs(plugins.MespotSpecs)
    pm.register(EnergyPlugin(), name="a")
    assert list(spotters(pm)) == ["prototype", "vovnet", NAME]

    class Clash:
        @hookimpl
        def mespot_spotters(self):
            return [SpotterInfo("prototype", "another prototype spotter", EnergyPlugin)]

    pm.register(Clash(), name="b")
    with pytest.raises(DuplicateNameError, match="spotter 'prototype'"):
        spotters(pm)
    with pytest.raises(DuplicateNameError, match="spotter 'prototype'"):
        get_spotter("vovnet", pm)


def test_a_clash_at_run_time_leaves_the_registry_as_it_was(energy_plugin):
    class Clash:
        @hookimpl
        def mespot_spotters(self):
            first = SpotterInfo("late", "added first", EnergyPlugin)
            return [first, SpotterInfo(NAME, "again", EnergyPlugin)]

    with pytest.raises(DuplicateNameError, match=f"spotter '{NAME}'"):
        plugins.register(Clash(), name="clash")
    assert list(spotters()) == ["prototype", "vovnet", NAME]
    assert plugins.plugin_manager().get_plugin("clash") is None


def test_a_name_clash_in_an_installed_plugin_is_one_line_from_the_cli(fresh_plugins, monkeypatch, capsys):
    class Clash:
        @hookimpl
        def mespot_spotters(self):
            return [SpotterInfo("vovnet", "a second vovnet", EnergyPlugin)]

    def installed(pm, group, name=None):  # the boundary: an installed package's entry point
        pm.register(Clash(), name="clash")
        return 1

    monkeypatch.setattr(pluggy.PluginManager, "load_setuptools_entrypoints", installed)
    assert main(["info", "x.mp4"]) == 2
    assert "two plugins register the spotter 'vovnet'" in capsys.readouterr().err


def test_unknown_spotters_are_refused_by_name():
    with pytest.raises(plugins.UnknownMethodError, match="available: prototype, vovnet"):
        get_spotter("dlib")
    with pytest.raises(BatchError, match="unknown method 'energy'"):
        next(run_batch([], "unused", method="energy"))


def test_settings_with_reads_each_value_as_its_field_type():
    from napari_mespot.core.spotters.prototype import PrototypeSettings
    from napari_mespot.core.spotters.vovnet.settings import DataSettings, SpotSettings

    base = PrototypeSettings()
    changed = settings_with(
        base, ["window_s=3.5", "lowpass_order=4", "head_motion=similarity", "flow_method=dis"]
    )
    assert (changed.window_s, changed.lowpass_order, changed.head_motion) == (3.5, 4, "similarity")
    assert changed.flow_method == "dis" and settings_with(changed, ["flow_method=none"]).flow_method is None
    assert settings_with(SpotSettings(), ['thresholds={"me": 0.4}']).thresholds == {"me": 0.4}
    assert settings_with(DataSettings(), ["flow=no"]).flow is False
    with pytest.raises(ValueError, match="expected true or false"):
        settings_with(DataSettings(), ["flow=maybe"])
    with pytest.raises(ValueError, match="head_motion must be one of"):
        settings_with(base, ["head_motion=yes"])  # a mode now, no longer a switch
    with pytest.raises(ValueError, match="expected FIELD=VALUE"):
        settings_with(base, ["window_s"])


def test_a_spotter_contract_needs_a_settings_dataclass():
    with pytest.raises(TypeError, match="must be a dataclass"):
        Spotter(settings=dict, spot=print, load_model=print)
    with pytest.raises(ValueError, match="default preset 'x'"):
        Spotter(settings=EnergySettings, spot=print, load_model=print, default_preset="x")
    with pytest.raises(ValueError, match="no preset 'fast'"):
        Spotter(settings=EnergySettings, spot=print, load_model=print).base_settings("fast")


def test_a_registered_spotter_runs_the_loso_protocol_with_its_fixed_model(energy_plugin, tmp_path):
    """``reproduce loso --method energy`` on a CAS(ME)²-shaped tree: no fold fits anything, every
    subject is spotted, and the squares' movements are found exactly (F1 = 1 by construction)."""
    import json

    import cv2

    from napari_mespot.core.intervals import Interval, VideoIntervals
    from napari_mespot.core.labels import Labels, read_labels, write_labels

    root = tmp_path / "CASME_sq"
    videos = {}
    for number, moves in ((15, range(20, 30)), (16, range(35, 45))):
        folder = root / "rawpic" / f"s{number}" / f"{number}_0101happy"
        folder.mkdir(parents=True)
        for k, frame in enumerate(square_frames(moves)):
            assert cv2.imwrite(str(folder / f"img{k + 1}.jpg"), frame[..., ::-1])
        truth = (Interval(moves.start, moves.stop - 1, "me", apex=moves.start + 4),)
        videos[f"{number}_0101"] = VideoIntervals(f"{number}_0101", truth, FPS, f"s{number}")
    write_labels(root / "CAS(ME)^2code_final.xlsx", Labels(videos), "cas-me2-xlsx")
    out = tmp_path / "loso"
    argv = ["reproduce", "loso", "--dataset", "cas-me2", "--root", str(root), "--method", NAME]
    assert main([*argv, "--out", str(out), "--quiet"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert [fold["model"]["fitted"] for fold in report["folds"]] == [False, False]
    assert report["results"]["overall"]["f1"] == 1.0
    predicted = read_labels(out / "predictions.csv").videos
    assert {v: [(iv.onset, iv.offset) for iv in e.intervals] for v, e in predicted.items()} == {
        "15_0101": [(20, 29)],
        "16_0101": [(35, 44)],
    }


def test_a_plugin_spotters_presets_are_chosen_by_name_on_the_cli():
    from napari_mespot.cli import build_parser
    from napari_mespot.commands.spot import spot_settings
    from napari_mespot.core.errors import MespotError

    strict, sensitive = EnergySettings(factor=8.0), EnergySettings(factor=2.0, min_frames=1)
    spotter = Spotter(
        settings=EnergySettings,
        spot=print,
        load_model=print,
        presets={"strict": strict, "sensitive": sensitive},
        default_preset="strict",
    )

    def settings(*options):
        return spot_settings(
            build_parser().parse_args(["spot", "v.mp4", "--out", "o.csv", *options]), spotter
        )

    assert settings() == strict
    assert settings("--preset", "sensitive") == sensitive
    assert settings("--preset", "sensitive", "--set", "floor=5") == EnergySettings(2.0, 5.0, 1)
    with pytest.raises(
        MespotError, match=r"no preset 'fast' for this method \(its presets: strict, sensitive\)"
    ):
        settings("--preset", "fast")
