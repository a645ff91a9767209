"""When things happen in a warped video, in seconds, and how strongly at each frame.

Everything is drawn in seconds and only then sampled at the frame times, so one seed gives the
same events at 30 and at 200 fps (to within one frame). An expression's edges are snapped to
frame times first, so that the ground truth is exact at any rate: its amplitude is exactly 0 on
its ``onset`` frame (the last still frame before the motion) and on its ``offset`` frame (the
first still frame after it), and positive in between. The type follows from the inclusive
frame count (``type_by_duration``), which the duration ranges keep at ≤ 0.5 s for ME.

Time course of one action unit (start ``s``, peak ``p``, end ``e``): a minimum-jerk
contraction from ``s`` to ``p`` (10u³ - 15u⁴ + 6u⁵), then a critically damped release to ``e``,
``(1 + λv) exp(-λv) - v (1 + λ) exp(-λ)``: it leaves the peak with almost no slope, falls fast
and creeps back to rest exactly at ``e``. The several units of one expression start, peak and
end at staggered times around the expression's own; its apex (the ground truth's) is the frame
where the whole face moves most, not the middle of the interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from napari_mespot.core.intervals import type_by_duration
from napari_mespot.core.synth.settings import SynthError
from napari_mespot.core.synth.warped.action_units import SIDES, SUPPORTED_AUS
from napari_mespot.core.synth.warped.settings import WarpedSettings

#: AU combinations an expression may have, after prototypical emotion codings (happiness 6+12,
#: surprise 1+2(+25/26), sadness 1+4(+15), anger 4+7(+17), contempt unilateral 12/14, doubt
#: 15+17) and single units.
COMBINATIONS: tuple[tuple[int, ...], ...] = (
    (12,), (6, 12), (6, 12, 25), (1, 2), (1, 2, 25), (1, 2, 26), (4,), (4, 7), (4, 7, 17),
    (1, 4), (1, 4, 15), (15, 17), (14,), (7,), (17,), (1,), (2,), (6,), (7, 12),
)
#: Units that may act on one side of the face only (contempt-like smirks).
UNILATERAL = (12, 14)


@dataclass(frozen=True)
class Track:
    """One unit's time course inside an expression: seconds, peak amplitude (IOD), release rate."""

    au: int
    side: str
    start: float
    peak: float
    end: float
    amplitude: float
    release: float

    def sample(self, times: np.ndarray) -> np.ndarray:
        return self.amplitude * course(times, self.start, self.peak, self.end, self.release)


@dataclass(frozen=True)
class Expression:
    """A scheduled expression: frames (inclusive), its type and the units' tracks."""

    onset: int
    offset: int
    type: str
    tracks: tuple[Track, ...]

    @property
    def aus(self) -> tuple[int, ...]:
        return tuple(sorted({t.au for t in self.tracks}))


@dataclass(frozen=True)
class Event:
    """A distractor: its kind, span in seconds and what it draws (amplitude, parameters)."""

    kind: str
    start: float
    end: float
    amplitude: float
    params: dict = field(default_factory=dict)


def minimum_jerk(u: np.ndarray | float) -> np.ndarray:
    """The smoothest 0 → 1 move over u in [0, 1] (zero velocity and acceleration at both ends)."""
    u = np.clip(u, 0.0, 1.0)
    return u**3 * (10.0 - 15.0 * u + 6.0 * u**2)


def course(times: np.ndarray, start: float, peak: float, end: float, release: float) -> np.ndarray:
    """Amplitude 0..1 at ``times``: minimum-jerk rise to ``peak``, damped release to ``end``."""
    t = np.asarray(times, dtype=np.float64)
    out = np.zeros_like(t)
    rising = (t > start) & (t <= peak)
    out[rising] = minimum_jerk((t[rising] - start) / (peak - start))
    falling = (t > peak) & (t < end)
    v = (t[falling] - peak) / (end - peak)
    lam = release
    out[falling] = (1.0 + lam * v) * np.exp(-lam * v) - v * (1.0 + lam) * math.exp(-lam)
    return out


def snap(seconds: float, fps: float) -> int:
    return round(seconds * fps)


def _tracks(onset_s: float, offset_s: float, kind: str, settings: WarpedSettings,
            rng: np.random.Generator) -> tuple[Track, ...]:
    aus = COMBINATIONS[int(rng.integers(len(COMBINATIONS)))]
    span = offset_s - onset_s
    # Apex early (a quick rise, a long relaxation) more often than late; never in the middle.
    frac = rng.uniform(0.15, 0.4) if rng.random() < 0.7 else rng.uniform(0.6, 0.75)
    apex = onset_s + frac * span
    low, high = settings.me_amplitude_iod if kind == "me" else settings.mae_amplitude_iod
    strength = rng.uniform(low, high)
    side = "both"
    if len(aus) == 1 and aus[0] in UNILATERAL and rng.random() < 0.5:
        side = str(rng.choice(["left", "right"]))
    tracks = []
    for k, au in enumerate(aus):
        if k == 0:  # the leading unit spans the whole expression
            start, peak, end, amp = onset_s, apex, offset_s, strength
        else:
            start = onset_s + rng.uniform(0.0, 0.35) * (apex - onset_s)
            peak = float(np.clip(apex + rng.uniform(-0.15, 0.15) * (apex - onset_s),
                                 start + 0.3 * (apex - start), offset_s - 0.2 * (offset_s - apex)))
            end = offset_s - rng.uniform(0.0, 0.3) * (offset_s - peak)
            amp = strength * rng.uniform(0.6, 1.0)
        tracks.append(Track(au, side, start, peak, end, float(amp), float(rng.uniform(2.5, 5.0))))
    return tuple(tracks)


