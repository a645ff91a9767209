"""``mespot spot``, ``mespot prototypes`` and ``mespot demo`` from the command line."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from napari_mespot.cli import main
from napari_mespot.core.device import cuda_available, fallback_note
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import PRESETS, PrototypeSet, default_prototypes
from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_dataset

TINY = SynthSettings(
    duration_s=8.0,
    size=(320, 240),
    n_me=1,
    n_mae=1,
    me_amplitude_px=(0.5, 1.0),
    mae_amplitude_px=(1.5, 4.0),
    shake_amplitude_px=(1.5, 4.0),
    drift_px=1.5,
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    results = run_to_end(write_synthetic_dataset(folder, TINY, seed=515151, count=1))
    return folder, results[0].path


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
def test_spot_writes_native_csv_and_curves(dataset, tmp_path, capsys):
    _, video = dataset
    out, curves = tmp_path / "out.csv", tmp_path / "curves"
    assert main(["spot", str(video), "--out", str(out), "--curves", str(curves), "--device", "cuda"]) == 0
    printed = capsys.readouterr().out
    shipped = default_prototypes(PRESETS[DEFAULT_PRESET].shipped_prototypes)  # the default preset's
    if not cuda_available():  # the run went on on the CPU and says so, in the words every method uses
        assert f"note: {fallback_note(f'the {shipped.flow_method} flow')}" in printed
    assert str(out) in printed
    rows = _rows(out)
    header = out.read_text().splitlines()[0].split(",")
    assert header[:9] == ["video", "onset", "apex", "offset", "type", "aus", "score", "source", "status"]
    for row in rows:
        assert row["video"] == video.stem and row["source"] == "prototype" and row["status"] == "candidate"
        assert int(row["onset"]) <= int(row["apex"]) <= int(row["offset"])
    with np.load(curves / f"{video.stem}.curves.npz", allow_pickle=False) as data:
        assert data["curves"].shape == (8, 240)
        assert list(data["curve_labels"]) == [p.label for p in shipped.prototypes]
        assert np.allclose(data["thresholds"], shipped.thresholds())
    table = np.loadtxt(curves / f"{video.stem}.curves.csv", delimiter=",", skiprows=1)
    assert table.shape == (240, 10) and table[1, 1] == pytest.approx(1 / 30)


@pytest.mark.slow
def test_threshold_override_changes_the_result(dataset, tmp_path):
    _, video = dataset
    out = tmp_path / "none.csv"
    huge = [f"--threshold={au}=1e12" for au in default_prototypes().aus]
    assert main(["spot", str(video), "--out", str(out), "--quiet", *huge]) == 0
    assert _rows(out) == []


def test_uncalibrated_prototypes_are_one_clear_error(tmp_path, capsys):
    protos = default_prototypes()
    bare = PrototypeSet(tuple(p.__class__(p.au, p.region, p.field, p.count) for p in protos.prototypes))
    path = bare.save(tmp_path / "bare.npz")
    video = tmp_path / "missing.mp4"
    assert main(["spot", str(video), "--prototypes", str(path), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "mespot spot: error:" in err
    assert main(["spot", str(video), "--threshold", "x", "--out", str(tmp_path / "o.csv")]) == 2
    assert "AU=VALUE" in capsys.readouterr().err


def test_prototypes_show_the_shipped_set(capsys):
    assert main(["prototypes", "show"]) == 0
    out = capsys.readouterr().out
    assert "robust_prototypes.npz" in out and "AU12" in out and "synthetic" in out


@pytest.mark.slow
def test_learn_then_calibrate(dataset, tmp_path, capsys):
    folder, video = dataset
    learnt = tmp_path / "learnt.npz"
    assert (
        main(
            [
                "prototypes",
                "learn",
                "--synthetic",
                "77",
                "--count",
                "2",
                "--min-count",
                "2",
                "--out",
                str(learnt),
                "--quiet",
            ]
        )
        == 0
    )
    protos = PrototypeSet.load(learnt)
    assert protos.provenance["source"] == "synthetic" and np.isnan(protos.thresholds()).all()
    calibrated = tmp_path / "calibrated.npz"
    assert (
        main(
            [
                "prototypes",
                "calibrate",
                str(learnt),
                str(video),
                "--gt",
                str(folder / "ground_truth.csv"),
                "--out",
                str(calibrated),
                "--quiet",
            ]
        )
        == 0
    )
    cal = PrototypeSet.load(calibrated)
    assert np.isfinite(cal.thresholds()).all() and (cal.thresholds() > 0).all()
    assert cal.calibration["videos"] == [video.stem]


@pytest.mark.slow
def test_thresholds_calibrated_under_other_settings_are_named_in_the_notes(dataset, tmp_path, capsys):
    """The robust set's relative thresholds under the fast preset's absolute curves: the run
    says which settings differ, and the paper preset with its own set says nothing."""
    from napari_mespot.core.spotters.prototype import default_prototypes_path

    _, video = dataset
    robust = str(default_prototypes_path("robust"))
    assert (
        main(
            ["spot", str(video), "--preset", "fast", "--prototypes", robust, "--out", str(tmp_path / "a.csv")]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert (
        "note: the thresholds were calibrated under other settings: normalise 'floor' there, 'off' here"
        in printed
    )
    assert "different units" in printed
    assert main(["spot", str(video), "--preset", "paper", "--out", str(tmp_path / "b.csv")]) == 0
    assert "calibrated under other settings" not in capsys.readouterr().out


def test_learn_needs_the_coding_with_casme2(tmp_path, capsys):
    assert main(["prototypes", "learn", "--casme2", str(tmp_path), "--out", str(tmp_path / "p.npz")]) == 2
    assert "--coding" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_spots_the_sample_and_scores_it(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "overall" in printed and "F1" in printed
    assert (out / "intervals.csv").is_file() and (out / "scores.json").is_file()
    assert (out / "curves" / "synthetic_face.curves.npz").is_file()


@pytest.mark.slow
def test_vovnet_method_spots_with_the_shipped_checkpoint(tmp_path):
    from napari_mespot.cli import main
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.media.samples import SYNTHETIC_VIDEO, sample_path

    out = tmp_path / "vovnet.csv"
    assert main(["spot", "--method", "vovnet", str(sample_path(SYNTHETIC_VIDEO)), "--out", str(out)]) == 0
    intervals = read_labels(out).videos["synthetic_face"].intervals
    assert intervals and all(iv.source == "vovnet" for iv in intervals)


def test_vovnet_bad_checkpoint_is_one_line(fixtures_dir, tmp_path, capsys):
    from napari_mespot.cli import main

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    args = [
        "spot",
        "--method",
        "vovnet",
        "--checkpoint",
        str(bad),
        str(fixtures_dir / "video" / "single_face.mp4"),
    ]
    assert main([*args, "--out", str(tmp_path / "x.csv")]) == 2
    assert "bad.pt" in capsys.readouterr().err
