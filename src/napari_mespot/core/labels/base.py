"""What every label reader returns, how quirks are repaired and reported, and error wording.

Dataset label files carry known defects (docs/architecture.md §5). Each repair is an explicit option of
:class:`QuirkOptions`; every repaired row is recorded as a :class:`Quirk` and reported by one
logged warning per kind that names the rows, so nothing is fixed silently. The defaults follow
the official MEGC baseline loader (a CAS(ME)² offset of 0 becomes the apex).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.intervals import EXPRESSION_TYPES, Interval, VideoIntervals

T = TypeVar("T")

log = logging.getLogger("napari_mespot.labels")

#: Intervals grouped by video name (the file stem, or the dataset's video id).
LabelSet = dict[str, list[Interval]]


def location(
    path: str | os.PathLike,
    sheet: str | None = None,
    row: int | None = None,
    column: str | None = None,
    row_word: str = "row",
) -> str:
    """``file: sheet 'S', row R, column 'C'`` — the prefix of every label error and warning."""
    parts = [str(path)]
    where = []
    if sheet is not None:
        where.append(f"sheet {sheet!r}")
    if row is not None:
        where.append(f"{row_word} {row}")
    if column is not None:
        where.append(f"column {column!r}")
    return ": ".join(parts + ([", ".join(where)] if where else []))


def format_error(
    path: str | os.PathLike,
    message: str,
    *,
    sheet: str | None = None,
    row: int | None = None,
    column: str | None = None,
    row_word: str = "row",
) -> LabelFormatError:
    return LabelFormatError(f"{location(path, sheet, row, column, row_word)}: {message}")


_CHOICES: dict[str, tuple[str, ...]] = {
    "offset_zero": ("apex", "drop", "error"),
    "onset_zero": ("first-frame", "drop", "error"),
    "apex_missing": ("none", "drop", "error"),
    "apex_outside": ("clear-apex", "extend", "drop", "error"),
    "fractional": ("truncate", "round", "widen", "error"),
}

_DESCRIPTIONS: dict[str, str] = {
    "offset_zero": "offset 0 (offset not annotated)",
    "onset_zero": "onset 0 (before the first image)",
    "apex_missing": "apex not annotated (0, -1 or '/')",
    "apex_outside": "apex outside [onset, offset] (e.g. offset < apex)",
    "fractional": "fractional frame numbers",
}


@dataclass(frozen=True)
class QuirkOptions:
    """How each known defect of dataset label files is repaired (first choice = default).

    - ``offset_zero`` (CAS(ME)²: 44 macro rows): ``apex`` sets offset = apex as the MEGC
      baseline does; ``drop`` skips the row; ``error`` refuses the file.
    - ``onset_zero`` (SAMM-LV: 10 rows): ``first-frame`` starts the interval at frame 0.
    - ``apex_missing`` (SAMM-LV apex −1, CAS(ME)² apex 0, CASME II ``/``): ``none`` keeps the
      interval without an apex.
    - ``apex_outside`` (CAS(ME)²: 3 rows with offset < apex): ``clear-apex`` keeps onset and
      offset as annotated (what the baseline scores) and forgets the apex; ``extend`` widens the
      interval to include the apex.
    - ``fractional`` (SAMM-LV frame numbers like 566.4): ``truncate`` as the baseline's ``int()``;
      ``round`` to nearest; ``widen`` floors the onset and ceils the offset.
    """

    offset_zero: str = "apex"
    onset_zero: str = "first-frame"
    apex_missing: str = "none"
    apex_outside: str = "clear-apex"
    fractional: str = "truncate"

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value not in _CHOICES[f.name]:
                raise ValueError(f"quirk option {f.name} must be one of {_CHOICES[f.name]}, got {value!r}")

    @classmethod
    def parse(cls, items: Iterable[str]) -> QuirkOptions:
        """Options from ``name=choice`` strings (the CLI's repeated ``--quirk``)."""
        values: dict[str, str] = {}
        for item in items:
            name, sep, choice = item.partition("=")
            name = name.strip().replace("-", "_")
            if not sep or name not in _CHOICES:
                raise ValueError(
                    f"--quirk expects NAME=CHOICE with NAME in {', '.join(_CHOICES)}, got {item!r}"
                )
            values[name] = choice.strip()
        return cls(**values)

    @staticmethod
    def choices() -> Mapping[str, tuple[str, ...]]:
        return dict(_CHOICES)


@dataclass(frozen=True)
class Quirk:
    """One repaired defect: which row (as the spreadsheet shows it), which kind, what was done."""

    kind: str
    row: int
    video: str
    action: str
    sheet: str | None = None


@dataclass
class Labels:
    """The labels of one file: per-video interval sets (with fps and subject) plus repairs made."""

    videos: dict[str, VideoIntervals] = field(default_factory=dict)
    format: str = ""
    quirks: list[Quirk] = field(default_factory=list)

    @classmethod
    def from_label_set(
        cls,
        label_set: Mapping[str, Iterable[Interval]],
        fps: float | None = None,
        subjects: Mapping[str, str] | None = None,
        format: str = "",
    ) -> Labels:
        subjects = subjects or {}
        videos = {v: VideoIntervals(v, tuple(ivs), fps, subjects.get(v)) for v, ivs in label_set.items()}
        return cls(videos, format)

    def label_set(self) -> LabelSet:
        return {v: list(vi.intervals) for v, vi in self.videos.items()}

    def __iter__(self) -> Iterator[VideoIntervals]:
        return iter(self.videos.values())

    def __len__(self) -> int:
        return len(self.videos)

    def counts(self) -> dict[str, int]:
        """Intervals per type over all videos."""
        out = dict.fromkeys(EXPRESSION_TYPES, 0)
        for vi in self.videos.values():
            for kind, n in vi.counts().items():
                out[kind] += n
        return out

    def subjects(self) -> list[str]:
        return sorted({vi.subject for vi in self.videos.values() if vi.subject is not None})

    def n_intervals(self) -> int:
        return sum(len(vi.intervals) for vi in self.videos.values())


def entry_for_video(videos: Mapping[str, T], names: Iterable[str], path: str | os.PathLike) -> tuple[str, T]:
    """The entry of a label file's ``videos`` for the video called any of ``names`` (a layer's
    name, the file's stem or name), as ``(video name, entry)``; a file that holds a single video
    is taken as this video's. Raises :class:`LabelFormatError` naming the file and what it holds."""
    names = list(names)
    found = next((n for n in names if n in videos), None)
    if found is None and len(videos) == 1:
        found = next(iter(videos))
    if found is None:
        held = ", ".join(sorted(videos)) or "none"
        raise LabelFormatError(f"{path}: no labels for {names[0]} (it holds {held})")
    return found, videos[found]


def group_intervals(
    rows: Iterable[tuple[str, Interval]], fps: float | None, subjects: Mapping[str, str | None]
) -> dict[str, VideoIntervals]:
    """Collect ``(video, interval)`` rows into interval sets, keeping the first-seen video order."""
    grouped: dict[str, list[Interval]] = defaultdict(list)
    for video, iv in rows:
        grouped[video].append(iv)
    return {v: VideoIntervals(v, tuple(ivs), fps, subjects.get(v)) for v, ivs in grouped.items()}


def report_duplicates(
    path: str | os.PathLike, rows: Iterable[tuple[int, str, Interval]], row_word: str = "row"
) -> None:
    """One warning per interval that a file holds more than once (same video, frames and type).

    Each copy is scored as an interval of its own — a duplicated ground-truth row is a second
    expression to find, a duplicated prediction a false positive — so the file may be wrong,
    and the reader says so rather than let the scores change silently.
    """
    seen: dict[tuple[str, int, int, str], list[int]] = defaultdict(list)
    for row, video, iv in rows:
        seen[(video, iv.onset, iv.offset, iv.type)].append(row)
    for (video, onset, offset, kind), at in seen.items():
        if len(at) > 1:
            log.warning(
                "%s: duplicate intervals: video %r, frames %d–%d (%s) on %ss %s; each copy is scored "
                "as an interval of its own",
                path,
                video,
                onset,
                offset,
                kind,
                row_word,
                ", ".join(map(str, at)),
            )


def report_quirks(
    path: str | os.PathLike, quirks: list[Quirk], options: QuirkOptions, row_word: str = "row"
) -> None:
    """One warning per kind of defect, naming every affected row and the repair applied."""
    by_kind: dict[tuple[str, str | None], list[Quirk]] = defaultdict(list)
    for q in quirks:
        by_kind[(q.kind, q.sheet)].append(q)
    for (kind, sheet), items in by_kind.items():
        rows = ", ".join(str(q.row) for q in items)
        choice = getattr(options, kind)
        log.warning(
            "%s: %d %s(s) with %s: %ss %s; applied quirk option %s=%r (%s)",
            location(Path(path), sheet),
            len(items),
            row_word,
            _DESCRIPTIONS[kind],
            row_word,
            rows,
            kind,
            choice,
            items[0].action,
        )
