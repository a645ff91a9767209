"""Fine-tuning a VoVNet checkpoint from corrected review sessions (core and CLI).

The corrected data is the shared scripted video (two smiles and a frown at known frames, no
random seed of the synthetic seed plan), its annotator having added every expression. The
starting point is the shipped checkpoint, as for a user. Everything runs on one CPU thread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
import torch

from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.review.session import ReviewSession
from napari_mespot.core.spotters.vovnet import (
    FINETUNE_EPOCHS,
    FINETUNE_LR,
    SMALL_MODEL,
    CheckpointError,
    ModelConfig,
    SpotSettings,
    default_checkpoint,
    default_checkpoint_path,
    finetune_settings,
    load_checkpoint,
    spot,
)
from napari_mespot.core.spotters.vovnet.losses import detection_loss
from napari_mespot.core.spotters.vovnet.model import VoVNetSpotter
from napari_mespot.core.spotters.vovnet.train import WindowBatches, load_features, start_from
from napari_mespot.jobs.retrain import RetrainError, open_corrected, retrain_vovnet, session_training_videos

#: A few epochs: enough for a measurable change, CI-sized (not chosen by looking at results).
EPOCHS = 3


def _correct(path, truth) -> str:
    """Add every true expression to the video's session, as an annotator would; its path."""
    with open_video(path) as video:
        session = ReviewSession.open(video)
        for iv in truth:
            session.model.add(iv.onset, iv.offset, iv.type, apex=iv.apex, aus=iv.aus)
    return str(session.path)


