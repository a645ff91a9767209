"""Videos → network input (aligned face crops + optical flow) and labelled training windows.

A video is turned once into two arrays, cached on disk as ``.npy`` files and memory-mapped
afterwards, so training epochs and repeated spotting never recompute them:

- ``frames`` (n, S, S, 3) uint8: the face crop of every frame (S = ``input_size``);
- ``flow`` (n, 2, S, S) float16: the flow from the crop of frame t − gap to that of frame t, in
  crop pixels (zero for the first ``gap`` frames) — absent when trained ``--no-flow``.

The crops are cached also for a network trained ``--no-image`` (flow only): they cost nothing
beside the flow, and one cache then serves both kinds of network.

The crop is a similarity alignment from three landmarks (outer eye corners and nose bridge)
averaged over a few frames, so it follows the head but not the landmark jitter. Both frames
of a flow pair are cut with frame t's crop, so the flow is the face's motion, not the crop's.

The cache key hashes the video identity (content hash, size, frame count), the data settings
and the landmark provider, so another video, crop or flow never gives a stale hit.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import deque
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch

from napari_mespot.core import registry
from napari_mespot.core.atomic import atomic_write_text, atomic_writer
from napari_mespot.core.face.cache import landmarks_for_video, video_identity
from napari_mespot.core.face.head_motion import crop_flows_without_similarity
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.regions import RegionSpec, region_transform
from napari_mespot.core.flow.methods import flow as compute_flow
from napari_mespot.core.flow.methods import to_gray
from napari_mespot.core.intervals import Interval
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.vovnet.settings import CLASSES, DataSettings, to_dict

#: Bumped when the cached arrays change meaning.
CACHE_VERSION = 1
#: Image normalisation ``fixed``: uint8 → roughly zero mean, unit spread.
IMAGE_MEAN, IMAGE_STD = 127.5, 64.0
#: ``video`` normalisation: the smallest spread divided by (grey levels), so a flat crop is not
#: blown up into noise; and how many frames are summed at a time (long videos are memory-mapped).
MIN_STD, STATS_CHUNK = 1.0, 4096
#: Data settings that only change how cached arrays are read, not the arrays: not in the key.
_READ_ONLY_SETTINGS = ("image_norm", "image", "head_motion")


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-mespot" / "vovnet"


def face_spec(settings: DataSettings, side: int) -> RegionSpec:
    """The face box: around the nose bridge, scaled by the outer-eye-corner distance."""
    return RegionSpec(
        "face", ("eye_outer_l", "eye_outer_r"), settings.face_gammas, (side, side), "nose_bridge"
    )


@dataclass(frozen=True)
class Features:
    """One video's network input (possibly memory-mapped) and which frames had a face."""

    frames: np.ndarray
    flow: np.ndarray | None
    found: np.ndarray
    flow_scale: float = 1.0
    image_norm: str = "fixed"
    image: bool = True
    head_motion: str = "off"

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @cached_property
    def image_stats(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per channel, what is subtracted and what it is divided by (``image_norm``)."""
        if self.image_norm == "fixed" or not np.any(self.found):
            return torch.full((3,), IMAGE_MEAN), torch.full((3,), IMAGE_STD)
        sums, squares, count = np.zeros(3), np.zeros(3), 0
        face = np.flatnonzero(self.found)
        for c0 in range(0, len(face), STATS_CHUNK):
            chunk = np.asarray(self.frames[face[c0 : c0 + STATS_CHUNK]], dtype=np.float64).reshape(-1, 3)
            sums += chunk.sum(axis=0)
            squares += (chunk**2).sum(axis=0)
            count += len(chunk)
        mean = sums / count
        std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        std = np.maximum(std, MIN_STD)
        return torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)

    @cached_property
    def network_flow(self) -> np.ndarray | None:
        """The flow as the network reads it: with ``head_motion`` ``similarity`` each frame's
        rigid part removed (:func:`~napari_mespot.core.face.head_motion.crop_flows_without_similarity`),
        once per video and in memory (the cached flow stays the measured one)."""
        if self.flow is None or self.head_motion == "off":
            return self.flow
        return crop_flows_without_similarity(self.flow)

    def window(self, start: int, length: int) -> tuple[torch.Tensor, int]:
        """Frames ``start … start + length − 1`` as a (length, C, S, S) float tensor, zero-padded
        after the video's end, and how many frames are real. The image (left out when ``image`` is
        False) is normalised and the flow (:attr:`network_flow`) multiplied by ``flow_scale``."""
        stop = min(start + length, len(self))
        valid = stop - start
        parts = []
        if self.image:
            img = torch.from_numpy(np.array(self.frames[start:stop])).permute(0, 3, 1, 2).float()
            mean, std = self.image_stats
            parts.append((img - mean[:, None, None]) / std[:, None, None])
        if self.flow is not None:
            parts.append(torch.from_numpy(np.array(self.network_flow[start:stop])).float() * self.flow_scale)
        x = torch.cat(parts, dim=1)
        if valid < length:
            x = torch.cat([x, x.new_zeros(length - valid, *x.shape[1:])])
        return x, valid


def smoothed_key_points(landmarks: FaceLandmarks, frames: int) -> np.ndarray:
    """(n, 3, 2) eye corners and nose bridge, averaged over ``frames`` frames with a face (NaN without)."""
    names = ("eye_outer_l", "eye_outer_r", "nose_bridge")
    n = len(landmarks)
    pts = np.full((n, 3, 2), np.nan)
    for k in np.flatnonzero(landmarks.found):
        kp = landmarks.key_points(int(k))
        pts[k] = [kp[name] for name in names]
    if frames <= 1:
        return pts
    valid = np.isfinite(pts).all(axis=(1, 2)).astype(np.float64)
    filled = np.nan_to_num(pts)
    den = _centred_sum(valid, frames)
    out = np.empty_like(pts)
    for j in range(3):
        for d in range(2):
            out[:, j, d] = _centred_sum(filled[:, j, d] * valid, frames) / np.maximum(den, 1)
    out[valid == 0] = np.nan
    return out


def _centred_sum(x: np.ndarray, frames: int) -> np.ndarray:
    """Sum over ``frames`` frames centred on each frame (as ``np.convolve(x, ones, "same")``),
    of ``x``'s length also when the video is shorter than the window."""
    full = np.convolve(x, np.ones(frames))
    start = (frames - 1) // 2
    return full[start : start + len(x)]


