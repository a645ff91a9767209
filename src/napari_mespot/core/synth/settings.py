"""Settings of the synthetic face videos and the error raised for impossible ones.

Kept apart from the renderer so the scheduler and the face model can share them without
importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from napari_mespot.core.errors import MespotError

Range = tuple[float, float]


class SynthError(MespotError):
    """Synthetic-video settings that cannot be honoured (or a face that cannot be found)."""


@dataclass(frozen=True)
class SynthSettings:
    """Everything that shapes one synthetic video; the seed is passed separately.

    Amplitudes are the peak displacement in output pixels of the strongest point of an AU's
    motion field; durations are inclusive frame counts divided by fps. Each distractor has its
    own switch so tests can compare spotting with and without it while the expressions stay
    the same (every component draws from its own random stream).
    """

    duration_s: float = 60.0
    fps: float = 30.0
    #: Output frame size as (width, height); both even (H.264 in yuv420p).
    size: tuple[int, int] = (640, 480)
    #: Distance between the outer eye corners as a fraction of the width: 0.3 makes the face
    #: fill about two thirds of the frame height, as in CASME II / CAS(ME)².
    eye_distance_frac: float = 0.3
    n_me: int = 4
    n_mae: int = 4
    me_amplitude_px: Range = (1.0, 2.0)
    mae_amplitude_px: Range = (3.0, 8.0)
    me_duration_s: Range = (0.2, 0.5)
    mae_duration_s: Range = (0.6, 4.0)
    #: Minimum quiet time between two expressions, and before the first / after the last.
    min_gap_s: float = 1.0
    #: How far each AU of a several-AU expression but one may start after the expression's onset
    #: and end before its offset, each as a share of its length drawn from [0, au_stagger]
    #: (0: every AU moves on the expression's one time course). Real faces start and end an
    #: expression's AUs at different times; its ground truth stays the union of its AUs.
    au_stagger: float = 0.0
    head_drift: bool = True
    drift_px: float = 2.0
    drift_deg: float = 0.5
    head_shakes: bool = True
    shakes_per_minute: float = 3.0
    shake_amplitude_px: Range = (3.0, 8.0)
    shake_duration_s: Range = (0.2, 0.6)
    blinks: bool = True
    blinks_per_minute: float = 10.0
    blink_duration_s: Range = (0.1, 0.3)
    #: Standard deviation of the Gaussian sensor noise in grey levels; 0 switches it off.
    noise_sigma: float = 1.5
    flicker: bool = True
    #: Peak relative change of the global brightness (0.02 = ±2 %).
    flicker_amplitude: float = 0.02

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(f.default, tuple) and f.name != "size":
                object.__setattr__(self, f.name, (float(value[0]), float(value[1])))
        object.__setattr__(self, "size", (int(self.size[0]), int(self.size[1])))
        self._validate()

    @property
    def n_frames(self) -> int:
        return round(self.duration_s * self.fps)

    def _validate(self) -> None:
        width, height = self.size
        _require(self.fps > 0, f"fps must be positive, got {self.fps}")
        _require(self.duration_s > 0, f"duration must be positive, got {self.duration_s} s")
        _require(
            width >= 64 and height >= 64 and width % 2 == 0 and height % 2 == 0,
            f"size must be even and at least 64x64, got {width}x{height}",
        )
        _require(0.05 <= self.eye_distance_frac <= 0.6,
                 f"eye_distance_frac must lie in [0.05, 0.6], got {self.eye_distance_frac}")
        _require(self.n_me >= 0 and self.n_mae >= 0, "expression counts must be >= 0")
        for name in ("me_amplitude_px", "mae_amplitude_px", "shake_amplitude_px",
                     "me_duration_s", "mae_duration_s", "shake_duration_s", "blink_duration_s"):
            low, high = getattr(self, name)
            _require(0 < low <= high, f"{name} must be a range 0 < low <= high, got ({low}, {high})")
        _require(self.me_duration_s[1] <= 0.5,
                 f"micro-expressions last at most 0.5 s, got me_duration_s={self.me_duration_s}")
        _require(self.mae_duration_s[1] > 0.5,
                 f"macro-expressions last more than 0.5 s, got mae_duration_s={self.mae_duration_s}")
        _require(0 <= self.au_stagger < 0.5, f"au_stagger must lie in [0, 0.5), got {self.au_stagger}")
        for name in ("min_gap_s", "drift_px", "drift_deg", "shakes_per_minute",
                     "blinks_per_minute", "noise_sigma", "flicker_amplitude"):
            _require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SynthError(message)
