"""What the review keys do, as plain calls on a :class:`~napari_mespot.core.review.model.ReviewModel`.

The keyboard workflow (the timeline, the table, the keys panel and napari's canvas all send the
same keys) is review logic, not Qt: selecting, stepping to the next unreviewed event (the copies
of one expression that several runs found, :mod:`.events`), snapping a boundary to the run's
curve (:mod:`.snapping`) and every edit live here, testable without a window, and the Qt layer
only maps keys to these calls, moves the viewer to the frame they name and shows their messages.
A refusal is a :class:`~napari_mespot.core.review.model.ReviewError` whose text is meant for the
annotator.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import parse_au_string
from napari_mespot.core.review.events import Event, EventIndex
from napari_mespot.core.review.model import CORRECTED, ReviewError, ReviewModel
from napari_mespot.core.review.snapping import evidence_curve, movement_near, snap_apex
from napari_mespot.core.spotters.base import SpotResult

#: Length of an interval made with "new interval" (an ME is shorter than 0.5 s).
NEW_INTERVAL_SECONDS = 0.3
#: What a key that needs a selection says without one.
NO_SELECTION = "select an interval first (N: next event, or click one on the timeline)"


class Selection(NamedTuple):
    """The selected interval: its track, its id, and the interval as it now stands."""

    track: str
    interval_id: str
    current: Interval


def selected(model: ReviewModel) -> Selection | None:
    """The selection, or ``None``.

    For a candidate already decided on, "as it now stands" is the corrected copy: that is what
    the annotator sees and edits next.
    """
    if model.selection is None:
        return None
    track, interval_id = model.selection
    if track not in model.tracks or interval_id not in model.tracks[track].intervals:
        return None  # e.g. an added interval that was undone
    current = model.find(track, interval_id)
    if track != CORRECTED:
        current = model.decision_for(track, interval_id) or current
    return Selection(track, interval_id, current)


def require_selection(model: ReviewModel) -> Selection:
    found = selected(model)
    if found is None:
        raise ReviewError(NO_SELECTION)
    return found


def selected_event(model: ReviewModel, events: EventIndex) -> Event | None:
    """The event of the selection (see :meth:`EventIndex.event_of_selection`), or ``None``."""
    found = selected(model)
    return None if found is None else events.event_of_selection(found.track, found.interval_id)


def step_event(model: ReviewModel, events: EventIndex, frame: int, step: int) -> Event:
    """Select the next (``step`` > 0) or previous event from ``frame`` that nobody decided on,
    and return it: its copies from every run are one expression, reviewed once. The copy
    selected is the one whose span agrees best with the others (:meth:`Event.representative`)."""
    event = events.next_event(frame, step, current=selected_event(model, events))
    if event is None:
        raise ReviewError(f"no unreviewed candidate {'after' if step > 0 else 'before'} frame {frame}")
    track, interval = event.representative()
    model.select(track, interval.id)
    return event


def accept(model: ReviewModel, events: EventIndex | None = None) -> None:
    """Accept the selection; with ``events``, its event's other undecided copies are rejected
    as duplicates in the same edit (one undo takes it all back)."""
    track, interval_id, _ = require_selection(model)
    event = selected_event(model, events) if events is not None else None
    model.accept(track, interval_id, settles=event.keys if event is not None else ())


def reject(model: ReviewModel) -> None:
    track, interval_id, _ = require_selection(model)
    model.reject(track, interval_id)


def require_frame(model: ReviewModel, frame: int, what: str) -> int:
    """``frame`` when it is a frame of the reviewed video; otherwise the annotator is told.

    napari's slider spans its longest layer, so beside a longer video the playhead can stand
    past this clip's last frame: a key must not turn that into an interval at the last frame.
    """
    last = model.n_frames - 1
    if not 0 <= frame <= last:
        raise ReviewError(f"{what}: frame {frame} is outside this video (frames 0–{last})")
    return int(frame)


def set_at_frame(model: ReviewModel, field: str, frame: int) -> None:
    """Move the selected interval's ``onset``, ``apex`` or ``offset`` to ``frame``."""
    track, interval_id, _ = require_selection(model)
    model.edit(track, interval_id, **{field: require_frame(model, frame, f"cannot set the {field}")})


