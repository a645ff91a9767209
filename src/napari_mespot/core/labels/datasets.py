"""Dataset layouts: find each video's frames, pair them with the label rows, know the subjects.

Supported layouts (the folder names of the distributed datasets):

- CAS(ME)²: ``rawpic/s15/15_0101disgustingteeth/img<n>.jpg`` + the ``code_final`` workbook;
- SAMM Long Videos: ``006_1/006_1_<n>.jpg`` + the SAMM-LV ground-truth workbook;
- CASME II: ``sub01/EP02_01f/img<n>.jpg`` + the coding workbook.

A :class:`VideoRecord` holds the frames in order and the intervals as 0-based indices into *those
frames*: label files count images from 1, and a CASME II clip folder starts at the onset's image
(``img46.jpg``), so the conversion goes through the file numbers, never assumes them. Records
carry their subject so a protocol runner can build leave-one-subject-out folds (:func:`loso_folds`).
Only paths are collected here; nothing is decoded.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from napari_mespot.core.errors import LabelFormatError, MespotError
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import Labels, QuirkOptions, detect_format, read_labels

log = logging.getLogger("napari_mespot.datasets")

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DatasetLayoutError(MespotError):
    """A dataset root that does not have the expected folders or label workbook."""


@dataclass(frozen=True)
class VideoRecord:
    """One video (or clip) of a dataset: its image files in order and its intervals on them."""

    dataset: str
    subject: str
    video: str
    frames: tuple[Path, ...]
    first_number: int
    fps: float
    intervals: tuple[Interval, ...] = ()

    @property
    def n_frames(self) -> int:
        return len(self.frames)


@dataclass(frozen=True)
class Fold:
    """A leave-one-subject-out split: ``test`` holds every video of ``subject``, ``train`` the rest."""

    subject: str
    train: tuple[VideoRecord, ...]
    test: tuple[VideoRecord, ...]


@dataclass(frozen=True)
class Dataset:
    name: str
    root: Path
    records: tuple[VideoRecord, ...]
    labels_path: Path
    #: Label videos with no folder of frames (reported, not paired).
    missing: tuple[str, ...] = ()

    def subjects(self) -> list[str]:
        return sorted({r.subject for r in self.records})

    def folds(self) -> list[Fold]:
        return loso_folds(self.records)

    def counts(self) -> dict[str, int]:
        out = {"me": 0, "mae": 0}
        for record in self.records:
            for iv in record.intervals:
                out[iv.type] += 1
        return out


def loso_folds(records: Iterable[VideoRecord]) -> list[Fold]:
    """One fold per subject, in subject order."""
    records = tuple(records)
    return [
        Fold(s, tuple(r for r in records if r.subject != s), tuple(r for r in records if r.subject == s))
        for s in sorted({r.subject for r in records})
    ]


def numbered_images(folder: Path, pattern: re.Pattern[str]) -> list[tuple[int, Path]]:
    """``(number, path)`` of the images whose name matches ``pattern`` (group 1 = number), sorted."""
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                match = pattern.fullmatch(Path(entry.name).stem)
                if match:
                    found.append((int(match[1]), Path(entry.path)))
    return sorted(found)


def _label_file(root: Path, labels: str | os.PathLike | None, fmt: str) -> Path:
    """The given label file, or the first workbook of format ``fmt`` in ``root`` or one level down."""
    if labels is not None:
        return Path(labels)
    candidates = sorted(p for pattern in ("*.xlsx", "*/*.xlsx") for p in root.glob(pattern))
    for path in candidates:
        try:
            if detect_format(path) == fmt:
                return path
        except LabelFormatError as exc:
            log.debug("skipping %s: %s", path, exc)
    raise DatasetLayoutError(
        f"{root}: no {fmt} label workbook found (looked at {len(candidates)} .xlsx); pass the label file"
    )


def _discover(
    name: str,
    root: Path,
    labels: str | os.PathLike | None,
    fmt: str,
    quirks: QuirkOptions | None,
    folders: dict[str, tuple[str, list[tuple[int, Path]]]],
    default_fps: float,
) -> Dataset:
    path = _label_file(root, labels, fmt)
    records, missing = _pair(name, read_labels(path, fmt, quirks=quirks), folders, default_fps)
    return Dataset(name, root, records, path, missing)


def _pair(
    dataset: str, labels: Labels, folders: dict[str, tuple[str, list[tuple[int, Path]]]], default_fps: float
) -> tuple[tuple[VideoRecord, ...], tuple[str, ...]]:
    """Records for every folder, with the label intervals moved onto the folder's frames."""
    records = []
    for video in sorted(folders):
        subject, images = folders[video]
        position = {number: i for i, (number, _) in enumerate(images)}
        vi = labels.videos.get(video)
        intervals = []
        for iv in vi.intervals if vi else ():
            moved = _move(iv, position)
            if moved is None:
                log.warning(
                    "%s %s: interval %d–%d (image numbers %d–%d) is outside the %d images of %s; skipped",
                    dataset,
                    video,
                    iv.onset,
                    iv.offset,
                    iv.onset + 1,
                    iv.offset + 1,
                    len(images),
                    images[0][1].parent if images else video,
                )
            else:
                intervals.append(moved)
        fps = vi.fps if vi and vi.fps else default_fps
        records.append(
            VideoRecord(
                dataset,
                subject,
                video,
                tuple(p for _, p in images),
                images[0][0] if images else 1,
                fps,
                tuple(intervals),
            )
        )
    missing = tuple(sorted(labels.videos.keys() - folders.keys()))
    if missing:
        log.warning(
            "%s: %d labelled video(s) have no image folder: %s", dataset, len(missing), ", ".join(missing)
        )
    return tuple(records), missing


