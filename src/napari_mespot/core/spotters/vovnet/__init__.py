"""The VoVNet multi-scale spotter (Electronics 2023; docs/architecture.md §2.2).

Train with :func:`train` (or :func:`loso`), load with :func:`load_checkpoint`, then :func:`spot`.
The shipped default checkpoint (:func:`default_checkpoint`) is a small model trained on
synthetic videos only (see ``napari_mespot/data/VOVNET.md``): it makes the method work out of
the box, it is not a model of real faces.
"""

from __future__ import annotations

from napari_mespot.core.spotters.vovnet.checkpoint import (
    DEFAULT_CHECKPOINT_FILE,
    Checkpoint,
    CheckpointError,
    default_checkpoint,
    default_checkpoint_path,
    load_checkpoint,
    save_checkpoint,
)
from napari_mespot.core.spotters.vovnet.data import Features, LabelledVideo, features_for_video
from napari_mespot.core.spotters.vovnet.settings import (
    FINETUNE_EPOCHS,
    FINETUNE_LR,
    SMALL_MODEL,
    DataSettings,
    ModelConfig,
    SpotSettings,
    TrainSettings,
    finetune_settings,
)
from napari_mespot.core.spotters.vovnet.spotter import METHOD, spot
from napari_mespot.core.spotters.vovnet.train import LosoResult, TrainResult, loso, spot_videos, train

__all__ = [
    "DEFAULT_CHECKPOINT_FILE",
    "FINETUNE_EPOCHS",
    "FINETUNE_LR",
    "METHOD",
    "SMALL_MODEL",
    "Checkpoint",
    "CheckpointError",
    "DataSettings",
    "Features",
    "LabelledVideo",
    "LosoResult",
    "ModelConfig",
    "SpotSettings",
    "TrainResult",
    "TrainSettings",
    "default_checkpoint",
    "default_checkpoint_path",
    "features_for_video",
    "finetune_settings",
    "load_checkpoint",
    "loso",
    "save_checkpoint",
    "spot",
    "spot_videos",
    "train",
]
