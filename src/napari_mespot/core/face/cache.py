"""On-disk landmark cache, so reopening a video does not rerun face tracking.

The cache file sits next to the video (``<video>.mespot-landmarks-<provider>-<key>.npz``) and
its name carries a key hashed from the video identity and the provider settings: a re-encoded
video, another MediaPipe version or other thresholds give another key, never a stale hit.
Dataset folders are often read-only; then the file goes to the user cache folder instead
(``$XDG_CACHE_HOME/napari-mespot/landmarks``). Files are written atomically.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import os
import zipfile
import zlib
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

from napari_mespot.core.atomic import atomic_write_bytes, is_writable_dir
from napari_mespot.core.face.landmarks import FaceLandmarks, FrameSource, LandmarkError, LandmarkProvider
from napari_mespot.core.media.samples import is_sample
from napari_mespot.core.progress import Progress

log = logging.getLogger(__name__)

#: Bumped when the file layout or the meaning of the arrays changes.
CACHE_VERSION = 1


def video_identity(video: Any) -> dict[str, Any] | None:
    """What identifies a video's content for the cache, or ``None`` for in-memory frames.

    Uses the video's own ``identity()`` (content hash, length, size) when it has one, so a moved
    file keeps its cache; otherwise the path's size and modification time plus the frame count.
    """
    identity = getattr(video, "identity", None)
    if callable(identity):
        ident = identity()
        fields = dataclasses.asdict(ident) if dataclasses.is_dataclass(ident) else dict(ident)
        fields.pop("path", None)
        return fields
    path = getattr(video, "path", None)
    if path is None:
        return None
    stat = Path(path).stat()
    return {
        "path": str(Path(path).resolve()),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "n_frames": len(video),
    }


def cache_key(identity: dict[str, Any], provider: LandmarkProvider) -> str:
    """Hex digest of the video identity, the provider name and its settings."""
    blob = json.dumps(
        {
            "version": CACHE_VERSION,
            "video": identity,
            "provider": provider.name,
            "settings": provider.settings(),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "napari-mespot" / "landmarks"


def cache_paths(video_path: str | Path, provider: LandmarkProvider, key: str) -> list[Path]:
    """Where the cache file may be, in order of preference: beside the video, then the user cache."""
    video_path = Path(video_path)
    name = f"{video_path.name}.mespot-landmarks-{provider.name}-{key}.npz"
    if is_sample(video_path):
        return [user_cache_dir() / name]  # never write into the installation
    return [video_path.with_name(name), user_cache_dir() / name]


def load(path: Path, key: str) -> FaceLandmarks | None:
    """Read a cache file; ``None`` when it is missing, damaged or for another key.

    A cache is disposable: a damaged one (a truncated write by another tool, a full disk) is
    reported once, deleted and computed again, never an error that stops every later run.
    """
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("key") != key or meta.get("version") != CACHE_VERSION:
                return None
            return FaceLandmarks(
                data["points"], data["confidence"], meta["scheme"], meta["provider"], meta["settings"]
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error, LandmarkError) as exc:
        deleted = _discard(path)
        log.warning(
            "damaged landmark cache %s (%s); %s, the landmarks are computed again",
            path,
            type(exc).__name__,
            "deleted" if deleted else "left in place (its folder is read-only)",
        )
        return None


def _discard(path: Path) -> bool:
    """Delete a damaged cache file where its folder may be written; whether it is gone."""
    if not is_writable_dir(path.parent):
        return False
    try:
        path.unlink()
    except OSError:
        return False
    return True


def save(paths: list[Path], landmarks: FaceLandmarks, key: str) -> Path | None:
    """Write the cache to the first writable location; return it (``None`` if none was)."""
    meta = {
        "version": CACHE_VERSION,
        "key": key,
        "scheme": landmarks.scheme,
        "provider": landmarks.provider,
        "settings": dict(landmarks.settings),
    }
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        points=landmarks.points.astype(np.float32),
        confidence=landmarks.confidence.astype(np.float32),
        meta=np.array(json.dumps(meta, sort_keys=True, default=str)),
    )
    for path in paths:
        if path.parent.exists() and not is_writable_dir(path.parent):
            continue
        try:
            atomic_write_bytes(path, buf.getvalue())
        except OSError:
            continue
        return path
    log.warning("could not write the landmark cache to any of %s", ", ".join(map(str, paths)))
    return None


def landmarks_for_video(
    video: FrameSource, provider: LandmarkProvider, use_cache: bool = True
) -> Generator[Progress, None, FaceLandmarks]:
    """Landmarks of every frame of ``video``: from the cache when valid, else detected and cached.

    A generator (yields :class:`Progress`, returns :class:`FaceLandmarks`) so the CLI and the GUI
    can show progress and cancel. Only videos with a ``path`` and providers marked ``cacheable``
    are cached.
    """
    identity = video_identity(video) if use_cache and provider.cacheable else None
    paths: list[Path] = []
    key = ""
    if identity is not None:
        hit = load_cached(video, provider)
        if hit is not None:
            yield Progress(len(video), len(video), f"landmarks from cache {hit[1].name}")
            return hit[0]
        key = cache_key(identity, provider)
        paths = cache_paths(video.path, provider, key)  # type: ignore[attr-defined]
    result = yield from provider.detect(video)
    if paths:
        save(paths, result, key)
    return result


def load_cached(video: FrameSource, provider: LandmarkProvider) -> tuple[FaceLandmarks, Path] | None:
    """The valid cached landmarks of ``video`` for ``provider`` and their file, if any."""
    identity = video_identity(video) if provider.cacheable else None
    if identity is None:
        return None
    key = cache_key(identity, provider)
    for path in cache_paths(video.path, provider, key):  # type: ignore[attr-defined]
        cached = load(path, key)
        if cached is not None and len(cached) == len(video):
            return cached, path
    return None


def cache_file(video: FrameSource, provider: LandmarkProvider) -> Path | None:
    """Where the cache of ``video`` for ``provider`` is, if a file exists (not read: cheap)."""
    identity = video_identity(video) if provider.cacheable else None
    if identity is None:
        return None
    key = cache_key(identity, provider)
    paths = cache_paths(video.path, provider, key)  # type: ignore[attr-defined]
    return next((path for path in paths if path.is_file()), None)
