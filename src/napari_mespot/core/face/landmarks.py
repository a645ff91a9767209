"""Face landmarks per video frame: MediaPipe Face Mesh, or 68-point landmarks imported from CSV.

The spotters only need a handful of points (outer eye corners, mouth corners, nose bridge,
brows), so both landmark schemes are reduced to those through **one** table,
:data:`KEY_POINTS`. Everything downstream speaks the semantic names, never raw indices, so a
68-point import from OpenFace 2 / py-feat and MediaPipe's 468-point mesh are interchangeable.

A frame without a face is an explicit gap (NaN points, :meth:`FaceLandmarks.at` returns
``None``), never zeros that would silently become a region in the image corner.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import warnings
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from napari_mespot.core.errors import MespotError
from napari_mespot.core.progress import Progress

#: Landmark schemes and their point counts. MediaPipe's refined mesh (478 points) keeps the
#: first 468 indices, so both sizes share the ``mediapipe`` scheme.
SCHEMES: dict[str, tuple[int, ...]] = {"ibug68": (68,), "mediapipe": (468, 478)}

#: The one mapping from semantic points to landmark indices, per scheme. A point given by several
#: indices is their mean (brows, nose bridge), which is steadier than any single vertex.
#: ``_l`` / ``_r`` mean image left / right in an upright, unmirrored frontal view, the way the
#: AU-prototype paper writes p_leye (smaller x) and p_reye: iBUG 36 is the subject's right eye.
KEY_POINTS: dict[str, dict[str, tuple[int, ...]]] = {
    "eye_outer_l": {"ibug68": (36,), "mediapipe": (33,)},
    "eye_outer_r": {"ibug68": (45,), "mediapipe": (263,)},
    "eye_inner_l": {"ibug68": (39,), "mediapipe": (133,)},
    "eye_inner_r": {"ibug68": (42,), "mediapipe": (362,)},
    "mouth_corner_l": {"ibug68": (48,), "mediapipe": (61,)},
    "mouth_corner_r": {"ibug68": (54,), "mediapipe": (291,)},
    "nose_bridge": {"ibug68": (27, 28, 29), "mediapipe": (168, 6, 197)},
    "brow_l": {"ibug68": (17, 18, 19, 20, 21), "mediapipe": (70, 63, 105, 66, 107)},
    "brow_r": {"ibug68": (22, 23, 24, 25, 26), "mediapipe": (336, 296, 334, 293, 300)},
}


class LandmarkError(MespotError):
    """Landmarks that cannot be read or computed (bad CSV, length mismatch, unknown scheme)."""


@runtime_checkable
class FrameSource(Protocol):
    """What landmark providers read: ``len()`` and axis-0 indexing to (H, W, 3) uint8 RGB.

    A numpy array and :class:`napari_mespot.core.media.source.VideoSource` both qualify.
    """

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> np.ndarray: ...


@dataclass(frozen=True, eq=False)  # holds arrays: identity, not elementwise, equality
class FaceLandmarks:
    """Landmarks of one face over the frames of a video.

    ``points`` is (n_frames, n_points, 2) float32 pixel coordinates (x, y), NaN on frames
    without a face; ``confidence`` is (n_frames,) float32 in [0, 1] (0 where nothing was found).
    ``settings`` records what produced them, for cache keys and provenance.
    """

    points: np.ndarray
    confidence: np.ndarray
    scheme: str
    provider: str
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scheme not in SCHEMES:
            raise LandmarkError(f"unknown landmark scheme {self.scheme!r}; known: {sorted(SCHEMES)}")
        if self.points.ndim != 3 or self.points.shape[2] != 2:
            raise LandmarkError(f"landmark points must be (n_frames, n_points, 2), got {self.points.shape}")
        if self.points.shape[1] not in SCHEMES[self.scheme]:
            raise LandmarkError(
                f"scheme {self.scheme!r} has {SCHEMES[self.scheme]} points, got {self.points.shape[1]}"
            )
        if self.confidence.shape != (self.points.shape[0],):
            raise LandmarkError("one confidence value per frame is required")

    def __len__(self) -> int:
        return int(self.points.shape[0])

    @functools.cached_property
    def found(self) -> np.ndarray:
        """Boolean (n_frames,) mask of the frames where a face was found (computed once: long
        videos hold tens of millions of coordinates)."""
        return np.isfinite(self.points).all(axis=(1, 2))

    def missing_frames(self) -> np.ndarray:
        """Indices of the frames without a face (what the CLI and GUI report)."""
        return np.flatnonzero(~self.found)

    def at(self, frame: int) -> np.ndarray | None:
        """The (n_points, 2) landmarks of ``frame``, or ``None`` when that frame has no face."""
        pts = self.points[frame]
        return pts if np.isfinite(pts).all() else None

    def key_points(self, frame: int) -> dict[str, np.ndarray] | None:
        """The semantic points of :data:`KEY_POINTS` on ``frame``, or ``None`` without a face."""
        pts = self.at(frame)
        return None if pts is None else key_points(pts, self.scheme)


def key_points(points: np.ndarray, scheme: str) -> dict[str, np.ndarray]:
    """Reduce one frame's (n_points, 2) landmarks of ``scheme`` to the named key points."""
    if scheme not in SCHEMES:
        raise LandmarkError(f"unknown landmark scheme {scheme!r}; known: {sorted(SCHEMES)}")
    pts = np.asarray(points, dtype=np.float64)
    return {name: pts[list(idx[scheme])].mean(axis=0) for name, idx in KEY_POINTS.items()}


