"""One review state per video layer, shared by every dock (spot, curves, timeline, table).

The docks never hold their own copies of intervals: they all look up the :class:`VideoReview`
of the chosen video layer, which owns the autosaved :class:`ReviewSession` and the spotter
results (curves), and they redraw from its model's signals. So an accept in the table is the
same edit as an accept on the timeline. A run's curves are kept beside the session
(:mod:`napari_mespot.core.review.runs`) and read back when the video is reopened.

The review keys (:mod:`.review_keys`) do not wait for a review dock either: they are bound in a
viewer as soon as there is something to review there — when napari-mespot hands napari a video
layer (reader, sample data) and when a review state is created for a layer (a spotter run, a
script): :data:`review_created` says so, and :mod:`.review_keys` binds them, once per viewer.
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import Any

from psygnal import Signal, SignalGroup, SignalInstance

from napari_mespot.core.agreement import VideoAgreement
from napari_mespot.core.compare import Outcome
from napari_mespot.core.labels import read_labels
from napari_mespot.core.labels.base import entry_for_video
from napari_mespot.core.media.source import VideoSource
from napari_mespot.core.review.events import DEFAULT_EVENT_IOU, EventIndex
from napari_mespot.core.review.model import ReviewModel
from napari_mespot.core.review.runs import CURVES_KEY, load_run, save_run
from napari_mespot.core.review.session import ReviewSession
from napari_mespot.core.spotters.base import CurvesFileError, SpotResult

log = logging.getLogger(__name__)

GROUND_TRUTH = "ground truth"


def unwrap(obj: Any) -> Any:
    """napari wraps plugin objects in proxies (their module names start with "napari"); the core
    must get the real object."""
    return getattr(obj, "__wrapped__", obj)


def video_layers(viewer) -> list:
    """The Image layers that hold a mespot video source."""
    from napari.layers import Image

    return [
        layer
        for layer in viewer.layers
        if isinstance(layer, Image) and isinstance(unwrap(layer.data), VideoSource)
    ]


class VideoReviewEvents(SignalGroup):
    #: (run name) when a spotter result is added.
    results_changed = Signal(str)
    #: () when a comparison has marked intervals as tp / fp / fn.
    outcomes_changed = Signal()
    #: () when the agreement with a second annotator is computed (or cleared).
    agreement_changed = Signal()


class VideoReview:
    """The session and spotter results of one video layer."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.video: VideoSource = unwrap(layer.data)
        self.session = ReviewSession.open(self.video)
        self.results: dict[str, SpotResult] = {}
        #: run → why its curves are not shown (a missing or damaged curves file): one line each.
        self.curve_problems: dict[str, str] = {}
        #: track name → interval id → "tp" | "fp" | "fn", from the last comparison.
        self.outcomes: dict[str, dict[str, str]] = {}
        #: The agreement with a second annotator's labels of this video, from the Compare dock.
        self.agreement: VideoAgreement | None = None
        self.events = VideoReviewEvents()
        self._events: EventIndex | None = None  # built on first use, again when a track changes
        self.model.events.tracks_changed.connect(self._forget_events)
        self._load_runs()
        self._load_ground_truth()

    @property
    def model(self) -> ReviewModel:
        return self.session.model

    @property
    def fps(self) -> float:
        return self.video.fps

    def event_index(self, min_iou: float = DEFAULT_EVENT_IOU) -> EventIndex:
        """The events of this video's candidates at ``min_iou`` (kept until a track changes)."""
        if self._events is None or self._events.min_iou != min_iou:
            self._events = EventIndex(self.model, min_iou=min_iou)
        return self._events

    def _forget_events(self, *_: Any) -> None:
        self._events = None

    def add_result(self, run: str, result: SpotResult) -> None:
        """Keep ``result``'s curves (beside the session too) and show its intervals as a
        read-only machine track."""
        self.results[run] = result
        self.curve_problems.pop(run, None)
        meta = {"method": result.method, "run": run}
        try:
            meta[CURVES_KEY] = save_run(self.session.path, run, result)
        except OSError as exc:
            self.curve_problems[run] = f"run {run!r}: its curves could not be kept for a reopen ({exc})"
            log.warning(self.curve_problems[run])
        self.model.add_track(run, result.intervals, kind="machine", **meta)
        self.events.results_changed.emit(run)

    def _load_runs(self) -> None:
        """The curves of the runs a reopened session holds; a file that cannot be read is one
        line in :attr:`curve_problems` (and the log), never an error: the review goes on."""
        for track in self.model.tracks.values():
            if track.kind != "machine":
                continue
            try:
                result = load_run(self.session.path, track, self.model.n_frames)
            except CurvesFileError as exc:
                self.curve_problems[track.name] = str(exc)
                log.warning("%s", exc)
                continue
            if result is not None:
                self.results[track.name] = result

    def set_outcomes(
        self, runs: dict[str, dict[str, Outcome]], reference: str, reference_outcomes: dict[str, str]
    ) -> None:
        """Publish a comparison's per-interval outcomes for the views that mark them."""
        self.outcomes = {run: {i: o.outcome for i, o in per_run.items()} for run, per_run in runs.items()}
        self.outcomes[reference] = dict(reference_outcomes)
        self.events.outcomes_changed.emit()

    def set_agreement(self, agreement: VideoAgreement | None) -> None:
        """Publish the agreement with a second annotator for the views that mark it."""
        self.agreement = agreement
        self.events.agreement_changed.emit()

    def unique_run_name(self, method: str) -> str:
        k = 1
        while f"{method} {k}" in self.model.tracks:
            k += 1
        return f"{method} {k}"

    def _load_ground_truth(self) -> None:
        """Show the ground truth that came with the layer (the sample's), once per session."""
        path = self.layer.metadata.get("ground_truth")
        if path and GROUND_TRUTH not in self.model.tracks:
            self.load_ground_truth(path)

    @property
    def names(self) -> tuple[str, ...]:
        """What a label file may call this video: the layer's name, the file's stem or name."""
        return self.layer.name, Path(self.video.path).stem, Path(self.video.path).name

    def load_ground_truth(self, path: str | Path) -> int:
        """Read a label file (any readable format) and show this video's entry as the
        read-only ground-truth track; return how many intervals it holds.

        The entry is the one named like the layer (or the video file); a file with a single
        video is taken as this video's.
        """
        _, entry = entry_for_video(read_labels(path).videos, self.names, path)
        self.model.add_track(GROUND_TRUTH, entry.intervals, kind="gt", path=str(path))
        return len(entry.intervals)


_REVIEWS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: Emits the layer whose review state was just made; the review keys
#: (:mod:`.review_keys`) listen, to bind themselves in that layer's viewer.
review_created = SignalInstance((object,))


def review_for(layer) -> VideoReview:
    """The review state of ``layer``, created (and its session restored) on first use.

    Raises :class:`~napari_mespot.core.review.session.SessionError` when the sidecar beside the video
    belongs to another video or is damaged: the dock shows the message and edits nothing.
    """
    layer = unwrap(layer)
    review = _REVIEWS.get(layer)
    if review is None:
        review = VideoReview(layer)
        _REVIEWS[layer] = review
        review_created.emit(layer)
    return review
