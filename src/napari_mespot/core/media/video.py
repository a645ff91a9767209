"""Lazy, frame-accurate video and image-sequence sources.

A :class:`VideoSource` behaves like a read-only uint8 array of shape (n_frames, H, W, 3) in RGB,
so napari can show it as an Image layer and the spotters can index it like numpy, while nothing
is decoded until a frame is asked for.

Frame accuracy (DESIGN.md §7): mapping a frame number to a time through the fps picks wrong
frames on variable-frame-rate files, and OpenCV's frame seeking is unreliable there. So a video
file is indexed once by demuxing (no decoding): every packet's presentation timestamp (pts) and
keyframe flag. Frame ``i`` is the ``i``-th smallest pts. Reading it means seeking to the last
keyframe at or before that pts and decoding until the frame with exactly that pts comes out;
if a seek lands too late (MPEG-TS seeks by bisection), an earlier keyframe is tried.

Reads are serialised by a lock (PyAV objects are not thread-safe and napari reads from worker
threads), recent frames stay in a small LRU cache, and when frames are read in order the next
few are decoded ahead on a background thread, so stepping forward is cheap.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from napari_mespot.core.errors import VideoOpenError, VideoReadError

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mov .avi .mkv .m4v .webm .ts .mts .m2ts .mpg .mpeg .wmv .flv .3gp .mj2".split()
)
IMAGE_EXTENSIONS = frozenset(".jpg .jpeg .png .bmp .tif .tiff".split())
#: Frame rate assumed for an image folder when none is given (CAS(ME)² is 30 fps).
DEFAULT_SEQUENCE_FPS = 30.0
#: Bytes of decoded frames kept in each source's LRU cache.
DEFAULT_CACHE_BYTES = 128 * 2**20
#: Frames decoded ahead when frames are read in order.
DEFAULT_READAHEAD = 8
#: Packets (or images) hashed into the content identity.
_IDENTITY_UNITS = 8


@dataclass(frozen=True)
class VideoIdentity:
    """What ties a session or a cache file to one video, even if the file is moved."""

    path: str
    size_bytes: int
    n_frames: int
    content_hash: str

    def matches(self, other: VideoIdentity) -> bool:
        """Same video: same content and length (the path may differ after a move)."""
        return (self.content_hash, self.n_frames, self.size_bytes) == (
            other.content_hash,
            other.n_frames,
            other.size_bytes,
        )


class _FrameCache:
    """A byte-bounded LRU of decoded frames, safe to use from several threads."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._frames: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, index: int) -> np.ndarray | None:
        with self._lock:
            frame = self._frames.get(index)
            if frame is not None:
                self._frames.move_to_end(index)
            return frame

    def __contains__(self, index: int) -> bool:
        with self._lock:
            return index in self._frames

    def put(self, index: int, frame: np.ndarray) -> None:
        if frame.nbytes > self._max_bytes:
            return
        with self._lock:
            old = self._frames.pop(index, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._frames[index] = frame
            self._bytes += frame.nbytes
            while self._bytes > self._max_bytes:
                _, evicted = self._frames.popitem(last=False)
                self._bytes -= evicted.nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes


class VideoSource(ABC):
    """A read-only, lazy (n_frames, H, W, 3) uint8 RGB array over a video or image folder.

    Subclasses provide :meth:`_decode`, which must be called with ``self._decode_lock`` held.
    """

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(
        self,
        path: Path,
        n_frames: int,
        height: int,
        width: int,
        fps: float,
        timestamps: np.ndarray,
        fps_source: str,
        *,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        readahead: int = DEFAULT_READAHEAD,
    ) -> None:
        if n_frames <= 0:
            raise VideoOpenError(f"{path}: contains no frames")
        self.path = path
        self.fps = float(fps)
        self.fps_source = fps_source
        self.timestamps = timestamps
        self.timestamps.flags.writeable = False
        self._shape = (n_frames, height, width, 3)
        self._cache = _FrameCache(cache_bytes)
        self._readahead = readahead
        self._decode_lock = threading.RLock()
        self._last_request: int | None = None
        self._prefetcher: ThreadPoolExecutor | None = None
        self._prefetch_pending = False
        self._closed = False

    # -- the array protocol napari and numpy code rely on ------------------------------------
    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self._shape

    @property
    def size(self) -> int:
        return int(np.prod(self._shape))

    @property
    def nbytes(self) -> int:
        return self.size

    def __len__(self) -> int:
        return self._shape[0]

    def __getitem__(self, key):
        """Integer, slice, integer-array or tuple indexing; axis 0 is decoded lazily."""
        rest: tuple = ()
        if isinstance(key, tuple):
            if not key:
                key = slice(None)
            else:
                key, rest = key[0], key[1:]
        if key is Ellipsis:
            key, rest = slice(None), ()
        if isinstance(key, (int, np.integer)):
            frame = self.frame(int(key))
            return frame[rest] if rest else frame
        if isinstance(key, slice):
            out = self._stack(range(*key.indices(len(self))))
        else:
            indices = np.asarray(key)
            if indices.dtype == bool:
                indices = np.flatnonzero(indices)
            if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
                raise IndexError(f"unsupported index on the frame axis: {key!r}")
            out = self._stack(indices.tolist())
        return out[(slice(None), *rest)] if rest else out

    def __array__(self, dtype=None, copy=None):
        log.warning("%s: materialising all %d frames in memory", self.path, len(self))
        data = self._stack(range(len(self)))
        return data if dtype is None else data.astype(dtype)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.iter_frames()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, shape={self.shape}, "
            f"fps={self.fps:.3f} ({self.fps_source}))"
        )

    # -- reading -----------------------------------------------------------------------------
    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` as a read-only (H, W, 3) uint8 RGB array."""
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"frame {index} is out of range for {n} frames")
        sequential = self._last_request is not None and index == self._last_request + 1
        self._last_request = index
        out = self._cache.get(index)
        if out is None:
            with self._decode_lock:
                out = self._cache.get(index)
                if out is None:
                    out = self._decode_checked(index)
        if sequential:
            self._schedule_readahead(index + 1)
        return out

    def iter_frames(self, start: int = 0, stop: int | None = None, step: int = 1) -> Iterator[np.ndarray]:
        """Frames ``start:stop:step`` in order, decoded without seeking where possible."""
        for index in range(*slice(start, stop, step).indices(len(self))):
            yield self.frame(index)

    def identity(self) -> VideoIdentity:
        return VideoIdentity(
            path=str(self.path),
            size_bytes=self._size_bytes(),
            n_frames=len(self),
            content_hash=self._content_hash(),
        )

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the end of the last one."""
        tail = 1.0 / self.fps if self.fps > 0 else 0.0
        return float(self.timestamps[-1] - self.timestamps[0]) + tail

    def close(self) -> None:
        self._closed = True
        if self._prefetcher is not None:
            self._prefetcher.shutdown(wait=True, cancel_futures=True)
            self._prefetcher = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------
    def _stack(self, indices) -> np.ndarray:
        indices = list(indices)
        out = np.empty((len(indices), *self._shape[1:]), dtype=np.uint8)
        for k, i in enumerate(indices):
            out[k] = self.frame(int(i))
        return out

    def _decode_checked(self, index: int) -> np.ndarray:
        frame = self._decode(index)
        if frame.shape != self._shape[1:]:
            raise VideoReadError(
                f"{self.path}: frame {index} has shape {frame.shape}, expected {self._shape[1:]}"
            )
        frame.flags.writeable = False
        self._cache.put(index, frame)
        return frame

    def _schedule_readahead(self, start: int) -> None:
        if self._readahead <= 0 or self._closed or self._prefetch_pending:
            return
        stop = min(len(self), start + self._readahead)
        if all(i in self._cache for i in range(start, stop)):
            return
        if self._prefetcher is None:
            self._prefetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mespot-readahead")
        self._prefetch_pending = True
        self._prefetcher.submit(self._readahead_task, start, stop)

    def _readahead_task(self, start: int, stop: int) -> None:
        try:
            for index in range(start, stop):
                if self._closed:
                    return
                # Give way to a foreground request that jumped elsewhere.
                last = self._last_request
                if last is not None and not start - 1 <= last < stop:
                    return
                if index in self._cache:
                    continue
                with self._decode_lock:
                    if index not in self._cache:
                        self._decode_checked(index)
        except Exception:  # the foreground read of the same frame reports the error
            log.debug("read-ahead stopped", exc_info=True)
        finally:
            self._prefetch_pending = False

    @abstractmethod
    def _decode(self, index: int) -> np.ndarray:
        """Decode frame ``index`` to a new (H, W, 3) uint8 RGB array."""

    @abstractmethod
    def _size_bytes(self) -> int:
        """Bytes on disk, for the identity."""

    @abstractmethod
    def _content_hash(self) -> str:
        """A hash of the first frames' encoded bytes: stable across moves and decoder versions."""


# =============================================================================================
# Video files (PyAV)
# =============================================================================================
@dataclass(frozen=True)
class _PacketIndex:
    pts: np.ndarray  # presentation timestamps in stream time-base units, ascending
    keyframe_pts: np.ndarray  # pts of keyframes, ascending
    content_hash: str
    expected_frames: int  # what the container header claims (0 = unknown)


class PyAVVideo(VideoSource):
    """A video file read with PyAV (FFmpeg)."""

    #: Keyframes to step back when a seek lands after the wanted frame.
    _MAX_SEEK_RETRIES = 3

    def __init__(self, path: Path, **kwargs) -> None:
        import av

        self._av = av
        self._container = _open_container(path)
        stream = self._container.streams.video[0]
        self._stream = stream
        self._time_base = stream.time_base or Fraction(1, 1)
        index = _index_packets(path, self._container, stream)
        self._container.seek(0)
        stream.thread_type = "AUTO"
        self._pts = index.pts
        self._keyframe_pts = index.keyframe_pts
        self._hash = index.content_hash
        self.codec = stream.codec_context.name
        if index.expected_frames and index.expected_frames > len(index.pts):
            log.warning(
                "%s: the header announces %d frames but only %d could be read (truncated file?)",
                path,
                index.expected_frames,
                len(index.pts),
            )
        seconds = (index.pts - index.pts[0]).astype(np.float64) * float(self._time_base)
        fps, fps_source = _container_fps(stream, seconds)
        self._frames_iter: Iterator | None = None
        self._next_index: int | None = None  # index of the next frame the decoder will output
        super().__init__(
            path,
            len(index.pts),
            stream.codec_context.height,
            stream.codec_context.width,
            fps,
            seconds,
            fps_source,
            **kwargs,
        )

    @property
    def keyframe_indices(self) -> np.ndarray:
        return np.searchsorted(self._pts, self._keyframe_pts)

    def close(self) -> None:
        super().close()
        with self._decode_lock:
            self._frames_iter = None
            self._container.close()

    def _size_bytes(self) -> int:
        return self.path.stat().st_size

    def _content_hash(self) -> str:
        return self._hash

    def _keyframe_before(self, pts: int, skip: int = 0) -> int | None:
        """The pts of the ``skip``-th keyframe before the last one at or before ``pts``."""
        k = int(np.searchsorted(self._keyframe_pts, pts, side="right")) - 1 - skip
        return int(self._keyframe_pts[k]) if k >= 0 else None

    def _decode(self, index: int) -> np.ndarray:
        target = int(self._pts[index])
        if not self._can_continue_to(index):
            self._seek(self._keyframe_before(target))
        for retry in range(1, self._MAX_SEEK_RETRIES + 2):
            frame = self._decode_forward_to(index)
            if frame is not None:
                return frame
            # The seek landed after the frame: step back further, finally restart from the top.
            self._seek(self._keyframe_before(target, skip=retry) if retry <= self._MAX_SEEK_RETRIES else None)
        raise VideoReadError(f"{self.path}: frame {index} could not be decoded (corrupt or truncated data)")

    def _can_continue_to(self, index: int) -> bool:
        """Whether decoding on from the current position reaches ``index`` no slower than a seek."""
        if self._frames_iter is None or self._next_index is None or self._next_index > index:
            return False
        return self._keyframe_before(int(self._pts[index])) <= int(self._pts[self._next_index])

    def _seek(self, keyframe_pts: int | None) -> None:
        try:
            if keyframe_pts is None:
                self._container.seek(0)
            else:
                self._container.seek(keyframe_pts, stream=self._stream, backward=True, any_frame=False)
        except self._av.error.FFmpegError as exc:
            raise VideoReadError(f"{self.path}: cannot seek ({exc})") from exc
        self._frames_iter = self._decoded_frames()
        self._next_index = None

    def _decoded_frames(self) -> Iterator:
        for packet in self._container.demux(self._stream):
            yield from packet.decode()

    def _decode_forward_to(self, index: int) -> np.ndarray | None:
        """Decode until frame ``index``; ``None`` if the decoder is already past it."""
        target = int(self._pts[index])
        try:
            for av_frame in self._frames_iter:
                pts = av_frame.pts
                if pts is None:
                    continue
                position = int(np.searchsorted(self._pts, pts))
                if position >= len(self._pts) or self._pts[position] != pts:
                    continue  # a frame the index does not know (e.g. discarded by an edit list)
                self._next_index = position + 1
                if pts == target:
                    return av_frame.to_ndarray(format="rgb24")
                if pts > target:
                    return None
        except self._av.error.FFmpegError as exc:
            self._frames_iter = None
            raise VideoReadError(f"{self.path}: frame {index}: cannot decode ({exc})") from exc
        self._frames_iter = None
        return None


def _open_container(path: Path):
    import av

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as exc:
        raise VideoOpenError(f"{path}: not a readable video ({exc.strerror or exc})") from exc
    if not container.streams.video:
        container.close()
        raise VideoOpenError(f"{path}: has no video stream")
    return container


def _index_packets(path: Path, container, stream) -> _PacketIndex:
    """Demux the whole file once (no decoding) to learn every frame's pts and the keyframes."""
    import av

    pts: list[int] = []
    keys: list[int] = []
    discarded = 0
    digest = hashlib.sha256()
    hashed = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            ts = packet.pts if packet.pts is not None else packet.dts
            if ts is None:
                raise VideoOpenError(
                    f"{path}: the stream carries no timestamps; remux it into a container "
                    "(e.g. `ffmpeg -i in -c copy out.mp4`) to read it frame-accurately"
                )
            # A keyframe cut away by an edit list is never shown, but decoding starts there.
            if packet.is_keyframe:
                keys.append(ts)
            if packet.is_discard:
                discarded += 1
                continue
            pts.append(ts)
            if hashed < _IDENTITY_UNITS:
                digest.update(bytes(packet))
                hashed += 1
    except av.error.FFmpegError as exc:
        if not pts:
            raise VideoOpenError(f"{path}: not a readable video ({exc})") from exc
        log.warning("%s: reading stopped after %d frames: %s", path, len(pts), exc)
    if not pts:
        raise VideoOpenError(f"{path}: contains no video frames")
    pts_arr = np.unique(np.asarray(pts, dtype=np.int64))
    if len(pts_arr) < len(pts):
        log.warning("%s: %d packets repeat a timestamp; each is counted once", path, len(pts) - len(pts_arr))
    if not keys:
        raise VideoOpenError(f"{path}: no keyframe found, cannot seek")
    key_arr = np.unique(np.asarray(keys, dtype=np.int64))
    if key_arr[0] > pts_arr[0]:
        # Frames shown before the first keyframe are only reachable by decoding from the top.
        key_arr = np.concatenate([[pts_arr[0]], key_arr])
    expected = max(0, int(stream.frames or 0) - discarded)
    return _PacketIndex(pts_arr, key_arr, digest.hexdigest(), expected)


def _container_fps(stream, seconds: np.ndarray) -> tuple[float, str]:
    """The container's average frame rate (DESIGN.md §4), else the one the timestamps imply."""
    rate = stream.average_rate or stream.guessed_rate
    if rate and float(rate) > 0:
        return float(rate), "container"
    if len(seconds) > 1 and seconds[-1] > 0:
        return (len(seconds) - 1) / float(seconds[-1]), "timestamps"
    raise VideoOpenError("cannot tell the frame rate: the container has none and the video one frame")


# =============================================================================================
# Image folders
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
        for p in self.files[:_IDENTITY_UNITS]:
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


# =============================================================================================
def is_video_path(path: str | Path) -> bool:
    """Whether ``path`` looks like something :func:`open_video` reads (by name, cheaply)."""
    path = Path(path)
    if path.is_dir():
        return any(p.suffix.lower() in IMAGE_EXTENSIONS for p in path.iterdir())
    return path.suffix.lower() in VIDEO_EXTENSIONS


def open_video(path: str | Path, fps: float | None = None, **kwargs) -> VideoSource:
    """Open a video file or an image folder lazily.

    ``fps`` is required knowledge for image folders (it defaults to 30 with a warning) and, for
    video files, overrides the container's rate only when given explicitly — timestamps still
    come from the file.
    """
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise VideoOpenError(f"{path}: no such file or folder")
    if path.is_dir():
        return ImageSequence(path, fps=fps, **kwargs)
    source = PyAVVideo(path, **kwargs)
    if fps is not None:
        if fps <= 0:
            raise VideoOpenError(f"{path}: fps must be positive, got {fps}")
        source.fps, source.fps_source = float(fps), "user"
    return source
