"""MEGC spotting evaluation (DESIGN.md §6).

- IoU on inclusive frame counts; a prediction hits a ground-truth interval when IoU ≥ k.
- Matching is type-aware: ME predictions against ME ground truth, MaE against MaE. Ground truth is
  typed by its ``type``; predictions by their ``type`` or, with ``type_by="duration"``, by their
  length at the video's fps (≤ 0.5 s → ME).
- ``one-to-one`` (default): each ground-truth and each prediction is used at most once, pairs taken
  greedily by decreasing IoU. TP = pairs, FP = N_pred − TP, FN = N_gt − TP.
- ``megc2020``: the official MEGC 2020 baseline scorer. Per ground truth, count the predictions
  that hit it; TP = ground truths hit at least once; the prediction count is reduced by the extra
  hits (N_pred − (hits − TP)), so two predictions on one ground truth cost no FP, and one
  prediction hitting two ground truths counts twice (FP may then be negative, precision above 1:
  reproduced as the official scorer computes it).
- Counts are summed over videos (micro-average) before precision, recall and
  F1 = 2TP / (2TP + FP + FN), which is 2TP / (N_pred + N_gt) in one-to-one mode.
- Predictions are never filtered here; that is the method's post-processing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .intervals import EXPRESSION_TYPES, Interval, VideoIntervals, type_by_duration

MATCHING_MODES = ("one-to-one", "megc2020")
TYPE_BY = ("type", "duration")
DEFAULT_KS = (0.3, 0.4, 0.5)

IntervalsByVideo = Mapping[str, Iterable[Interval]] | Mapping[str, VideoIntervals]


@dataclass(frozen=True)
class Counts:
    """TP/FP/FN of one type (or all) over one video (or all videos)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    n_pred: int = 0
    n_gt: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.tp + other.tp,
            self.fp + other.fp,
            self.fn + other.fn,
            self.n_pred + other.n_pred,
            self.n_gt + other.n_gt,
        )

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n_gt": self.n_gt,
            "n_pred": self.n_pred,
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class VideoScore:
    video: str
    me: Counts
    mae: Counts

    @property
    def overall(self) -> Counts:
        return self.me + self.mae

    def to_dict(self) -> dict[str, Any]:
        return {"video": self.video, **{k: getattr(self, k).to_dict() for k in ("me", "mae", "overall")}}


@dataclass(frozen=True)
class Evaluation:
    """Scores at one k: per type, overall, and per video (every video of ground truth or predictions)."""

    k: float
    matching: str
    type_by: str
    videos: tuple[VideoScore, ...] = ()
    me: Counts = field(init=False)
    mae: Counts = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "me", sum((v.me for v in self.videos), Counts()))
        object.__setattr__(self, "mae", sum((v.mae for v in self.videos), Counts()))

    @property
    def overall(self) -> Counts:
        return self.me + self.mae

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "matching": self.matching,
            "type_by": self.type_by,
            "me": self.me.to_dict(),
            "mae": self.mae.to_dict(),
            "overall": self.overall.to_dict(),
            "videos": [v.to_dict() for v in self.videos],
        }


def iou_matrix(gt: Sequence[Interval], pred: Sequence[Interval]) -> np.ndarray:
    """IoU of every ground-truth (rows) with every prediction (columns), inclusive frames."""
    g = np.array([(iv.onset, iv.offset) for iv in gt], dtype=np.int64).reshape(-1, 2)
    p = np.array([(iv.onset, iv.offset) for iv in pred], dtype=np.int64).reshape(-1, 2)
    inter = np.minimum(g[:, 1:2], p[:, 1]) - np.maximum(g[:, 0:1], p[:, 0]) + 1
    np.maximum(inter, 0, out=inter)
    union = (g[:, 1:2] - g[:, 0:1] + 1) + (p[:, 1] - p[:, 0] + 1) - inter
    return inter / union


def _greedy_pairs(ious: np.ndarray, k: float) -> list[tuple[int, int, float]]:
    rows, cols = np.nonzero(ious >= k)
    if rows.size == 0:
        return []
    values = ious[rows, cols]
    order = np.lexsort((cols, rows, -values))  # highest IoU first; ties by gt then pred index
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for i in order:
        g, p = int(rows[i]), int(cols[i])
        if g not in used_g and p not in used_p:
            used_g.add(g)
            used_p.add(p)
            pairs.append((g, p, float(values[i])))
    return pairs


