"""From head outputs to scored intervals: decoding and temporal non-maximum suppression.

Pure torch, so decoding runs where the network ran (CPU or GPU) with no extra dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from napari_mespot.core.spotters.vovnet.head import Points


@dataclass(frozen=True)
class Detections:
    """Candidate intervals: (N, 2) inclusive frames (float until rounded), scores, classes."""

    segments: torch.Tensor
    scores: torch.Tensor
    classes: torch.Tensor

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @staticmethod
    def cat(parts: list[Detections]) -> Detections:
        if not parts:
            return Detections(torch.zeros(0, 2), torch.zeros(0), torch.zeros(0, dtype=torch.long))
        return Detections(
            *(torch.cat([getattr(p, f) for p in parts]) for f in ("segments", "scores", "classes"))
        )

    def select(self, keep: torch.Tensor) -> Detections:
        return Detections(self.segments[keep], self.scores[keep], self.classes[keep])


def decode(
    logits: torch.Tensor, dists: torch.Tensor, pts: Points, offset: float, valid: int, min_score: float
) -> Detections:
    """One window's outputs (P, 2) → detections in absolute frames.

    Each (position, class) with probability ≥ ``min_score`` is a candidate: onset = centre −
    d_on·stride, offset = centre + d_off·stride, shifted by the window's first frame ``offset``
    and clipped to the ``valid`` frames of the window.
    """
    probs = torch.sigmoid(logits.float())
    pos, cls = torch.nonzero((probs >= min_score) & (pts.center < valid)[:, None], as_tuple=True)
    c, s = pts.center[pos], pts.stride[pos]
    onset = (c - dists[pos, 0].float() * s).clamp(0, valid - 1)
    end = (c + dists[pos, 1].float() * s).clamp(0, valid - 1)
    segments = torch.stack([onset, torch.maximum(onset, end)], dim=1) + offset
    return Detections(segments, probs[pos, cls], cls)


def segment_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU (N, M) of inclusive frame segments a (N, 2) and b (M, 2), lengths end − start + 1."""
    inter = (
        torch.minimum(a[:, None, 1], b[None, :, 1]) - torch.maximum(a[:, None, 0], b[None, :, 0]) + 1
    ).clamp(min=0)
    union = (a[:, 1] - a[:, 0] + 1)[:, None] + (b[:, 1] - b[:, 0] + 1)[None, :] - inter
    return inter / union


#: A detection lying at least this share of its length inside a better one of the same class is
#: the same event, whatever their IoU (a short copy inside a long one has a low IoU).
NESTED = 0.8
#: An ME lying at least this share of its length inside a kept MaE is part of that event.
ME_IN_MAE = 0.5


def segment_containment(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(N, M): the share of each inclusive segment of ``a`` that lies inside each of ``b``."""
    inter = (
        torch.minimum(a[:, None, 1], b[None, :, 1]) - torch.maximum(a[:, None, 0], b[None, :, 0]) + 1
    ).clamp(min=0)
    return inter / (a[:, 1] - a[:, 0] + 1)[:, None]


def nms(dets: Detections, iou_threshold: float) -> Detections:
    """Greedy per-class temporal NMS: keep the best, drop same-class ones overlapping it by more
    than ``iou_threshold`` or lying :data:`NESTED` inside it."""
    keep: list[int] = []
    for cls in dets.classes.unique().tolist():
        idx = torch.nonzero(dets.classes == cls).flatten()
        idx = idx[torch.argsort(dets.scores[idx], descending=True, stable=True)]
        segments = dets.segments[idx]
        same = (segment_iou(segments, segments) > iou_threshold) | (
            segment_containment(segments, segments) >= NESTED
        )
        alive = torch.ones(len(idx), dtype=torch.bool)
        for i in range(len(idx)):
            if alive[i]:
                keep.append(int(idx[i]))
                alive &= ~same[:, i]
                alive[i] = False
    order = torch.tensor(sorted(keep, key=lambda k: float(dets.segments[k, 0])), dtype=torch.long)
    return dets.select(order)


def one_type_per_event(dets: Detections, me: int, mae: int) -> Detections:
    """Drop the ME detections that lie :data:`ME_IN_MAE` inside a MaE detection: one event is
    reported once, as the macro-expression it is part of."""
    is_me, is_mae = dets.classes == me, dets.classes == mae
    if not bool(is_me.any()) or not bool(is_mae.any()):
        return dets
    inside = segment_containment(dets.segments[is_me], dets.segments[is_mae]).max(dim=1).values
    drop = torch.zeros(len(dets), dtype=torch.bool)
    drop[torch.nonzero(is_me).flatten()[inside >= ME_IN_MAE]] = True
    return dets.select(torch.nonzero(~drop).flatten())
