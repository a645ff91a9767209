"""Leave-one-subject-out over a dataset, resumable and cancel-safe.

For every subject, the method is fitted on the other subjects' videos and spots the subject's
own videos. Each finished fold is written to ``<out>/folds/<subject>/fold.json`` — atomically and
last, after the method's own files — so a run that is interrupted (Ctrl-C, a closed GUI worker)
resumes at the first unfinished fold and never reads a half-written one. ``<out>/protocol.json``
records what the run is; resuming with other settings is refused instead of mixing two runs.

Predictions are kept in the *label file's* frame convention (frame = image number − 1), not in
the positions inside the image folder: then the written predictions can be scored against the
dataset's own label file (``mespot eval --gt code_final.xlsx --pred predictions.csv``). For
folders numbered from ``img1`` the two are the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.labels.datasets import Dataset, Fold, VideoRecord
from napari_mespot.core.progress import Progress
from napari_mespot.core.reproduce.methods import ProtocolMethod, safe_name

FOLD_FILE = "fold.json"
PROTOCOL_FILE = "protocol.json"
_STEPS = 1000


@dataclass(frozen=True)
class FoldResult:
    """One finished fold: who was trained on, who was tested, the model and the predictions."""

    subject: str
    train_subjects: tuple[str, ...]
    train_videos: tuple[str, ...]
    test_videos: tuple[str, ...]
    model: dict[str, Any]
    #: Per test video, in the label file's frame convention.
    predictions: dict[str, tuple[Interval, ...]]
    notes: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "train_subjects": list(self.train_subjects),
            "train_videos": list(self.train_videos),
            "test_videos": list(self.test_videos),
            "model": self.model,
            "predictions": {v: [iv.to_dict() for iv in ivs] for v, ivs in self.predictions.items()},
            "notes": self.notes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FoldResult:
        return cls(
            data["subject"],
            tuple(data["train_subjects"]),
            tuple(data["train_videos"]),
            tuple(data["test_videos"]),
            dict(data["model"]),
            {v: tuple(Interval.from_dict(d) for d in ivs) for v, ivs in data["predictions"].items()},
            {v: list(n) for v, n in data.get("notes", {}).items()},
        )


@dataclass(frozen=True)
class LosoRun:
    """All folds of a run over ``dataset`` (``resumed``: subjects read back from an earlier run)."""

    dataset: Dataset
    folds: tuple[FoldResult, ...]
    resumed: tuple[str, ...] = ()

    def predictions(self) -> dict[str, VideoIntervals]:
        """Every test prediction, keyed by video, label-file frames."""
        fps = {r.video: r.fps for r in self.dataset.records}
        subject = {r.video: r.subject for r in self.dataset.records}
        return {
            v: VideoIntervals(v, ivs, fps[v], subject[v])
            for f in self.folds
            for v, ivs in f.predictions.items()
        }

    def ground_truth(self) -> dict[str, VideoIntervals]:
        """The dataset's labelled intervals of every video, label-file frames."""
        return {
            r.video: VideoIntervals(r.video, to_label_frames(r, r.intervals), r.fps, r.subject)
            for r in self.dataset.records
        }


def image_numbers(record: VideoRecord) -> list[int]:
    """The dataset's number of each image (``img46.jpg`` → 46, ``006_1_0046.jpg`` → 46)."""
    numbers = []
    for path in record.frames:
        match = re.search(r"(\d+)$", path.stem)
        if match is None:
            raise MespotError(f"{path}: image name carries no frame number")
        numbers.append(int(match[1]))
    return numbers


def to_label_frames(record: VideoRecord, intervals: tuple[Interval, ...]) -> tuple[Interval, ...]:
    """Intervals on the record's frame positions → the label file's frames (image number − 1)."""
    numbers = image_numbers(record)
    return tuple(
        iv.evolve(
            onset=numbers[iv.onset] - 1,
            offset=numbers[iv.offset] - 1,
            apex=None if iv.apex is None else numbers[iv.apex] - 1,
        )
        for iv in intervals
    )


