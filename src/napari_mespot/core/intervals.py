"""The Interval model shared by spotters, label formats, metrics and review.

Frames are 0-based indices into the decoded video and offsets are inclusive (DESIGN.md §4).
Durations in seconds are derived from frames and fps, never stored instead of frames.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Iterable, Literal

ExpressionType = Literal["me", "mae"]
Status = Literal["candidate", "accepted", "rejected", "edited", "added"]

EXPRESSION_TYPES: tuple[str, ...] = ("me", "mae")
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


@dataclass(frozen=True)
class Interval:
    """One spotted or annotated expression.

    Frozen so that machine tracks cannot be modified in place: a correction is a new Interval
    (see :meth:`evolve`) written to another track.
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

    def __post_init__(self) -> None:
        for name in ("onset", "offset"):
            if int(getattr(self, name)) != getattr(self, name):
                raise ValueError(f"{name} must be an integer frame index")
        object.__setattr__(self, "onset", int(self.onset))
        object.__setattr__(self, "offset", int(self.offset))
        if self.apex is not None:
            object.__setattr__(self, "apex", int(self.apex))
        object.__setattr__(self, "aus", tuple(int(a) for a in self.aus))
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

    @property
    def length(self) -> int:
        """Number of frames, offset inclusive."""
        return self.offset - self.onset + 1

    def duration(self, fps: float) -> float:
        return self.length / fps

    def evolve(self, **changes) -> Interval:
        """A copy with ``changes`` applied (and validated), keeping the id unless one is given."""
        return replace(self, **changes)


def overlap(a: Interval, b: Interval) -> int:
    """Number of frames two intervals share (inclusive offsets)."""
    return max(0, min(a.offset, b.offset) - max(a.onset, b.onset) + 1)


def iou(a: Interval, b: Interval) -> float:
    """Temporal IoU on inclusive frame counts (DESIGN.md §6)."""
    inter = overlap(a, b)
    return inter / (a.length + b.length - inter)


def sort_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    return sorted(intervals, key=lambda iv: (iv.onset, iv.offset, iv.id))