def match_intervals(
    gt: Sequence[Interval], pred: Sequence[Interval], k: float = 0.5, matching: str = "one-to-one"
) -> list[tuple[int, int, float]]:
    """``(gt index, pred index, IoU)`` pairs that count: the one-to-one matching, or every hit
    (IoU ≥ k) in ``megc2020`` mode. Types are not looked at: pass intervals of one type."""
    _check(k, matching)
    if not gt or not pred:
        return []
    ious = iou_matrix(gt, pred)
    if matching == "one-to-one":
        return _greedy_pairs(ious, k)
    rows, cols = np.nonzero(ious >= k)
    return [(int(g), int(p), float(ious[g, p])) for g, p in zip(rows, cols, strict=True)]


def _counts(ious: np.ndarray | None, n_gt: int, n_pred: int, k: float, matching: str) -> Counts:
    if ious is None:
        return Counts(0, n_pred, n_gt, n_pred, n_gt)
    if matching == "one-to-one":
        tp = len(_greedy_pairs(ious, k))
        return Counts(tp, n_pred - tp, n_gt - tp, n_pred, n_gt)
    hits = (ious >= k).sum(axis=1)
    tp = int(np.count_nonzero(hits))
    n_effective = n_pred - (int(hits.sum()) - tp)
    return Counts(tp, n_effective - tp, n_gt - tp, n_pred, n_gt)


def _check(k: float, matching: str) -> None:
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k}")
    if matching not in MATCHING_MODES:
        raise ValueError(f"matching must be one of {MATCHING_MODES}, got {matching!r}")


def _as_sets(data: IntervalsByVideo) -> dict[str, tuple[list[Interval], float | None]]:
    out = {}
    for video, value in data.items():
        if isinstance(value, VideoIntervals):
            out[video] = (list(value.intervals), value.fps)
        else:
            out[video] = (list(value), None)
    return out


@dataclass(frozen=True)
class _Prepared:
    """Per video and type: the IoU matrix (None when either side is empty) and the counts."""

    videos: tuple[tuple[str, dict[str, tuple[np.ndarray | None, int, int]]], ...]
    type_by: str


def _prepare(
    gt: IntervalsByVideo, pred: IntervalsByVideo, type_by: str, fps: float | Mapping[str, float] | None
) -> _Prepared:
    if type_by not in TYPE_BY:
        raise ValueError(f"type_by must be one of {TYPE_BY}, got {type_by!r}")
    gt_sets, pred_sets = _as_sets(gt), _as_sets(pred)
    videos = []
    for video in sorted(gt_sets.keys() | pred_sets.keys()):
        g, g_fps = gt_sets.get(video, ([], None))
        p, p_fps = pred_sets.get(video, ([], None))
        if type_by == "duration" and p:
            rate = fps.get(video) if isinstance(fps, Mapping) else fps
            rate = rate or g_fps or p_fps
            if rate is None:
                raise ValueError(f"video {video!r}: typing predictions by duration needs its fps")
            p_types = [type_by_duration(iv.length, rate) for iv in p]
        else:
            p_types = [iv.type for iv in p]
        per_type = {}
        for kind in EXPRESSION_TYPES:
            gk = [iv for iv in g if iv.type == kind]
            pk = [iv for iv, t in zip(p, p_types, strict=True) if t == kind]
            per_type[kind] = (iou_matrix(gk, pk) if gk and pk else None, len(gk), len(pk))
        videos.append((video, per_type))
    return _Prepared(tuple(videos), type_by)


def _score(prepared: _Prepared, k: float, matching: str) -> Evaluation:
    _check(k, matching)
    scores = []
    for video, per_type in prepared.videos:
        me, mae = (_counts(*per_type[kind], k, matching) for kind in ("me", "mae"))
        scores.append(VideoScore(video, me, mae))
    return Evaluation(k, matching, prepared.type_by, tuple(scores))


def evaluate(
    gt: IntervalsByVideo,
    pred: IntervalsByVideo,
    k: float = 0.5,
    matching: str = "one-to-one",
    *,
    type_by: str = "type",
    fps: float | Mapping[str, float] | None = None,
) -> Evaluation:
    """Score predictions against ground truth, both keyed by video.

    Values may be interval lists or :class:`VideoIntervals`; with ``type_by="duration"`` the fps
    is ``fps`` (one number or per video), else the ground truth's, else the predictions'.
    Videos present on only one side count too (all FN, or all FP).
    """
    return _score(_prepare(gt, pred, type_by, fps), k, matching)


def sweep(
    gt: IntervalsByVideo,
    pred: IntervalsByVideo,
    ks: Iterable[float] = DEFAULT_KS,
    matching: str = "one-to-one",
    *,
    type_by: str = "type",
    fps: float | Mapping[str, float] | None = None,
) -> dict[float, Evaluation]:
    """:func:`evaluate` at several k (the papers report 0.3, 0.4, 0.5), computing IoUs once."""
    prepared = _prepare(gt, pred, type_by, fps)
    return {float(k): _score(prepared, float(k), matching) for k in ks}
