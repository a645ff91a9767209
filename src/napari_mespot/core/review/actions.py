"""What the review keys do, as plain calls on a :class:`~napari_mespot.core.review.model.ReviewModel`.

The keyboard workflow (the timeline, the table, the keys panel and napari's canvas all send the
same keys) is review logic, not Qt: selecting, stepping to the next unreviewed candidate and
every edit live here, testable without a window, and the Qt layer only maps keys to these calls,
moves the viewer to the frame they name and shows their messages. A refusal is a
:class:`~napari_mespot.core.review.model.ReviewError` whose text is meant for the annotator.
"""

from __future__ import annotations

from typing import NamedTuple

from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import parse_au_string
from napari_mespot.core.review.events import candidate_tracks
from napari_mespot.core.review.model import CORRECTED, ReviewError, ReviewModel

#: Length of an interval made with "new interval" (an ME is shorter than 0.5 s).
NEW_INTERVAL_SECONDS = 0.3
#: What a key that needs a selection says without one.
NO_SELECTION = "select an interval first (N: next candidate, or click one on the timeline)"


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


def step_candidate(model: ReviewModel, frame: int, step: int) -> Interval:
    """Select the next (``step`` > 0) or previous unreviewed candidate from ``frame`` over the
    machine tracks (the ground truth when there are none) and return it."""
    tracks = candidate_tracks(model)
    found = [(iv, name) for name in tracks if (iv := model.next_candidate(name, frame, step))]
    if not found:
        raise ReviewError(f"no unreviewed candidate {'after' if step > 0 else 'before'} frame {frame}")
    pick = min if step > 0 else max
    interval, track = pick(found, key=lambda pair: (pair[0].onset, pair[1]))
    model.select(track, interval.id)
    return interval


def accept(model: ReviewModel) -> None:
    track, interval_id, _ = require_selection(model)
    model.accept(track, interval_id)


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
