"""The face the synthetic videos are made of, and its FACS-like motion fields.

The base image is a real photograph (scikit-image's ``astronaut``), cropped and scaled so the
face fills the frame as in the ME datasets. Its landmarks come from MediaPipe Face Mesh, run
once per process, so every motion field sits on real anatomy: brows, lids, lip corners, chin.

A motion field is a forward displacement (content at ``p`` moves to ``p + D(p)``) built as a
sum of Gaussian bumps around landmark anchors, each with its own direction. It is scaled so
its strongest point moves exactly 1 px; a renderer multiplies it by the time-course amplitude.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from napari_mespot.core.synth.settings import SynthError

#: MediaPipe Face Mesh indices of the points the fields hang on, as (image-left, image-right)
#: pairs (image-left is the subject's right side).
LANDMARK_PAIRS: dict[str, tuple[int, int]] = {
    "eye_outer": (33, 263),
    "eye_inner": (133, 362),
    "lid_upper": (159, 386),
    "lid_lower": (145, 374),
    "brow_inner": (107, 336),
    "brow_inner_low": (55, 285),
    "brow_mid": (105, 334),
    "brow_outer": (70, 300),
    "brow_outer_low": (46, 276),
    "mouth_corner": (61, 291),
}
#: Single midline points.
LANDMARK_MID: dict[str, int] = {"lower_lip": 17, "chin_boss": 199, "chin": 152}

#: The AUs the AU-prototype paper learns (docs/architecture.md §2.1) and the region each one moves.
AU_REGION: dict[int, str] = {1: "eye", 2: "eye", 4: "eye", 7: "eye",
                             12: "mouth", 14: "mouth", 15: "mouth", 17: "mouth"}
SUPPORTED_AUS: tuple[int, ...] = tuple(AU_REGION)


@dataclass(frozen=True)
class Bump:
    """One Gaussian bump of a field, mirrored on both sides of the face when ``pair``.

    ``direction`` is (towards the midline, downwards) for paired anchors, so one definition
    serves both sides; ``sigma`` is a fraction of the outer-eye-corner distance.
    """

    anchor: str
    direction: tuple[float, float]
    sigma: float
    weight: float = 1.0


#: The FACS-like fields: where each AU moves the skin and in which direction.
AU_BUMPS: dict[int, tuple[Bump, ...]] = {
    # Inner brow raiser: inner brow ends go up (and a little towards the midline).
    1: (Bump("brow_inner", (0.15, -1.0), 0.07), Bump("brow_inner_low", (0.15, -1.0), 0.06, 0.8)),
    # Outer brow raiser: outer brows go up and slightly outwards.
    2: (Bump("brow_outer", (-0.2, -1.0), 0.07), Bump("brow_outer_low", (-0.2, -1.0), 0.06, 0.8)),
    # Brow lowerer: inner and middle brows go down and towards the midline.
    4: (Bump("brow_inner", (0.6, 0.8), 0.07), Bump("brow_mid", (0.5, 0.85), 0.07, 0.7)),
    # Lid tightener: the lower lid rises, the upper lid drops a little.
    7: (Bump("lid_lower", (0.0, -1.0), 0.045), Bump("lid_upper", (0.0, 1.0), 0.035, 0.35)),
    # Lip corner puller: corners go up and outwards.
    12: (Bump("mouth_corner", (-0.6, -0.8), 0.08),),
    # Dimpler: corners are pulled in and back (towards the midline in a frontal view).
    14: (Bump("mouth_corner", (1.0, -0.1), 0.06),),
    # Lip corner depressor: corners go down (slightly outwards).
    15: (Bump("mouth_corner", (-0.3, 0.95), 0.08),),
    # Chin raiser: the chin boss and the lower lip are pushed up.
    17: (Bump("chin_boss", (0.0, -1.0), 0.10), Bump("lower_lip", (0.0, -1.0), 0.06, 0.6)),
}


@dataclass(frozen=True)
class BaseFace:
    """The neutral face in output coordinates.

    ``source`` is the photograph scaled once with a high-quality filter, so every frame is a
    single bilinear resampling of it (no blur builds up): output pixel ``p`` shows
    ``source[p + origin]`` in the neutral pose.
    """

    source: np.ndarray
    origin: tuple[float, float]
    size: tuple[int, int]
    landmarks: np.ndarray
    eye_distance: float

    @property
    def center(self) -> tuple[float, float]:
        """Face centre (output px): rigid head motion turns about it."""
        return self.size[0] / 2.0, self.size[1] / 2.0

    def point(self, name: str) -> np.ndarray:
        """Landmark(s) by name: a (2, 2) array for a pair (image-left first), (2,) for a midline point."""
        if name in LANDMARK_PAIRS:
            return self.landmarks[list(LANDMARK_PAIRS[name])]
        return self.landmarks[LANDMARK_MID[name]]


@lru_cache(maxsize=1)
def source_face() -> tuple[np.ndarray, np.ndarray]:
    """The astronaut photograph and its 468 Face Mesh landmarks in its own pixels.

    Cached: Face Mesh takes about a second to load, and the answer never changes.
    """
    import mediapipe as mp
    from skimage import data

    from napari_mespot.core.face.landmarks import native_logs_silenced

    image = data.astronaut()
    with warnings.catch_warnings():
        # mediapipe 0.10.14 reads its packets through a call protobuf 4 deprecates: not ours to fix.
        warnings.filterwarnings("ignore", r"SymbolDatabase\.GetPrototype\(\) is deprecated", UserWarning)
        with native_logs_silenced(), mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1
        ) as mesh:
            result = mesh.process(image)
    if not result.multi_face_landmarks:
        raise SynthError("MediaPipe Face Mesh found no face on the base photograph")
    height, width = image.shape[:2]
    points = np.array([(p.x * width, p.y * height) for p in result.multi_face_landmarks[0].landmark],
                      dtype=np.float64)
    return image, points


@lru_cache(maxsize=4)
def base_face(size: tuple[int, int], eye_distance_frac: float) -> BaseFace:
    """Crop and scale the photograph so the face is centred and its eyes are ``eye_distance_frac`` apart."""
    import cv2

    image, points = source_face()
    outer = points[list(LANDMARK_PAIRS["eye_outer"])]
    scale = eye_distance_frac * size[0] / float(np.linalg.norm(outer[1] - outer[0]))
    scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LANCZOS4)
    face_center = (points.min(axis=0) + points.max(axis=0)) / 2.0 * scale
    out_center = np.array(size, dtype=np.float64) / 2.0
    origin = face_center - out_center
    landmarks = points * scale - origin
    return BaseFace(source=scaled, origin=(float(origin[0]), float(origin[1])), size=size,
                    landmarks=landmarks, eye_distance=eye_distance_frac * size[0])


def _grid(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    width, height = size
    return np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))


def _add_bump(field: np.ndarray, grid: tuple[np.ndarray, np.ndarray], at: np.ndarray,
              direction: np.ndarray, sigma: float, weight: float, sigma_y: float | None = None) -> None:
    """Add one Gaussian bump (isotropic unless ``sigma_y`` is given), evaluated within ±4 sigma."""
    sigma_y = sigma if sigma_y is None else sigma_y
    height, width = field.shape[:2]
    x0, x1 = max(0, int(at[0] - 4 * sigma)), min(width, int(at[0] + 4 * sigma) + 1)
    y0, y1 = max(0, int(at[1] - 4 * sigma_y)), min(height, int(at[1] + 4 * sigma_y) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    gx, gy = grid[0][y0:y1, x0:x1], grid[1][y0:y1, x0:x1]
    g = weight * np.exp(-((gx - at[0]) ** 2 / (2.0 * sigma**2) + (gy - at[1]) ** 2 / (2.0 * sigma_y**2)))
    field[y0:y1, x0:x1, 0] += g * direction[0]
    field[y0:y1, x0:x1, 1] += g * direction[1]


def _bump_points(face: BaseFace, bump: Bump) -> list[tuple[np.ndarray, np.ndarray]]:
    """Anchor points with their image-space unit directions (mirrored for pairs)."""
    d = np.asarray(bump.direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    if bump.anchor in LANDMARK_MID:
        return [(face.point(bump.anchor), d)]
    left, right = face.point(bump.anchor)
    # "towards the midline" is +x on the image-left side and -x on the image-right side.
    return [(left, d), (right, np.array([-d[0], d[1]]))]


def _field_from_bumps(face: BaseFace, bumps: tuple[Bump, ...]) -> np.ndarray:
    width, height = face.size
    field = np.zeros((height, width, 2), dtype=np.float32)
    grid = _grid(face.size)
    for bump in bumps:
        sigma = bump.sigma * face.eye_distance
        for at, direction in _bump_points(face, bump):
            _add_bump(field, grid, at, direction, sigma, bump.weight)
    peak = float(np.sqrt((field**2).sum(axis=2)).max())
    if peak == 0:
        raise SynthError("a motion field falls entirely outside the frame; use a larger eye_distance_frac")
    return field / peak


@lru_cache(maxsize=32)
def au_field(size: tuple[int, int], eye_distance_frac: float, au: int) -> np.ndarray:
    """Forward displacement (H, W, 2) of ``au`` at unit amplitude: its strongest point moves 1 px.

    Cached and read-only: a renderer only ever scales and sums these.
    """
    if au not in AU_BUMPS:
        raise SynthError(f"AU {au} has no synthetic motion field; supported: {SUPPORTED_AUS}")
    field = _field_from_bumps(base_face(size, eye_distance_frac), AU_BUMPS[au])
    field.setflags(write=False)
    return field


@lru_cache(maxsize=4)
def blink_field(size: tuple[int, int], eye_distance_frac: float) -> np.ndarray:
    """Forward displacement (H, W, 2) of a fully closed blink.

    The upper lid slides down over the eye by 1.2 x its opening height, so the aperture shows
    lid skin. The bump is wide (the eye's width) but flat (vertical sigma 0.75 x the opening):
    flat enough that the brows barely move, steep enough to close the eye, yet with a
    displacement gradient below 1 so the warp never folds.
    """
    face = base_face(size, eye_distance_frac)
    upper, lower = face.point("lid_upper"), face.point("lid_lower")
    inner, outer = face.point("eye_inner"), face.point("eye_outer")
    opening = float(np.mean(lower[:, 1] - upper[:, 1]))
    eye_width = float(np.mean(np.abs(outer[:, 0] - inner[:, 0])))
    width, height = face.size
    field = np.zeros((height, width, 2), dtype=np.float32)
    grid = _grid(face.size)
    for side in range(2):
        center = (upper[side] + lower[side]) / 2.0
        _add_bump(field, grid, center, np.array([0.0, 1.0]), 0.45 * eye_width, 1.2 * opening,
                  sigma_y=0.75 * opening)
    field.setflags(write=False)
    return field
