"""Retrain both spotters from annotators' corrected review sessions.

Only what an annotator vouched for (accepted, edited or added intervals) is training data.
Every kept interval with an apex and AU codes is a labelled clip for prototype learning (eq. 18,
onset → apex flow); the kept intervals of each video are the ground truth that the thresholds
are calibrated on. AUs with too few corrected clips keep the base set's prototype, learnt the
same way (same regions and flow), so one corrected video improves what it can and breaks
nothing else; the thresholds of the merged set are then chosen afresh on the sessions' videos.

A corrected video can be cut to its first frames (:meth:`CorrectedVideo.cut`): training then
sees only those frames and the corrections inside them, so the rest can measure the model
(:mod:`.heldout`).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from napari_mespot.core import registry
from napari_mespot.core.errors import MespotError
from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.source import VideoSource
from napari_mespot.core.media.span import FrameSpan
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import Progress
from napari_mespot.core.review.session import ReviewSession
from napari_mespot.core.spotters.prototype import (
    LabelledClip,
    PrototypeError,
    PrototypeSet,
    PrototypeSettings,
    TrainingVideo,
    calibrate,
    learn_prototypes,
)
from napari_mespot.core.spotters.vovnet import (
    LabelledVideo,
    TrainResult,
    TrainSettings,
    load_checkpoint,
    train,
)
from napari_mespot.core.spotters.vovnet.settings import DataSettings, ModelConfig, finetune_settings


class RetrainError(MespotError):
    """Sessions that cannot be trained on (their video is gone, nothing was kept)."""


@dataclass(frozen=True)
class CorrectedVideo:
    """A video and the intervals its annotator kept; with ``frames``, only its first ``frames``
    frames and the kept intervals inside them are training data."""

    name: str
    video: VideoSource
    session: ReviewSession
    frames: int | None = None

    @property
    def kept(self) -> tuple[Interval, ...]:
        kept = self.session.model.kept()
        return tuple(kept if self.frames is None else (iv for iv in kept if iv.offset < self.frames))

    def cut(self, frames: int) -> CorrectedVideo:
        """This video's first ``frames`` frames only."""
        return replace(self, frames=int(frames))


def span_landmarks(landmarks: FaceLandmarks, start: int, stop: int) -> FaceLandmarks:
    """The landmarks of frames ``start`` … ``stop − 1`` (those of a :class:`FrameSpan`)."""
    return replace(
        landmarks, points=landmarks.points[start:stop], confidence=landmarks.confidence[start:stop]
    )


def video_landmarks(video: VideoSource, settings: Any) -> Generator[Progress, None, FaceLandmarks]:
    """``video``'s landmarks from the provider the spotter ``settings`` name (cached)."""
    return (yield from landmarks_for_video(video, registry.landmark_provider(settings.landmarks)))


def training_video(
    cv: CorrectedVideo, settings: PrototypeSettings
) -> Generator[Progress, None, TrainingVideo]:
    """``cv`` as calibration data: the whole video, or the span it was cut to (with the span's
    landmarks, since a span has no landmark cache of its own)."""
    if cv.frames is None:
        return TrainingVideo(cv.name, cv.video, cv.kept)
    landmarks = yield from video_landmarks(cv.video, settings)
    span = FrameSpan(cv.video, 0, cv.frames)
    return TrainingVideo(cv.name, span, cv.kept, span_landmarks(landmarks, 0, cv.frames))


def open_corrected(session_paths: Sequence[str | os.PathLike]) -> list[CorrectedVideo]:
    """Each session with its video, checked to be the video the session was written for."""
    out = []
    for path in session_paths:
        session = ReviewSession.read(path)
        video_path = Path(session.identity.path)
        if not video_path.exists():
            raise RetrainError(
                f"{path}: its video {video_path} is not there (move it back or reopen it in napari)"
            )
        video = open_video(video_path)
        if not video.identity().same_file(session.identity):
            raise RetrainError(f"{path}: {video_path} is no longer the video this session was written for")
        out.append(CorrectedVideo(video_path.stem, video, session))
    return out


