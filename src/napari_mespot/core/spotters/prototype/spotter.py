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
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from typing import Any

import numpy as np

from napari_mespot.core import registry
from napari_mespot.core.device import cuda_available
from napari_mespot.core.device import resolve_device as resolve_device_for
from napari_mespot.core.face.border import AT_BORDER, face_at_border
from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.flow.regions import window_region_flows
from napari_mespot.core.intervals import Interval
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import SpotResult
from napari_mespot.core.spotters.prototype.matching import CURVE_UNIT, matching_matrix
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
from napari_mespot.core.spotters.prototype.prototypes import PrototypeError, PrototypeSet
from napari_mespot.core.spotters.prototype.settings import PrototypeSettings
from napari_mespot.core.spotters.prototype.windows import face_segments, frames_in, settle

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


#: Flow methods with a batched torch port of OpenCV's (:mod:`napari_mespot.core.flow.torch.ports`,
#: :mod:`napari_mespot.core.flow.torch.dis`).
TORCH_FLOW_METHODS = ("farneback", "tvl1", "dis")
#: Those whose port ``auto`` sends to a GPU: Farneback and TV-L1 are a few hundred whole-image
#: operations per batch. DIS's port is exact only because it sweeps the patches in OpenCV's
#: propagation order, thousands of small sequential operations per window whatever the batch,
#: while OpenCV's DIS costs a few ms a pair per CPU core; so ``auto`` keeps DIS on the CPU
#: and its GPU port runs when ``cuda`` is asked for.
AUTO_GPU_FLOW_METHODS = ("farneback", "tvl1")


def resolve_device(device: str, method: str = "farneback") -> tuple[str, tuple[str, ...]]:
    """The device the ``method`` flows run on and a note when that is not what was asked for.

    ``auto`` takes the GPU when there is one and the method is in :data:`AUTO_GPU_FLOW_METHODS`,
    else the CPU; ``cuda`` takes it for any method with a torch port (the fallback follows
    :mod:`napari_mespot.core.device`).
    """
    if device == "auto":
        return ("cuda" if method in AUTO_GPU_FLOW_METHODS and cuda_available() else "cpu"), ()
    choice = resolve_device_for(device, f"the {method} flow")
    if device != "cpu" and method not in TORCH_FLOW_METHODS:
        return "cpu", (f"device cuda requested: {method} flow has no GPU implementation; it ran on the CPU",)
    return choice.device, (() if choice.note is None else (choice.note,))


