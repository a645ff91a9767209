"""Agreement between two annotators of the same videos, for correcting a ground truth.

Three numbers, each answering its own question:

- **Matched F1**: do they find the same expressions? Intervals are paired one-to-one, type-aware,
  at IoU ≥ k (inclusive frames) by the MEGC matching of :mod:`.metrics`, with annotator A in the
  role of the ground truth; F1 = 2·pairs / (N_A + N_B) is symmetric, so the roles do not matter.
- **Boundary differences**: where they agree on an expression, how far apart are its onset and
  offset? The mean absolute difference in frames over the matched pairs (pooled over videos: the
  mean of all pairs, not of per-video means).
- **Frame-level Cohen's κ** over {none, ME, MaE}: how far beyond chance do their frame labels
  agree? Each frame gets one label per annotator; a frame inside both an ME and a MaE of one
  annotator counts as ME (the rarer, more specific label, which a MaE around it would otherwise
  hide). κ = (p_o − p_e) / (1 − p_e); pooled κ sums the videos' confusion matrices first. κ is
  undefined (``None``) when both annotators give every frame the same single label (p_e = 1).
  It needs each video's frame count: frames past the last label count as "none" for both.

The disagreements are listed per video: an interval only one annotator marked, and a pair the
type-aware matching left apart because the annotators typed it differently (IoU ≥ k across
types, paired one-to-one among the intervals left unmatched).

A video present on one side only counts as annotated with no expression on the other side, as
in :func:`.metrics.evaluate`: a label file cannot tell "no expression" from "not annotated".
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval, sort_intervals
from napari_mespot.core.metrics import Counts, match_intervals

#: Frame labels, in the order of the κ confusion matrix.
FRAME_LABELS = ("none", "me", "mae")


class AgreementError(MespotError):
    """Annotations that cannot be compared (no common video, unknown frame counts, bad input)."""


@dataclass(frozen=True)
class Disagreement:
    """An interval one annotator marked alone (``only_a``/``only_b``) or typed differently (``type``)."""

    kind: str
    a: Interval | None
    b: Interval | None
    iou: float = 0.0

    @property
    def onset(self) -> int:
        """The first frame either annotator's interval covers."""
        return min(iv.onset for iv in (self.a, self.b) if iv is not None)

    @property
    def offset(self) -> int:
        """The last frame either annotator's interval covers."""
        return max(iv.offset for iv in (self.a, self.b) if iv is not None)

    def to_dict(self) -> dict[str, Any]:
        def span(iv: Interval | None) -> dict[str, Any] | None:
            return (
                None if iv is None else {"onset": iv.onset, "offset": iv.offset, "type": iv.type, "id": iv.id}
            )

        return {"kind": self.kind, "a": span(self.a), "b": span(self.b), "iou": self.iou}


Pair = tuple[Interval, Interval, float]


class _Scores:
    """The numbers a video's agreement and the pooled one both give, from their matched pairs,
    counts (A in the role of the ground truth) and frame confusion matrix."""

    counts: Counts
    pairs: tuple[Pair, ...]
    confusion: np.ndarray  # 3×3, rows A's frame label, columns B's (FRAME_LABELS order)

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.confusion)

    @property
    def onset_mae(self) -> float | None:
        return self._mean_abs("onset")

    @property
    def offset_mae(self) -> float | None:
        return self._mean_abs("offset")

    def _mean_abs(self, end: str) -> float | None:
        if not self.pairs:
            return None
        return float(np.mean([abs(getattr(a, end) - getattr(b, end)) for a, b, _ in self.pairs]))

    def scores(self) -> dict[str, Any]:
        return {
            "n_a": self.counts.n_gt,
            "n_b": self.counts.n_pred,
            "matched": self.counts.tp,
            "f1": self.counts.f1,
            "onset_mae_frames": self.onset_mae,
            "offset_mae_frames": self.offset_mae,
            "kappa": self.kappa,
            "confusion": self.confusion.tolist(),
        }


