"""What a protocol runner needs from a spotting method: fit on training videos, spot one video.

A :class:`ProtocolMethod` sees a fold's *training* records in :meth:`~ProtocolMethod.fit` and
only then one test record at a time in :meth:`~ProtocolMethod.spot`; anything it tunes
(thresholds, weights, the epoch) is therefore chosen without the test subject (docs/architecture.md §2.3).

Implemented here:

- :class:`CalibratedPrototypes`: fixed AU prototypes (e.g. learnt on CASME II); per fold only
  θ_j is chosen, on the training videos. The per-video eq. 24 margins that calibration reads
  depend on the prototypes and the video, not on the fold, so they are computed once per video
  and cached in the run folder: a 22-subject CAS(ME)² run costs one calibration pass per video,
  not 21.
- :class:`LearntPrototypes`: per fold, prototypes are learnt from the training videos' labelled
  expressions (onset → apex, eq. 18) and then calibrated on the same videos.

Thresholds are chosen exactly as :func:`~napari_mespot.core.spotters.prototype.calibrate` does
(the same margins and rule), one video open at a time so that memory stays bounded over a
whole dataset.

The VoVNet adapter lives in :mod:`.vovnet_method` (it needs torch).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from napari_mespot.core.atomic import atomic_write_bytes
from napari_mespot.core.errors import MespotError, VideoReadError
from napari_mespot.core.labels.datasets import DatasetLayoutError, VideoRecord
from napari_mespot.core.media.source import VideoSource
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import SpotResult
from napari_mespot.core.spotters.prototype import (
    LabelledClip,
    PrototypeSet,
    PrototypeSettings,
    learn_prototypes,
)
from napari_mespot.core.spotters.prototype import spot as prototype_spot
from napari_mespot.core.spotters.prototype.calibration import choose_thresholds, video_margins


class ProtocolMethod(Protocol):
    """A trainable spotter as a protocol runner drives it, fold by fold."""

    #: Method name, as in the spotter's ``SpotResult.method``.
    name: str

    def settings(self) -> dict[str, Any]:
        """Every setting that shapes the results, JSON-ready (it keys resumable runs)."""
        ...

    def fit(self, train: Sequence[VideoRecord], fold_dir: Path) -> Generator[Progress, None, Any]:
        """Learn a model from ``train`` only; its files (if any) go into ``fold_dir``."""
        ...

    def describe(self, model: Any) -> dict[str, Any]:
        """What the fold's model is, JSON-ready: thresholds, the videos it was fitted on."""
        ...

    def spot(self, model: Any, record: VideoRecord) -> Generator[Progress, None, SpotResult]:
        """Spot one test record with the fold's model."""
        ...


def open_record(record: VideoRecord) -> VideoSource:
    """The record's image folder as a video at the dataset's frame rate.

    The folder must hold exactly the record's images: frame indices of the video and of the
    record's intervals are then the same thing.
    """
    folder = record.frames[0].parent if record.frames else None
    if folder is None:
        raise DatasetLayoutError(f"{record.dataset} {record.video}: the video folder holds no images")
    video = open_video(folder, fps=record.fps)
    if len(video) != record.n_frames:
        video.close()
        raise DatasetLayoutError(
            f"{folder}: holds {len(video)} images but {record.n_frames} follow the dataset's naming; "
            "move the other images out of the folder"
        )
    return video


