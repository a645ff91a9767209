"""Compare spotter runs against a reference track of one video, interval by interval.

The counts come from :mod:`.metrics` (docs/architecture.md §6) so the numbers shown beside a video are the
numbers ``mespot eval`` prints for it. On top, every interval gets its outcome — a prediction
is a true or false positive, a reference interval is found or missed — so the timeline can mark
each one and a reviewer can jump straight to the misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from napari_mespot.core.intervals import Interval
from napari_mespot.core.metrics import Evaluation, evaluate, match_intervals
from napari_mespot.core.review.model import CORRECTED, ReviewModel

OUTCOMES = ("tp", "fp", "fn")


@dataclass(frozen=True)
class Outcome:
    """What the matching made of one interval: ``tp``, ``fp`` (prediction) or ``fn`` (missed)."""

    outcome: str
    partner: str | None = None  # id of the matched interval on the other side
    iou: float = 0.0


@dataclass(frozen=True)
class Comparison:
    """One method track scored against the reference track."""

    reference: str
    method: str
    evaluation: Evaluation
    predictions: dict[str, Outcome]
    references: dict[str, Outcome]


def reference_intervals(model: ReviewModel, track: str) -> list[Interval]:
    """The intervals a track vouches for: all of a ground-truth or machine track, and only the
    kept (accepted, edited, added) intervals of the corrected track."""
    return model.kept() if track == CORRECTED else model.tracks[track].sorted()


def compare(
    model: ReviewModel, reference: str, methods: Sequence[str], k: float = 0.5, matching: str = "one-to-one"
) -> list[Comparison]:
    """Score each track in ``methods`` against ``reference`` on this video."""
    ref = reference_intervals(model, reference)
    out = []
    for method in methods:
        pred = reference_intervals(model, method)
        evaluation = evaluate({"video": ref}, {"video": pred}, k=k, matching=matching)
        predictions = {iv.id: Outcome("fp") for iv in pred}
        references = {iv.id: Outcome("fn") for iv in ref}
        for kind in ("me", "mae"):
            g = [iv for iv in ref if iv.type == kind]
            p = [iv for iv in pred if iv.type == kind]
            for gi, pi, value in match_intervals(g, p, k, matching):
                predictions[p[pi].id] = Outcome("tp", g[gi].id, value)
                if references[g[gi].id].outcome == "fn" or value > references[g[gi].id].iou:
                    references[g[gi].id] = Outcome("tp", p[pi].id, value)
        out.append(Comparison(reference, method, evaluation, predictions, references))
    return out
