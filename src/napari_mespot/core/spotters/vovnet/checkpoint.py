"""Checkpoints: the network's ``state_dict`` plus a JSON config, nothing executable.

A ``.pt`` file holds ``{"format", "version", "config" (JSON text), "state_dict"}`` and is read
with ``torch.load(weights_only=True)``, so opening a checkpoint from elsewhere cannot run code.
The config carries everything needed to rebuild and use the network — architecture
(:class:`ModelConfig`), input (:class:`DataSettings`), the frame rate it was trained at
(``fps``; :data:`UNRECORDED_FPS` when absent), the per-class score thresholds chosen on
validation videos, and provenance — and is also written beside it as ``<name>.json`` for people.
Files are written atomically.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch

from napari_mespot.core.atomic import atomic_write_bytes, atomic_write_text
from napari_mespot.core.errors import MespotError
from napari_mespot.core.spotters.vovnet.model import VoVNetSpotter
from napari_mespot.core.spotters.vovnet.settings import CLASSES, DataSettings, ModelConfig, from_dict, to_dict

FORMAT = "napari-mespot/vovnet"
VERSION = 1
#: The training frame rate of a checkpoint whose config does not record one. The rate was not
#: recorded before frame-rate resampling existed, and every checkpoint written until then — the
#: shipped ones included — was trained on ``mespot synth`` videos at its default 30 fps
#: (``napari_mespot/data/VOVNET.md`` gives their recipes), so 30 is what such a file means.
UNRECORDED_FPS = 30.0


class CheckpointError(MespotError):
    """A checkpoint that cannot be used: unreadable, not ours, or not matching its config."""


@dataclass
class Checkpoint:
    """A ready network with what it needs to be used."""

    model: VoVNetSpotter
    config: ModelConfig
    data: DataSettings
    window: int
    thresholds: dict[str, float]
    meta: dict[str, Any] = field(default_factory=dict)
    #: The frame rate of the training videos: the window, the anchors and the flow gap count
    #: frames at this rate, so a video at another rate is resampled to it (:mod:`.timebase`).
    fps: float = UNRECORDED_FPS

    def config_dict(self) -> dict[str, Any]:
        return {
            "model": to_dict(self.config),
            "data": to_dict(self.data),
            "window": self.window,
            "fps": self.fps,
            "thresholds": self.thresholds,
            "meta": self.meta,
        }


def save_checkpoint(path: str | os.PathLike, ckpt: Checkpoint) -> Path:
    """Write ``path`` (.pt) and its ``.json`` sidecar atomically; return the .pt path."""
    path = Path(path)
    config = ckpt.config_dict()
    text = json.dumps(config, indent=2, sort_keys=True, default=str)
    state = {k: v.detach().cpu() for k, v in ckpt.model.state_dict().items()}
    buf = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, "config": text, "state_dict": state}, buf)
    atomic_write_bytes(path, buf.getvalue())
    atomic_write_text(path.with_suffix(".json"), text + "\n")
    return path


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Read, validate and rebuild a checkpoint; :class:`CheckpointError` says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported global" not in str(exc):  # the weights-only unpickler's refusal of an object
            raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated)") from exc
        raise CheckpointError(
            f"{path} holds Python objects besides weights and settings; it was not opened, since "
            "unpickling them could run code (napari-mespot checkpoints hold weights only)"
        ) from exc
    except Exception as exc:  # torch raises many types for damaged files; all mean the same here
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt or truncated): {detail}"
        ) from exc
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a napari-mespot VoVNet checkpoint")
    if blob.get("version") != VERSION:
        raise CheckpointError(
            f"{path} has checkpoint version {blob.get('version')}, this napari-mespot reads {VERSION}"
        )
    try:
        config = json.loads(blob["config"])
        model_config = from_dict(ModelConfig, config["model"])
        data = from_dict(DataSettings, config["data"])
        window = config["window"]
        fps = float(config.get("fps", UNRECORDED_FPS))
        thresholds = {str(k): float(v) for k, v in config["thresholds"].items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an invalid config: {exc}") from exc
    if not 0 < fps < float("inf"):  # NaN fails too
        raise CheckpointError(f"{path}: fps must be a positive frame rate, got {fps!r}")
    if set(thresholds) != set(CLASSES):
        raise CheckpointError(f"{path} must hold thresholds for {CLASSES}, has {sorted(thresholds)}")
    bad = {k: v for k, v in thresholds.items() if not 0 < v <= 1}  # sigmoid scores; NaN fails too
    if bad:
        raise CheckpointError(f"{path}: thresholds must be scores in (0, 1], got {bad}")
    step = model_config.window_multiple
    if isinstance(window, bool) or not isinstance(window, int) or window < step or window % step:
        raise CheckpointError(
            f"{path}: window must be a whole positive multiple of {step} frames "
            f"(2^{model_config.levels} pyramid levels), got {window!r}"
        )
    if model_config.in_channels != data.channels:
        raise CheckpointError(
            f"{path}: the network takes {model_config.in_channels} channels, "
            f"its data settings give {data.channels}"
        )
    model = VoVNetSpotter(model_config)
    try:
        model.load_state_dict(blob["state_dict"], strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        lines = str(exc).strip().splitlines()
        detail = lines[1].strip() if len(lines) > 1 else lines[0]
        raise CheckpointError(
            f"{path}: the weights do not match the architecture in its config ({detail})"
        ) from exc
    model.to(device).eval()
    return Checkpoint(model, model_config, data, window, thresholds, dict(config.get("meta", {})), fps)


DEFAULT_CHECKPOINT_FILE = "vovnet_default.pt"


def default_checkpoint_path() -> Path:
    """The shipped checkpoint (trained on synthetic videos; see ``napari_mespot/data/VOVNET.md``)."""
    return Path(str(files("napari_mespot") / "data" / DEFAULT_CHECKPOINT_FILE))


def default_checkpoint(device: str = "cpu") -> Checkpoint:
    """The shipped default checkpoint, loaded."""
    path = default_checkpoint_path()
    if not path.is_file():
        raise CheckpointError(f"the default VoVNet checkpoint is missing from the installation ({path})")
    return load_checkpoint(path, device)