def _loss(model: VoVNetSpotter, batches: WindowBatches, batch_size: int) -> float:
    """Mean total loss (eq. 11) over all windows, in order, ``batch_size`` windows at a time."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for b0 in range(0, len(batches), batch_size):
            picks = range(b0, min(b0 + batch_size, len(batches)))
            x, cls_t, reg_t, pos, valid = batches.batch(picks)
            logits, dists = model(x)
            total += float(detection_loss(logits, dists, cls_t, reg_t, pos, valid)["total"]) * len(picks)
            count += len(picks)
    return total / count


def _flat(model: VoVNetSpotter) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_fine_tuning_keeps_the_checkpoint_architecture_input_and_window():
    path = default_checkpoint_path()
    base = load_checkpoint(path)
    with pytest.raises(CheckpointError, match=r"stem \(64, 128\) \(checkpoint: \(8, 16\)\)"):
        start_from(path, ModelConfig(in_channels=5), None, base.window)
    with pytest.raises(CheckpointError, match=r"input_size 64 \(checkpoint: 48\)"):
        start_from(path, None, dataclasses.replace(base.data, input_size=64), base.window)
    with pytest.raises(CheckpointError, match=r"window 64 \(checkpoint: 128\)"):
        start_from(path, None, None, 64)
    # The same settings given explicitly are no conflict; the file is named by its SHA-256.
    config = dataclasses.replace(SMALL_MODEL, in_channels=base.data.channels)
    _, record = start_from(path, config, base.data, 128)
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_finetune_defaults():
    s = finetune_settings(128)
    assert (s.lr, s.epochs, s.window, s.window_stride, s.batch_size) == (0.0005, 10, 128, 16, 8)
    assert finetune_settings(64, epochs=2).epochs == 2


def test_the_cli_help_states_the_core_defaults():
    from napari_mespot.commands import vovnet as command

    assert (command.FINETUNE_EPOCHS, command.FINETUNE_LR) == (FINETUNE_EPOCHS, FINETUNE_LR)


def test_a_session_that_keeps_nothing_is_refused(scripted_video):
    path, truth = scripted_video
    with open_video(path) as video:
        model = ReviewSession.open(video).model  # one candidate, rejected: nothing kept
        model.add_track("run", [truth[0].evolve(id="c1", source="prototype")])
        model.reject("run", "c1")
    with pytest.raises(RetrainError, match="keeps no interval"):
        session_training_videos(open_corrected([str(path) + ".mespot.json"]))


@pytest.mark.slow
def test_fine_tuning_starts_from_the_old_weights_and_lowers_the_loss_on_the_corrections(
    scripted_video, tmp_path
):
    torch.set_num_threads(1)
    path, truth = scripted_video
    session = _correct(path, truth)
    base = default_checkpoint()
    settings = finetune_settings(base.window, epochs=EPOCHS, device="cpu", threads=1)
    out, cache = tmp_path / "tuned.pt", tmp_path / "cache"
    corrected = open_corrected([session])
    result = run_to_end(retrain_vovnet(corrected, out, default_checkpoint_path(), settings, cache_dir=cache))

    videos = session_training_videos(corrected)
    feats = run_to_end(load_features(videos, base.data, cache))
    windows = WindowBatches(feats, videos, base.window, settings.window_stride, base.config.levels)
    tuned = load_checkpoint(out)
    init = tuned.meta["init"]
    # Before the first step the network was the old one: its loss on the corrected windows is
    # the old checkpoint's, computed here independently.
    assert init["train_total"] == pytest.approx(_loss(base.model, windows, settings.batch_size), rel=1e-5)
    # After fine-tuning the weights moved, but stayed far closer to the old ones than a freshly
    # initialised network is: training continued from them rather than from random weights.
    moved = (_flat(tuned.model) - _flat(base.model)).norm()
    torch.manual_seed(0)
    fresh = (_flat(VoVNetSpotter(base.config)) - _flat(base.model)).norm()
    assert result.best_epoch >= 1 and 0 < moved < 0.2 * fresh
    # The batch norms normalised with the checkpoint's statistics and kept them: windows of one
    # video are no sample of the footage it was trained on.
    old_buffers = dict(base.model.named_buffers())
    for name, buffer in tuned.model.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            assert torch.equal(buffer, old_buffers[name]), name
    before, after = _loss(base.model, windows, 8), _loss(tuned.model, windows, 8)
    print(
        f"loss on the corrected windows: {before:.3f} -> {after:.3f}; moved {moved:.2f} vs fresh {fresh:.2f}"
    )
    assert after < before
    # Provenance: which file it started from, which sessions it learnt from, how.
    assert init["sha256"] == hashlib.sha256(default_checkpoint_path().read_bytes()).hexdigest()
    assert tuned.meta["sessions"] == [session]
    assert tuned.meta["train_settings"]["lr"] == FINETUNE_LR
    assert json.loads(out.with_suffix(".json").read_text())["meta"]["init"]["sha256"] == init["sha256"]
    # The new checkpoint runs right away, with the old one's input settings.
    assert tuned.data == base.data and tuned.config == base.config
    with open_video(path) as video:
        r = run_to_end(spot(video, tuned, SpotSettings(device="cpu", cache_dir=str(cache))))
        assert r.curves.shape == (2, len(video))


def test_the_cli_reports_a_config_conflict_with_the_checkpoint(scripted_video, tmp_path, capsys):
    from napari_mespot.cli import main

    path, truth = scripted_video
    session = _correct(path, truth)
    out = tmp_path / "x.pt"
    code = main(
        ["vovnet", "train", "--sessions", session, "--out", str(out), "--input-size", "64", "--quiet"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "input_size 64 (checkpoint: 48)" in err and "from scratch" in err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(
            ["vovnet", "train", "--sessions", session, "--out", str(out), "--init", "a.pt", "--from-scratch"]
        )


@pytest.mark.slow
def test_the_cli_fine_tunes_the_shipped_checkpoint_on_sessions_by_default(scripted_video, tmp_path, capsys):
    from napari_mespot.cli import main

    torch.set_num_threads(1)
    path, truth = scripted_video
    session = _correct(path, truth)
    out = tmp_path / "tuned.pt"
    args = ["vovnet", "train", "--sessions", session, "--out", str(out), "--epochs", "1", "--device", "cpu"]
    assert main([*args, "--threads", "1", "--quiet"]) == 0
    meta = load_checkpoint(out).meta
    assert meta["init"]["checkpoint"] == str(default_checkpoint_path().resolve())
    assert meta["sessions"] == [session]
    assert meta["train_settings"]["lr"] == FINETUNE_LR and meta["train_settings"]["window_stride"] == 16
    assert "fine-tuned from" in capsys.readouterr().out