class LandmarkProvider(Protocol):
    """Something that finds face landmarks on every frame of a video.

    ``name`` and :meth:`settings` identify the result (cache key); ``cacheable`` says whether a
    disk cache is worth it (detection is; re-reading a CSV is not).
    """

    name: str
    scheme: str
    cacheable: bool

    def settings(self) -> dict[str, Any]: ...

    def detect(self, frames: FrameSource) -> Generator[Progress, None, FaceLandmarks]: ...


def iter_frames(frames: FrameSource):
    """Yield ``(index, frame)`` in order, one frame at a time.

    A lazy video read in order decodes on without seeking and, read frame by frame, decodes the
    next few on its read-ahead thread while the landmarks of this one are found. Reading 32
    frames per slice left decoding and MediaPipe one after the other (on bench_spot.py's
    600-frame video at load 6: 5.3 s wall for the landmarks against 3.2 s frame by frame).
    """
    for i in range(len(frames)):
        yield i, np.asarray(frames[i])


@contextlib.contextmanager
def native_logs_silenced(on: bool = True):
    """Keep MediaPipe's C++ log lines out of the terminal while ``on``.

    TFLite's delegate notice and absl's warnings are written by C++ straight to the process's
    stderr (file descriptor 2), where no Python setting reaches: they say nothing a user can act
    on, yet read like trouble. They come while a graph starts and while its models first run,
    so only those calls are wrapped; fd 2 is restored after each.
    """
    if not on:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no fd 2 (a GUI without a console)
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# MediaPipe's graph thresholds the landmark model's face-presence score but does not publish it;
# the stream exists inside the expanded graph under this name and can be observed directly.
_PRESENCE_STREAM = "facelandmarkcpu__face_presence_score"


class MediaPipeFaceMesh:
    """MediaPipe Face Mesh (``mediapipe==0.10.14``, models inside the wheel, offline).

    Video mode (``static_image_mode=False``) tracks the face from frame to frame: the detector
    runs only when tracking is lost, which is faster and steadier than per-frame detection.
    The per-frame confidence is the landmark model's face-presence score.
    """

    name = "mediapipe"
    scheme = "mediapipe"
    cacheable = True

    def __init__(
        self,
        static_image_mode: bool = False,
        refine_landmarks: bool = False,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
    ) -> None:
        self.static_image_mode = bool(static_image_mode)
        self.refine_landmarks = bool(refine_landmarks)
        self.min_detection_confidence = float(min_detection_confidence)
        self.min_tracking_confidence = float(min_tracking_confidence)

    def settings(self) -> dict[str, Any]:
        import mediapipe

        return {
            "static_image_mode": self.static_image_mode,
            "refine_landmarks": self.refine_landmarks,
            "min_detection_confidence": self.min_detection_confidence,
            "min_tracking_confidence": self.min_tracking_confidence,
            "mediapipe": mediapipe.__version__,
        }

    def _graph(self):
        from mediapipe.python.solution_base import PacketDataType, SolutionBase
        from mediapipe.python.solutions import face_mesh

        # mediapipe 0.10.14 reads packets through a protobuf call that protobuf 4 deprecates; the
        # warning is about mediapipe's internals, not anything a user can act on.
        warnings.filterwarnings("ignore", r"SymbolDatabase\.GetPrototype\(\) is deprecated", UserWarning)
        return SolutionBase(
            binary_graph_path=face_mesh._BINARYPB_FILE_PATH,
            side_inputs={
                "num_faces": 1,
                "with_attention": self.refine_landmarks,
                "use_prev_landmarks": not self.static_image_mode,
            },
            calculator_params={
                "facedetectionshortrangecpu__facedetectionshortrange__facedetection__"
                "TensorsToDetectionsCalculator.min_score_thresh": self.min_detection_confidence,
                "facelandmarkcpu__ThresholdingCalculator.threshold": self.min_tracking_confidence,
            },
            outputs=["multi_face_landmarks", _PRESENCE_STREAM],
            stream_type_hints={_PRESENCE_STREAM: PacketDataType.FLOAT},
        )

    def detect(self, frames: FrameSource) -> Generator[Progress, None, FaceLandmarks]:
        n = len(frames)
        n_points = 478 if self.refine_landmarks else 468
        points = np.full((n, n_points, 2), np.nan, dtype=np.float32)
        confidence = np.zeros(n, dtype=np.float32)
        # The graph's models load in its own threads after it starts and log as they do; a first
        # process() call waits for them, so the graph starts with the first frame at hand, and the
        # landmark model (which starts on the first frame with a face) is silenced until then.
        graph = None
        seen_face = False
        try:
            for i, frame in iter_frames(frames):
                if i % 32 == 0:
                    yield Progress(i, n, "landmarks")
                rgb = np.ascontiguousarray(frame, dtype=np.uint8)
                if rgb.ndim != 3 or rgb.shape[2] != 3:
                    raise LandmarkError(f"frame {i}: expected (H, W, 3) RGB, got {rgb.shape}")
                with native_logs_silenced(not seen_face):
                    if graph is None:
                        graph = self._graph()
                    out = graph.process(input_data={"image": rgb})
                seen_face = seen_face or bool(out.multi_face_landmarks)
                score = getattr(out, _PRESENCE_STREAM)
                if score is not None:
                    confidence[i] = score
                if out.multi_face_landmarks:
                    h, w = rgb.shape[:2]
                    lm = out.multi_face_landmarks[0].landmark
                    points[i] = [(p.x * w, p.y * h) for p in lm]
                    if score is None:  # a face can only be returned after the presence test passed
                        confidence[i] = 1.0
        finally:
            if graph is not None:
                graph.close()
        yield Progress(n, n, "landmarks")
        return FaceLandmarks(points, confidence, self.scheme, self.name, self.settings())


