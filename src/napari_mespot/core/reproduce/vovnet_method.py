"""The VoVNet spotter as a :class:`~.methods.ProtocolMethod` (imported only when asked for: torch).

Per fold, :func:`~napari_mespot.core.spotters.vovnet.train` fits a model on the training
subjects' videos — the epoch and the score thresholds are chosen on held-out *training*
subjects — and writes ``<fold>/checkpoint.pt``; an interrupted fold continues from its
``checkpoint.state.pt`` after the last finished epoch.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from napari_mespot.core.device import torch_device
from napari_mespot.core.labels.datasets import VideoRecord
from napari_mespot.core.progress import Progress
from napari_mespot.core.reproduce.methods import open_record
from napari_mespot.core.spotters.base import SpotResult
from napari_mespot.core.spotters.vovnet import (
    Checkpoint,
    DataSettings,
    LabelledVideo,
    ModelConfig,
    SpotSettings,
    TrainSettings,
    load_checkpoint,
    spot,
    train,
)
from napari_mespot.core.spotters.vovnet.settings import to_dict

CHECKPOINT = "checkpoint.pt"


class VoVNetMethod:
    """Train one VoVNet per fold, spot the held-out subject with it."""

    name = "vovnet"

    def __init__(
        self,
        config: ModelConfig,
        data: DataSettings,
        settings: TrainSettings,
        *,
        cache_dir: str | Path | None = None,
    ) -> None:
        self.config = config
        self.data = data
        self.train_settings = settings
        self.cache_dir = cache_dir

    def settings(self) -> dict[str, Any]:
        return {
            "kind": "vovnet",
            "seed": self.train_settings.seed,
            "model": to_dict(self.config),
            "data": to_dict(self.data),
            "train": to_dict(self.train_settings),
        }

    def fit(
        self, train_records: Sequence[VideoRecord], fold_dir: Path
    ) -> Generator[Progress, None, Checkpoint]:
        videos = [
            LabelledVideo(str(r.frames[0].parent), r.intervals, r.subject, r.video) for r in train_records
        ]
        result = yield from train(
            videos,
            fold_dir / CHECKPOINT,
            self.config,
            self.data,
            self.train_settings,
            cache_dir=self.cache_dir,
            resume=True,
        )
        return load_checkpoint(result.checkpoint, torch_device(self.train_settings.device, "VoVNet"))

    def describe(self, model: Checkpoint) -> dict[str, Any]:
        return {
            "checkpoint": CHECKPOINT,
            "thresholds": dict(model.thresholds),
            "best_epoch": model.meta.get("best_epoch"),
            "train_videos": model.meta.get("train_videos", []),
            "val_videos": model.meta.get("val_videos", []),
        }

    def spot(self, model: Checkpoint, record: VideoRecord) -> Generator[Progress, None, SpotResult]:
        settings = SpotSettings(
            device=self.train_settings.device, cache_dir=str(self.cache_dir or ""), reliability=False
        )
        with open_record(record) as video:
            return (yield from spot(video, model, settings, name=record.video))
