"""Choosing the peak thresholds θ_j on labelled *training* videos (never on the test videos).

The paper does not say how θ_j was set. We choose each AU's θ_j on its own, from eq. 24's margin
(the smaller of a point's two differences; a point is a peak point when margin > θ_j):

1. Every training video is covered by windows with the fixed step N/2 (eq. 19; the adaptive
   step depends on θ itself), the curves are filtered (and, with ``normalise="floor"``, divided
   by the video's noise floor, :mod:`.normalise`) and clipped as when spotting, and each frame
   keeps its largest margin over the windows that contain it. With ``reliability`` the walk
   leaves out the unreliable spans exactly as spotting does (:mod:`.walk`).
2. For AU j, every ground-truth expression that contains j is *found* at θ when its largest
   margin exceeds θ; every run of frames with margin > θ that touches no ground-truth
   expression at all is a *false alarm* (a run over another AU's expression is not: fusion
   merges it into that expression).
3. θ_j maximises F1 = 2·found / (2·found + false alarms + missed) over a geometric grid; when
   several grid values tie, the middle of the longest run of best values is taken (the most
   robust choice). An AU without training expressions gets the largest margin seen on the
   training videos, so it never fires on them; one that does not move at all in them gets half
   the matching index of its own prototype (the index of its mean motion at half strength).

This is an approximation of the full spotter (fixed windows, no fusion), chosen because it
makes calibration one pass of flow per video plus a cheap search; with ``normalise="floor"`` the
spotter's windows are these same fixed windows.

Thresholds mean something only under the settings that shape the curves they were chosen on
(:data:`CURVE_SETTINGS`); the file records them, and :func:`calibration_differences` names every
one a run changes.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from napari_mespot.core import registry
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.intervals import Interval, runs
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.prototype.normalise import normalised, video_floor
from napari_mespot.core.spotters.prototype.peaks import check_cutoff, clip_negative, lowpass, peak_margin
from napari_mespot.core.spotters.prototype.prototypes import PrototypeError, PrototypeSet, prototype_norms
from napari_mespot.core.spotters.prototype.settings import PrototypeSettings
from napari_mespot.core.spotters.prototype.walk import walk
from napari_mespot.core.spotters.prototype.windows import frames_in, next_start

GRID_SIZE = 400
#: The settings that shape the curves θ_j is compared with, and the value a calibration record
#: that predates a setting implies for it (every such file was calibrated without it).
CURVE_SETTINGS: dict[str, Any] = {
    "window_s": None,
    "search_radius_s": None,
    "lowpass_cutoff_hz": None,
    "lowpass_order": None,
    "head_motion": None,
    "normalise": "off",
}


@dataclass(frozen=True)
class TrainingVideo:
    """A training video (VideoSource or array with ``fps``), its ground truth and landmarks."""

    name: str
    video: Any
    intervals: tuple[Interval, ...]
    landmarks: FaceLandmarks | None = None


def video_margins(
    video: Any, prototypes: PrototypeSet, settings: PrototypeSettings, landmarks: FaceLandmarks | None = None
) -> Generator[Progress, None, np.ndarray]:
    """Per frame and AU, the largest eq. 24 margin over half-overlapping windows: (V, n); NaN
    where no window looked (frames without a face, unreliable spans)."""
    from napari_mespot.core.face.cache import landmarks_for_video

    fps, n = float(video.fps), len(video)
    try:
        check_cutoff(settings.lowpass_cutoff_hz, fps)
    except ValueError as exc:
        raise PrototypeError(str(exc)) from None
    if landmarks is None:
        landmarks = yield from landmarks_for_video(video, registry.landmark_provider(settings.landmarks))
    length = frames_in(settings.window_s, fps, minimum=3)
    m = frames_in(settings.search_radius_s, fps)
    half_step = lambda w: next_start(w.start, length, None)  # noqa: E731  (eq. 19 alone)
    walked = yield from walk(video, landmarks, prototypes, settings, half_step)
    filtered = [
        lowpass(w.raw, fps, settings.lowpass_cutoff_hz, settings.lowpass_order) for w in walked.windows
    ]
    if settings.normalise != "off":
        regions = [p.region for p in prototypes.prototypes]
        scale = video_floor(filtered, fps, prototype_norms(prototypes), regions)
        filtered = [normalised(f, scale) for f in filtered]
    out = np.full((len(prototypes), n), -np.inf)
    looked = np.zeros(n, dtype=bool)
    for w, curves in zip(walked.windows, filtered, strict=True):
        span = slice(w.start, w.end + 1)
        np.maximum(out[:, span], peak_margin(clip_negative(curves), m), out=out[:, span])
        looked[span] = True
    out[:, ~looked] = np.nan
    return out


def record_settings(settings: PrototypeSettings) -> dict[str, Any]:
    """The settings a calibration record keeps: those shaping the curves, and the walk's check."""
    return {**{key: getattr(settings, key) for key in CURVE_SETTINGS}, "reliability": settings.reliability}


