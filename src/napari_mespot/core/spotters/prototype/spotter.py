"""The AU-prototype spotter end to end (paper §2.4): video → intervals, curves and thresholds.

For every face segment (a run of frames with a face), windows of N frames slide along
(:mod:`.windows`); in each window the eye and mouth regions are fitted on the first frame, the
flow from that frame to every later one is computed once per region, matched against every
prototype of the region (:mod:`.matching`), and the resulting curves are filtered, thresholded
and fused into intervals (:mod:`.peaks`).

Results:

- ``apex`` is the frame where the best-scoring AU's filtered curve peaks within the interval.
- ``score`` is that AU's largest eq. 24 margin divided by its θ_j (> 1 for every interval;
  2 means the curve stood out twice as far as required).
- ``curves`` hold, per frame, the filtered curve of the window that decided that frame (the
  frames from a window's start up to the next window's start); ``raw_curves`` the unfiltered
  matching index p_i^j of eq. 22. A window's curves are 0 on its reference frame by
  definition (no motion relative to itself).
- Intervals re-found by a later window (which may overlap an earlier one) are dropped when
  they overlap an already reported interval by more than δ, so every expression is reported once.

With ``normalise="floor"`` (ours) the windows step by N/2 (:mod:`.windows`), every window's
curves are computed first, and each AU's filtered curve is divided by the video's robust scale
of that curve (:mod:`.normalise`) before eq. 24: θ_j is then relative (a margin in units of the
video's noise floor), and ``curves`` hold the normalised curves. With ``reliability`` (ours)
the walk leaves out unreliable spans (:mod:`.walk`), reported in the result's ``unreliable``;
no window starts and no interval lies inside one. A note names every setting that differs from
those the prototypes' thresholds were calibrated under (:func:`.calibration.calibration_differences`).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np

from napari_mespot.core import registry
from napari_mespot.core.face.border import AT_BORDER
from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.intervals import Interval
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import SpotResult
from napari_mespot.core.spotters.prototype.calibration import calibration_differences
from napari_mespot.core.spotters.prototype.curves import flow_settings, resolve_device
from napari_mespot.core.spotters.prototype.normalise import curve_unit, normalised, video_floor
from napari_mespot.core.spotters.prototype.peaks import (
    FusedInterval,
    au_intervals,
    check_cutoff,
    clip_negative,
    expression_type,
    fuse,
    lowpass,
    overlap_index,
)
from napari_mespot.core.spotters.prototype.prototypes import PrototypeError, PrototypeSet, prototype_norms
from napari_mespot.core.spotters.prototype.settings import PrototypeSettings
from napari_mespot.core.spotters.prototype.sustained import sustained_intervals
from napari_mespot.core.spotters.prototype.walk import Window, walk
from napari_mespot.core.spotters.prototype.windows import frames_in, next_start, settle

METHOD = "prototype"


def resolve_thresholds(prototypes: PrototypeSet, settings: PrototypeSettings) -> np.ndarray:
    """θ_j per prototype: the settings' override, else the calibrated value; all must exist."""
    unknown = set(settings.thresholds) - set(prototypes.aus)
    if unknown:
        raise PrototypeError(f"thresholds given for AUs without a prototype: {sorted(unknown)}")
    theta = np.array(
        [
            settings.thresholds.get(p.au, np.nan if p.threshold is None else p.threshold)
            for p in prototypes.prototypes
        ]
    )
    missing = [p.label for p, t in zip(prototypes.prototypes, theta, strict=True) if not np.isfinite(t)]
    if missing:
        raise PrototypeError(
            f"no threshold for {', '.join(missing)}: calibrate the prototypes "
            "(mespot prototypes calibrate) or give thresholds"
        )
    return theta


def check_usable(prototypes: PrototypeSet, settings: PrototypeSettings) -> tuple[np.ndarray, str]:
    """θ_j and the flow method of a run with these prototypes and settings, or the
    :class:`PrototypeError` that says why they cannot be used together. The model loader runs it
    too, so that a dispatcher of many videos fails once, before the first, not once per video."""
    if len(prototypes) == 0:
        raise PrototypeError("the prototype set is empty")
    theta = resolve_thresholds(prototypes, settings)
    method, _ = flow_settings(prototypes, settings)
    return theta, method


def _to_interval(
    g: FusedInterval, offset: int, prototypes: PrototypeSet, fps: float, me_max_s: float
) -> Interval:
    best = g.best
    aus = tuple(sorted({prototypes.prototypes[a.curve].au for a in g.members}))
    onset, end = offset + g.start, offset + g.end
    detail = ", ".join(
        f"{prototypes.prototypes[a.curve].label} {a.score:.2f}"
        for a in sorted(g.members, key=lambda a: a.start)
    )
    return Interval(
        onset=onset,
        offset=end,
        apex=offset + best.apex,
        type=expression_type(g.length, fps, me_max_s),
        aus=aus,
        score=round(best.score, 4),
        source=METHOD,
        note=f"AU scores (margin/threshold): {detail}",
        id=f"{METHOD}-{onset}-{end}",
    )