@dataclass(frozen=True)
class VideoAgreement(_Scores):
    """The agreement on one video of ``n_frames`` frames (counted as ``frames_source`` says)."""

    video: str
    counts: Counts
    pairs: tuple[Pair, ...]
    confusion: np.ndarray
    n_frames: int
    frames_source: str
    disagreements: tuple[Disagreement, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "video": self.video,
            "n_frames": self.n_frames,
            "frames_source": self.frames_source,
            **self.scores(),
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


@dataclass(frozen=True)
class Agreement(_Scores):
    """The agreement over all videos (pooled: pairs and confusions summed) and per video."""

    k: float
    videos: tuple[VideoAgreement, ...]
    counts: Counts = field(init=False)
    pairs: tuple[Pair, ...] = field(init=False)
    confusion: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", sum((v.counts for v in self.videos), Counts()))
        object.__setattr__(self, "pairs", tuple(p for v in self.videos for p in v.pairs))
        total = sum((v.confusion for v in self.videos), np.zeros((3, 3), np.int64))
        object.__setattr__(self, "confusion", total)

    def to_dict(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "frame_labels": list(FRAME_LABELS),
            **self.scores(),
            "videos": [v.to_dict() for v in self.videos],
        }


def cohen_kappa(confusion: np.ndarray) -> float | None:
    """Cohen's κ of a square confusion matrix of counts; ``None`` where chance agreement is total."""
    total = confusion.sum()
    if total == 0:
        return None
    p = confusion / total
    p_o = float(np.trace(p))
    p_e = float(p.sum(axis=1) @ p.sum(axis=0))
    if np.isclose(p_e, 1.0):
        return None
    return (p_o - p_e) / (1.0 - p_e)


def frame_labels(intervals: Iterable[Interval], n_frames: int) -> np.ndarray:
    """Each frame's label index in :data:`FRAME_LABELS` (0 none, 1 ME, 2 MaE; ME over MaE)."""
    labels = np.zeros(n_frames, np.int8)
    ordered = sorted(intervals, key=lambda iv: iv.type == "me")  # MaEs first, MEs drawn over them
    for iv in ordered:
        labels[iv.onset : iv.offset + 1] = FRAME_LABELS.index(iv.type)
    return labels


def _type_pairs(
    a: Sequence[Interval], b: Sequence[Interval], k: float
) -> tuple[list[Pair], list[Disagreement]]:
    """Type-aware one-to-one pairs, then the disagreements among what is left (by position, not
    id: a hand-made label file may repeat ids)."""
    pairs: list[Pair] = []
    paired_a: set[int] = set()
    paired_b: set[int] = set()
    for kind in ("me", "mae"):
        ia = [i for i, iv in enumerate(a) if iv.type == kind]
        ib = [j for j, iv in enumerate(b) if iv.type == kind]
        for i, j, value in match_intervals([a[x] for x in ia], [b[y] for y in ib], k):
            pairs.append((a[ia[i]], b[ib[j]], value))
            paired_a.add(ia[i])
            paired_b.add(ib[j])
    rest_a = [iv for i, iv in enumerate(a) if i not in paired_a]
    rest_b = [iv for j, iv in enumerate(b) if j not in paired_b]
    # What is left can only pair across types: the same expression, typed differently.
    retyped = match_intervals(rest_a, rest_b, k)
    out = [Disagreement("type", rest_a[i], rest_b[j], value) for i, j, value in retyped]
    typed_a = {i for i, _, _ in retyped}
    typed_b = {j for _, j, _ in retyped}
    out += [Disagreement("only_a", iv, None) for i, iv in enumerate(rest_a) if i not in typed_a]
    out += [Disagreement("only_b", None, iv) for j, iv in enumerate(rest_b) if j not in typed_b]
    out.sort(key=lambda d: d.onset)
    return pairs, out


def video_agreement(
    video: str,
    a: Sequence[Interval],
    b: Sequence[Interval],
    n_frames: int,
    k: float = 0.5,
    frames_source: str = "given",
) -> VideoAgreement:
    """The agreement of annotators A and B on one video of ``n_frames`` frames."""
    last = max((iv.offset for iv in (*a, *b)), default=-1)
    if last >= n_frames:
        raise AgreementError(
            f"video {video!r}: an interval ends at frame {last}, past the video's {n_frames} frames "
            f"({frames_source}); are these annotations of another video?"
        )
    a, b = sort_intervals(a), sort_intervals(b)
    pairs, disagreements = _type_pairs(a, b, k)
    counts = Counts(len(pairs), len(b) - len(pairs), len(a) - len(pairs), len(b), len(a))
    confusion = np.zeros((3, 3), np.int64)
    np.add.at(confusion, (frame_labels(a, n_frames), frame_labels(b, n_frames)), 1)
    return VideoAgreement(
        video, counts, tuple(pairs), confusion, n_frames, frames_source, tuple(disagreements)
    )


def agreement(
    a: Mapping[str, Sequence[Interval]],
    b: Mapping[str, Sequence[Interval]],
    n_frames: Mapping[str, tuple[int, str]],
    k: float = 0.5,
) -> Agreement:
    """The agreement of A and B, both keyed by video; ``n_frames[video]`` = (count, source)."""
    if not 0 < k <= 1:
        raise AgreementError(f"the IoU threshold must be in (0, 1], got {k}")
    videos = []
    for video in sorted(a.keys() | b.keys()):
        count, source = n_frames[video]
        videos.append(video_agreement(video, a.get(video, ()), b.get(video, ()), count, k, source))
    return Agreement(k, tuple(videos))


# -- reading two annotators' work ---------------------------------------------------------------
@dataclass(frozen=True)
class Annotations:
    """One annotator's intervals per video, and the frame counts a session knows."""

    path: Path
    kind: str  # "session" or the label format's name
    videos: dict[str, list[Interval]]
    n_frames: dict[str, int]


def _is_session_file(path: Path) -> bool:
    from napari_mespot.core.review.session import FORMAT, SUFFIX

    if path.name.endswith(SUFFIX):
        return True
    if path.suffix.lower() != ".json":
        return False
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False  # read_labels reports what is wrong with it


def read_annotations(path: str | os.PathLike, format: str | None = None) -> Annotations:
    """An annotator's work: a label file in any readable format (rejected rows left out), or a
    review session — a sidecar, or a video whose sidecar is found — whose kept corrected
    intervals are used, named by the video's file stem as ``mespot export`` names them."""
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.media.video import is_video_path
    from napari_mespot.core.review.export import default_video_name, load_session

    path = Path(path)
    if not path.exists():
        raise AgreementError(f"{path}: no such label file, session or video")
    if format is None and (_is_session_file(path) or is_video_path(path)):
        session = load_session(path)
        name = default_video_name(session.identity.path)
        return Annotations(path, "session", {name: session.model.kept()}, {name: session.identity.n_frames})
    labels = read_labels(path, format)
    videos = {v: [iv for iv in vi.intervals if iv.status != "rejected"] for v, vi in labels.videos.items()}
    return Annotations(path, labels.format, videos, {})


def frame_counts(
    a: Annotations, b: Annotations, given: Mapping[str, int] | None = None, default: int | None = None
) -> dict[str, tuple[int, str]]:
    """Each video's frame count and where it came from: ``given`` (per video, else ``default``),
    else a session's (both sessions must agree), else the last labelled frame + 1."""
    given = given or {}
    out = {}
    for video in sorted(a.videos.keys() | b.videos.keys()):
        from_sessions = {n for n in (a.n_frames.get(video), b.n_frames.get(video)) if n is not None}
        if len(from_sessions) > 1:
            raise AgreementError(
                f"video {video!r}: the two sessions record different frame counts {sorted(from_sessions)}; "
                "they are sessions of different videos"
            )
        if video in given or default is not None:
            out[video] = (int(given.get(video, default)), "given")
        elif from_sessions:
            out[video] = (from_sessions.pop(), "session")
        else:
            intervals = [*a.videos.get(video, ()), *b.videos.get(video, ())]
            out[video] = (max((iv.offset for iv in intervals), default=-1) + 1, "last label")
    return out


def check_common_videos(a: Annotations, b: Annotations) -> None:
    """Refuse two annotations without a video in common: almost surely a naming mismatch."""
    if a.videos and b.videos and not a.videos.keys() & b.videos.keys():
        raise AgreementError(
            f"{a.path} and {b.path} share no video (A: {', '.join(sorted(a.videos)[:5])}; "
            f"B: {', '.join(sorted(b.videos)[:5])}); export the sessions with the same --video-name"
        )


def agreement_with(
    a: Sequence[Interval], path: str | os.PathLike, names: Iterable[str], n_frames: int, k: float = 0.5
) -> VideoAgreement:
    """The agreement of one video's intervals ``a`` (annotator A: the ground truth or the
    corrected track shown) with a second annotator's, read from ``path`` — a label file or a
    session (:func:`read_annotations`) — whose entry for this video is the one called any of
    ``names`` (a file with a single video is taken as this video's). ``n_frames`` is the
    video's own frame count; a session of a video of another length is refused."""
    from napari_mespot.core.labels.base import entry_for_video

    if not 0 < k <= 1:
        raise AgreementError(f"the IoU threshold must be in (0, 1], got {k}")
    other = read_annotations(path)
    video, b = entry_for_video(other.videos, names, path)
    recorded = other.n_frames.get(video)
    if recorded is not None and recorded != n_frames:
        raise AgreementError(
            f"{path}: a session of a video of {recorded} frames, this one has {n_frames}; "
            "is it a session of another video?"
        )
    return video_agreement(video, a, b, n_frames, k, frames_source="this video")
