"""The VoVNet spotter end to end: video → face crops + flow → network → intervals and curves.

The network sees windows of the checkpoint's length (128 frames by default) that overlap by
half (``SpotSettings.window_stride``). Every (position, class) whose score passes the class
threshold becomes a candidate interval; candidates of all windows go through one temporal NMS
per class. What the result carries:

- ``curves``: per frame and class (``me``, ``mae``), the highest score of any pyramid position
  covering that frame in any window — what the thresholds are compared to; NaN on frames
  without a face.
- ``thresholds``: the per-class score thresholds used (the checkpoint's, chosen on its
  validation videos, unless overridden).
- ``intervals``: typed by the class that scored them (not by duration), ``score`` = that
  class's score, ``apex`` = the frame where the class curve peaks inside the interval.
Frames without a face are skipped and reported; an interval mostly on such frames is dropped.
A video at another frame rate than the checkpoint's is spotted on frames sampled at the
checkpoint's rate and everything above is mapped back to its own frames (:mod:`.timebase`).
Frames where the face is partly outside the picture (core/face/border.py) are skipped too, and
no interval may contain one: the image edge moving across the face is not an expression.
With ``SpotSettings.reliability`` (ours, as the prototype spotter's robust preset) the frames
whose landmarks jump, whose head moves too fast or whose eyes stay closed too long
(:func:`~napari_mespot.core.face.reliability.landmark_spans`) are reported as ``unreliable``:
no interval starts in one, and an interval running into one ends before it.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import torch

from napari_mespot.core import registry
from napari_mespot.core.device import resolve_device
from napari_mespot.core.face.border import AT_BORDER, face_at_border
from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.reliability import LIMITS, landmark_spans
from napari_mespot.core.intervals import Interval, runs
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.base import NO_FACE, SkippedSpan, SpotResult
from napari_mespot.core.spotters.vovnet.checkpoint import Checkpoint, default_checkpoint
from napari_mespot.core.spotters.vovnet.data import Features, features_for_video, window_starts
from napari_mespot.core.spotters.vovnet.decode import Detections, decode, nms, one_type_per_event
from napari_mespot.core.spotters.vovnet.head import points
from napari_mespot.core.spotters.vovnet.settings import CLASSES, SpotSettings
from napari_mespot.core.spotters.vovnet.timebase import Resampling, stream_at

METHOD = "vovnet"
#: The shortest interval VoVNet reports.
MIN_FRAMES = 2


def gpu_flow_device(device: torch.device) -> str | None:
    """Where the features' flows run: on the GPU through the torch port when the network does
    (every VoVNet flow method is ported), else with OpenCV on the CPU."""
    return "cuda" if device.type == "cuda" else None


def infer(
    ckpt: Checkpoint,
    feats: Features,
    stride: int,
    device: torch.device,
    batch_size: int = 4,
    min_score: float = 0.05,
) -> Generator[Progress, None, tuple[Detections, np.ndarray]]:
    """Run the network over ``feats`` in overlapping windows.

    Returns every candidate with a score ≥ ``min_score`` (before NMS, absolute frames, on the
    CPU) and the per-frame class curves (2, n) (NaN nowhere: every frame is in a window).
    """
    n, window = len(feats), ckpt.window
    pts = points(window, ckpt.config.levels)
    pts_dev = pts.to(device)
    starts = window_starts(n, window, stride)
    curves = np.zeros((len(CLASSES), n), np.float32)
    found: list[Detections] = []
    model = ckpt.model.to(device).eval()
    for b0 in range(0, len(starts), batch_size):
        chunk = starts[b0 : b0 + batch_size]
        items = [feats.window(s, window) for s in chunk]
        x = torch.stack([it[0] for it in items]).to(device)
        with torch.no_grad(), torch.autocast(device.type, enabled=device.type == "cuda"):
            logits, dists = model(x)
        logits, dists = logits.float(), dists.float()
        probs = torch.sigmoid(logits).cpu().numpy()
        for j, (start, (_, valid)) in enumerate(zip(chunk, items, strict=True)):
            found.append(decode(logits[j], dists[j], pts_dev, start, valid, min_score))
            per_frame = _frame_scores(probs[j], pts.stride.numpy().astype(int), window)[:, :valid]
            np.maximum(curves[:, start : start + valid], per_frame, out=curves[:, start : start + valid])
        yield Progress(min(b0 + batch_size, len(starts)), len(starts), "network")
    dets = Detections.cat([Detections(d.segments.cpu(), d.scores.cpu(), d.classes.cpu()) for d in found])
    return dets, curves


def _frame_scores(probs: np.ndarray, strides: np.ndarray, window: int) -> np.ndarray:
    """(P, 2) position scores → (2, window): per frame the best position covering it, over levels."""
    out = np.zeros((probs.shape[1], window), np.float32)
    at = 0
    for s in np.unique(strides):
        count = window // s
        level = probs[at : at + count]
        out = np.maximum(out, np.repeat(level, s, axis=0).T)
        at += count
    return out


def to_intervals(
    dets: Detections,
    thresholds: np.ndarray,
    curves: np.ndarray,
    found: np.ndarray,
    nms_iou: float,
    at_border: np.ndarray | None = None,
    resampling: Resampling | None = None,
    unreliable: np.ndarray | None = None,
) -> list[Interval]:
    """Threshold per class, NMS, one type per event, and turn what is left into
    :class:`Interval` records of at least :data:`MIN_FRAMES` frames (a one-frame "expression" is
    a decoding artefact: no onset–apex–offset fits in it). Everything is in the frames the
    network saw; ``resampling`` maps the records to the video's own frames. ``unreliable``
    (a frame mask): an interval starting on such a frame is dropped, one running into such a
    frame ends before it."""
    keep = dets.scores >= torch.as_tensor(thresholds, dtype=torch.float32)[dets.classes]
    dets = nms(dets.select(keep), nms_iou)
    dets = one_type_per_event(dets, CLASSES.index("me"), CLASSES.index("mae"))
    out = []
    for (a, b), score, cls in zip(
        dets.segments.tolist(), dets.scores.tolist(), dets.classes.tolist(), strict=True
    ):
        onset, offset = round(a), max(round(a), round(b))
        if unreliable is not None and unreliable[onset : offset + 1].any():
            offset = onset + int(np.argmax(unreliable[onset : offset + 1])) - 1
        if offset - onset + 1 < MIN_FRAMES or found[onset : offset + 1].mean() < 0.5:
            continue
        if at_border is not None and at_border[onset : offset + 1].any():
            continue
        apex = onset + int(np.argmax(curves[cls, onset : offset + 1]))
        if resampling is not None:
            seen = int(resampling.indices[apex])
            onset, offset = resampling.video_span(onset, offset)
            apex = min(max(seen, onset), offset)
        out.append(
            Interval(
                onset=onset,
                offset=offset,
                apex=apex,
                type=CLASSES[cls],
                score=round(float(score), 4),
                source=METHOD,
                id=f"{METHOD}-{onset}-{offset}",
            )
        )
    return sorted(out, key=lambda iv: (iv.onset, iv.offset))


def _video_spans(spans: list[tuple[int, int, str]], resampling: Resampling) -> tuple[SkippedSpan, ...]:
    """Spans ``(start, end, reason)`` of the frames the network saw, in the video's frames."""
    where = resampling.video_spans([(a, b) for a, b, _ in spans])
    return tuple(SkippedSpan(a, b, reason) for (a, b), (_, _, reason) in zip(where, spans, strict=True))


