"""A hand passing over the face: its shape, its colour and the path it takes.

The hand is drawn, not photographed: a palm, four fingers and a thumb as rounded strokes, with
the forearm that carries it into the frame, soft-edged and shaded darker towards its rim so it
reads as a rounded object. It comes in from below or a side, stops over the mouth, nose, a cheek
or the eyes (the way people touch their face) with a little wobble, and leaves. Sizes are in
IOD, so a hand is as large relative to a small face as to a large one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from napari_mespot.core.synth.warped.timeline import minimum_jerk

#: Skin tones (RGB) the hand is drawn in, light to dark.
TONES = ((236, 200, 172), (222, 176, 140), (198, 148, 110), (168, 118, 86), (128, 86, 60), (92, 62, 44))
#: Where a hand stops: Face Mesh landmarks it centres on.
TARGETS = {"mouth": (13, 14, 61, 291), "nose": (1, 4), "cheek_left": (50, 205), "cheek_right": (280, 425),
           "eyes": (159, 386, 168)}
ENTRIES = ("bottom", "left", "right")
#: Fixed-point bits for sub-pixel drawing with OpenCV.
_SHIFT = 4


@dataclass(frozen=True)
class HandStyle:
    """What one hand looks like: colour, size (IOD), finger spread (rad) and the lit side."""

    tone: tuple[int, int, int]
    scale: float
    spread: float
    light: float


@dataclass(frozen=True)
class HandPass:
    """One pass: entry side, the point it stops at (landmarks), its style, and its span in seconds."""

    start: float
    end: float
    entry: str
    target: str
    tilt: float
    style: HandStyle


def draw_pass(rng: np.random.Generator, start: float, end: float) -> HandPass:
    style = HandStyle(tone=TONES[int(rng.integers(len(TONES)))], scale=float(rng.uniform(0.9, 1.2)),
                      spread=float(rng.uniform(0.03, 0.14)), light=float(rng.uniform(0, 2 * math.pi)))
    return HandPass(start=start, end=end, entry=str(rng.choice(ENTRIES)),
                    target=str(rng.choice(list(TARGETS))), tilt=float(rng.uniform(-0.5, 0.5)), style=style)


def hand_pose(hand: HandPass, t: float, target_xy: np.ndarray, size: tuple[int, int],
              iod: float) -> tuple[float, float, float] | None:
    """Palm centre (x, y) in output px and the hand's angle (rad, 0 = fingers up) at time ``t``.

    In over the first 35 % of the pass, a slight wobble at the target, out over the last 35 %.
    ``None`` outside the pass.
    """
    if not hand.start <= t <= hand.end:
        return None
    width, height = size
    reach = 2.2 * iod * hand.style.scale
    outside = {"bottom": np.array([target_xy[0], height + reach]),
               "left": np.array([-reach, target_xy[1] + 0.5 * iod]),
               "right": np.array([width + reach, target_xy[1] + 0.5 * iod])}[hand.entry]
    u = (t - hand.start) / (hand.end - hand.start)
    wobble = 0.04 * iod * np.array([math.sin(7.0 * u), math.cos(5.0 * u)])
    if u < 0.35:
        a = float(minimum_jerk(u / 0.35))
        xy = outside + a * (target_xy - outside)
    elif u > 0.65:
        a = float(minimum_jerk((u - 0.65) / 0.35))
        xy = target_xy + a * (outside - target_xy)
    else:
        xy = target_xy + wobble
    side_lean = {"bottom": 0.0, "left": 0.5, "right": -0.5}[hand.entry]
    return float(xy[0]), float(xy[1]), hand.tilt + side_lean


def _point(center: np.ndarray, rot: np.ndarray, iod: float, local: tuple[float, float]) -> tuple[int, int]:
    x, y = center + iod * (rot @ np.asarray(local))
    return round(float(x) * (1 << _SHIFT)), round(float(y) * (1 << _SHIFT))


def hand_alpha(size: tuple[int, int], pose: tuple[float, float, float], iod: float,
               style: HandStyle) -> np.ndarray:
    """Coverage (H, W) float32 0..1 of the hand and forearm at ``pose``, edges anti-aliased."""
    width, height = size
    mask = np.zeros((height, width), dtype=np.uint8)
    x, y, angle = pose
    center = np.array([x, y])
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    unit = iod * style.scale

    def stroke(a: tuple[float, float], b: tuple[float, float], thick: float) -> None:
        cv2.line(mask, _point(center, rot, unit, a), _point(center, rot, unit, b), 255,
                 max(1, round(thick * unit)), cv2.LINE_AA, _SHIFT)

    palm_center = _point(center, rot, unit, (0.0, 0.15))
    axes = (int(0.48 * unit * (1 << _SHIFT)), int(0.55 * unit * (1 << _SHIFT)))
    cv2.ellipse(mask, palm_center, axes, math.degrees(angle), 0, 360, 255, -1, cv2.LINE_AA, _SHIFT)
    for k, (base_x, length) in enumerate(((-0.33, 0.68), (-0.11, 0.8), (0.11, 0.76), (0.33, 0.6))):
        lean = style.spread * (k - 1.5)
        tip = (base_x + length * math.sin(lean), -0.3 - length * math.cos(lean))
        stroke((base_x, -0.25), tip, 0.2)
    stroke((0.42, 0.35), (0.85, -0.05), 0.24)
    stroke((0.0, 0.6), (0.0, 4.0), 0.8)
    return cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.8)


def composite(image: np.ndarray, alpha: np.ndarray, iod: float, style: HandStyle) -> np.ndarray:
    """``image`` (float32 RGB) with the hand over it: its tone, lit on one side, darker at the rim."""
    ys, xs = np.nonzero(alpha > 1e-3)
    if ys.size == 0:
        return image
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    a = alpha[y0:y1, x0:x1]
    rim = cv2.GaussianBlur(a, (0, 0), max(1.0, 0.12 * iod))
    gx, gy = np.meshgrid(np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32))
    light = np.cos(style.light) * (gx - gx.mean()) + np.sin(style.light) * (gy - gy.mean())
    shade = 0.7 + 0.35 * rim + 0.1 * np.tanh(light / (iod + 1e-6))
    color = np.asarray(style.tone, dtype=np.float32) * shade[..., None]
    region = image[y0:y1, x0:x1]
    region += a[..., None] * (color - region)
    return image
