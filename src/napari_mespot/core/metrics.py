"""MEGC spotting evaluation (docs/architecture.md §6).

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

from napari_mespot.core.intervals import Interval, VideoIntervals, type_by_duration

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


def _frames(intervals: Sequence[Interval]) -> tuple[np.ndarray, np.ndarray]:
    onsets = np.fromiter((iv.onset for iv in intervals), np.int64, len(intervals))
    offsets = np.fromiter((iv.offset for iv in intervals), np.int64, len(intervals))
    return onsets, offsets


def _iou(g_on: np.ndarray, g_off: np.ndarray, p_on: np.ndarray, p_off: np.ndarray) -> np.ndarray:
    inter = np.minimum(g_off[:, None], p_off) - np.maximum(g_on[:, None], p_on) + 1
    np.maximum(inter, 0, out=inter)
    union = (g_off - g_on + 1)[:, None] + (p_off - p_on + 1) - inter
    return inter / union


def iou_matrix(gt: Sequence[Interval], pred: Sequence[Interval]) -> np.ndarray:
    """IoU of every ground-truth (rows) with every prediction (columns), inclusive frames."""
    return _iou(*_frames(gt), *_frames(pred))


#: ``(IoU, gt index, pred index)`` of overlapping pairs, highest IoU first, ties by gt then pred.
Pairs = list[tuple[float, int, int]]


def _overlapping_pairs(ious: np.ndarray) -> Pairs:
    rows, cols = np.nonzero(ious > 0)
    values = ious[rows, cols]
    order = np.lexsort((cols, rows, -values))
    return list(zip(values[order].tolist(), rows[order].tolist(), cols[order].tolist(), strict=True))


def _greedy(pairs: Pairs, k: float) -> list[tuple[int, int, float]]:
    used_g: set[int] = set()
    used_p: set[int] = set()
    matched = []
    for value, g, p in pairs:
        if value < k:
            break
        if g not in used_g and p not in used_p:
            used_g.add(g)
            used_p.add(p)
            matched.append((g, p, value))
    return matched


def match_intervals(
    gt: Sequence[Interval], pred: Sequence[Interval], k: float = 0.5, matching: str = "one-to-one"
) -> list[tuple[int, int, float]]:
    """``(gt index, pred index, IoU)`` pairs that count: the one-to-one matching, or every hit
    (IoU ≥ k) in ``megc2020`` mode. Types are not looked at: pass intervals of one type."""
    _check(k, matching)
    if not gt or not pred:
        return []
    pairs = _overlapping_pairs(iou_matrix(gt, pred))
    if matching == "one-to-one":
        return _greedy(pairs, k)
    return [(g, p, value) for value, g, p in pairs if value >= k]


def _counts(pairs: Pairs, n_gt: int, n_pred: int, k: float, matching: str) -> Counts:
    if matching == "one-to-one":
        tp = len(_greedy(pairs, k))
        return Counts(tp, n_pred - tp, n_gt - tp, n_pred, n_gt)
    hit: set[int] = set()
    hits = 0
    for value, g, _ in pairs:
        if value < k:
            break
        hits += 1
        hit.add(g)
    tp = len(hit)
    n_effective = n_pred - (hits - tp)
    return Counts(tp, n_effective - tp, n_gt - tp, n_pred, n_gt)


def _check(k: float, matching: str) -> None:
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k}")
    if matching not in MATCHING_MODES:
        raise ValueError(f"matching must be one of {MATCHING_MODES}, got {matching!r}")


def _as_sets(data: IntervalsByVideo) -> dict[str, tuple[Sequence[Interval], float | None]]:
    out = {}
    for video, value in data.items():
        if isinstance(value, VideoIntervals):
            out[video] = (value.intervals, value.fps)
        else:
            out[video] = (list(value), None)
    return out


@dataclass(frozen=True)
class _Prepared:
    """Per video and type: the overlapping pairs (sorted once for every k), N_gt and N_pred."""

    videos: tuple[tuple[str, dict[str, tuple[Pairs, int, int]]], ...]
    type_by: str


def _prepare(
    gt: IntervalsByVideo, pred: IntervalsByVideo, type_by: str, fps: float | Mapping[str, float] | None
) -> _Prepared:
    if type_by not in TYPE_BY:
        raise ValueError(f"type_by must be one of {TYPE_BY}, got {type_by!r}")
    gt_sets, pred_sets = _as_sets(gt), _as_sets(pred)
    videos = []
    for video in sorted(gt_sets.keys() | pred_sets.keys()):
        g, g_fps = gt_sets.get(video, ((), None))
        p, p_fps = pred_sets.get(video, ((), None))
        g_me = np.fromiter((iv.type == "me" for iv in g), bool, len(g))
        if type_by == "duration" and p:
            rate = fps.get(video) if isinstance(fps, Mapping) else fps
            rate = rate or g_fps or p_fps
            if rate is None:
                raise ValueError(f"video {video!r}: typing predictions by duration needs its fps")
            p_me = np.fromiter((type_by_duration(iv.length, rate) == "me" for iv in p), bool, len(p))
        else:
            p_me = np.fromiter((iv.type == "me" for iv in p), bool, len(p))
        pairs: dict[str, Pairs] = {"me": [], "mae": []}
        if len(g) and len(p):
            ious = iou_matrix(g, p)
            ious[g_me[:, None] != p_me] = 0.0  # type-aware: ME only against ME, MaE against MaE
            for pair in _overlapping_pairs(ious):
                pairs["me" if g_me[pair[1]] else "mae"].append(pair)
        n_gt_me, n_pred_me = int(g_me.sum()), int(p_me.sum())
        per_type = {
            "me": (pairs["me"], n_gt_me, n_pred_me),
            "mae": (pairs["mae"], len(g) - n_gt_me, len(p) - n_pred_me),
        }
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