def teaches_a_prototype(interval: Interval) -> bool:
    """Whether a kept interval can teach a prototype: an apex after its onset and an AU."""
    return interval.apex is not None and bool(interval.aus) and interval.apex > interval.onset


def corrected_clips(videos: Sequence[CorrectedVideo]) -> list[LabelledClip]:
    """The kept intervals that can teach a prototype (:func:`teaches_a_prototype`)."""
    return [
        LabelledClip(f"{cv.name}/{iv.id}", cv.video, iv.onset, iv.apex, iv.aus)
        for cv in videos
        for iv in cv.kept
        if teaches_a_prototype(iv)
    ]


def retrain_prototypes(
    videos: Sequence[CorrectedVideo],
    base: PrototypeSet,
    *,
    min_count: int = 3,
    settings: PrototypeSettings | None = None,
) -> Generator[Progress, None, PrototypeSet]:
    """New prototypes for the AUs with ``min_count`` corrected clips, the base's for the rest,
    thresholds calibrated on the corrected videos."""
    clips = corrected_clips(videos)
    if not clips:
        raise RetrainError("no kept interval has both an apex and AU codes: nothing to learn from")
    try:
        learnt = yield from learn_prototypes(
            clips,
            min_count=min_count,
            regions=base.regions,
            flow_method=base.flow_method,
            flow_params=base.flow_params,
            head_motion=base.head_motion,
            provenance={
                "source": "corrected review sessions",
                "sessions": [str(v.session.path) for v in videos],
            },
        )
        new = {p.au: p for p in learnt.prototypes}
    except PrototypeError:
        learnt, new = None, {}  # too few clips for any AU: recalibrate the base set alone
    merged = tuple(new.get(p.au, p) for p in base.prototypes) + tuple(
        p for au, p in sorted(new.items()) if au not in base.aus
    )
    provenance = {
        "retrained_from": dict(base.provenance),
        "relearnt_aus": sorted(new),
        "kept_from_base": sorted(set(base.aus) - set(new)),
        **(dict(learnt.provenance) if learnt is not None else {}),
    }
    combined = replace(base, prototypes=merged, provenance=provenance, calibration={})
    settings = settings or PrototypeSettings()
    training = []
    for cv in videos:
        if cv.kept:
            training.append((yield from training_video(cv, settings)))
    return (yield from calibrate(training, combined, settings))


def session_training_videos(videos: Sequence[CorrectedVideo]) -> list[LabelledVideo]:
    """Each corrected video as VoVNet training data: its kept intervals, its own subject.

    A session that keeps nothing is refused: it is far more likely unreviewed than free of
    expressions, and training on it would teach the network that its expressions are background.
    """
    out = []
    for cv in videos:
        if not cv.kept:
            raise RetrainError(
                f"{cv.session.path} keeps no interval (accept, edit or add the video's expressions first)"
            )
        out.append(LabelledVideo(str(cv.video.path), cv.kept, cv.name, cv.name, cv.frames))
    return out


def retrain_vovnet(
    videos: Sequence[CorrectedVideo],
    out: str | os.PathLike,
    init: str | os.PathLike | None,
    settings: TrainSettings | None = None,
    *,
    extra: Sequence[LabelledVideo] = (),
    config: ModelConfig | None = None,
    data: DataSettings | None = None,
    cache_dir: str | os.PathLike | None = None,
    resume: bool = False,
) -> Generator[Progress, None, TrainResult]:
    """Fine-tune the checkpoint ``init`` on the corrected videos (and the labelled ``extra``
    videos) into ``out``; ``init=None`` trains a new network from scratch instead.

    ``settings`` default to :func:`finetune_settings` of ``init`` (the paper's
    :class:`TrainSettings` from scratch). The checkpoint's meta names the sessions, and the
    starting checkpoint's file, SHA-256 and losses before the first step.
    """
    training = [*extra, *session_training_videos(videos)]
    if settings is None:
        settings = finetune_settings(load_checkpoint(init).window) if init is not None else TrainSettings()
    provenance = {"sessions": [str(cv.session.path) for cv in videos]}
    return (
        yield from train(
            training,
            out,
            config,
            data,
            settings,
            cache_dir=cache_dir,
            resume=resume,
            init=init,
            provenance=provenance,
        )
    )
