"""What shapes one video of the warped generator; the seed chooses everything else.

The settings fix the *kind* of video (length, frame rate, size, how many expressions, which
distractors); the seed draws the identity, camera, lighting, compression and every event. All
times are in seconds so that one seed gives the same events at 30 and at 200 fps.
"""

from __future__ import annotations

from dataclasses import dataclass

from napari_mespot.core.synth.settings import SynthError

Range = tuple[float, float]
#: Distractor switches, in the order the scene draws them.
DISTRACTORS = ("blinks", "drift", "shakes", "talking", "hand", "lighting", "noise")


@dataclass(frozen=True)
class WarpedSettings:
    """One video's settings.

    Amplitudes are fractions of the outer-eye-corner distance (IOD), so an expression moves a
    large face and a small one alike: with the face IOD at 0.28 x 640 px, ME 0.01-0.022 IOD is
    1.8-3.9 px and MaE 0.03-0.07 IOD 5.4-12.5 px at the strongest point (times the unit's gain,
    0.45-1.2, see :mod:`.action_units`).
    """

    duration_s: float = 30.0
    fps: float = 30.0
    #: Output frame size (width, height), both even (H.264 in yuv420p).
    size: tuple[int, int] = (640, 480)
    n_me: int = 3
    n_mae: int = 3
    me_duration_s: Range = (0.2, 0.45)
    mae_duration_s: Range = (0.6, 4.0)
    me_amplitude_iod: Range = (0.01, 0.022)
    mae_amplitude_iod: Range = (0.03, 0.07)
    #: Face size: the IOD as a fraction of the frame width, drawn per video.
    iod_frac: Range = (0.2, 0.32)
    #: Quiet time kept around every expression before distractors are placed near it.
    margin_s: float = 0.5
    blinks: bool = True
    drift: bool = True
    shakes: bool = True
    talking: bool = True
    hand: bool = True
    lighting: bool = True
    noise: bool = True
    #: Mean events a minute (Poisson) of the distractors placed between expressions; a draw
    #: that finds no free time is dropped.
    shakes_per_minute: float = 3.0
    talking_per_minute: float = 3.0
    hands_per_minute: float = 4.0
    lighting_per_minute: float = 3.0
    #: H.264 CRF per video, drawn from this range (inclusive) unless ``crf`` fixes it.
    crf_range: tuple[int, int] = (18, 32)
    crf: int | None = None

    def __post_init__(self) -> None:
        width, height = (int(v) for v in self.size)
        object.__setattr__(self, "size", (width, height))
        _require(self.fps > 0, f"fps must be positive, got {self.fps}")
        _require(self.duration_s >= 2.0, f"a warped video lasts at least 2 s, got {self.duration_s} s")
        _require(width >= 128 and height >= 96 and width % 2 == 0 and height % 2 == 0,
                 f"size must be even and at least 128x96, got {width}x{height}")
        _require(self.n_me >= 0 and self.n_mae >= 0, "expression counts must be >= 0")
        for name in ("me_duration_s", "mae_duration_s", "me_amplitude_iod", "mae_amplitude_iod", "iod_frac"):
            low, high = getattr(self, name)
            _require(0 < low <= high, f"{name} must be a range 0 < low <= high, got ({low}, {high})")
        _require(self.me_duration_s[1] <= 0.45,
                 f"micro-expressions move for at most 0.45 s (0.5 s with their end frames), "
                 f"got me_duration_s={self.me_duration_s}")
        _require(self.mae_duration_s[0] >= 0.6,
                 f"macro-expressions move for at least 0.6 s, got mae_duration_s={self.mae_duration_s}")
        _require(self.iod_frac[1] <= 0.45,
                 f"iod_frac above 0.45 leaves no room for the head, got {self.iod_frac}")
        _require(self.margin_s >= 0, f"margin_s must be >= 0, got {self.margin_s}")
        for name in ("shakes_per_minute", "talking_per_minute", "hands_per_minute", "lighting_per_minute"):
            _require(getattr(self, name) >= 0, f"{name} must be >= 0, got {getattr(self, name)}")
        crfs = self.crf_range if self.crf is None else (self.crf, self.crf)
        _require(0 <= crfs[0] <= crfs[1] <= 51, f"CRF must lie in 0..51, got {crfs}")
        self.expression_ranges()

    @property
    def n_frames(self) -> int:
        return round(self.duration_s * self.fps)

    def expression_ranges(self) -> tuple[Range, Range, float]:
        """The ME and MaE duration ranges that fit the video with its margins, and the gap (s).

        The longest MaE are shortened until every draw fits, so whether a schedule fits depends
        on the settings, never on the seed.
        """
        n = self.n_me + self.n_mae
        gap = 2.0 * self.margin_s + 0.1  # in seconds only: one seed, one schedule at any fps
        room = self.duration_s - (n + 1) * gap - self.n_me * self.me_duration_s[1]
        mae = self.mae_duration_s
        if self.n_mae:
            mae = (mae[0], min(mae[1], room / self.n_mae))
        need = (n + 1) * gap + self.n_me * self.me_duration_s[1] + self.n_mae * mae[0]
        _require(mae[1] >= mae[0] and room >= 0,
                 f"{self.n_me} ME + {self.n_mae} MaE with {self.margin_s:g} s margins need {need:.1f} s; "
                 f"the video lasts {self.duration_s:g} s")
        return self.me_duration_s, mae, gap


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise SynthError(message)