def safe_name(video: str) -> str:
    """A file name for a video id (CASME II ids hold a '/')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "__", video)


def settings_dict(settings: PrototypeSettings) -> dict[str, Any]:
    """The spotter settings as JSON-ready values."""
    return json.loads(json.dumps(dataclasses.asdict(settings), default=str))


class _ImagePair:
    """The onset and apex images of one clip, read when asked for.

    Learning reads two images per clip; holding a whole opened video (and its frame cache) per
    clip would cost gigabytes over CASME II's 255 clips.
    """

    def __init__(self, first: Path, second: Path) -> None:
        self._paths = (first, second)

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> np.ndarray:
        import cv2

        image = cv2.imread(str(self._paths[index]), cv2.IMREAD_COLOR)
        if image is None:
            raise VideoReadError(f"{self._paths[index]}: not a readable image")
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def record_clips(records: Sequence[VideoRecord]) -> list[LabelledClip]:
    """One learning clip (eq. 16–18) per labelled interval with an apex and AUs."""
    return [
        LabelledClip(f"{r.video}#{i}", _ImagePair(r.frames[iv.onset], r.frames[iv.apex]), 0, 1, iv.aus)
        for r in records
        for i, iv in enumerate(r.intervals)
        if iv.apex is not None and iv.aus
    ]


def record_margins(
    record: VideoRecord, prototypes: PrototypeSet, settings: PrototypeSettings
) -> Generator[Progress, None, np.ndarray]:
    """Eq. 24 margins of one video (V, n), the video open only meanwhile."""
    with open_record(record) as video:
        return (yield from video_margins(video, prototypes, settings))


def calibrated(
    prototypes: PrototypeSet, train: Sequence[VideoRecord], margins: Sequence[np.ndarray]
) -> PrototypeSet:
    """θ_j chosen on the training videos' margins by calibration's rule (:func:`choose_thresholds`)."""
    thresholds, report = choose_thresholds(margins, [r.intervals for r in train], prototypes.aus)
    record = {
        "rule": "per-AU F1 of eq. 24 margins on training videos (calibration.py)",
        "videos": [r.video for r in train],
        "per_au": report,
    }
    return prototypes.with_thresholds(thresholds, record)


def _thresholds(model: PrototypeSet) -> dict[str, float]:
    return {p.label: float(p.threshold) for p in model.prototypes if p.threshold is not None}


class CalibratedPrototypes:
    """Fixed prototypes; θ_j chosen per fold on the training videos (see the module docstring).

    The thresholds are those :func:`~napari_mespot.core.spotters.prototype.calibrate` chooses:
    the same margins (:func:`video_margins`) and the same rule (:func:`choose_thresholds`),
    with the margins cached per video under ``cache_dir``.
    """

    name = "prototype"

    def __init__(self, prototypes: PrototypeSet, settings: PrototypeSettings, cache_dir: Path) -> None:
        self.prototypes = prototypes
        self.spot_settings = settings
        self.cache_dir = Path(cache_dir)

    def settings(self) -> dict[str, Any]:
        return {
            "kind": "calibrated-prototypes",
            "aus": list(self.prototypes.aus),
            **settings_dict(self.spot_settings),
        }

    def margins(self, record: VideoRecord) -> Generator[Progress, None, np.ndarray]:
        """Eq. 24 margins of one video, (V, n): from the cache, else computed and cached."""
        path = self.cache_dir / f"{safe_name(record.video)}.npy"
        if path.is_file():
            margins = np.load(path, allow_pickle=False)
            if margins.shape == (len(self.prototypes), record.n_frames):
                return margins
        margins = yield from record_margins(record, self.prototypes, self.spot_settings)
        buf = io.BytesIO()
        np.save(buf, margins, allow_pickle=False)
        atomic_write_bytes(path, buf.getvalue())
        return margins

    def fit(self, train: Sequence[VideoRecord], fold_dir: Path) -> Generator[Progress, None, PrototypeSet]:
        if not train:
            raise MespotError("calibration needs at least one training video")
        margins = []
        for k, record in enumerate(train):
            yield Progress(k, len(train), f"margins {record.video}")
            margins.append((yield from self.margins(record)))
        return calibrated(self.prototypes, train, margins)

    def describe(self, model: PrototypeSet) -> dict[str, Any]:
        return {"thresholds": _thresholds(model), "calibration": dict(model.calibration)}

    def spot(self, model: PrototypeSet, record: VideoRecord) -> Generator[Progress, None, SpotResult]:
        with open_record(record) as video:
            return (yield from prototype_spot(video, model, self.spot_settings, name=record.video))


class LearntPrototypes:
    """Per fold: prototypes learnt from the training videos' expressions, then calibrated on them.

    Every labelled interval with an apex and AUs is a clip (its onset and apex frames, eq. 16–18);
    AUs seen in fewer than ``min_count`` training clips get no prototype. The fold's prototype
    file is written to ``<fold>/prototypes.npz``.
    """

    name = "prototype"

    def __init__(
        self,
        settings: PrototypeSettings,
        *,
        min_count: int = 10,
        flow_method: str = "farneback",
        head_motion: bool = False,
    ) -> None:
        self.spot_settings = settings
        self.min_count = min_count
        self.flow_method = flow_method
        self.head_motion = head_motion

    def settings(self) -> dict[str, Any]:
        return {
            "kind": "learnt-prototypes",
            "min_count": self.min_count,
            "learn_flow": self.flow_method,
            "learn_head_motion": self.head_motion,
            **settings_dict(self.spot_settings),
        }

    def fit(self, train: Sequence[VideoRecord], fold_dir: Path) -> Generator[Progress, None, PrototypeSet]:
        clips = record_clips(train)
        if not clips:
            raise MespotError("the training videos have no labelled expression with an apex and AUs")
        learnt = yield from learn_prototypes(
            clips,
            min_count=self.min_count,
            flow_method=self.flow_method,
            head_motion=self.head_motion,
            provenance={"source": "training videos of the fold", "videos": sorted({r.video for r in train})},
        )
        margins = []
        for k, record in enumerate(train):
            yield Progress(k, len(train), f"calibrating on {record.video}")
            margins.append((yield from record_margins(record, learnt, self.spot_settings)))
        model = calibrated(learnt, train, margins)
        model.save(fold_dir / "prototypes.npz")
        return model

    def describe(self, model: PrototypeSet) -> dict[str, Any]:
        return {
            "thresholds": _thresholds(model),
            "prototypes": "prototypes.npz",
            "au_counts": {p.label: p.count for p in model.prototypes},
            "learnt_from": model.provenance.get("videos", []),
            "calibration": dict(model.calibration),
        }

    def spot(self, model: PrototypeSet, record: VideoRecord) -> Generator[Progress, None, SpotResult]:
        with open_record(record) as video:
            return (yield from prototype_spot(video, model, self.spot_settings, name=record.video))
