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

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.intervals import EXPRESSION_TYPES, Interval, VideoIntervals

log = logging.getLogger("napari_mespot.labels")

#: Intervals grouped by video name (the file stem, or the dataset's video id).
LabelSet = dict[str, list[Interval]]


def location(
    path: str | os.PathLike, sheet: str | None = None, row: int | None = None, column: str | None = None
) -> str:
    """``file: sheet 'S', row R, column 'C'`` — the prefix of every label error and warning."""
    parts = [str(path)]
    where = []
    if sheet is not None:
        where.append(f"sheet {sheet!r}")
    if row is not None:
        where.append(f"row {row}")
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
) -> LabelFormatError:
    return LabelFormatError(f"{location(path, sheet, row, column)}: {message}")


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


def group_intervals(
    rows: Iterable[tuple[str, Interval]], fps: float | None, subjects: Mapping[str, str | None]
) -> dict[str, VideoIntervals]:
    """Collect ``(video, interval)`` rows into interval sets, keeping the first-seen video order."""
    grouped: dict[str, list[Interval]] = defaultdict(list)
    for video, iv in rows:
        grouped[video].append(iv)
    return {v: VideoIntervals(v, tuple(ivs), fps, subjects.get(v)) for v, ivs in grouped.items()}


def report_quirks(path: str | os.PathLike, quirks: list[Quirk], options: QuirkOptions) -> None:
    """One warning per kind of defect, naming every affected row and the repair applied."""
    by_kind: dict[tuple[str, str | None], list[Quirk]] = defaultdict(list)
    for q in quirks:
        by_kind[(q.kind, q.sheet)].append(q)
    for (kind, sheet), items in by_kind.items():
        rows = ", ".join(str(q.row) for q in items)
        choice = getattr(options, kind)
        log.warning(
            "%s: %d row(s) with %s: rows %s; applied quirk option %s=%r (%s)",
            location(Path(path), sheet),
            len(items),
            _DESCRIPTIONS[kind],
            rows,
            kind,
            choice,
            items[0].action,
        )
