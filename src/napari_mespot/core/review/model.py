"""The review model: tracks of intervals, the annotator's corrections, undo/redo and an edit log.

Machine output is evidence and is never modified: a spotter run or the ground truth is a
read-only :class:`Track`. Every decision of the annotator lands in the one writable track,
``corrected``, as a new :class:`Interval` whose id links back to the candidate it came from.
So "what did the spotter say" and "what did the annotator decide" can always be told apart,
and retraining uses only the latter.

Every change goes through :meth:`ReviewModel.apply`, which records it in the edit log and on
the undo stack and emits :attr:`ReviewModel.events.changed`; the session sidecar listens to that
signal to autosave, and the timeline and table redraw from it. The model is Qt-free (psygnal
signals work with or without a Qt event loop).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from psygnal import Signal, SignalGroup

from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval, new_id, sort_intervals

CORRECTED = "corrected"
#: Track kinds: ground truth and spotter runs are read-only, the corrected track is not.
TRACK_KINDS = ("gt", "machine", "corrected")
#: Statuses that mean "the annotator vouches for this interval" (what export and retraining use).
KEPT_STATUSES = ("accepted", "edited", "added")
#: Interval fields an edit may change.
EDITABLE_FIELDS = ("onset", "apex", "offset", "type", "aus", "aus_raw", "note")
#: ``extra`` key of a copy rejected because another run's copy of its expression was accepted:
#: the ``track/id`` of that candidate (a "rejected" status, so exports and every reader of the
#: statuses treat it as the non-label it is, while the reason stays on record).
DUPLICATE_OF = "duplicate_of"


class ReviewError(MespotError):
    """An edit that cannot be made (unknown interval, a read-only track, an invalid value)."""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


@dataclass
class Track:
    """The intervals of one source, in time order, with where they came from."""

    name: str
    kind: str
    intervals: dict[str, Interval] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in TRACK_KINDS:
            raise ReviewError(f"track {self.name!r}: kind must be one of {TRACK_KINDS}, got {self.kind!r}")

    @property
    def read_only(self) -> bool:
        return self.kind != "corrected"

    def sorted(self) -> list[Interval]:
        return sort_intervals(self.intervals.values())

    def __len__(self) -> int:
        return len(self.intervals)

    def __iter__(self) -> Iterator[Interval]:
        return iter(self.sorted())

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "meta": self.meta,
            "intervals": [iv.to_dict() for iv in self.sorted()],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Track:
        intervals = [Interval.from_dict(d) for d in data["intervals"]]
        return cls(data["name"], data["kind"], {iv.id: iv for iv in intervals}, dict(data.get("meta", {})))


@dataclass(frozen=True)
class Change:
    """One interval of the corrected track before and after an edit (``None`` = absent)."""

    before: Interval | None
    after: Interval | None


@dataclass(frozen=True)
class Edit:
    """An entry of the edit log: what the annotator did, to which interval, from which source."""

    action: str
    changes: tuple[Change, ...]
    time: str = field(default_factory=now)
    origin: str | None = None  # "track/interval-id" of the candidate the edit started from

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "time": self.time,
            "origin": self.origin,
            "changes": [
                {
                    "before": c.before.to_dict() if c.before else None,
                    "after": c.after.to_dict() if c.after else None,
                }
                for c in self.changes
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edit:
        def load(d):
            return Interval.from_dict(d) if d is not None else None

        changes = tuple(Change(load(c["before"]), load(c["after"])) for c in data["changes"])
        return cls(data["action"], changes, data["time"], data.get("origin"))

    def reversed(self) -> Edit:
        return Edit(
            f"undo {self.action}", tuple(Change(c.after, c.before) for c in self.changes), origin=self.origin
        )


class ReviewEvents(SignalGroup):
    #: (action, ids of corrected intervals touched) after every applied, undone or redone edit.
    changed = Signal(str, tuple)
    #: (track name) when a track is added or replaced.
    tracks_changed = Signal(str)
    #: (selected (track, id) or None)
    selection_changed = Signal(object)


class ReviewModel:
    """Tracks of one video plus the annotator's corrected track, with undo/redo and a log."""

    def __init__(self, fps: float, n_frames: int) -> None:
        if fps <= 0 or n_frames <= 0:
            raise ReviewError(f"a review needs a positive fps and frame count, got {fps}, {n_frames}")
        self.fps = float(fps)
        self.n_frames = int(n_frames)
        self.tracks: dict[str, Track] = {CORRECTED: Track(CORRECTED, "corrected")}
        self.log: list[Edit] = []
        self._undo: list[Edit] = []
        self._redo: list[Edit] = []
        self.selection: tuple[str, str] | None = None
        self._origins: dict[str, Interval] | None = None
        self.events = ReviewEvents()

    # -- tracks ---------------------------------------------------------------------------------
    @property
    def corrected(self) -> Track:
        return self.tracks[CORRECTED]

    def add_track(self, name: str, intervals: Iterable[Interval], kind: str = "machine", **meta) -> Track:
        """Add (or replace) a read-only track: the ground truth or one spotter run."""
        if name == CORRECTED or kind == "corrected":
            raise ReviewError("the corrected track is written by edits only")
        track = Track(name, kind, {iv.id: iv for iv in intervals}, dict(meta))
        for iv in track.intervals.values():
            self._check_bounds(iv)
        self.tracks[name] = track
        self.events.tracks_changed.emit(name)
        return track

    def find(self, track: str, interval_id: str) -> Interval:
        try:
            return self.tracks[track].intervals[interval_id]
        except KeyError:
            raise ReviewError(f"no interval {interval_id!r} in track {track!r}") from None

    def kept(self) -> list[Interval]:
        """The corrected intervals the annotator vouches for (what export and retraining use)."""
        return [iv for iv in self.corrected.sorted() if iv.status in KEPT_STATUSES]

    def decision_for(self, track: str, interval_id: str) -> Interval | None:
        """The corrected interval that came from candidate ``track/interval_id``, if reviewed."""
        if self._origins is None:
            # Built once after each edit: stepping through hundreds of candidates asks this a lot.
            decided = self.corrected.intervals.values()
            self._origins = {iv.get_extra("origin"): iv for iv in decided if iv.get_extra("origin")}
        return self._origins.get(f"{track}/{interval_id}")

    # -- navigation -----------------------------------------------------------------------------
    def select(self, track: str | None, interval_id: str | None = None) -> None:
        selection = None if track is None else (track, interval_id)
        if selection is not None:
            self.find(*selection)
        self.selection = selection
        self.events.selection_changed.emit(selection)

    def next_candidate(
        self, track: str, frame: int, step: int = 1, unreviewed_only: bool = True
    ) -> Interval | None:
        """The next (``step=1``) or previous (``-1``) interval of ``track`` after/before ``frame``."""
        items = self.tracks[track].sorted()
        if unreviewed_only and self.tracks[track].kind != "corrected":
            items = [iv for iv in items if self.decision_for(track, iv.id) is None]
        if step > 0:
            return next((iv for iv in items if iv.onset > frame), None)
        return next((iv for iv in reversed(items) if iv.onset < frame), None)

    # -- edits ----------------------------------------------------------------------------------
    def accept(self, track: str, interval_id: str, settles: Iterable[tuple[str, str]] = ()) -> Interval:
        """Accept a candidate (or a corrected interval).

        ``settles`` names other candidates, ``(track, id)``, that are copies of the same expression
        from other runs (:mod:`napari_mespot.core.review.events`): each one still undecided is
        rejected in the same edit, its ``duplicate_of`` naming the accepted candidate, so that the
        expression is exported once and one undo takes the whole decision back. A copy the
        annotator already decided on keeps that decision.
        """
        change, origin = self._decision(track, interval_id, "accepted")
        changes = [change]
        for other in settles:
            if other != (track, interval_id) and self.decision_for(*other) is None:
                changes.append(self._decision(*other, "rejected", duplicate_of=f"{track}/{interval_id}")[0])
        self.apply(Edit("accept", tuple(changes), origin=origin))
        return change.after

    def reject(self, track: str, interval_id: str) -> Interval:
        return self._decide(track, interval_id, "rejected", "reject")

    def add(self, onset: int, offset: int, type: str | None = None, **fields) -> Interval:
        """A new interval the spotters missed, typed by duration unless ``type`` is given."""
        from napari_mespot.core.intervals import type_by_duration

        kind = type or type_by_duration(offset - onset + 1, self.fps)
        try:
            interval = Interval(onset, offset, kind, source="annotator", status="added", **fields)
        except (TypeError, ValueError) as exc:
            raise ReviewError(f"cannot add interval: {exc}") from None
        self._check_bounds(interval)
        self.apply(Edit("add", (Change(None, interval),)))
        return interval

    def edit(self, track: str, interval_id: str, **changes) -> Interval:
        """Change fields of an interval; editing a candidate writes an edited copy instead.

        An apex left outside a moved onset/offset is clamped into the new interval.
        """
        unknown = set(changes) - set(EDITABLE_FIELDS)
        if unknown:
            raise ReviewError(f"fields {sorted(unknown)} cannot be edited")
        found = self.find(track, interval_id)
        if track == CORRECTED:
            before, base = found, found
            status = found.status if found.status in ("added", "edited") else "edited"
            origin = found.get_extra("origin") or None
        else:
            before = self.decision_for(track, interval_id)
            base = before or self._copy_from(track, found)
            status, origin = "edited", f"{track}/{interval_id}"
        if "aus" in changes and "aus_raw" not in changes:
            changes["aus_raw"] = ""  # the raw dataset string no longer describes the codes
        onset, offset = changes.get("onset", base.onset), changes.get("offset", base.offset)
        apex = changes.get("apex", base.apex)
        if apex is not None and "apex" not in changes and onset <= offset:
            changes["apex"] = min(max(apex, onset), offset)
        if base.get_extra(DUPLICATE_OF):  # edited means kept: no longer a duplicate
            changes["extra"] = {k: v for k, v in base.extra if k != DUPLICATE_OF}
        try:
            after = base.evolve(status=status, **changes)
        except (TypeError, ValueError) as exc:
            raise ReviewError(f"cannot edit {interval_id}: {exc}") from None
        self._check_bounds(after)
        self.apply(Edit("edit", (Change(before, after),), origin=origin))
        return after

    def delete(self, interval_id: str) -> None:
        before = self.find(CORRECTED, interval_id)
        self.apply(Edit("delete", (Change(before, None),), origin=before.get_extra("origin") or None))

    def apply(self, edit: Edit, *, record: bool = True) -> None:
        """Apply ``edit`` to the corrected track, log it, make it undoable, tell the listeners."""
        track = self.corrected.intervals
        self._origins = None
        for change in edit.changes:
            if change.before is not None:
                track.pop(change.before.id, None)
            if change.after is not None:
                track[change.after.id] = change.after
        self.log.append(edit)
        if record:
            self._undo.append(edit)
            self._redo.clear()
        ids = tuple(c.after.id if c.after else c.before.id for c in edit.changes)
        self.events.changed.emit(edit.action, ids)

    def undo(self) -> bool:
        if not self._undo:
            return False
        edit = self._undo.pop()
        self._redo.append(edit)
        self.apply(edit.reversed(), record=False)
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        edit = self._redo.pop()
        self._undo.append(edit)
        self.apply(Edit(f"redo {edit.action}", edit.changes, origin=edit.origin), record=False)
        return True

    # -- history (what a session saves and restores) --------------------------------------------
    def history(self) -> tuple[list[int], list[int]]:
        """The undo and redo stacks as positions in :attr:`log`, bottom first.

        Both stacks hold edits as first applied, and every such edit is an entry of the log,
        so positions say all a session needs to rebuild them.
        """
        where = {id(edit): i for i, edit in enumerate(self.log)}
        return [where[id(e)] for e in self._undo], [where[id(e)] for e in self._redo]

    def restore_history(self, log: list[Edit], undo: Iterable[int], redo: Iterable[int]) -> None:
        """Take a saved edit log and its undo/redo stacks (positions in ``log``, bottom first);
        the corrected track must already be the one the log led to. Raises ``ReviewError`` for
        a position that is not in the log."""
        undo, redo = list(undo), list(redo)
        bad = [i for i in (*undo, *redo) if not isinstance(i, int) or not 0 <= i < len(log)]
        if bad:
            raise ReviewError(f"undo/redo positions {bad} are not in the edit log of {len(log)} entries")
        self.log = list(log)
        self._undo = [self.log[i] for i in undo]
        self._redo = [self.log[i] for i in redo]

    # -- internals ------------------------------------------------------------------------------
    def _decide(self, track: str, interval_id: str, status: str, action: str) -> Interval:
        change, origin = self._decision(track, interval_id, status)
        self.apply(Edit(action, (change,), origin=origin))
        return change.after

    def _decision(self, track: str, interval_id: str, status: str, **extra: str) -> tuple[Change, str | None]:
        """The change that gives ``track/interval_id`` the decision ``status`` (with ``extra``
        recorded on the corrected interval), and the candidate it started from."""
        if track == CORRECTED:
            before = self.find(track, interval_id)
            base, origin = before, before.get_extra("origin") or None
        else:
            candidate = self.find(track, interval_id)
            before = self.decision_for(track, interval_id)
            origin = f"{track}/{interval_id}"
            base = before or self._copy_from(track, candidate)
        kept_extra = {k: v for k, v in base.extra if k != DUPLICATE_OF}  # a new decision replaces it
        return Change(before, base.evolve(status=status, extra={**kept_extra, **extra})), origin

    def _copy_from(self, track: str, candidate: Interval) -> Interval:
        """The corrected-track copy of a candidate: a new id, and provenance in ``extra``."""
        extra = dict(candidate.extra)
        extra.update(origin=f"{track}/{candidate.id}", origin_source=candidate.source, decided_at=now())
        run = self.tracks[track].meta.get("run")
        if run:
            extra["origin_run"] = str(run)
        return candidate.evolve(id=new_id(), extra=extra)

    def _check_bounds(self, iv: Interval) -> None:
        if iv.offset >= self.n_frames:
            raise ReviewError(
                f"interval {iv.onset}–{iv.offset} ends after the last frame ({self.n_frames - 1})"
            )
