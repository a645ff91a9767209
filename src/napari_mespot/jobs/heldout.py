"""Retraining that cannot silently make things worse: learn, then measure on held-out corrections.

A retrained model is only worth switching to when it learnt something and does not do worse
where it was not trained. So after retraining on every correction (the model offered), the
same retraining is repeated with some corrections held out and both the current model and
that retrained one spot them:

- with corrections on two videos or more, **leave one video out**: each video in turn is
  spotted by a model retrained on the others;
- with one video, **a held-out share**: the last third of its corrected intervals (in time) and
  the frames from the first of them on are held out; the model is retrained on the frames
  before (corrections and calibration alike) and both models spot the frames after.

The score is the MEGC overall F1 (docs/architecture.md §6) of each model's spots on the held-out
frames against the held-out corrections, pooled over the folds. What is reported says which
protocol measured it; nothing here decides — the dock asks the annotator.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.span import FrameSpan
from napari_mespot.core.metrics import evaluate
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.prototype import AU_REGIONS, PrototypeSet, PrototypeSettings, spot
from napari_mespot.core.spotters.vovnet import TrainResult, TrainSettings, load_checkpoint
from napari_mespot.core.spotters.vovnet.train import spot_videos
from napari_mespot.jobs.retrain import (
    CorrectedVideo,
    RetrainError,
    corrected_clips,
    retrain_prototypes,
    retrain_vovnet,
    session_training_videos,
    span_landmarks,
    video_landmarks,
)

#: With one video, the share of its corrected intervals (the last ones in time) held out.
HELD_OUT_SHARE = 1 / 3


@dataclass(frozen=True)
class Fold:
    """Retrain on ``train``; spot ``test`` from frame ``start`` on and score against ``truth``."""

    train: tuple[CorrectedVideo, ...]
    test: CorrectedVideo
    start: int
    truth: tuple[Interval, ...]


@dataclass(frozen=True)
class HeldOut:
    """Both models' overall F1 on corrections the retrained one did not train on."""

    protocol: str
    before: float
    after: float
    corrections: int

    def summary(self) -> str:
        return (
            f"on {self.corrections} correction(s) it did not train on ({self.protocol}): overall F1 "
            f"{self.before:.2f} with the current model, {self.after:.2f} retrained"
        )


@dataclass(frozen=True)
class Retrained:
    """What a retraining learnt (empty: nothing, so the current model stays), how it did on
    held-out corrections (or why that was not measured), and the new model's file once saved."""

    learnt: str
    held_out: HeldOut | None = None
    not_measured: str = ""
    path: Path | None = None

    def summary(self) -> str:
        if not self.learnt:
            return f"retraining learnt nothing ({self.not_measured})"
        measured = self.held_out.summary() if self.held_out else f"not measured held out: {self.not_measured}"
        return f"retrained: {self.learnt}; {measured}"


def held_out_folds(videos: Sequence[CorrectedVideo]) -> tuple[str, list[Fold]]:
    """The protocol's name and its folds (see the module docstring); ``RetrainError`` when there
    are too few corrections to hold any out and still train."""
    corrected = [cv for cv in videos if cv.kept]
    if len(corrected) >= 2:
        folds = [Fold(tuple(o for o in corrected if o is not cv), cv, 0, cv.kept) for cv in corrected]
        return f"leave-one-video-out over {len(corrected)} videos", folds
    if not corrected:
        raise RetrainError("no corrections to measure on")
    cv = corrected[0]
    kept = sorted(cv.kept, key=lambda iv: (iv.onset, iv.offset))
    start = kept[len(kept) - max(1, round(len(kept) * HELD_OUT_SHARE))].onset
    while True:  # an interval reaching into the held-out frames is held out too
        earlier = min((iv.onset for iv in kept if iv.offset >= start), default=start)
        if earlier == start:
            break
        start = earlier
    train = [iv for iv in kept if iv.offset < start]
    if not train:
        raise RetrainError(
            f"{len(kept)} corrected interval(s) on one video: too few to hold some out and train on the rest"
        )
    truth = tuple(iv for iv in kept if iv.offset >= start)
    last = len(cv.video) - 1
    protocol = (
        f"held-out share of one video: its last {len(truth)} of {len(kept)} corrected intervals, "
        f"frames {start}–{last}, retrained on frames 0–{start - 1}"
    )
    return protocol, [Fold((cv.cut(start),), cv, start, truth)]


def _f1(folds: Sequence[Fold], spotted: Sequence[Sequence[Interval]]) -> float:
    """Pooled overall F1 of each fold's spots from its start frame on."""
    truth = {f"fold {k}": list(fold.truth) for k, fold in enumerate(folds)}
    found = {
        f"fold {k}": [iv for iv in ivs if iv.onset >= fold.start]
        for k, (fold, ivs) in enumerate(zip(folds, spotted, strict=True))
    }
    return evaluate(truth, found).overall.f1


