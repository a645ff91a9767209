"""Learning AU prototypes from labelled clips (paper eq. 16–18).

For each clip g (frames, onset, apex, AU codes) the eye and mouth regions are fitted on the onset
frame and the flow from onset to apex is computed in each (eq. 16–17). The prototype of AU j is
the mean of the apex flows, in AU j's region, over the clips that contain AU j (eq. 18); only AUs
seen in at least ``min_count`` clips get one (the paper: ≥ 10 in CASME II), so the AU set follows
the data. Averaging is what makes a prototype useful: motion shared by an AU adds up, while head
motion, blinks and flow errors average towards 0 (eq. 13–15).

Clip sources: :func:`casme2_clips` (the CASME II folder layout plus its coding workbook) and
:func:`synthetic_clips` (expressions rendered by :mod:`napari_mespot.core.synth.generator`).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_mespot.core.face.landmarks import FaceLandmarks, FrameSource, LandmarkProvider
from napari_mespot.core.face.regions import NoFaceError, RegionSpec
from napari_mespot.core.flow.regions import window_region_flows
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.prototype.prototypes import (
    AU_REGIONS,
    DEFAULT_REGIONS,
    Prototype,
    PrototypeError,
    PrototypeSet,
)


@dataclass(frozen=True)
class LabelledClip:
    """One labelled expression: ``frames[onset]`` is neutral, ``frames[apex]`` the peak.

    ``landmarks`` (for ``frames``) are optional; without them the onset frame's face is found
    by the learner's landmark provider.
    """

    name: str
    frames: FrameSource
    onset: int
    apex: int
    aus: tuple[int, ...]
    landmarks: FaceLandmarks | None = None


@dataclass
class LearnReport:
    """What learning used and left out, kept in the prototype file's provenance."""

    clips: int = 0
    used: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    au_counts: dict[int, int] = field(default_factory=dict)
    dropped_aus: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "clips": self.clips,
            "used": self.used,
            "skipped": dict(self.skipped),
            "au_counts": {str(k): v for k, v in sorted(self.au_counts.items())},
            "dropped_aus": {str(k): v for k, v in sorted(self.dropped_aus.items())},
        }


def _onset_landmarks(clip: LabelledClip, pair: np.ndarray, provider: LandmarkProvider) -> FaceLandmarks:
    if clip.landmarks is not None:
        lm = clip.landmarks
        return FaceLandmarks(
            lm.points[clip.onset : clip.onset + 1],
            lm.confidence[clip.onset : clip.onset + 1],
            lm.scheme,
            lm.provider,
            lm.settings,
        )
    gen = provider.detect(pair[:1])
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def apex_flows(
    clip: LabelledClip,
    regions: Sequence[RegionSpec],
    provider: LandmarkProvider,
    flow_method: str = "farneback",
    flow_params: Mapping[str, Any] | None = None,
    head_motion: bool = False,
) -> dict[str, np.ndarray]:
    """Eq. 16–17: the onset → apex flow of each region, regions fitted on the onset frame.

    Raises :class:`~napari_mespot.core.face.regions.NoFaceError` when the onset frame has no face.
    """
    pair = np.stack([np.asarray(clip.frames[clip.onset]), np.asarray(clip.frames[clip.apex])])
    landmarks = _onset_landmarks(clip, pair, provider)
    gen = window_region_flows(
        pair, landmarks, 0, [1], regions, flow_method, head_motion, **dict(flow_params or {})
    )
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return {name: f[0] for name, f in stop.value.flows.items()}


