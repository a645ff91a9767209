"""One warped video as a function of the frame index.

Building a scene draws everything from the seed (identity, camera, expressions, distractors)
and precomputes small per-frame arrays; :meth:`WarpedScene.frame` renders any frame alone:

1. the control points' displacement (expressions + blink + speech, :mod:`.action_units`);
2. the head pose as a homography from the canvas to the frame (yaw and pitch as a rotating
   plane seen by a camera eight IODs away, turning about an axis one IOD behind the face);
3. for a coarse grid of output pixels, where they come from on the canvas: through the inverse
   pose, then, inside the face, through the backward thin-plate spline of the displacement;
4. one ``cv2.remap`` of the canvas, the hand on top, the lighting, then sensor noise.

Each component has its own random stream, so one seed is one video, and switching a distractor
off changes nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from napari_mespot.core.intervals import Interval
from napari_mespot.core.synth.warped.action_units import (
    SPEECH,
    blink_displacement,
    control_indices,
    displacement,
    unit_displacement,
)
from napari_mespot.core.synth.warped.events import (
    blink_signal,
    lighting_signal,
    pose_signal,
    schedule,
    speech_signal,
)
from napari_mespot.core.synth.warped.hand import TARGETS, HandPass, composite, hand_alpha, hand_pose
from napari_mespot.core.synth.warped.identity import FACE_OVAL, Identity, make_identity
from napari_mespot.core.synth.warped.settings import WarpedSettings
from napari_mespot.core.synth.warped.timeline import Expression, check_script, schedule_expressions
from napari_mespot.core.synth.warped.tps import backward_spline, coarse_grid, upsample

Seed = int | tuple[int, ...]
_STREAMS = ("identity", "camera", "expressions", "blinks", "shakes", "talking", "hand", "lighting", "drift")
_NOISE_TAG = 99
#: Camera distance and the head's turning axis behind the face, in IOD.
_FOCAL_IOD, _PIVOT_IOD = 8.0, 1.0
#: Fraction of the face a hand must cover for the frame to count as occluded.
OCCLUDED_FRACTION = 0.02


@dataclass(frozen=True)
class Span:
    """Something that is not an expression, in inclusive frames (``distractors.csv``)."""

    kind: str
    start: int
    end: int
    amplitude: float


def entropy(seed: Seed) -> tuple[int, ...]:
    from napari_mespot.core.synth.settings import SynthError

    values = (seed,) if isinstance(seed, int | np.integer) else tuple(seed)
    if not values or any(int(v) < 0 for v in values):
        raise SynthError(f"a seed is one or more integers >= 0, got {seed!r}")
    return tuple(int(v) for v in values)


class WarpedScene:
    """A warped video: ``len(scene)`` frames, ``scene.frame(k)`` renders frame ``k`` (RGB uint8)."""

    def __init__(self, settings: WarpedSettings, seed: Seed = 0,
                 expressions: Sequence[Expression] | None = None) -> None:
        """``expressions`` replaces the drawn schedule (see ``timeline.scripted``); everything else,
        distractors included (kept away from them), is still drawn from ``seed``."""
        self.settings = settings
        self.seed = entropy(seed)
        children = np.random.SeedSequence(self.seed).spawn(len(_STREAMS))
        rngs = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, children, strict=True)}
        self.identity: Identity = make_identity(rngs["identity"])
        self._camera(rngs["camera"])
        self.times = np.arange(settings.n_frames) / settings.fps
        self.expressions: list[Expression] = (
            schedule_expressions(settings, rngs["expressions"]) if expressions is None
            else check_script(list(expressions), settings.n_frames))
        self.events, self.hands = schedule(settings, self.expressions, rngs)
        self.pose, self._drift_yaw = pose_signal(settings, self.events, self.times, rngs["drift"])
        self.gain, self.light, self.light_angle = lighting_signal(
            self.events, self.times, rngs["lighting"], settings.lighting)
        self._motion()
        self.occlusions = self._occlusions()

    def __len__(self) -> int:
        return self.settings.n_frames

    # -- set-up ---------------------------------------------------------------------------------

    def _camera(self, rng: np.random.Generator) -> None:
        s = self.settings
        width, height = s.size
        lm = self.identity.landmarks
        self.canvas_iod = float(np.linalg.norm(lm[263] - lm[33]))
        self.iod = float(rng.uniform(*s.iod_frac)) * width
        self.face_center = lm[list(FACE_OVAL)].mean(axis=0)
        self.placement = np.array([width / 2.0 + rng.uniform(-0.08, 0.08) * width,
                                   height / 2.0 + rng.uniform(-0.06, 0.06) * height])
        self.crf = int(rng.integers(s.crf_range[0], s.crf_range[1] + 1)) if s.crf is None else s.crf
        self.noise_sigma = float(rng.uniform(0.8, 3.0)) if s.noise else 0.0
        gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self._ramp = ((gx - width / 2.0) / width, (gy - height / 2.0) / width)
        self._grid = coarse_grid(s.size)

    def _motion(self) -> None:
        """The displacement fields of every moving part and their per-frame weights."""
        lm = self.identity.landmarks
        self.controls = lm[control_indices()]
        oval = lm[list(FACE_OVAL)]
        radii = 1.3 * np.abs(oval - self.face_center).max(axis=0)
        angles = np.linspace(0, 2 * np.pi, 28, endpoint=False)
        self._ring = self.face_center + radii * np.column_stack([np.cos(angles), np.sin(angles)])
        self._box = (self._ring.min(axis=0), self._ring.max(axis=0))
        keys = sorted({(t.au, t.side) for ex in self.expressions for t in ex.tracks})
        fields = [unit_displacement(au, lm, side) for au, side in keys]
        weights = np.zeros((len(self), len(keys) + 2))
        for ex in self.expressions:
            for t in ex.tracks:
                weights[:, keys.index((t.au, t.side))] += t.sample(self.times)
        fields.append(blink_displacement(lm))
        weights[:, -2] = blink_signal(self.events, self.times)
        fields.append(displacement(SPEECH, lm))
        weights[:, -1] = speech_signal(self.events, self.times)
        self._fields = np.stack(fields)
        self._weights = weights

    def displacement(self, k: int) -> np.ndarray:
        """Control-point displacement (canvas px) on frame ``k``."""
        return np.tensordot(self._weights[k], self._fields, axes=1)

    def expression_strength(self, k: int) -> float:
        """Largest displacement (canvas px) of any control point from the expressions alone."""
        d = np.tensordot(self._weights[k, :-2], self._fields[:-2], axes=1)
        return float(np.linalg.norm(d, axis=1).max()) if d.size else 0.0

    # -- ground truth -----------------------------------------------------------------------------

    @property
    def intervals(self) -> list[Interval]:
        """One Interval per expression; the apex is the frame where the face moves most."""
        tag = "-".join(str(v) for v in self.seed)
        out = []
        for i, ex in enumerate(self.expressions):
            frames = range(ex.onset, ex.offset + 1)
            apex = max(frames, key=self.expression_strength)
            peak_px = self.expression_strength(apex) * self.iod / self.canvas_iod
            units = " ".join(f"AU{t.au}{'' if t.side == 'both' else t.side[0].upper()}" for t in ex.tracks)
            out.append(Interval(onset=ex.onset, offset=ex.offset, apex=apex, type=ex.type, aus=ex.aus,
                                source="gt", id=f"warped-{tag}-{i:03d}",
                                note=f"{units}; peak {peak_px:.2f} px"))
        return out

    @property
    def distractors(self) -> list[Span]:
        """Every distractor in frames, the whole-video ones included (drift, noise, compression)."""
        fps, last = self.settings.fps, len(self) - 1
        spans = [Span(e.kind, min(last, round(e.start * fps)), min(last, round(e.end * fps)), e.amplitude)
                 for e in self.events]
        if self.settings.drift:
            spans.append(Span("head_drift", 0, last, self._drift_yaw))
        if self.noise_sigma:
            spans.append(Span("noise", 0, last, self.noise_sigma))
        spans.append(Span("compression", 0, last, float(self.crf)))
        return sorted(spans, key=lambda d: (d.start, d.kind))

    # -- geometry ---------------------------------------------------------------------------------

    def homography(self, k: int) -> np.ndarray:
        """3x3 map from canvas pixels to output pixels on frame ``k``."""
        roll, yaw, pitch, tx, ty, zoom = self.pose[k]
        f = _FOCAL_IOD * self.canvas_iod
        cr, sr, cy, sy, cp, sp = (math.cos(roll), math.sin(roll), math.cos(yaw), math.sin(yaw),
                                  math.cos(pitch), math.sin(pitch))
        turn = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
        nod = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
        rot = turn @ nod @ np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
        plane = np.diag([f, f, 1.0]) @ np.column_stack([rot[:, 0], rot[:, 1], [0.0, 0.0, f]]) / f
        scale = self.iod / self.canvas_iod * (1.0 + zoom)
        shift = self.placement + self.iod * np.array([tx + _PIVOT_IOD * sy, ty - _PIVOT_IOD * sp])
        to_face = np.array([[1, 0, -self.face_center[0]], [0, 1, -self.face_center[1]], [0, 0, 1.0]])
        to_frame = np.array([[scale, 0, shift[0]], [0, scale, shift[1]], [0, 0, 1.0]])
        return to_frame @ plane @ to_face

    def project(self, k: int, points: np.ndarray) -> np.ndarray:
        """Canvas points (N, 2) where frame ``k`` shows them (pose only, no expression)."""
        return cv2.perspectiveTransform(points.reshape(-1, 1, 2).astype(np.float64), self.homography(k))[:, 0]

    def landmarks(self, k: int) -> np.ndarray:
        """The identity's landmarks where frame ``k`` shows them, expression motion included."""
        lm = self.identity.landmarks.copy()
        lm[control_indices()] += self.displacement(k)
        return self.project(k, lm)

    def _source_map(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        gx, gy = self._grid
        inverse = np.linalg.inv(self.homography(k))
        pts = np.column_stack([gx.ravel(), gy.ravel(), np.ones(gx.size)]) @ inverse.T
        src = pts[:, :2] / pts[:, 2:3]
        disp = self.displacement(k)
        if np.any(disp):
            lo, hi = self._box
            inside = np.all((src >= lo) & (src <= hi), axis=1)
            spline = backward_spline(np.vstack([self.controls, self._ring]),
                                     np.vstack([self.controls + disp, self._ring]))
            src[inside] += spline(src[inside])
        size = self.settings.size
        return (upsample(src[:, 0].reshape(gx.shape), size), upsample(src[:, 1].reshape(gx.shape), size))

    # -- the hand -----------------------------------------------------------------------------------

    def _hand_at(self, k: int) -> tuple[HandPass, tuple[float, float, float]] | None:
        for hand in self.hands:
            target = self.project(k, self.identity.landmarks[list(TARGETS[hand.target])]).mean(axis=0)
            pose = hand_pose(hand, float(self.times[k]), target, self.settings.size, self.iod)
            if pose is not None:
                return hand, pose
        return None

    def hand_coverage(self, k: int) -> float:
        """Fraction of the face (its outline on frame ``k``) under the hand."""
        found = self._hand_at(k)
        if found is None:
            return 0.0
        hand, pose = found
        quarter = (self.settings.size[0] // 4, self.settings.size[1] // 4)
        alpha = hand_alpha(quarter, (pose[0] / 4, pose[1] / 4, pose[2]), self.iod / 4, hand.style)
        face = np.zeros(quarter[::-1], dtype=np.float32)
        outline = self.project(k, self.identity.landmarks[list(FACE_OVAL)]) / 4
        cv2.fillPoly(face, [np.round(outline).astype(np.int32)], 1.0)
        return float((alpha * face).sum() / max(face.sum(), 1.0))

    def _occlusions(self) -> list[tuple[int, int]]:
        """Runs of frames where a hand covers more than :data:`OCCLUDED_FRACTION` of the face."""
        fps, runs = self.settings.fps, []
        for hand in self.hands:
            first, last = math.ceil(hand.start * fps), min(len(self) - 1, math.floor(hand.end * fps))
            covered = [k for k in range(first, last + 1) if self.hand_coverage(k) > OCCLUDED_FRACTION]
            for k in covered:
                if runs and runs[-1][1] == k - 1:
                    runs[-1] = (runs[-1][0], k)
                else:
                    runs.append((k, k))
        return runs

    # -- rendering --------------------------------------------------------------------------------

    def frame(self, k: int) -> np.ndarray:
        if not 0 <= k < len(self):
            raise IndexError(f"frame {k} is outside 0..{len(self) - 1}")
        map_x, map_y = self._source_map(k)
        image = cv2.remap(self.identity.image, map_x, map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT101).astype(np.float32)
        found = self._hand_at(k)
        if found is not None:
            hand, pose = found
            alpha = hand_alpha(self.settings.size, pose, self.iod, hand.style)
            image = composite(image, alpha, self.iod, hand.style)
        rx, ry = self._ramp
        angle, strength = self.light_angle[k], self.light[k]
        light = cv2.addWeighted(rx, strength * math.cos(angle), ry, strength * math.sin(angle), 1.0)
        image = cv2.multiply(image, cv2.merge([light] * 3), scale=float(self.gain[k]))
        if self.noise_sigma:
            image += self._noise(k, image)
        return np.clip(np.rint(image), 0, 255).astype(np.uint8)

    def frames(self):
        for k in range(len(self)):
            yield self.frame(k)

    def _noise(self, k: int, image: np.ndarray) -> np.ndarray:
        """Signal-dependent grain, luminance at full resolution and chroma at half."""
        height, width = image.shape[:2]
        rng = np.random.default_rng((*self.seed, _NOISE_TAG, k))
        luma = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        grain = rng.standard_normal((height, width), dtype=np.float32)
        grain *= cv2.sqrt(luma * np.float32(0.7 / 128.0) + np.float32(0.3)) * np.float32(self.noise_sigma)
        half = rng.standard_normal(((height + 1) // 2, (width + 1) // 2, 2), dtype=np.float32)
        chroma = cv2.resize(half, (width, height), interpolation=cv2.INTER_NEAREST)
        chroma *= np.float32(0.4 * self.noise_sigma)
        return cv2.merge([grain + chroma[..., 0], grain, grain + chroma[..., 1]])