def curve_run(model: ReviewModel) -> str:
    """The spotter run whose curves say where the selected interval's movement is: its own
    track, or the run of the candidate a corrected interval was decided from."""
    track, _, current = require_selection(model)
    if track == CORRECTED:
        track = (current.get_extra("origin") or "").rpartition("/")[0]
    if track not in model.tracks or model.tracks[track].kind != "machine":
        made = "was added by hand" if not track else f"comes from {track!r}, not a spotter run"
        raise ReviewError(f"no curve to snap to: this interval {made} (set the frame with Q/W/E)")
    return track


def snap(
    model: ReviewModel,
    field: str,
    frame: int,
    results: Mapping[str, SpotResult],
    problems: Mapping[str, str] | None = None,
) -> int:
    """Move the selected interval's ``onset`` or ``offset`` to where its run's motion curve
    leaves or regains its baseline near ``frame``, or its ``apex`` to the curve's peak within
    it (:mod:`.snapping`, on the run's :func:`~.snapping.evidence_curve`); the new frame.

    ``results`` are the runs' spot results by run name, ``problems`` why a run's curves could
    not be read: a run without curves is refused with that one line.
    """
    run = curve_run(model)
    track, interval_id, current = require_selection(model)
    result = results.get(run)
    if result is None:
        why = (problems or {}).get(run) or f"run {run!r} kept no curves (spotted before curves were kept)"
        raise ReviewError(f"no curve to snap to: {why}")
    curve = evidence_curve(result.curves, result.curve_labels, result.thresholds)
    frame = require_frame(model, frame, f"cannot snap the {field}")
    if field == "apex":
        value = snap_apex(curve, current.onset, current.offset)
        where = f"within {current.onset}–{current.offset}"
    else:
        movement = movement_near(curve, frame, model.fps)
        value = None if movement is None else getattr(movement, field)
        where = f"near frame {frame}"
    if value is None:
        raise ReviewError(f"cannot snap the {field}: run {run!r}'s curve shows no movement {where}")
    model.edit(track, interval_id, **{field: value})
    return value


def toggle_type(model: ReviewModel) -> None:
    track, interval_id, current = require_selection(model)
    model.edit(track, interval_id, type="mae" if current.type == "me" else "me")


def set_aus(model: ReviewModel, text: str) -> None:
    """Set the selected interval's AUs from an annotator's AU string (``L12+4``)."""
    track, interval_id, _ = require_selection(model)
    aus = parse_au_string(text)
    if text.strip() and not aus:
        raise ReviewError(f"no AU codes in {text!r}; write them like 1+2+L12")
    model.edit(track, interval_id, aus=aus, aus_raw=text.strip())


def new_interval(model: ReviewModel, frame: int, seconds: float = NEW_INTERVAL_SECONDS) -> Interval:
    """Add (and select) an interval of ``seconds`` starting at ``frame``, cut at the clip's end;
    refused where fewer than two frames of the clip are left."""
    onset = require_frame(model, frame, "cannot add an interval")
    if onset == model.n_frames - 1:
        raise ReviewError(f"cannot add an interval: frame {onset} is the video's last frame")
    length = max(2, round(seconds * model.fps))
    interval = model.add(onset, min(onset + length - 1, model.n_frames - 1))
    model.select(CORRECTED, interval.id)
    return interval


def delete(model: ReviewModel) -> None:
    """Delete an added interval, or undo the decision on a candidate."""
    track, _, current = require_selection(model)
    if current.id not in model.corrected.intervals:
        raise ReviewError("nothing to delete: this candidate has no decision (R rejects it)")
    model.delete(current.id)
    if track == CORRECTED:
        model.select(None)


def undo(model: ReviewModel) -> str:
    """Undo the last edit; returns what was undone."""
    if not model.undo():
        raise ReviewError("nothing to undo")
    return model.log[-1].action


def redo(model: ReviewModel) -> str:
    """Redo the last undone edit; returns what was redone."""
    if not model.redo():
        raise ReviewError("nothing to redo")
    return model.log[-1].action
