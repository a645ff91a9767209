"""What every video source is: a lazy, read-only uint8 array of shape (n_frames, H, W, 3) in RGB.

napari shows it as an Image layer and the spotters index it like numpy, while nothing is decoded
until a frame is asked for. Reads are serialised by a lock (PyAV objects are not thread-safe and
napari reads from worker threads), recent frames stay in a small LRU cache, and when frames are
read in order the next few are decoded ahead on a background thread, so stepping forward is
cheap. The sources themselves are :class:`~.video.PyAVVideo` (files) and
:class:`~.image_sequence.ImageSequence` (folders of images); :func:`~.video.open_video` picks one.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_mespot.core.errors import VideoOpenError, VideoReadError

log = logging.getLogger(__name__)

#: Bytes of decoded frames kept in each source's LRU cache.
DEFAULT_CACHE_BYTES = 128 * 2**20
#: Frames decoded ahead when frames are read in order.
DEFAULT_READAHEAD = 8
#: Packets (or images) hashed into the content identity.
IDENTITY_UNITS = 8


#: What a content hash carries after it when the frames are read turned (``-turned90``).
TURNED = "-turned"


@dataclass(frozen=True)
class VideoIdentity:
    """What ties a session or a cache file to one video, even if the file is moved."""

    path: str
    size_bytes: int
    n_frames: int
    content_hash: str

    def same_file(self, other: VideoIdentity) -> bool:
        """Same video: same content and length (the path may differ after a move), whatever way
        up its frames are read, since frame numbers do not depend on it.

        A file with a display matrix is read turned (core/media/video.py) and its content hash
        says so, so that landmarks of the stored frames are not reused; annotations made before
        it was read turned name the same frames and must keep opening.
        """
        def unturned(identity: VideoIdentity) -> tuple[str, int, int]:
            base = identity.content_hash.partition(TURNED)[0]
            return base, identity.n_frames, identity.size_bytes

        return unturned(self) == unturned(other)


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