def calibration_differences(prototypes: PrototypeSet, settings: PrototypeSettings) -> tuple[str, ...]:
    """A note naming every curve-shaping setting of ``settings`` that differs from the one the
    prototypes' thresholds were calibrated under (none when the settings give every θ_j, or
    the file records no calibration)."""
    recorded = prototypes.calibration.get("settings")
    if not recorded or set(settings.thresholds) >= set(prototypes.aus):
        return ()
    differ = []
    for key, implied in CURVE_SETTINGS.items():
        was = recorded.get(key, implied)
        now = getattr(settings, key)
        if was is not None and was != now:
            differ.append(f"{key} {was!r} there, {now!r} here")
    if not differ:
        return ()
    units = (
        " (relative and absolute thresholds are in different units)"
        if any(d.startswith("normalise") for d in differ)
        else ""
    )
    return (
        f"the thresholds were calibrated under other settings: {'; '.join(differ)}{units}; "
        "recalibrate (mespot prototypes calibrate) or use the preset they were made for",
    )


def _f1_curve(
    grid: np.ndarray, events: list[float], margins: Sequence[np.ndarray], busy: Sequence[np.ndarray]
) -> np.ndarray:
    ev = np.asarray(events, dtype=np.float64)
    f1 = np.empty(len(grid))
    for g, theta in enumerate(grid):
        found = int(np.count_nonzero(ev > theta))
        alarms = 0
        for margin, mask in zip(margins, busy, strict=True):
            for s, e in runs(np.nan_to_num(margin, nan=-np.inf) > theta):
                alarms += not mask[s : e + 1].any()
        denominator = 2 * found + alarms + (len(ev) - found)
        f1[g] = 2 * found / denominator if denominator else 0.0
    return f1


def _middle_of_best(grid: np.ndarray, f1: np.ndarray) -> float:
    best = f1 >= f1.max() - 1e-12
    longest = max(runs(best), key=lambda r: (r[1] - r[0], -r[0]))
    return float(np.sqrt(grid[longest[0]] * grid[longest[1]]))


def choose_thresholds(
    margins: Sequence[np.ndarray],
    truths: Sequence[Iterable[Interval]],
    aus: Sequence[int],
    fallback: Mapping[int, float] | None = None,
) -> tuple[dict[int, float], dict[str, Any]]:
    """θ_j per AU from per-video (V, n) margins and ground truth (see the module docstring).

    ``fallback[j]`` is used for an AU that neither occurs in the ground truth nor ever gives a
    positive margin (nothing to calibrate on); without one that is an error.
    """
    truths = [tuple(t) for t in truths]
    busy = []
    for margin, truth in zip(margins, truths, strict=True):
        mask = np.zeros(margin.shape[1], dtype=bool)
        for iv in truth:
            mask[iv.onset : iv.offset + 1] = True
        busy.append(mask)
    thresholds: dict[int, float] = {}
    report: dict[str, Any] = {}
    for v, au in enumerate(aus):
        curves = [m[v] for m in margins]
        events = [
            float(np.nanmax(np.concatenate([[0.0], c[iv.onset : iv.offset + 1]])))
            for c, truth in zip(curves, truths, strict=True)
            for iv in truth
            if au in iv.aus
        ]
        finite = np.concatenate([c[np.isfinite(c) & (c > 0)] for c in curves] + [np.array([])])
        if finite.size == 0:
            if not events and fallback is not None and au in fallback:
                thresholds[au] = float(fallback[au])
                report[f"AU{au}"] = {"events": 0, "rule": "fallback (no motion of this AU in training)"}
                continue
            raise PrototypeError(f"AU{au}: the training videos give no positive margin to calibrate on")
        if not events:
            thresholds[au] = float(finite.max())
            report[f"AU{au}"] = {"events": 0, "rule": "largest training margin (no training expression)"}
            continue
        grid = np.geomspace(np.quantile(finite, 0.05), finite.max(), GRID_SIZE)
        f1 = _f1_curve(grid, events, curves, busy)
        thresholds[au] = _middle_of_best(grid, f1)
        report[f"AU{au}"] = {"events": len(events), "f1": round(float(f1.max()), 4)}
    return thresholds, report


def calibrate(
    videos: Sequence[TrainingVideo], prototypes: PrototypeSet, settings: PrototypeSettings | None = None
) -> Generator[Progress, None, PrototypeSet]:
    """The prototypes with θ_j chosen on ``videos`` and the choice recorded in ``calibration``."""
    settings = settings or PrototypeSettings()
    if not videos:
        raise PrototypeError("calibration needs at least one labelled training video")
    margins = []
    for k, tv in enumerate(videos):
        gen = video_margins(tv.video, prototypes, settings, tv.landmarks)
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                margins.append(stop.value)
                break
            yield Progress(k, len(videos), f"{tv.name}: {p.message}")
    # An AU the training videos never show nor move: half the matching index of its own mean motion.
    fallback = {p.au: 0.5 * float(np.sum(p.field.astype(np.float64) ** 2)) for p in prototypes.prototypes}
    thresholds, report = choose_thresholds(margins, [tv.intervals for tv in videos], prototypes.aus, fallback)
    record = {
        "rule": "per-AU F1 of eq. 24 margins on training videos (see calibration.py)",
        "videos": [tv.name for tv in videos],
        "settings": record_settings(settings),
        "per_au": report,
    }
    yield Progress(len(videos), len(videos), "thresholds chosen")
    return prototypes.with_thresholds(thresholds, record)