def _resolved(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    from napari_mespot.core.flow.methods import get_method

    return {**get_method(method).defaults, **params}


def flow_settings(prototypes: PrototypeSet, settings: PrototypeSettings) -> tuple[str, dict[str, Any]]:
    """The flow method and parameters of a run: the prototypes' own.

    Settings naming another method, or parameters the prototypes were not learnt with, are a
    :class:`PrototypeError`: a prototype is the mean flow of one method, and another method's
    flow (other magnitudes, other smoothing) would be matched against it without any warning.
    """
    method, params = prototypes.flow_method, dict(prototypes.flow_params)
    if settings.flow_method is not None and settings.flow_method != method:
        raise PrototypeError(
            f"the prototypes were learnt with {method} flow, the settings ask for {settings.flow_method}: "
            f"use prototypes learnt with {settings.flow_method} (mespot prototypes learn --flow "
            f"{settings.flow_method}, or the preset that ships them) or leave the flow method unset"
        )
    if settings.flow_params:
        asked = _resolved(settings.flow_method or method, settings.flow_params)
        learnt = _resolved(method, params)
        differ = {k: (learnt.get(k), v) for k, v in asked.items() if learnt.get(k) != v}
        if differ:
            detail = ", ".join(f"{k}: learnt {a!r}, asked {b!r}" for k, (a, b) in differ.items())
            raise PrototypeError(f"the prototypes were learnt with other {method} parameters ({detail})")
    return method, params


def check_usable(prototypes: PrototypeSet, settings: PrototypeSettings) -> tuple[np.ndarray, str]:
    """θ_j and the flow method of a run with these prototypes and settings, or the
    :class:`PrototypeError` that says why they cannot be used together. The model loader runs it
    too, so that a dispatcher of many videos fails once, before the first, not once per video."""
    if len(prototypes) == 0:
        raise PrototypeError("the prototype set is empty")
    theta = resolve_thresholds(prototypes, settings)
    method, _ = flow_settings(prototypes, settings)
    return theta, method


def window_matching(
    video: Any,
    landmarks: FaceLandmarks,
    prototypes: PrototypeSet,
    start: int,
    end: int,
    settings: PrototypeSettings,
    progress_total: int | None = None,
    device: str | None = None,
) -> Generator[Progress, None, np.ndarray]:
    """The raw matching curves (V, end − start + 1) of the window ``start..end`` (eq. 21–23).

    Column 0 is the reference frame (0 by definition); flows are computed in batches of
    ``settings.flow_batch`` frames so memory stays bounded on long windows, by OpenCV on
    ``settings.threads`` threads, or with ``device`` (``cpu`` or ``cuda``) by the batched torch
    port of the method, one call per region and batch.
    """
    method, params = flow_settings(prototypes, settings)
    specs = prototypes.used_regions()
    fields = [p.field for p in prototypes.prototypes]
    regions = [p.region for p in prototypes.prototypes]
    threads = settings.threads or os.cpu_count() or 1
    out = np.zeros((len(prototypes), end - start + 1), dtype=np.float64)
    for b0 in range(start + 1, end + 1, settings.flow_batch):
        frames = np.arange(b0, min(end, b0 + settings.flow_batch - 1) + 1)
        gen = window_region_flows(
            video,
            landmarks,
            start,
            frames,
            specs,
            method,
            settings.head_motion,
            threads=threads,
            device=device,
            **params,
        )
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                flows = stop.value
                break
            yield Progress(int(b0 + p.done), progress_total, f"window at frame {start}")
        out[:, frames - start] = matching_matrix(flows.flows, fields, regions)
    return out


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

    window = frames_in(settings.window_s, fps, minimum=3)
    m = frames_in(settings.search_radius_s, fps)
    at_border = face_at_border(landmarks, video.shape[1:3])
    segments, skipped = face_segments(
        landmarks.found, frames_in(settings.min_segment_s, fps, minimum=2), at_border
    )
    cut = [s for s in skipped if s.reason == AT_BORDER]
    notes += tuple(f"frames {s.start}-{s.end}: the {s.reason}; not spotted there" for s in cut)
    v = len(prototypes)
    curves = np.full((v, n), np.nan, dtype=np.float32)
    raw_curves = np.full((v, n), np.nan, dtype=np.float32)
    intervals: list[Interval] = []
    windows: list[tuple[int, int]] = []
    for seg_start, seg_end in segments:
        start = seg_start
        while True:
            end = min(start + window - 1, seg_end)
            final = end == seg_end
            raw = yield from window_matching(
                video, landmarks, prototypes, start, end, settings, n, torch_device
            )
            filtered = clip_negative(lowpass(raw, fps, settings.lowpass_cutoff_hz, settings.lowpass_order))
            found = au_intervals(filtered, m, theta, settings.boundaries, settings.boundary_level)
            fused = fuse(found, settings.fusion_delta)
            spans = {(start + g.start, start + g.end): g for g in fused}
            plan = settle(list(spans), start, end, window, guard=m, lead=m // 2, final=final)
            for span in plan.reported:
                candidate = _to_interval(spans[span], start, prototypes, fps, settings.me_max_s)
                if not any(
                    overlap_index((iv.onset, iv.offset), span) > settings.fusion_delta for iv in intervals
                ):
                    intervals.append(candidate)
            keep = end + 1 if final else plan.next_start
            curves[:, start:keep] = filtered[:, : keep - start]
            raw_curves[:, start:keep] = raw[:, : keep - start]
            windows.append((start, end))
            yield Progress(keep, n, f"window {len(windows)}")
            if final:
                break
            start = plan.next_start
    yield Progress(n, n, "done")  # skipped frames at the end are done too
    return SpotResult.for_video(
        video,
        METHOD,
        intervals,
        name,
        curve_labels=prototypes.labels,
        curves=curves,
        thresholds=theta,
        raw_curves=raw_curves,
        windows=tuple(windows),
        skipped=tuple(skipped),
        settings=settings,
        device=device,
        notes=notes,
        curve_unit=CURVE_UNIT,
    )