class CsvLandmarkProvider:
    """68-point landmarks imported from an OpenFace 2 or py-feat CSV instead of detected."""

    name = "csv"
    scheme = "ibug68"
    cacheable = False

    def __init__(self, path: str | Path, frame_base: int | None = None) -> None:
        self.path = Path(path)
        self.frame_base = frame_base

    def settings(self) -> dict[str, Any]:
        stat = self.path.stat()
        return {"path": str(self.path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    def detect(self, frames: FrameSource) -> Generator[Progress, None, FaceLandmarks]:
        yield Progress(0, 1, "reading landmark CSV")
        result = read_landmark_csv(self.path, n_frames=len(frames), frame_base=self.frame_base)
        yield Progress(1, 1, "reading landmark CSV")
        return result


def read_landmark_csv(
    path: str | Path, n_frames: int | None = None, frame_base: int | None = None
) -> FaceLandmarks:
    """Read 68-point landmarks (columns ``x_0..x_67, y_0..y_67``) from an OpenFace 2 / py-feat CSV.

    Rows map to 0-based frames through the ``frame`` column: OpenFace numbers frames from 1,
    py-feat from 0 (``frame_base`` overrides; without a ``frame`` column rows are consecutive
    frames). Rows OpenFace marks ``success == 0`` and rows with missing coordinates are frames
    without a face. When several faces share a frame, the most confident one is kept.
    Frames the file does not mention are frames without a face; ``n_frames`` (the video's
    length) sizes the result and rejects files that run past the video.
    """
    import pandas as pd

    path = Path(path)
    try:
        table = pd.read_csv(path, skipinitialspace=True)
    except (OSError, ValueError) as exc:
        raise LandmarkError(f"{path}: cannot read as CSV ({exc})") from exc
    table.columns = [str(c).strip() for c in table.columns]
    xs, ys = [f"x_{i}" for i in range(68)], [f"y_{i}" for i in range(68)]
    missing = [c for c in xs + ys if c not in table.columns]
    if missing:
        raise LandmarkError(f"{path}: not a 68-point landmark CSV, missing columns {missing[:4]}…")

    openface = {"success", "confidence"} <= set(table.columns)
    if "frame" in table.columns:
        base = frame_base if frame_base is not None else (1 if openface else 0)
        frames = table["frame"].to_numpy(dtype=np.int64) - base
    else:
        frames = np.arange(len(table), dtype=np.int64)
    if len(frames) and frames.min() < 0:
        raise LandmarkError(f"{path}: frame numbers below the frame base {frame_base or 0}")

    if openface:
        conf = table["confidence"].to_numpy(dtype=np.float64)
        ok = table["success"].to_numpy() != 0
    elif "FaceScore" in table.columns:
        conf = table["FaceScore"].to_numpy(dtype=np.float64)
        ok = np.isfinite(conf)
    else:
        conf = np.ones(len(table))
        ok = np.ones(len(table), dtype=bool)
    pts = np.stack([table[xs].to_numpy(np.float64), table[ys].to_numpy(np.float64)], axis=-1)
    ok &= np.isfinite(pts).all(axis=(1, 2))

    total = int(frames.max()) + 1 if len(frames) else 0
    if n_frames is not None:
        if total > n_frames:
            raise LandmarkError(
                f"{path}: landmarks for frame {total - 1}, but the video has {n_frames} frames"
            )
        total = n_frames
    points = np.full((total, 68, 2), np.nan, dtype=np.float32)
    confidence = np.zeros(total, dtype=np.float32)
    for row in np.argsort(np.where(ok, conf, -np.inf), kind="stable"):
        if ok[row]:  # ascending confidence: the best face of a frame is written last
            points[frames[row]] = pts[row]
            confidence[frames[row]] = np.clip(conf[row], 0.0, 1.0)
    fmt = "openface2" if openface else "pyfeat" if "FaceScore" in table.columns else "68-point"
    settings = {"path": str(path), "format": fmt}
    return FaceLandmarks(points, confidence, "ibug68", "csv", settings)
