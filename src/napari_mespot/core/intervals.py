"""The Interval model shared by spotters, label formats, metrics and review.

Frames are 0-based indices into the decoded video and offsets are inclusive (docs/architecture.md §4).
Durations in seconds are derived from frames and fps, never stored instead of frames.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

ExpressionType = Literal["me", "mae"]
Status = Literal["candidate", "accepted", "rejected", "edited", "added"]

EXPRESSION_TYPES: tuple[str, ...] = ("me", "mae")
#: How messages and tables write each type.
TYPE_NAMES: dict[str, str] = {"me": "ME", "mae": "MaE"}
STATUSES: tuple[str, ...] = ("candidate", "accepted", "rejected", "edited", "added")
#: Expressions strictly shorter than this are micro-expressions (the field's 0.5 s convention).
ME_MAX_SECONDS = 0.5


def new_id() -> str:
    """A short random id: stable across saves, unique enough within one session."""
    return uuid.uuid4().hex[:12]


def type_by_duration(n_frames: int, fps: float, me_max_seconds: float = ME_MAX_SECONDS) -> str:
    """Type an expression by its length: ``me`` when it lasts at most ``me_max_seconds``.

    The length counts inclusive frames, so an interval of ``n`` frames lasts ``n / fps`` s.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    return "me" if n_frames / fps <= me_max_seconds else "mae"