def _prototype_spots(
    fold: Fold, prototypes: PrototypeSet, settings: PrototypeSettings
) -> Generator[Progress, None, list[Interval]]:
    """``prototypes``' intervals on the fold's test frames, in the video's frame numbers."""
    video = fold.test.video
    landmarks = yield from video_landmarks(video, settings)
    span = FrameSpan(video, fold.start, len(video))
    lm = span_landmarks(landmarks, fold.start, len(video))
    result = yield from spot(span, prototypes, settings, landmarks=lm, name=fold.test.name)
    return [_shifted(iv, fold.start) for iv in result.intervals]


def _shifted(interval: Interval, frames: int) -> Interval:
    apex = None if interval.apex is None else interval.apex + frames
    return interval.evolve(onset=interval.onset + frames, offset=interval.offset + frames, apex=apex)


def retrain_prototypes_checked(
    videos: Sequence[CorrectedVideo], base: PrototypeSet, *, min_count: int, settings: PrototypeSettings
) -> Generator[Progress, None, tuple[PrototypeSet, Retrained]]:
    """Prototypes retrained on every correction, and — when they relearnt an AU — both sets'
    F1 on held-out corrections. The :class:`Retrained` has no path yet: the caller saves."""
    counts = Counter(au for clip in corrected_clips(videos) for au in set(clip.aus) if au in AU_REGIONS)
    if not any(n >= min_count for n in counts.values()):  # nothing to learn: spend no time on it
        most = ", ".join(f"AU{au}: {n}" for au, n in counts.most_common(3)) or "none"
        why = f"no AU has {min_count} corrected clips with an apex and AU codes; most: {most}"
        return base, Retrained("", not_measured=why)
    final = yield from retrain_prototypes(videos, base, min_count=min_count, settings=settings)
    relearnt = final.provenance.get("relearnt_aus", [])
    if not relearnt:  # the clips' onset frames had no face
        return final, Retrained("", not_measured=f"no AU could be learnt from its {min_count}+ clips")
    learnt = "relearnt AU " + ", ".join(map(str, relearnt))
    try:
        protocol, folds = held_out_folds(videos)
        before, after = [], []
        for fold in folds:
            held = yield from retrain_prototypes(fold.train, base, min_count=min_count, settings=settings)
            before.append((yield from _prototype_spots(fold, base, settings)))
            after.append((yield from _prototype_spots(fold, held, settings)))
    except RetrainError as exc:
        return final, Retrained(learnt, not_measured=str(exc))
    truth = sum(len(f.truth) for f in folds)
    return final, Retrained(learnt, HeldOut(protocol, _f1(folds, before), _f1(folds, after), truth))


def finetune_vovnet_checked(
    videos: Sequence[CorrectedVideo],
    out: str | os.PathLike,
    init: str | os.PathLike,
    settings: TrainSettings,
    *,
    device: str = "cpu",
    cache_dir: str | os.PathLike | None = None,
) -> Generator[Progress, None, tuple[TrainResult, Retrained]]:
    """``init`` fine-tuned on every correction into ``out``; when the fine-tuning kept weights
    other than the starting ones (its validation loss went down), both checkpoints' F1 on
    held-out corrections, each fold fine-tuned into a temporary file."""
    final = yield from retrain_vovnet(videos, out, init, settings, cache_dir=cache_dir)
    path = Path(final.checkpoint)
    if final.best_epoch == 0:
        why = "no epoch lowered the validation loss below the starting checkpoint's"
        return final, Retrained("", not_measured=why, path=path)
    learnt = f"validation loss {final.init['val_total']:.3f} → {final.best_val_loss:.3f}"
    try:
        protocol, folds = held_out_folds(videos)
        before, after = [], []
        current = load_checkpoint(init)
        with tempfile.TemporaryDirectory(prefix="mespot-heldout-") as tmp:
            for k, fold in enumerate(folds):
                fold_out = Path(tmp) / f"fold{k}.pt"
                held = yield from retrain_vovnet(fold.train, fold_out, init, settings, cache_dir=cache_dir)
                test = session_training_videos([fold.test])
                name = test[0].video_name
                before.append((yield from spot_videos(current, test, cache_dir, device))[name])
                retrained = load_checkpoint(held.checkpoint)
                after.append((yield from spot_videos(retrained, test, cache_dir, device))[name])
    except RetrainError as exc:
        return final, Retrained(learnt, not_measured=str(exc), path=path)
    truth = sum(len(f.truth) for f in folds)
    held_out = HeldOut(protocol, _f1(folds, before), _f1(folds, after), truth)
    return final, Retrained(learnt, held_out, path=path)
