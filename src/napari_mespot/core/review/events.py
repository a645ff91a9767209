"""Events: the candidates of several spotter runs that are copies of one expression.

With three runs on a video, one smile is spotted three times (587–602, 590–597, 591–597). Reviewed
as candidates, it is visited three times and, accepted three times, exported as three overlapping
intervals — two false positives under MEGC scoring. An *event* groups such copies so the
annotator reviews the expression once.

Grouping: two candidates of different or the same runs are linked when their IoU (inclusive
frames, :func:`napari_mespot.core.metrics.iou_matrix`) is at least ``min_iou``; an event is a
connected component of these links, so copies that each overlap a middle one are one event even
when the outer two overlap less (587–602 and 591–597 have IoU 7/16, both ≥ 0.5 with 590–597).

Grouping ignores the expression type on purpose: runs disagree on the type of one movement near
the 0.5 s border (16 frames at 30 fps is a MaE, 15 an ME), and a type-aware grouping would show
that movement twice. Typing is the annotator's decision, made on the copy that is accepted.

Accepting one copy settles the others (:meth:`EventIndex.accept`): every undecided copy is
rejected in the same edit with its ``duplicate_of`` naming the accepted one
(:meth:`ReviewModel.accept <napari_mespot.core.review.model.ReviewModel.accept>`), so the machine
tracks stay untouched and one undo restores all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from napari_mespot.core.intervals import Interval
from napari_mespot.core.metrics import iou_matrix
from napari_mespot.core.review.model import CORRECTED, ReviewError, ReviewModel

#: Two candidates with at least this IoU are copies of one expression (the MEGC hit criterion).
DEFAULT_EVENT_IOU = 0.5

Member = tuple[str, Interval]


@dataclass(frozen=True)
class Event:
    """One expression as the runs found it: its copies ``(track, candidate)``, in time order."""

    index: int
    members: tuple[Member, ...]

    @property
    def onset(self) -> int:
        return min(iv.onset for _, iv in self.members)

    @property
    def offset(self) -> int:
        return max(iv.offset for _, iv in self.members)

    @property
    def keys(self) -> tuple[tuple[str, str], ...]:
        """``(track, interval id)`` of every copy (what the model's edits take)."""
        return tuple((track, iv.id) for track, iv in self.members)

    def representative(self) -> Member:
        """The copy to show first: the one whose span agrees best with the others (highest summed
        IoU with them; the earliest on a tie) — the runs' consensus boundaries."""
        if len(self.members) == 1:
            return self.members[0]
        intervals = [iv for _, iv in self.members]
        agreement = iou_matrix(intervals, intervals).sum(axis=1)
        return self.members[int(np.argmax(agreement))]


def candidate_tracks(model: ReviewModel) -> list[str]:
    """The tracks whose intervals are reviewed as candidates: the spotter runs, or — in a session
    with none — the ground truth (reviewing labels for correction)."""
    machine = [t.name for t in model.tracks.values() if t.kind == "machine"]
    return machine or [t.name for t in model.tracks.values() if t.kind == "gt"]


def group_events(members: Sequence[Member], min_iou: float = DEFAULT_EVENT_IOU) -> list[Event]:
    """The connected components of ``members`` linked by IoU ≥ ``min_iou``, in time order."""
    if not 0 < min_iou <= 1:
        raise ReviewError(f"the event IoU must be in (0, 1], got {min_iou}")
    members = sorted(members, key=lambda m: (m[1].onset, m[1].offset, m[0], m[1].id))
    n = len(members)
    if n == 0:
        return []
    intervals = [iv for _, iv in members]
    onsets = np.array([iv.onset for iv in intervals])
    rows, cols = [], []
    for i, iv in enumerate(intervals):
        # Sorted by onset: only the candidates that start before this one ends can overlap it.
        end = int(np.searchsorted(onsets, iv.offset, side="right"))
        if end > i + 1:
            linked = np.nonzero(iou_matrix([iv], intervals[i + 1 : end])[0] >= min_iou)[0] + i + 1
            rows.extend([i] * len(linked))
            cols.extend(linked.tolist())
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[Member]] = {}
    for label, member in zip(labels.tolist(), members, strict=True):
        groups.setdefault(label, []).append(member)
    ordered = sorted(groups.values(), key=lambda g: (g[0][1].onset, min(iv.offset for _, iv in g)))
    return [Event(i, tuple(group)) for i, group in enumerate(ordered)]


class EventIndex:
    """The events of a model's candidate tracks, and the review steps that work on events.

    Built from the read-only tracks, it stays valid while the annotator edits (decisions do not
    change what the runs found); rebuild it when a track is added or replaced
    (``model.events.tracks_changed``).
    """

    def __init__(
        self, model: ReviewModel, tracks: Iterable[str] | None = None, min_iou: float = DEFAULT_EVENT_IOU
    ) -> None:
        self.model = model
        self.min_iou = min_iou
        names = candidate_tracks(model) if tracks is None else list(tracks)
        members = [(name, iv) for name in names for iv in model.tracks[name].sorted()]
        self.events: tuple[Event, ...] = tuple(group_events(members, min_iou))
        self._by_key = {key: event for event in self.events for key in event.keys}

    def __len__(self) -> int:
        return len(self.events)

    def event_of(self, track: str, interval_id: str) -> Event | None:
        """The event candidate ``track/interval_id`` belongs to (``None``: not a candidate here)."""
        return self._by_key.get((track, interval_id))

    def event_of_selection(self, track: str, interval_id: str) -> Event | None:
        """The event of an interval the annotator selected: a candidate's own, or for a corrected
        interval the event of the candidate it was decided from (``None``: added by hand)."""
        if track == CORRECTED:
            origin = self.model.find(track, interval_id).get_extra("origin")
            if not origin:
                return None
            track, _, interval_id = origin.rpartition("/")  # ids hold no "/", run names may
        return self.event_of(track, interval_id)

    def is_settled(self, event: Event) -> bool:
        """Whether the annotator decided on any copy of ``event`` (accepting one settles all)."""
        return any(self.model.decision_for(track, iv.id) is not None for track, iv in event.members)

    def next_event(
        self, frame: int, step: int = 1, unsettled_only: bool = True, current: Event | None = None
    ) -> Event | None:
        """The first event starting after ``frame`` (``step=1``), or the last one starting before
        it (``-1``); only events nobody decided on with ``unsettled_only``.

        ``current`` is the event the annotator stands on: when it starts at ``frame``, the events
        that start on that frame too come after or before it in :attr:`events` order, so stepping
        from one of two events with one onset does not skip the other.
        """
        events = [e for e in self.events if not (unsettled_only and self.is_settled(e))]
        here = current.index if current is not None and current.onset == frame else None
        if step > 0:
            after = len(self.events) if here is None else here  # none: strictly after frame
            return next((e for e in events if (e.onset, e.index) > (frame, after)), None)
        before = -1 if here is None else here
        return next((e for e in reversed(events) if (e.onset, e.index) < (frame, before)), None)

    def accept(self, track: str, interval_id: str) -> Interval:
        """Accept candidate ``track/interval_id`` and reject its event's undecided other copies,
        in one undoable edit; its corrected copy."""
        event = self.event_of(track, interval_id)
        others = [key for key in event.keys if key != (track, interval_id)] if event else []
        return self.model.accept(track, interval_id, settles=others)