def _frames_of(video: Any) -> Iterator[np.ndarray]:
    iter_frames = getattr(video, "iter_frames", None)
    if callable(iter_frames):
        yield from iter_frames()
    else:
        for k in range(len(video)):
            yield np.asarray(video[k])


def _crop(frame: np.ndarray, points: np.ndarray, settings: DataSettings, side: int) -> np.ndarray:
    spec = face_spec(settings, side)
    named = {"eye_outer_l": points[0], "eye_outer_r": points[1], "nose_bridge": points[2]}
    return region_transform(named, spec).warp(frame)


#: Flow pairs sent to the device in one batched call by the GPU path of :func:`compute_features`.
FLOW_BATCH = 256


def _network_flow(f: np.ndarray, s: int, side: int) -> np.ndarray:
    """A (side, side, 2) crop flow as the network's (2, s, s) input, in input-crop pixels."""
    import cv2

    if side != s:
        f = cv2.resize(f, (s, s), interpolation=cv2.INTER_AREA) * (s / side)
    return f.transpose(2, 0, 1)


def compute_features(
    video: Any, landmarks: FaceLandmarks, settings: DataSettings, flow_device: str | None = None
) -> Generator[Progress, None, Features]:
    """Crop and flow every frame of ``video`` (read once, in order) into in-memory arrays.

    ``flow_device`` ``None`` computes each pair's flow with OpenCV as it is read; ``cpu`` or
    ``cuda`` collects up to :data:`FLOW_BATCH` pairs (each with its own reference) and computes
    them in one call of OpenCV's torch port on that device
    (:func:`napari_mespot.core.flow.torch.ports.flow_batch`), whose flows agree with OpenCV's
    within the errors its tests state.
    """
    import cv2

    n = len(video)
    s, side = settings.input_size, settings.flow_side
    key = smoothed_key_points(landmarks, settings.smooth_frames)
    found = np.isfinite(key).all(axis=(1, 2))
    frames = np.zeros((n, s, s, 3), np.uint8)
    flow = np.zeros((n, 2, s, s), np.float16) if settings.flow else None
    recent: deque[np.ndarray] = deque(maxlen=settings.flow_gap + 1)
    pending: list[tuple[int, np.ndarray, np.ndarray]] = []
    if flow_device is not None:
        from napari_mespot.core.flow.batched import torch_params
        from napari_mespot.core.flow.methods import get_method
        from napari_mespot.core.flow.torch.ports import flow_batch

        params = torch_params(get_method(settings.flow_method), {})

    def flush() -> None:
        refs, grays = np.stack([p[1] for p in pending]), np.stack([p[2] for p in pending])
        flows = flow_batch(refs, grays, settings.flow_method, device=flow_device, chunk=FLOW_BATCH, **params)
        for (k, _, _), f in zip(pending, flows, strict=True):
            flow[k] = _network_flow(f, s, side)
        pending.clear()

    for k, frame in enumerate(_frames_of(video)):
        if k >= n:
            break
        recent.append(frame)
        if found[k]:
            big = _crop(frame, key[k], settings, side)
            frames[k] = big if side == s else cv2.resize(big, (s, s), interpolation=cv2.INTER_AREA)
            if flow is not None and len(recent) == recent.maxlen:
                ref = to_gray(_crop(recent[0], key[k], settings, side))
                if flow_device is None:
                    flow[k] = _network_flow(compute_flow(ref, to_gray(big), settings.flow_method), s, side)
                else:
                    pending.append((k, ref, to_gray(big)))
                    if len(pending) == FLOW_BATCH:
                        flush()
        yield Progress(k + 1, n, "face crops and flow")
    if pending:
        flush()
    return _features(frames, flow, found, settings)


