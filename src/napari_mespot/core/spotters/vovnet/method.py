"""The VoVNet spotter as the registry's dispatchers run it (its model is a torch checkpoint)."""

from __future__ import annotations

from typing import Any

from napari_mespot.core.device import DEVICES, torch_device
from napari_mespot.core.spotters.base import Spotter
from napari_mespot.core.spotters.vovnet import (
    Checkpoint,
    SpotSettings,
    default_checkpoint,
    default_checkpoint_path,
    load_checkpoint,
    spot,
)


def _load_checkpoint(path: str | None, settings: Any) -> Checkpoint:
    """The checkpoint of ``path`` (default: the shipped one) on the settings' device."""
    device = torch_device(settings.device, "VoVNet")
    return default_checkpoint(device) if path is None else load_checkpoint(path, device)


def spotter() -> Spotter:
    """The VoVNet multi-scale detector (Electronics 2023)."""
    return Spotter(
        settings=SpotSettings,
        spot=spot,
        load_model=_load_checkpoint,
        default_model_path=lambda settings: default_checkpoint_path(),
        model_label="checkpoint",
        model_filter="*.pt",
        choices={"device": DEVICES},
        hidden=("cache_dir", "batch_size"),
    )