def spot(
    video: Any,
    checkpoint: Checkpoint | None = None,
    settings: SpotSettings | None = None,
    *,
    landmarks: FaceLandmarks | None = None,
    name: str | None = None,
) -> Generator[Progress, None, SpotResult]:
    """Spot expressions in ``video`` (a VideoSource or an (n, H, W, 3) uint8 array with ``fps``).

    ``checkpoint`` defaults to the shipped one (:func:`default_checkpoint`); ``landmarks`` (of
    every video frame) to the checkpoint's provider, cached beside the video; ``name`` to the
    file stem. A video at another frame rate than the checkpoint's is read at the checkpoint's
    rate (:mod:`.timebase`): landmarks, crops and flow only on the frames read, the result in
    the video's frames with a note saying so.
    """

    settings = settings or SpotSettings()
    ckpt = checkpoint or default_checkpoint()
    choice = resolve_device(settings.device, "VoVNet")
    device = torch.device(choice.device)
    thresholds = np.array([settings.thresholds.get(c, ckpt.thresholds[c]) for c in CLASSES])
    stream, resampling = stream_at(video, ckpt.fps)
    n = len(stream)
    if landmarks is None:
        provider = registry.landmark_provider(ckpt.data.landmarks)
        landmarks = yield from landmarks_for_video(stream, provider)
    elif not resampling.identity:
        landmarks = resampling.sampled_landmarks(landmarks)
    at_border = face_at_border(landmarks, video.shape[1:3])
    unusable, spans = None, []
    if settings.reliability:
        unusable, spans = landmark_spans(landmarks, float(stream.fps), LIMITS)
    feats = yield from features_for_video(
        stream, ckpt.data, settings.cache_dir or None, landmarks, gpu_flow_device(device)
    )
    stride = settings.window_stride or max(1, ckpt.window // 2)
    dets, curves = yield from infer(ckpt, feats, stride, device, settings.batch_size, float(thresholds.min()))
    found = np.asarray(feats.found, dtype=bool)
    intervals = to_intervals(
        dets, thresholds, curves, found, settings.nms_iou, at_border, resampling, unreliable=unusable
    )
    curves[:, ~found | at_border] = np.nan
    cut = tuple(SkippedSpan(a, b, AT_BORDER) for a, b in resampling.video_spans(runs(at_border)))
    no_face = (SkippedSpan(a, b, NO_FACE) for a, b in resampling.video_spans(runs(~found)))
    skipped = tuple(sorted((*no_face, *cut), key=lambda s: s.start))
    windows = [(s, min(s + ckpt.window, n) - 1) for s in window_starts(n, ckpt.window, stride)]
    notes = () if resampling.identity else (resampling.note(),)
    notes += tuple(f"frames {s.start}-{s.end}: the {s.reason}; not spotted there" for s in cut)
    notes += () if ckpt.data.flow else ("checkpoint trained without optical flow (ablation)",)
    notes += () if choice.note is None else (choice.note,)
    return SpotResult.for_video(
        video,
        METHOD,
        intervals,
        name,
        curve_labels=CLASSES,
        curves=resampling.video_curves(curves),
        thresholds=thresholds.astype(np.float64),
        windows=tuple(resampling.video_spans(windows)),
        skipped=skipped,
        unreliable=_video_spans(spans, resampling),
        settings=settings,
        device=device.type,
        notes=notes,
        curve_unit="class score",
    )