class _Detector:
    """Peak detection, fusion and window planning over a video's windows (§2.4.2, eq. 19–26),
    and the per-frame curves a result shows."""

    def __init__(
        self, prototypes: PrototypeSet, settings: PrototypeSettings, theta: np.ndarray, fps: float, n: int
    ) -> None:
        self.prototypes, self.settings, self.theta, self.fps = prototypes, settings, theta, fps
        self.length = frames_in(settings.window_s, fps, minimum=3)
        self.m = frames_in(settings.search_radius_s, fps)
        self.regions = [p.region for p in prototypes.prototypes]
        self.intervals: list[Interval] = []
        self.curves = np.full((len(prototypes), n), np.nan, dtype=np.float32)
        self.raw_curves = np.full((len(prototypes), n), np.nan, dtype=np.float32)

    def window(self, w: Window, filtered: np.ndarray, fixed_next: int | None = None) -> int:
        """Detect in one window's filtered, clipped curves; report what it settles; keep its
        curves up to the next window's start (returned)."""
        st = self.settings
        reach = frames_in(st.boundary_reach_s, self.fps, minimum=0)
        shape = (st.boundaries, st.boundary_level, st.valley_noise, reach)
        found = au_intervals(filtered, self.m, self.theta, *shape)
        if st.sustained and not any(iv.onset <= w.start <= iv.offset for iv in self.intervals):
            # A reference frame inside an expression makes its return look like a held rise of
            # another AU (the way back projects onto other prototypes): sustained motion is
            # measured from a reference at rest only. Eq. 24 is immune (nothing comes back).
            found += sustained_intervals(filtered, self.m, self.theta, *shape)
        spans = {(w.start + g.start, w.start + g.end): g for g in fuse(found, self.settings.fusion_delta)}
        plan = settle(
            list(spans),
            w.start,
            w.end,
            self.length,
            guard=self.m,
            lead=self.m // 2,
            final=w.final,
            fixed_next=None if w.final else fixed_next,
        )
        delta = st.fusion_delta
        for span in plan.reported:
            candidate = _to_interval(spans[span], w.start, self.prototypes, self.fps, self.settings.me_max_s)
            if not any(overlap_index((iv.onset, iv.offset), span) > delta for iv in self.intervals):
                self.intervals.append(candidate)
        keep = w.end + 1 if w.final else plan.next_start
        self.curves[:, w.start : keep] = filtered[:, : keep - w.start]
        self.raw_curves[:, w.start : keep] = w.raw[:, : keep - w.start]
        return plan.next_start

    def filtered(self, raw: np.ndarray) -> np.ndarray:
        """The settings' low-pass filter on a window's curves (before any clipping)."""
        return lowpass(raw, self.fps, self.settings.lowpass_cutoff_hz, self.settings.lowpass_order)

    def adaptive(self, w: Window) -> int:
        """The paper's walk: detect as each window arrives, the next starts after what it found."""
        return self.window(w, clip_negative(self.filtered(w.raw)))

    def fixed(self, w: Window) -> int:
        """The fixed walk of normalised curves: every window N/2 after the previous one (eq. 19)."""
        return next_start(w.start, self.length, None)

    def normalised_windows(self, windows: tuple[Window, ...]) -> np.ndarray:
        """Detect in every window of a fixed walk, its curves divided by the video's scale
        (:mod:`.normalise`); returns the scale."""
        filtered = [self.filtered(w.raw) for w in windows]
        scale = video_floor(filtered, self.fps, prototype_norms(self.prototypes), self.regions)
        for w, f in zip(windows, filtered, strict=True):
            self.window(w, clip_negative(normalised(f, scale)), fixed_next=self.fixed(w))
        return scale


def spot(
    video: Any,
    prototypes: PrototypeSet,
    settings: PrototypeSettings | None = None,
    *,
    landmarks: FaceLandmarks | None = None,
    name: str | None = None,
) -> Generator[Progress, None, SpotResult]:
    """Spot expressions in ``video`` (a :class:`~napari_mespot.core.media.source.VideoSource` or any
    (n, H, W, 3) uint8 array with an ``fps`` attribute) with ``prototypes``.

    ``landmarks`` default to the settings' provider, cached beside the video. ``name`` is the
    result's video name (default: the file stem).
    """
    settings = settings or PrototypeSettings()
    theta, method = check_usable(prototypes, settings)
    device, notes = resolve_device(settings.device, method)
    notes += calibration_differences(prototypes, settings)
    torch_device = "cuda" if device == "cuda" else None
    fps = float(video.fps)
    n = len(video)
    try:
        check_cutoff(settings.lowpass_cutoff_hz, fps)
    except ValueError as exc:
        raise PrototypeError(str(exc)) from None
    if landmarks is None:
        provider = registry.landmark_provider(settings.landmarks)
        landmarks = yield from landmarks_for_video(video, provider)
    if len(landmarks) != n:
        raise PrototypeError(f"landmarks cover {len(landmarks)} frames, the video has {n}")

    detector = _Detector(prototypes, settings, theta, fps, n)
    relative = settings.normalise != "off"
    visit = detector.fixed if relative else detector.adaptive
    walked = yield from walk(video, landmarks, prototypes, settings, visit, torch_device)
    cut = [s for s in walked.skipped if s.reason == AT_BORDER]
    notes += tuple(f"frames {s.start}-{s.end}: the {s.reason}; not spotted there" for s in cut)
    if relative:
        scale = detector.normalised_windows(walked.windows)
        notes += (
            f"curves in units of this video's noise floor (per AU: "
            f"{', '.join(f'{lab} {s:.3g}' for lab, s in zip(prototypes.labels, scale, strict=True))})",
        )
    return SpotResult.for_video(
        video,
        METHOD,
        detector.intervals,
        name,
        curve_labels=prototypes.labels,
        curves=detector.curves,
        thresholds=theta,
        raw_curves=detector.raw_curves,
        windows=tuple((w.start, w.end) for w in walked.windows),
        skipped=walked.skipped,
        unreliable=walked.unreliable,
        settings=settings,
        device=device,
        notes=notes,
        curve_unit=curve_unit(settings.normalise),
    )
