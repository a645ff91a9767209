"""What a camera, its light and its encoder do to a face video: one seeded draw per video.

A learnt spotter trained on one photograph under one light, framed one way and encoded once,
learns that photograph. :func:`draw_footage` draws, from a seed, how one video was "filmed" —
where the face sits and how it is rolled, a slow camera drift and quick camera shakes, a
colour cast and a skin-tone shift in CIELAB, contrast, brightness, gamma, a lighting gradient
whose direction drifts during the video, defocus blur, sensor noise and JPEG compression —
and :meth:`Footage.apply` applies the same draw to every frame ``k`` of the video.

Time is never touched: output frame ``k`` shows input frame ``k``, so ground truth in frames
holds unchanged. Camera shakes are placed away from the frames a caller marks busy (the
expressions), as the generator places its own head shakes, so a shake is a distractor and not
part of an expression's motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any

import numpy as np

from napari_mespot.core.synth.noise import NoiseBank
from napari_mespot.core.synth.schedule import (
    Distractor,
    event_count,
    place_events,
    shake_offsets,
    smooth_wander,
)
from napari_mespot.core.synth.settings import Range, SynthError

#: Random streams of one draw: the constants, the drift, the shakes; then noise per frame.
_CONSTANTS, _DRIFT, _SHAKES, _NOISE = range(4)
#: Camera drift is a sum of sinusoids with periods in this range (s): slow, like a hand-held
#: camera or a seated person settling.
_DRIFT_PERIODS_S = (8.0, 40.0)
#: Quiet frames (s) kept between a camera shake and a busy frame.
_SHAKE_MARGIN_S = 0.3
#: Roll (deg) per unit of shake offset relative to the frame height: a shake turns a little too.
_SHAKE_ROLL_DEG = 40.0


@dataclass(frozen=True)
class FootageRanges:
    """What one draw may pick; every value uniform in its range (zero ranges switch a change off).

    Lengths are fractions of the frame height so one set of ranges serves every resolution;
    lightness and colour are CIELAB units (L* 0–100, a*/b* about ±100).
    """

    #: Largest shift of the face from its place, as a fraction of the frame height; never more
    #: than the room the caller says the face has (``room`` of :func:`draw_footage`).
    offset_frac: float = 0.08
    roll_deg: float = 8.0
    drift_frac: Range = (0.0, 0.02)
    drift_deg: Range = (0.0, 2.0)
    drift_zoom: Range = (0.0, 0.03)
    shakes_per_minute: Range = (0.0, 8.0)
    shake_frac: Range = (0.005, 0.025)
    shake_duration_s: Range = (0.15, 0.5)
    #: Shift of a* and b* (±): a colour cast, or another skin tone.
    ab_shift: float = 10.0
    #: L* contrast about its mid-grey 50, and the largest L* offset (±).
    contrast: Range = (0.75, 1.25)
    brightness: float = 12.0
    gamma: Range = (0.7, 1.7)
    #: Peak relative gain of the lighting gradient at the frame's edge (0.3: one side 30 % brighter
    #: and the other 30 % darker), and how fast its direction turns (deg/s, either way).
    gradient: Range = (0.0, 0.3)
    gradient_turn_deg_s: Range = (0.0, 15.0)
    blur_sigma: Range = (0.0, 1.5)
    noise_sigma: Range = (0.0, 4.0)
    #: Share of videos JPEG-compressed frame by frame, and their quality.
    jpeg_share: float = 0.5
    jpeg_quality: tuple[int, int] = (30, 90)
    #: H.264 constant rate factor of the written file (lower is better).
    crf: tuple[int, int] = (18, 32)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            values = value if isinstance(value, tuple) else (value,)
            if any(v < 0 for v in values) or (isinstance(value, tuple) and value[0] > value[1]):
                raise SynthError(f"footage range {f.name} must be >= 0 (low <= high), got {value}")
        if self.contrast[0] <= 0 or self.gamma[0] <= 0:
            raise SynthError("contrast and gamma must be positive")
        if not 0 <= self.jpeg_share <= 1 or not 1 <= self.jpeg_quality[0] <= self.jpeg_quality[1] <= 100:
            raise SynthError("jpeg_share lies in [0, 1] and jpeg_quality in 1..100")
        if not 0 <= self.crf[0] <= self.crf[1] <= 51:
            raise SynthError(f"crf must lie in 0..51, got {self.crf}")


DEFAULT_RANGES = FootageRanges()
#: Nothing changes: a draw from these ranges returns every frame as it was.
UNCHANGED = FootageRanges(
    offset_frac=0.0, roll_deg=0.0, drift_frac=(0.0, 0.0), drift_deg=(0.0, 0.0), drift_zoom=(0.0, 0.0),
    shakes_per_minute=(0.0, 0.0), ab_shift=0.0, contrast=(1.0, 1.0), brightness=0.0,
    gamma=(1.0, 1.0), gradient=(0.0, 0.0), gradient_turn_deg_s=(0.0, 0.0), blur_sigma=(0.0, 0.0),
    noise_sigma=(0.0, 0.0), jpeg_share=0.0,
)


@dataclass(frozen=True)
class Footage:
    """One video's draw: constants, and the per-frame camera motion and light direction.

    ``motion`` (n, 4) holds per frame the camera's extra shift (dx, dy px), roll (deg) and zoom
    (relative) on top of the constant ``offset`` and ``roll_deg``; ``light_angle`` (n,) the
    direction (rad) the lighting gradient brightens towards.
    """

    size: tuple[int, int]
    fps: float
    seed: tuple[int, ...]
    offset: tuple[float, float]
    roll_deg: float
    ab_shift: tuple[float, float]
    contrast: float
    brightness: float
    gamma: float
    gradient: float
    blur_sigma: float
    noise_sigma: float
    jpeg_quality: int
    crf: int
    motion: np.ndarray = field(repr=False, compare=False)
    light_angle: np.ndarray = field(repr=False, compare=False)
    shakes: tuple[Distractor, ...] = ()

    def __len__(self) -> int:
        return len(self.light_angle)

    def record(self) -> dict[str, Any]:
        """The draw as JSON-ready values (the per-frame arrays summarised by their peaks)."""
        arrays = ("motion", "light_angle", "shakes")
        scalars = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in arrays}
        peak = np.abs(self.motion).max(axis=0) if len(self) else np.zeros(4)
        scalars.update(
            size=list(self.size), seed=list(self.seed), offset=[round(v, 2) for v in self.offset],
            ab_shift=[round(v, 2) for v in self.ab_shift],
            peak_shift_px=round(float(max(peak[0], peak[1])), 2), peak_roll_deg=round(float(peak[2]), 2),
            peak_zoom=round(float(peak[3]), 4),
            shakes=[[d.start, d.end, round(d.amplitude, 2)] for d in self.shakes],
        )
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in scalars.items()}

    def matrix(self, k: int) -> np.ndarray:
        """2x3 affine taking input pixels to output pixels on frame ``k`` (about the frame centre)."""
        import cv2

        dx, dy, droll, dzoom = self.motion[k]
        center = (self.size[0] / 2.0, self.size[1] / 2.0)
        m = cv2.getRotationMatrix2D(center, self.roll_deg + float(droll), 1.0 + float(dzoom))
        m[:, 2] += (self.offset[0] + dx, self.offset[1] + dy)
        return m

    def apply(self, frame: np.ndarray, k: int) -> np.ndarray:
        """Frame ``k`` (RGB uint8 of the drawn size) as this footage shows it."""
        import cv2

        if frame.shape[:2] != (self.size[1], self.size[0]):
            raise SynthError(f"footage drawn for {self.size[0]}x{self.size[1]} frames, got "
                             f"{frame.shape[1]}x{frame.shape[0]}")
        image = cv2.warpAffine(frame, self.matrix(k), self.size, flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT101)
        if self.gamma != 1.0:
            image = cv2.LUT(image, gamma_table(self.gamma))
        rgb = lab_adjusted(image.astype(np.float32) / np.float32(255.0), self.ab_shift, self.contrast,
                           self.brightness)
        if self.gradient > 0:
            rgb *= lighting_gradient(self.size, self.gradient, float(self.light_angle[k]))[..., None]
        if self.blur_sigma > 0:
            rgb = cv2.GaussianBlur(rgb, (0, 0), self.blur_sigma)
        out = rgb * np.float32(255.0)
        if self.noise_sigma > 0:
            out += self._noise.frame(k)
        out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        return jpeg_roundtrip(out, self.jpeg_quality) if self.jpeg_quality else out

    @cached_property
    def _noise(self) -> NoiseBank:
        return NoiseBank(self.size, self.noise_sigma, (*self.seed, _NOISE), (*self.seed, _NOISE, 1))


def gamma_table(gamma: float) -> np.ndarray:
    """uint8 lookup table of v -> 255 (v / 255)^gamma."""
    return np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)


def lab_adjusted(rgb: np.ndarray, ab_shift: tuple[float, float], contrast: float,
                 brightness: float) -> np.ndarray:
    """RGB float (0–1) with L* stretched by ``contrast`` about 50 and moved by ``brightness``, and
    a*, b* moved by ``ab_shift``: colour and skin tone change without touching the structure."""
    import cv2

    if ab_shift == (0.0, 0.0) and contrast == 1.0 and brightness == 0.0:
        return rgb
    lab = cv2.cvtColor(np.clip(rgb, 0, 1), cv2.COLOR_RGB2Lab)
    lab[..., 0] = 50.0 + contrast * (lab[..., 0] - 50.0) + brightness
    lab[..., 1] += ab_shift[0]
    lab[..., 2] += ab_shift[1]
    return np.clip(cv2.cvtColor(lab, cv2.COLOR_Lab2RGB), 0, 1)


def lighting_gradient(size: tuple[int, int], strength: float, angle: float) -> np.ndarray:
    """(H, W) gain 1 + strength · (projection on the direction ``angle``), ±1 at the frame's rim."""
    width, height = size
    x = np.linspace(-1.0, 1.0, width, dtype=np.float32)
    y = np.linspace(-1.0, 1.0, height, dtype=np.float32) * np.float32(height / width)
    ramp = np.cos(angle) * x[None, :] + np.sin(angle) * y[:, None]
    return (1.0 + strength * ramp / max(float(np.abs(ramp).max()), 1e-6)).astype(np.float32)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` encoded as a JPEG of ``quality`` and decoded again."""
    import cv2

    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise SynthError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _uniform(rng: np.random.Generator, bounds: Range) -> float:
    return float(rng.uniform(*bounds)) if bounds[1] > bounds[0] else float(bounds[0])


def draw_footage(
    size: tuple[int, int],
    n_frames: int,
    fps: float,
    seed: int | tuple[int, ...],
    ranges: FootageRanges = DEFAULT_RANGES,
    *,
    busy: np.ndarray | None = None,
    room: tuple[float, float] | None = None,
) -> Footage:
    """Draw the footage of one ``size`` video of ``n_frames`` frames at ``fps``.

    ``busy`` (n,) bool marks frames a camera shake must keep away from (the expressions);
    ``room`` (px, x and y) is how far the face may move before it leaves the frame: the
    constant offset plus the largest drift stay inside it.
    """
    seed = (seed,) if isinstance(seed, int | np.integer) else tuple(int(v) for v in seed)
    streams = np.random.SeedSequence(seed).spawn(3)
    rng, drift_rng, shake_rng = (np.random.default_rng(s) for s in streams)
    height = float(size[1])
    drift_px = _uniform(rng, ranges.drift_frac) * height
    limit = np.full(2, ranges.offset_frac * height)
    if room is not None:
        limit = np.clip(np.minimum(limit, np.asarray(room, np.float64) - drift_px), 0.0, None)
    offset = rng.uniform(-1.0, 1.0, 2) * limit
    roll = _uniform(rng, (-ranges.roll_deg, ranges.roll_deg))
    ab = rng.uniform(-1.0, 1.0, 2) * ranges.ab_shift
    contrast = _uniform(rng, ranges.contrast)
    brightness = _uniform(rng, (-ranges.brightness, ranges.brightness))
    gamma, gradient = _uniform(rng, ranges.gamma), _uniform(rng, ranges.gradient)
    turn = math.radians(_uniform(rng, ranges.gradient_turn_deg_s)) * float(rng.choice([-1.0, 1.0]))
    light0 = float(rng.uniform(0.0, 2 * math.pi))
    blur, noise = _uniform(rng, ranges.blur_sigma), _uniform(rng, ranges.noise_sigma)
    jpeg = 0
    if rng.random() < ranges.jpeg_share:
        jpeg = int(rng.integers(ranges.jpeg_quality[0], ranges.jpeg_quality[1] + 1))
    crf = int(rng.integers(ranges.crf[0], ranges.crf[1] + 1))
    motion = np.zeros((n_frames, 4))
    if n_frames and drift_px > 0:
        motion[:, 0] = drift_px * smooth_wander(n_frames, fps, _DRIFT_PERIODS_S, drift_rng)
        motion[:, 1] = drift_px * smooth_wander(n_frames, fps, _DRIFT_PERIODS_S, drift_rng)
    if n_frames:
        for column, bounds in ((2, ranges.drift_deg), (3, ranges.drift_zoom)):
            peak = _uniform(drift_rng, bounds)
            motion[:, column] = peak * smooth_wander(n_frames, fps, _DRIFT_PERIODS_S, drift_rng)
    shakes = _add_shakes(motion, fps, height, ranges, busy, shake_rng)
    light = light0 + turn * np.arange(n_frames) / fps
    return Footage(
        size=(int(size[0]), int(size[1])), fps=float(fps), seed=seed,
        offset=(float(offset[0]), float(offset[1])),
        roll_deg=roll, ab_shift=(float(ab[0]), float(ab[1])), contrast=contrast, brightness=brightness,
        gamma=gamma, gradient=gradient, blur_sigma=blur, noise_sigma=noise, jpeg_quality=jpeg, crf=crf,
        motion=motion, light_angle=light, shakes=shakes,
    )


def _add_shakes(motion: np.ndarray, fps: float, height: float, ranges: FootageRanges,
                busy: np.ndarray | None, rng: np.random.Generator) -> tuple[Distractor, ...]:
    """Quick camera shakes added to ``motion`` in place, away from ``busy`` frames."""
    n = len(motion)
    count = event_count(_uniform(rng, ranges.shakes_per_minute), n / fps)
    if count == 0 or n == 0:
        return ()
    taken = np.zeros(n, bool) if busy is None else np.asarray(busy, bool)
    spans = place_events(taken, count, ranges.shake_duration_s, fps, round(_SHAKE_MARGIN_S * fps), rng)
    shakes = []
    for start, end in spans:
        amplitude = _uniform(rng, ranges.shake_frac) * height
        direction = float(rng.uniform(0.0, 2 * math.pi))
        offsets = shake_offsets(end - start + 1, amplitude)
        motion[start:end + 1, 0] += math.cos(direction) * offsets
        motion[start:end + 1, 1] += math.sin(direction) * offsets
        motion[start:end + 1, 2] += _SHAKE_ROLL_DEG * offsets / height
        shakes.append(Distractor("camera_shake", start, end, amplitude))
    return tuple(shakes)
