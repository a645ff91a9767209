"""Checkpoints: a round trip gives identical outputs; damaged or mismatched files give clear errors."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest
import torch

from napari_mespot.cli import main
from napari_mespot.core.spotters.vovnet import (
    SMALL_MODEL,
    Checkpoint,
    CheckpointError,
    DataSettings,
    load_checkpoint,
    save_checkpoint,
)
from napari_mespot.core.spotters.vovnet.checkpoint import FORMAT, VERSION
from napari_mespot.core.spotters.vovnet.model import VoVNetSpotter

torch.set_num_threads(1)
DATA = DataSettings(input_size=32, flow_method="dis")


def _checkpoint(seed: int = 3, config=SMALL_MODEL, data=DATA) -> Checkpoint:
    torch.manual_seed(seed)
    model = VoVNetSpotter(config)
    # non-trivial batch-norm statistics, so a lost buffer would change the outputs
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 32, config.in_channels, 32, 32))
    return Checkpoint(model.eval(), config, data, 32, {"me": 0.3, "mae": 0.4}, {"note": "test"})


def test_round_trip_gives_identical_outputs(tmp_path):
    ckpt = _checkpoint()
    path = save_checkpoint(tmp_path / "m.pt", ckpt)
    assert json.loads(path.with_suffix(".json").read_text())["thresholds"] == {"me": 0.3, "mae": 0.4}
    loaded = load_checkpoint(path)
    x = torch.randn(1, 32, 5, 32, 32)
    with torch.no_grad():
        a, b = ckpt.model(x), loaded.model(x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert loaded.config == SMALL_MODEL and loaded.data == DATA and loaded.window == 32
    assert loaded.thresholds == {"me": 0.3, "mae": 0.4} and loaded.meta == {"note": "test"}


def test_garbage_and_truncated_files_are_rejected(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(garbage)
    good = save_checkpoint(tmp_path / "good.pt", _checkpoint())
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(cut)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def _raw(path, blob) -> None:
    buf = io.BytesIO()
    torch.save(blob, buf)
    path.write_bytes(buf.getvalue())


def test_foreign_and_code_carrying_files_are_rejected(tmp_path):
    other = tmp_path / "other.pt"
    _raw(other, {"weights": torch.zeros(3)})
    with pytest.raises(CheckpointError, match="not a napari-mespot VoVNet checkpoint"):
        load_checkpoint(other)
    # a pickled object needs code to load: weights_only refuses it, and the message says why
    pickled = tmp_path / "pickled.pt"
    _raw(pickled, {"format": FORMAT, "version": VERSION, "config": DataSettings()})
    with pytest.raises(CheckpointError, match="holds Python objects"):
        load_checkpoint(pickled)


def test_weights_that_do_not_match_the_config_are_rejected(tmp_path):
    path = save_checkpoint(tmp_path / "m.pt", _checkpoint())
    blob = torch.load(path, weights_only=True)
    config = json.loads(blob["config"])
    config["model"]["head_channels"] = 48
    blob["config"] = json.dumps(config)
    _raw(path, blob)
    with pytest.raises(CheckpointError, match="do not match the architecture"):
        load_checkpoint(path)


def test_channels_that_do_not_match_the_data_settings_are_rejected(tmp_path):
    no_flow = dataclasses.replace(DATA, flow=False)
    path = save_checkpoint(tmp_path / "m.pt", _checkpoint(data=no_flow))
    with pytest.raises(CheckpointError, match="takes 5 channels, its data settings give 3"):
        load_checkpoint(path)


def test_cli_reports_a_bad_checkpoint_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 64)
    assert main(["vovnet", "spot", str(tmp_path / "none.mp4"), "--checkpoint", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mespot vovnet: error:") and "not a readable checkpoint" in err
    assert len(err.splitlines()) == 1