def learn_prototypes(
    clips: Iterable[LabelledClip],
    *,
    min_count: int = 10,
    au_regions: Mapping[int, str] = AU_REGIONS,
    regions: Sequence[RegionSpec] = DEFAULT_REGIONS,
    flow_method: str = "farneback",
    flow_params: Mapping[str, Any] | None = None,
    head_motion: bool = False,
    provider: LandmarkProvider | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Generator[Progress, None, PrototypeSet]:
    """Eq. 18 over ``clips``: the mean apex flow per AU seen in at least ``min_count`` clips.

    AUs without a region in ``au_regions`` are ignored; clips whose onset frame has no face or
    with no AU of a known region are skipped. The prototype set's provenance records the clip
    counts, the skipped clips and the AUs dropped for being too rare.
    """
    if min_count < 1:
        raise PrototypeError(f"min_count must be at least 1, got {min_count}")
    if provider is None:
        from napari_mespot.core.face.landmarks import MediaPipeFaceMesh

        provider = MediaPipeFaceMesh(static_image_mode=True)
    region_names = {r.name for r in regions}
    clips = list(clips)
    report = LearnReport(clips=len(clips))
    sums: dict[int, np.ndarray] = {}
    for k, clip in enumerate(clips):
        yield Progress(k, len(clips), f"clip {clip.name}")
        aus = sorted({au for au in clip.aus if au_regions.get(au) in region_names})
        if not aus:
            report.skipped[clip.name] = "no AU with a known region"
            continue
        try:
            flows = apex_flows(clip, regions, provider, flow_method, flow_params, head_motion)
        except NoFaceError as exc:
            report.skipped[clip.name] = str(exc)
            continue
        report.used += 1
        for au in aus:
            f = flows[au_regions[au]].astype(np.float64)
            sums[au] = sums[au] + f if au in sums else f
            report.au_counts[au] = report.au_counts.get(au, 0) + 1
    yield Progress(len(clips), len(clips), "averaging")
    kept = sorted(au for au, c in report.au_counts.items() if c >= min_count)
    report.dropped_aus = {au: c for au, c in report.au_counts.items() if c < min_count}
    if not kept:
        raise PrototypeError(
            f"no AU occurs in at least {min_count} usable clips (counts: {report.au_counts or 'none'}; "
            f"{len(report.skipped)} clip(s) skipped)"
        )
    protos = tuple(
        Prototype(
            au, au_regions[au], (sums[au] / report.au_counts[au]).astype(np.float32), report.au_counts[au]
        )
        for au in kept
    )
    record = {
        **dict(provenance or {}),
        "min_count": min_count,
        "landmarks": provider.name,
        **report.to_dict(),
    }
    return PrototypeSet(protos, tuple(regions), flow_method, dict(flow_params or {}), head_motion, record)


# -- clip sources ----------------------------------------------------------------------------


class _SceneFrames:
    """Two frames of a synthetic scene, rendered when read (a tiny lazy FrameSource)."""

    def __init__(self, scene: Any, indices: tuple[int, ...]) -> None:
        self._scene = scene
        self._indices = indices

    def __len__(self) -> int:
        return len(self._indices)

    def __getitem__(self, i: int) -> np.ndarray:
        return self._scene.frame(self._indices[i])


def synthetic_clips(settings: Any, seeds: Iterable[int | tuple[int, ...]]) -> list[LabelledClip]:
    """One clip per expression of the synthetic scene of each seed (frames rendered lazily)."""
    from napari_mespot.core.synth.generator import SynthScene

    clips = []
    for seed in seeds:
        scene = SynthScene(settings, seed)
        tag = "-".join(str(s) for s in scene.seed)
        for i, ex in enumerate(scene.expressions):
            clips.append(
                LabelledClip(f"synth-{tag}-{i:03d}", _SceneFrames(scene, (ex.onset, ex.apex)), 0, 1, ex.aus)
            )
    return clips


def casme2_clips(
    root: str | os.PathLike, coding: str | os.PathLike, fps: float = 200.0
) -> tuple[list[LabelledClip], dict[str, str]]:
    """The clips of a CASME II tree ``ROOT/subNN/<Filename>/img<n>.jpg`` labelled by ``coding``.

    Returns the clips and, per clip left out, the reason (folder missing, no apex, frame
    number not in the folder).
    """
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.media.video import open_video

    root = Path(root)
    labels = read_labels(coding, format="casme2-xlsx")
    clips, missing = [], {}
    for name, vi in labels.videos.items():
        folder = root / name
        if not folder.is_dir():
            missing[name] = f"no folder {folder}"
            continue
        seq = open_video(folder, fps=fps)
        numbers = getattr(seq, "frame_numbers", None) or list(range(1, len(seq) + 1))
        index = {num: i for i, num in enumerate(numbers)}
        for iv in vi.intervals:
            if iv.apex is None:
                missing[name] = "apex not annotated"
                continue
            # The coding numbers images from 1 (img<n>.jpg); intervals are 0-based.
            onset, apex = index.get(iv.onset + 1), index.get(iv.apex + 1)
            if onset is None or apex is None:
                missing[name] = f"img{iv.onset + 1} or img{iv.apex + 1} not in {folder}"
                continue
            clips.append(LabelledClip(name, seq, onset, apex, iv.aus))
    return clips, missing