def runs(mask: Any) -> list[tuple[int, int]]:
    """Inclusive ``(start, end)`` frame pairs of the runs of True in a 1-D boolean mask."""
    import numpy as np

    flags = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(flags.astype(np.int8)))
    return [(int(s), int(e) - 1) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _normalise_extra(extra: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> tuple[tuple[str, str], ...]:
    items = extra.items() if isinstance(extra, Mapping) else extra
    return tuple(sorted((str(k), str(v)) for k, v in items))


@dataclass(frozen=True)
class Interval:
    """One spotted or annotated expression.

    Frozen so that machine tracks cannot be modified in place: a correction is a new Interval
    (see :meth:`evolve`) written to another track. ``aus_raw`` keeps the annotator's AU string
    (``L12B+ref(10)``) next to the normalised codes; ``extra`` keeps a dataset's other columns
    (emotion, clip name, …) as sorted ``(key, value)`` string pairs, so intervals stay hashable
    and a dataset file can be written back without loss.
    """

    onset: int
    offset: int
    type: str = "me"
    apex: int | None = None
    aus: tuple[int, ...] = ()
    score: float | None = None
    source: str = "gt"
    status: str = "candidate"
    note: str = ""
    aus_raw: str = ""
    id: str = field(default_factory=new_id)
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        onset, offset, apex = self.onset, self.offset, self.apex
        # plain ints, no AUs, no score and no extra (the bulk of spotter output) convert nothing
        if type(onset) is not int or type(offset) is not int or (apex is not None and type(apex) is not int):
            self._convert_frames()
        if self.aus or type(self.aus) is not tuple:
            object.__setattr__(self, "aus", tuple(int(a) for a in self.aus))
        if self.score is not None and type(self.score) is not float:
            object.__setattr__(self, "score", float(self.score))
        if self.extra or type(self.extra) is not tuple:
            object.__setattr__(self, "extra", _normalise_extra(self.extra) if self.extra else ())
        if self.onset < 0:
            raise ValueError(f"onset must be >= 0, got {self.onset}")
        if self.offset < self.onset:
            raise ValueError(f"offset {self.offset} is before onset {self.onset}")
        if self.apex is not None and not self.onset <= self.apex <= self.offset:
            raise ValueError(f"apex {self.apex} is outside [{self.onset}, {self.offset}]")
        if self.type not in EXPRESSION_TYPES:
            raise ValueError(f"type must be one of {EXPRESSION_TYPES}, got {self.type!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    def _convert_frames(self) -> None:
        for name in ("onset", "offset", "apex"):
            value = getattr(self, name)
            if value is not None:
                if int(value) != value:
                    raise ValueError(f"{name} must be an integer frame index")
                object.__setattr__(self, name, int(value))

    @property
    def length(self) -> int:
        """Number of frames, offset inclusive."""
        return self.offset - self.onset + 1

    def duration(self, fps: float) -> float:
        return self.length / fps

    def get_extra(self, key: str, default: str = "") -> str:
        for k, v in self.extra:
            if k == key:
                return v
        return default

    def evolve(self, **changes) -> Interval:
        """A copy with ``changes`` applied (and validated), keeping the id unless one is given."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict holding every field (``extra`` as an object)."""
        return {
            "id": self.id,
            "onset": self.onset,
            "apex": self.apex,
            "offset": self.offset,
            "type": self.type,
            "aus": list(self.aus),
            "aus_raw": self.aus_raw,
            "score": self.score,
            "source": self.source,
            "status": self.status,
            "note": self.note,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Interval:
        """Inverse of :meth:`to_dict`; missing optional keys take their defaults.

        Raises ``ValueError``/``TypeError``/``KeyError`` on bad input; label readers turn these
        into :class:`~napari_mespot.core.errors.LabelFormatError` with the file's location.
        """
        values: dict[str, Any] = {"onset": data["onset"], "offset": data["offset"]}
        for key in ("type", "apex", "score", "source", "status", "note", "aus_raw", "id"):
            if key in data:
                values[key] = data[key]
        if "aus" in data:
            if not isinstance(data["aus"], list | tuple):
                raise TypeError("aus must be a list of integers")
            values["aus"] = tuple(data["aus"])
        if "extra" in data:
            if not isinstance(data["extra"], Mapping):
                raise TypeError("extra must be an object")
            values["extra"] = data["extra"]
        for key in ("onset", "offset", "apex"):
            value = values.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise TypeError(f"{key} must be a number")
        for key in ("type", "source", "status", "note", "aus_raw", "id"):
            if key in values and not isinstance(values[key], str):
                raise TypeError(f"{key} must be a string")
        return cls(**values)


def overlap(a: Interval, b: Interval) -> int:
    """Number of frames two intervals share (inclusive offsets)."""
    return max(0, min(a.offset, b.offset) - max(a.onset, b.onset) + 1)


def iou(a: Interval, b: Interval) -> float:
    """Temporal IoU on inclusive frame counts (docs/architecture.md §6)."""
    inter = overlap(a, b)
    return inter / (a.length + b.length - inter)


def overlap_index(a: Interval, b: Interval) -> float:
    """Overlap divided by the shorter length: the fusion criterion μ of the AU-prototype paper.

    Unlike IoU it reaches 1 when one interval contains the other, which is what fusing the
    intervals of several AUs of one expression needs.
    """
    return overlap(a, b) / min(a.length, b.length)


def sort_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    return sorted(intervals, key=lambda iv: (iv.onset, iv.offset, iv.id))


def retype_by_duration(
    intervals: Iterable[Interval], fps: float, me_max_seconds: float = ME_MAX_SECONDS
) -> list[Interval]:
    """Each interval typed by its length at ``fps`` (ids kept), for predictions without a type."""
    out = []
    for iv in intervals:
        kind = type_by_duration(iv.length, fps, me_max_seconds)
        out.append(iv if iv.type == kind else iv.evolve(type=kind))
    return out


@dataclass(frozen=True)
class VideoIntervals:
    """The intervals of one video together with what is needed to interpret them.

    ``fps`` travels with the frames because typing by duration and every duration shown to the
    user depend on it (CAS(ME)² is 30 fps, SAMM and CASME II 200 fps). ``subject`` is what a
    leave-one-subject-out split groups by.
    """

    video: str
    intervals: tuple[Interval, ...] = ()
    fps: float | None = None
    subject: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "intervals", tuple(sort_intervals(self.intervals)))
        if self.fps is not None:
            if not self.fps > 0:
                raise ValueError(f"fps must be positive, got {self.fps}")
            object.__setattr__(self, "fps", float(self.fps))

    def of_type(self, kind: str) -> tuple[Interval, ...]:
        return tuple(iv for iv in self.intervals if iv.type == kind)

    def counts(self) -> dict[str, int]:
        """Number of intervals per expression type (both keys always present)."""
        out = dict.fromkeys(EXPRESSION_TYPES, 0)
        for iv in self.intervals:
            out[iv.type] += 1
        return out

    def retyped(self, fps: float | None = None, me_max_seconds: float = ME_MAX_SECONDS) -> VideoIntervals:
        """A copy with every interval typed by duration at ``fps`` (default: this video's fps)."""
        rate = fps if fps is not None else self.fps
        if rate is None:
            raise ValueError(f"video {self.video!r}: typing by duration needs an fps")
        return replace(self, intervals=tuple(retype_by_duration(self.intervals, rate, me_max_seconds)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "fps": self.fps,
            "subject": self.subject,
            "intervals": [iv.to_dict() for iv in self.intervals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VideoIntervals:
        video, fps, subject = data["video"], data.get("fps"), data.get("subject")
        if not isinstance(video, str) or (subject is not None and not isinstance(subject, str)):
            raise TypeError("video and subject must be strings")
        if fps is not None and (isinstance(fps, bool) or not isinstance(fps, int | float)):
            raise TypeError("fps must be a number")
        items = data.get("intervals", [])
        if not isinstance(items, list) or not all(isinstance(d, Mapping) for d in items):
            raise TypeError("intervals must be a list of objects")
        return cls(video, tuple(Interval.from_dict(d) for d in items), fps, subject)