def schedule_expressions(settings: WarpedSettings, rng: np.random.Generator) -> list[Expression]:
    """``n_me`` + ``n_mae`` expressions in random order with random quiet gaps between them."""
    me, mae, gap = settings.expression_ranges()
    kinds = ["me"] * settings.n_me + ["mae"] * settings.n_mae
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    lengths = [rng.uniform(*(me if k == "me" else mae)) for k in kinds]
    slack = settings.duration_s - sum(lengths) - (len(kinds) + 1) * gap
    shares = rng.dirichlet(np.ones(len(kinds) + 1)) * slack
    fps, expressions, t = settings.fps, [], 0.0
    for kind, length, share in zip(kinds, lengths, shares, strict=False):
        t += gap + share
        onset, offset = snap(t, fps), snap(t + length, fps)
        if type_by_duration(offset - onset + 1, fps) != kind:
            raise SynthError(f"at {fps:g} fps a {length:.3f} s {kind} spans {offset - onset + 1} frames, "
                             "which types it otherwise; narrow the duration ranges")
        tracks = _tracks(onset / fps, offset / fps, kind, settings, rng)
        expressions.append(Expression(onset, offset, kind, tracks))
        t += length
    return expressions


def scripted(onset_s: float, offset_s: float, units: dict[int, float], fps: float, apex_frac: float = 0.3,
             side: str = "both") -> Expression:
    """An expression at a chosen time (tests, demos): every unit of ``units`` (AU: amplitude in
    IOD) rises together to the apex at ``apex_frac`` of the span and releases at rate 4."""
    onset, offset = snap(onset_s, fps), snap(offset_s, fps)
    start, end = onset / fps, offset / fps
    apex = start + apex_frac * (end - start)
    tracks = tuple(Track(au, side, start, apex, end, float(a), 4.0) for au, a in units.items())
    return Expression(onset, offset, type_by_duration(offset - onset + 1, fps), tracks)


def check_script(expressions: list[Expression], n_frames: int) -> list[Expression]:
    """Scripted expressions in time order, or a SynthError when one cannot be rendered."""
    script = sorted(expressions, key=lambda ex: ex.onset)
    for ex in script:
        if not 0 <= ex.onset < ex.offset < n_frames:
            raise SynthError(f"expression {ex.onset}-{ex.offset} is not inside frames 0..{n_frames - 1}")
        bad = [t.au for t in ex.tracks if t.au not in SUPPORTED_AUS or t.side not in SIDES]
        if bad or not ex.tracks:
            raise SynthError(f"expression {ex.onset}-{ex.offset}: AUs {bad or 'none'} cannot move; "
                             f"supported: {SUPPORTED_AUS}")
    for a, b in pairwise(script):
        if b.onset <= a.offset:
            raise SynthError(f"expressions {a.onset}-{a.offset} and {b.onset}-{b.offset} overlap")
    return script


class FreeTime:
    """The parts of the video still free for distractors, as (start, end) seconds."""

    def __init__(self, duration: float, busy: list[tuple[float, float]], margin: float) -> None:
        self.margin = margin
        self.spans: list[tuple[float, float]] = [(0.0, duration)]
        for start, end in busy:
            self.take(start - margin, end + margin)

    def take(self, start: float, end: float) -> None:
        out = []
        for a, b in self.spans:
            if end <= a or start >= b:
                out.append((a, b))
                continue
            if start > a:
                out.append((a, start))
            if end < b:
                out.append((end, b))
        self.spans = out

    def place(self, length: float, rng: np.random.Generator) -> float | None:
        """A random start where ``length`` s fit, taken (with the margin) from the free time."""
        fits = [(a, b - length) for a, b in self.spans if b - a >= length]
        if not fits:
            return None
        room = np.array([b - a for a, b in fits]) + 1e-9
        a, b = fits[int(rng.choice(len(fits), p=room / room.sum()))]
        start = float(rng.uniform(a, b))
        self.take(start - self.margin, start + length + self.margin)
        return start


def count(per_minute: float, duration_s: float, rng: np.random.Generator) -> int:
    """How many events at ``per_minute`` on average (Poisson)."""
    return int(rng.poisson(per_minute * duration_s / 60.0))