def _features(
    frames: np.ndarray, flow: np.ndarray | None, found: np.ndarray, settings: DataSettings
) -> Features:
    """The arrays as the network input ``settings`` describes (how they are read, not computed)."""
    return Features(
        frames, flow, found, settings.flow_scale, settings.image_norm, settings.image, settings.head_motion
    )


def cache_key(video: Any, settings: DataSettings) -> str | None:
    """Hex key of (video identity, data settings, landmark provider), or None for in-memory video."""
    identity = video_identity(video)
    if identity is None:
        return None
    data = {k: v for k, v in to_dict(settings).items() if k not in _READ_ONLY_SETTINGS}
    blob = json.dumps(
        {"version": CACHE_VERSION, "video": identity, "data": data}, sort_keys=True, default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_writer(path, "wb") as fh:
        np.save(fh, array, allow_pickle=False)


def load_cached(folder: Path, settings: DataSettings) -> Features | None:
    """The memory-mapped features in ``folder``, or None when incomplete or unreadable."""
    if not (folder / "meta.json").is_file():
        return None
    try:
        frames = np.load(folder / "frames.npy", mmap_mode="r")
        found = np.load(folder / "found.npy")
        flow_path = folder / "flow.npy"
        flow = np.load(flow_path, mmap_mode="r") if flow_path.is_file() else None
    except (OSError, ValueError):
        return None
    return _features(frames, flow, found, settings)


def features_for_video(
    video: Any,
    settings: DataSettings,
    cache_dir: str | os.PathLike | None = None,
    landmarks: FaceLandmarks | None = None,
    flow_device: str | None = None,
) -> Generator[Progress, None, Features]:
    """The features of ``video``: from the cache when present, else computed (and cached).

    Landmarks come from ``landmarks`` or the settings' provider (itself cached beside the video).
    ``cache_dir`` defaults to the user cache folder; in-memory videos are never cached.
    ``flow_device``: see :func:`compute_features`; a cached entry serves either way, since the
    torch port gives OpenCV's flow within its stated error.
    """
    key = cache_key(video, settings)
    folder = Path(cache_dir or user_cache_dir()) / key if key else None
    if folder is not None and (hit := load_cached(folder, settings)) is not None and len(hit) == len(video):
        yield Progress(len(video), len(video), "features from cache")
        return hit
    if landmarks is None:
        landmarks = yield from landmarks_for_video(video, registry.landmark_provider(settings.landmarks))
    feats = yield from compute_features(video, landmarks, settings, flow_device)
    if folder is None:
        return feats
    _save_npy(folder / "frames.npy", feats.frames)
    _save_npy(folder / "found.npy", feats.found)
    if feats.flow is not None:
        _save_npy(folder / "flow.npy", feats.flow)
    atomic_write_text(folder / "meta.json", json.dumps({"key": key, "n_frames": len(feats)}))
    return load_cached(folder, settings) or feats


@dataclass(frozen=True)
class LabelledVideo:
    """A training or test video: where it is, its ground truth and its subject (for LOSO).

    ``frames``: only the video's first ``frames`` frames are used (the ground truth must lie
    inside them) — how one video is split into a part to train on and a part to test on.
    """

    path: str
    intervals: tuple[Interval, ...]
    subject: str
    name: str = ""
    frames: int | None = None

    @property
    def video_name(self) -> str:
        return self.name or Path(self.path).stem


def window_starts(n: int, window: int, stride: int) -> list[int]:
    """First frames of windows covering ``n`` frames: every ``stride``, plus one ending at the end."""
    if n <= window:
        return [0]
    starts = list(range(0, n - window + 1, stride))
    if starts[-1] + window < n:
        starts.append(n - window)
    return starts


def window_targets(
    intervals: Sequence[Interval], start: int, length: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground truth of one window: (G, 2) inclusive frames relative to ``start``, classes (G,).

    An expression cut by the window edge is kept (clipped) when at least half of it is inside,
    else dropped: a sliver would teach the network that a long expression is short.
    """
    segs, classes = [], []
    end = start + length - 1
    for iv in intervals:
        lo, hi = max(iv.onset, start), min(iv.offset, end)
        if hi < lo or (hi - lo + 1) * 2 < iv.length:
            continue
        segs.append((lo - start, hi - start))
        classes.append(CLASSES.index(iv.type))
    if not segs:
        return torch.zeros(0, 2), torch.zeros(0, dtype=torch.long)
    return torch.tensor(segs, dtype=torch.float32), torch.tensor(classes, dtype=torch.long)