def start_run(out: Path, config: Mapping[str, Any]) -> None:
    """Create ``out`` and record ``config``; refuse a folder holding a run with another config."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / PROTOCOL_FILE
    wanted = json.loads(json.dumps(config, default=str))
    if path.is_file():
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MespotError(f"{path}: unreadable ({exc}); use another --out") from None
        if found != wanted:
            changed = sorted(k for k in wanted.keys() | found.keys() if wanted.get(k) != found.get(k))
            raise MespotError(
                f"{out} holds a run with other settings ({', '.join(changed)} differ); "
                "use another --out to start a new run"
            )
        return
    atomic_write_text(path, json.dumps(wanted, indent=1, sort_keys=True) + "\n")


def fold_dir(out: Path, subject: str) -> Path:
    return out / "folds" / safe_name(subject)


def _check_fold(fold: Fold) -> None:
    """The split itself must not leak: a fold trains on no video of its test subject."""
    leaked = sorted({r.video for r in fold.train if r.subject == fold.subject})
    if leaked or not fold.test:
        raise MespotError(
            f"fold {fold.subject}: invalid split (training videos of the test subject: {leaked})"
        )


def _load_fold(path: Path, fold: Fold) -> FoldResult | None:
    if not path.is_file():
        return None
    try:
        done = FoldResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MespotError(f"{path}: unreadable fold result ({exc}); delete it to rerun the fold") from None
    if set(done.test_videos) != {r.video for r in fold.test} or set(done.train_videos) != {
        r.video for r in fold.train
    }:
        raise MespotError(f"{path}: was run on other videos than the dataset now holds; use another --out")
    return done


def _scaled(gen: Generator[Progress, None, Any], base: int, total: int, prefix: str):
    """Forward ``gen``'s progress as a slice ``base .. base + _STEPS`` of the whole run."""
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            return stop.value
        yield Progress(base + int(_STEPS * (p.fraction or 0.0)), total, f"{prefix}: {p.message}")


def run_loso(dataset: Dataset, method: ProtocolMethod, out: Path) -> Generator[Progress, None, LosoRun]:
    """Leave-one-subject-out of ``method`` over ``dataset``, fold results under ``out/folds``.

    Folds already finished in ``out`` are read back, not rerun (call :func:`start_run` first).
    """
    folds = dataset.folds()
    if len(folds) < 2:
        raise MespotError(
            f"leave-one-subject-out needs at least two subjects; {dataset.root} has {len(folds)}"
        )
    total = 2 * _STEPS * len(folds)
    results, resumed = [], []
    for i, fold in enumerate(folds):
        _check_fold(fold)
        folder = fold_dir(out, fold.subject)
        done = _load_fold(folder / FOLD_FILE, fold)
        if done is not None:
            results.append(done)
            resumed.append(fold.subject)
            yield Progress(2 * _STEPS * (i + 1), total, f"fold {fold.subject}: done earlier")
            continue
        folder.mkdir(parents=True, exist_ok=True)
        base = 2 * _STEPS * i
        try:
            model = yield from _scaled(
                method.fit(fold.train, folder), base, total, f"fold {fold.subject} fit"
            )
            predictions, notes = {}, {}
            for k, record in enumerate(fold.test):
                start = base + _STEPS + _STEPS * k // len(fold.test)
                result = yield from _scaled(
                    method.spot(model, record), start, total, f"fold {fold.subject} spot {record.video}"
                )
                predictions[record.video] = to_label_frames(record, result.intervals)
                notes[record.video] = [
                    *(f"frames {s.start}-{s.end} skipped: {s.reason}" for s in result.skipped),
                    *result.notes,
                ]
        except MespotError as exc:
            raise MespotError(f"fold {fold.subject} (held-out subject): {exc}") from exc
        done = FoldResult(
            fold.subject,
            tuple(sorted({r.subject for r in fold.train})),
            tuple(r.video for r in fold.train),
            tuple(r.video for r in fold.test),
            method.describe(model),
            predictions,
            notes,
        )
        atomic_write_text(folder / FOLD_FILE, json.dumps(done.to_dict(), indent=1) + "\n")
        results.append(done)
        yield Progress(2 * _STEPS * (i + 1), total, f"fold {fold.subject}: done")
    return LosoRun(dataset, tuple(results), tuple(resumed))
