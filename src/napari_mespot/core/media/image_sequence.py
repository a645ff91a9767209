"""Folders of images, one per frame, as a video source (the datasets' layout)."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import numpy as np

from napari_mespot.core.errors import VideoOpenError, VideoReadError
from napari_mespot.core.media.source import IDENTITY_UNITS, VideoSource

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset(".jpg .jpeg .png .bmp .tif .tiff".split())
#: Frame rate assumed for an image folder when none is given (CAS(ME)² is 30 fps).
DEFAULT_SEQUENCE_FPS = 30.0

# =============================================================================================
_NUMBER = re.compile(r"(\d+)")


def _natural_key(name: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(name)]


def _trailing_number(stem: str) -> int | None:
    match = re.search(r"(\d+)$", stem)
    return int(match.group(1)) if match else None


class ImageSequence(VideoSource):
    """A folder of images, one per frame, in natural name order (``img2`` before ``img10``).

    Dataset frame numbers (``img<n>.jpg``, SAMM's ``006_1_0001.jpg``) are kept in
    :attr:`frame_numbers`, so label readers can map them to 0-based frame indices.
    """

    def __init__(self, path: Path, fps: float | None = None, **kwargs) -> None:
        files = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
            key=lambda p: _natural_key(p.name),
        )
        if not files:
            raise VideoOpenError(f"{path}: folder holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.files = files
        numbers = [_trailing_number(p.stem) for p in files]
        self.frame_numbers = numbers if all(n is not None for n in numbers) else None
        first = _read_image(files[0])
        if fps is None:
            fps, fps_source = DEFAULT_SEQUENCE_FPS, "assumed"
            log.warning(
                "%s: image folder has no frame rate; assuming %.0f fps (give the real one with fps=/--fps)",
                path,
                fps,
            )
        else:
            fps_source = "user"
        if fps <= 0:
            raise VideoOpenError(f"{path}: fps must be positive, got {fps}")
        self.codec = files[0].suffix.lower().lstrip(".")
        timestamps = np.arange(len(files), dtype=np.float64) / fps
        height, width = first.shape[:2]
        super().__init__(path, len(files), height, width, fps, timestamps, fps_source, **kwargs)

    def _decode(self, index: int) -> np.ndarray:
        return _read_image(self.files[index])

    def _size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)

    def _content_hash(self) -> str:
        digest = hashlib.sha256()
        for p in self.files[:IDENTITY_UNITS]:
            digest.update(p.read_bytes())
        return digest.hexdigest()


def _read_image(path: Path) -> np.ndarray:
    import cv2

    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as exc:
        raise VideoReadError(f"{path}: cannot read ({exc.strerror})") from exc
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise VideoReadError(f"{path}: not a readable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