def _move(iv: Interval, position: dict[int, int]) -> Interval | None:
    """Label frames count images from 1 (frame f is image f + 1): map them to folder positions."""
    onset, offset = position.get(iv.onset + 1), position.get(iv.offset + 1)
    if onset is None or offset is None:
        return None
    apex = None if iv.apex is None else position.get(iv.apex + 1)
    if apex is not None and not onset <= apex <= offset:
        apex = None
    return iv.evolve(onset=onset, offset=offset, apex=apex)


def _subdirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def _root_with(root: Path, child: re.Pattern[str], hints: tuple[str, ...]) -> Path:
    """``root`` itself or a named or lone sub-folder of it whose children match ``child``."""
    for candidate in (root, *(root / h for h in hints), *_subdirs(root)):
        if any(child.fullmatch(p.name) for p in _subdirs(candidate)):
            return candidate
    raise DatasetLayoutError(f"{root}: no folders named like {child.pattern!r} here or one level down")


_CAS_SUBJECT = re.compile(r"s\d+")
_CAS_VIDEO = re.compile(r"(\d{2}_\d{4}).*")
_IMG = re.compile(r"img(\d+)")


def discover_cas_me2(
    root: str | os.PathLike, labels: str | os.PathLike | None = None, quirks: QuirkOptions | None = None
) -> Dataset:
    """CAS(ME)²: ``[rawpic/]sNN/NN_CCCCname/img<n>.jpg``; videos are ``NN_CCCC``."""
    root = Path(root)
    base = _root_with(root, _CAS_SUBJECT, ("rawpic",))
    folders = {}
    for subject_dir in _subdirs(base):
        if not _CAS_SUBJECT.fullmatch(subject_dir.name):
            continue
        for video_dir in _subdirs(subject_dir):
            match = _CAS_VIDEO.fullmatch(video_dir.name)
            if match:
                folders[match[1]] = (subject_dir.name, numbered_images(video_dir, _IMG))
    return _discover("cas-me2", root, labels, "cas-me2-xlsx", quirks, folders, 30.0)


_SAMM_VIDEO = re.compile(r"(\d{3})_(\d+)")


def discover_samm_lv(
    root: str | os.PathLike, labels: str | os.PathLike | None = None, quirks: QuirkOptions | None = None
) -> Dataset:
    """SAMM Long Videos: ``NNN_V/NNN_V_<n>.jpg``; videos are ``NNN_V``, subjects ``NNN``."""
    root = Path(root)
    base = _root_with(root, _SAMM_VIDEO, ("SAMM_longvideos", "SAMM_LongVideos"))
    folders = {}
    for video_dir in _subdirs(base):
        match = _SAMM_VIDEO.fullmatch(video_dir.name)
        if match:
            pattern = re.compile(re.escape(video_dir.name) + r"_(\d+)")
            folders[video_dir.name] = (match[1], numbered_images(video_dir, pattern))
    return _discover("samm-lv", root, labels, "samm-lv-xlsx", quirks, folders, 200.0)


_CASME2_SUBJECT = re.compile(r"sub(\d+)")


def discover_casme2(
    root: str | os.PathLike, labels: str | os.PathLike | None = None, quirks: QuirkOptions | None = None
) -> Dataset:
    """CASME II: ``subNN/EPxx_yy/img<n>.jpg``; clips are ``subNN/EPxx_yy``."""
    root = Path(root)
    base = _root_with(root, _CASME2_SUBJECT, ("CASME2_RAW_selected", "CASME2-RAW", "Cropped"))
    folders = {}
    for subject_dir in _subdirs(base):
        match = _CASME2_SUBJECT.fullmatch(subject_dir.name)
        if not match:
            continue
        subject = f"sub{int(match[1]):02d}"
        for clip_dir in _subdirs(subject_dir):
            folders[f"{subject}/{clip_dir.name}"] = (subject, numbered_images(clip_dir, _IMG))
    return _discover("casme2", root, labels, "casme2-xlsx", quirks, folders, 200.0)
