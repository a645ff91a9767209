"""Video files as frame-accurate lazy sources (PyAV), and :func:`open_video` for files and folders.

A source behaves like a read-only uint8 array of shape (n_frames, H, W, 3) in RGB
(:class:`~.source.VideoSource`); image folders are :class:`~.image_sequence.ImageSequence`.

Frame accuracy (docs/architecture.md §7): mapping a frame number to a time through the fps picks wrong
frames on variable-frame-rate files, and OpenCV's frame seeking is unreliable there. So a video
file is indexed once by demuxing (no decoding): every packet's presentation timestamp (pts) and
keyframe flag. Frame ``i`` is the ``i``-th smallest pts. Reading it means seeking to the last
keyframe at or before that pts and decoding until the frame with exactly that pts comes out;
if a seek lands too late (MPEG-TS seeks by bisection), an earlier keyframe is tried.

Rotation: phones record portrait video as landscape sensor frames plus a display matrix that
tells players to turn them. Read as stored, the face lies on its side in the viewer and in
every crop and export, or upside down after a half turn (where MediaPipe lost 4 of 30 frames
of the real fixture clip; after a quarter turn it lost none, and the landmark-aligned spotting
regions turn with the face). So frames come out as players show them
(:attr:`PyAVVideo.rotation`), and a rotated file has its own cache identity.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from napari_mespot.core.errors import VideoOpenError, VideoReadError
from napari_mespot.core.media.image_sequence import IMAGE_EXTENSIONS, ImageSequence
from napari_mespot.core.media.source import IDENTITY_UNITS, TURNED, VideoSource

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mov .avi .mkv .m4v .webm .ts .mts .m2ts .mpg .mpeg .wmv .flv .3gp .mj2".split()
)


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
        stream.thread_type = "AUTO"  # before anything decodes: the codec cannot change it once open
        if index.expected_frames and index.expected_frames > len(index.pts):
            index = _decodable_tail(index, self._container, stream)
            log.warning(
                "%s: the header announces %d frames but only %d can be decoded (truncated file?)",
                path,
                index.expected_frames,
                len(index.pts),
            )
        #: Degrees (0, 90, 180 or 270, counter-clockwise) every frame is turned to be upright.
        self.rotation = _display_rotation(path, self._container, stream)
        self._container.seek(0)
        self._pts = index.pts
        self._keyframe_pts = index.keyframe_pts
        # Landmarks cached for the frames as stored must not be taken for the turned ones.
        self._hash = index.content_hash + (f"{TURNED}{self.rotation}" if self.rotation else "")
        self.codec = stream.codec_context.name
        height, width = stream.codec_context.height, stream.codec_context.width
        if self.rotation % 180:
            height, width = width, height
        seconds = (index.pts - index.pts[0]).astype(np.float64) * float(self._time_base)
        fps, fps_source = _container_fps(stream, seconds)
        self._frames_iter: Iterator | None = None
        self._next_index: int | None = None  # index of the next frame the decoder will output
        super().__init__(
            path,
            len(index.pts),
            height,
            width,
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
                    return self._upright(av_frame.to_ndarray(format="rgb24"))
                if pts > target:
                    return None
        except self._av.error.FFmpegError as exc:
            self._frames_iter = None
            raise VideoReadError(f"{self.path}: frame {index}: cannot decode ({exc})") from exc
        self._frames_iter = None
        return None

    def _upright(self, rgb: np.ndarray) -> np.ndarray:
        if not self.rotation:
            return rgb
        return np.ascontiguousarray(np.rot90(rgb, self.rotation // 90))


def _display_rotation(path: Path, container, stream) -> int:
    """The quarter turn the file's display matrix asks for (degrees counter-clockwise, 0–270).

    FFmpeg hands the matrix to every decoded frame, so the first one is decoded to read it. A
    turn that is not a quarter (never seen from a camera) is left out with a warning: the
    frames are then used as stored, like a player without rotation support would show them.
    """
    import av

    try:
        container.seek(0)
        frame = next(container.decode(stream), None)
    except av.error.FFmpegError:
        return 0  # a file whose first frame does not decode fails, clearly, where it is read
    angle = float(frame.rotation or 0.0) if frame is not None else 0.0
    turns = round(angle / 90.0)
    if abs(angle - 90.0 * turns) > 1.0:
        log.warning("%s: display rotation %.1f° is not a quarter turn; frames used as stored", path, angle)
        return 0
    return (turns % 4) * 90


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
            if hashed < IDENTITY_UNITS:
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


def _decodable_tail(index: _PacketIndex, container, stream) -> _PacketIndex:
    """``index`` without the frames at the end of a cut file that do not decode.

    A truncated file can hold packets whose data is cut, or frames whose references are lost
    with the rest of the file: they are indexed but never come out of the decoder. Decoding the
    last group of pictures once (only for a file shorter than its header says) finds them, so
    the video's length is what can be shown, and the warning says so.
    """
    import av

    start = int(index.keyframe_pts[-1])
    decoded: set[int] = set()
    try:
        container.seek(start, stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            for frame in packet.decode():
                if frame.pts is not None:
                    decoded.add(int(frame.pts))
    except av.error.FFmpegError:
        pass  # the cut itself: what decoded before it is what there is
    tail = index.pts >= start
    keep = ~tail | np.isin(index.pts, np.fromiter(decoded, np.int64, len(decoded)))
    last = int(np.flatnonzero(keep)[-1]) if keep.any() else -1
    pts = index.pts[: last + 1][keep[: last + 1]]
    if not len(pts):
        raise VideoOpenError("the file is cut before its first decodable frame")
    return _PacketIndex(pts, index.keyframe_pts[index.keyframe_pts <= pts[-1]], index.content_hash,
                        index.expected_frames)


def _container_fps(stream, seconds: np.ndarray) -> tuple[float, str]:
    """The container's average frame rate (docs/architecture.md §4), else the one the timestamps imply."""
    rate = stream.average_rate or stream.guessed_rate
    if rate and float(rate) > 0:
        return float(rate), "container"
    if len(seconds) > 1 and seconds[-1] > 0:
        return (len(seconds) - 1) / float(seconds[-1]), "timestamps"
    raise VideoOpenError("cannot tell the frame rate: the container has none and the video one frame")


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
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise VideoOpenError(f"{path}: fps must be a finite number > 0, got {fps}")
    if path.is_dir():
        return ImageSequence(path, fps=fps, **kwargs)
    source = PyAVVideo(path, **kwargs)
    if fps is not None:
        source.fps, source.fps_source = float(fps), "user"
    return source
