"""Any registered spotter as a :class:`~.methods.ProtocolMethod`, with a model fixed in advance.

The spotter contract (:class:`~napari_mespot.core.spotters.base.Spotter`) has no training step,
so a plugin's spotter is evaluated the honest way a fixed model can be: nothing is fitted on
any fold, every subject is spotted with the same model and settings, and the protocol's report
is a plain held-out evaluation (nothing is chosen on a test subject, since nothing is chosen).
The built-ins keep their trainable adapters (:class:`~.methods.LearntPrototypes`,
:class:`~.vovnet_method.VoVNetMethod`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from napari_mespot.core.labels.datasets import VideoRecord
from napari_mespot.core.progress import Progress
from napari_mespot.core.reproduce.methods import open_record
from napari_mespot.core.spotters.base import SpotResult, Spotter


class FixedModelMethod:
    """Spot every subject with ``spotter``'s model of ``model_path`` (``None``: its default)."""

    def __init__(self, name: str, spotter: Spotter, settings: Any, model_path: str | None = None) -> None:
        self.name = name
        self.spotter = spotter
        self.spot_settings = settings
        self.model_path = model_path

    def settings(self) -> dict[str, Any]:
        values = json.loads(json.dumps(dataclasses.asdict(self.spot_settings), default=str))
        return {"kind": "fixed-model", "method": self.name, "model": self.model_path or "default", **values}

    def fit(self, train: Sequence[VideoRecord], fold_dir: Path) -> Generator[Progress, None, Any]:
        """Load the fixed model; ``train`` is not looked at (there is nothing to fit)."""
        yield Progress(0, 1, f"loading the {self.name} model")
        return self.spotter.load_model(self.model_path, self.spot_settings)

    def describe(self, model: Any) -> dict[str, Any]:
        return {"model": self.model_path or "the method's default", "fitted": False}

    def spot(self, model: Any, record: VideoRecord) -> Generator[Progress, None, SpotResult]:
        with open_record(record) as video:
            return (yield from self.spotter.spot(video, model, self.spot_settings, name=record.video))
