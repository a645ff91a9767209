"""When things happen in a synthetic video: expressions, distractors and their time courses.

Ground-truth convention (the one the tests check): an expression's amplitude is exactly 0 on
its ``onset`` frame, rises smoothly (raised cosine) to 1 on its ``apex`` frame, may hold there
briefly, falls back more slowly and is exactly 0 again on its ``offset`` frame; it is strictly
positive on every frame in between. So ``onset`` is the last neutral frame before the motion,
the flow from ``onset`` to ``apex`` is the full expression (the CASME II convention the
AU-prototype paper learns from), and ``offset`` is the first neutral frame after it. The type
comes from the inclusive length (:func:`~napari_mespot.core.intervals.type_by_duration`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from napari_mespot.core.intervals import type_by_duration
from napari_mespot.core.synth.settings import Range, SynthError, SynthSettings

#: AU combinations an expression may have: every AU alone, and combinations seen in FACS
#: coding of real expressions (surprise brows 1+2, anger-like 4+7 and 4+7+17, sadness-like
#: 15+17 and 1+15+17, a smile with lid tightening 7+12, lip suppression 14+17).
AU_COMBINATIONS: tuple[tuple[int, ...], ...] = (
    (1,), (2,), (4,), (7,), (12,), (14,), (15,), (17,),
    (1, 2), (4, 7), (15, 17), (7, 12), (14, 17),
    (4, 7, 17), (1, 15, 17),
)
#: Quiet frames kept around expressions when placing blinks and head shakes, in seconds.
DISTRACTOR_MARGIN_S = 0.3
#: Shortest blink or head shake: a time course needs a start, a peak and an end.
MIN_EVENT_FRAMES = 3
#: Oscillations in one head shake (left-right-left).
SHAKE_CYCLES = 1.5


@dataclass(frozen=True)
class Expression:
    """One scheduled expression: its frames, AUs and the peak amplitude (px) of each AU."""

    onset: int
    apex: int
    offset: int
    hold: int
    type: str
    aus: tuple[int, ...]
    amplitudes: tuple[float, ...]

    def envelope(self) -> np.ndarray:
        """Amplitude (0..1) on frames ``onset..offset`` inclusive."""
        return envelope(self.offset - self.onset + 1, self.apex - self.onset, self.hold)


@dataclass(frozen=True)
class Distractor:
    """Something that moves or changes the image but is not an expression.

    ``start``/``end`` are inclusive frames; ``amplitude`` is the peak shift in px for head
    shakes (its sign is the first direction), the closure (1 = fully closed) for blinks, the
    peak shift / relative gain for whole-video drift and flicker, the sigma for noise.
    """

    kind: str
    start: int
    end: int
    amplitude: float


def envelope(length: int, rise: int, hold: int) -> np.ndarray:
    """Time course over ``length`` inclusive frames: 0 → 1 in ``rise`` steps, ``hold``, → 0.

    Raised-cosine ramps keep velocity continuous; the first and last values are exactly 0.
    """
    steps = length - 1
    fall = steps - rise - hold
    if rise < 1 or hold < 0 or fall < 1:
        raise ValueError(f"bad time course: length {length}, rise {rise}, hold {hold}")
    tau = np.arange(length, dtype=np.float64)
    env = np.ones(length)
    up = tau < rise
    env[up] = 0.5 - 0.5 * np.cos(np.pi * tau[up] / rise)
    down = tau > rise + hold
    env[down] = 0.5 + 0.5 * np.cos(np.pi * (tau[down] - rise - hold) / fall)
    env[-1] = 0.0
    return env


def _length_range(duration: Range, fps: float, what: str) -> tuple[int, int]:
    low, high = math.ceil(duration[0] * fps - 1e-9), math.floor(duration[1] * fps + 1e-9)
    if high < max(low, 3):
        raise SynthError(f"at {fps:g} fps no {what} can last {duration[0]:g}-{duration[1]:g} s "
                         "with at least 3 frames")
    return max(low, 3), high


def _length_ranges(settings: SynthSettings) -> dict[str, tuple[int, int]]:
    """Inclusive frame-count ranges per type, checked against the typing rule at both ends."""
    ranges = {"me": _length_range(settings.me_duration_s, settings.fps, "micro-expression"),
              "mae": _length_range(settings.mae_duration_s, settings.fps, "macro-expression")}
    for kind, ends in ranges.items():
        for length in ends:
            if type_by_duration(length, settings.fps) != kind:
                raise SynthError(f"a {kind} of {length} frames at {settings.fps:g} fps would be typed "
                                 f"{type_by_duration(length, settings.fps)}; adjust the duration ranges")
    return ranges


def _fit_ranges(ranges: dict[str, tuple[int, int]], counts: dict[str, int], budget: int,
                settings: SynthSettings, gap: int) -> dict[str, tuple[int, int]]:
    """Shrink the upper ends of the ranges just enough that even the longest draws fit.

    This makes "does it fit?" a property of the settings, not of the seed: every seed works,
    or none does and the error says so.
    """
    shortest = sum(counts[k] * ranges[k][0] for k in ranges)
    longest = sum(counts[k] * ranges[k][1] for k in ranges)
    if shortest > budget:
        need = (shortest + gap * (sum(counts.values()) + 1)) / settings.fps
        raise SynthError(f"{settings.n_me} ME + {settings.n_mae} MaE with {settings.min_gap_s:g} s gaps "
                         f"need at least {need:.1f} s, but the video lasts {settings.duration_s:g} s")
    if longest <= budget:
        return ranges
    t = (budget - shortest) / (longest - shortest)
    return {k: (lo, lo + math.floor(t * (hi - lo))) for k, (lo, hi) in ranges.items()}


def _make_expression(onset: int, length: int, kind: str, settings: SynthSettings,
                     rng: np.random.Generator) -> Expression:
    steps = length - 1
    rise = max(1, round(rng.uniform(0.3, 0.45) * steps))
    hold = min(round(rng.uniform(0.0, 0.15) * steps), steps - rise - 1)
    aus = AU_COMBINATIONS[int(rng.integers(len(AU_COMBINATIONS)))]
    low, high = settings.me_amplitude_px if kind == "me" else settings.mae_amplitude_px
    peak = rng.uniform(low, high)
    # The AUs of one expression differ a little in strength, the first one is the strongest.
    amplitudes = tuple(float(peak * (1.0 if i == 0 else rng.uniform(0.7, 1.0))) for i in range(len(aus)))
    return Expression(onset=onset, apex=onset + rise, offset=onset + steps, hold=hold,
                      type=kind, aus=aus, amplitudes=amplitudes)


def scripted_expression(onset: int, length: int, aus: tuple[int, ...], amplitude: float, fps: float,
                        hold: int = 0) -> Expression:
    """An expression at a chosen place (for tests and demos): rise over 40 % of its steps.

    Every AU gets the same peak ``amplitude`` (px); the type follows from the length.
    """
    steps = length - 1
    rise = max(1, round(0.4 * steps))
    if length < 3 or steps - rise - hold < 1:
        raise SynthError(f"an expression of {length} frames with hold {hold} has no room to rise and fall")
    return Expression(onset=onset, apex=onset + rise, offset=onset + steps, hold=hold,
                      type=type_by_duration(length, fps), aus=tuple(aus),
                      amplitudes=(float(amplitude),) * len(aus))


def schedule_expressions(settings: SynthSettings, rng: np.random.Generator) -> list[Expression]:
    """Place ``n_me`` + ``n_mae`` expressions in random order with random quiet gaps.

    Gaps are at least ``min_gap_s`` long, also before the first and after the last one, so a
    spotter always sees a neutral face around every expression. When the longest durations
    would not fit in the video, the duration ranges are shortened from the top.
    """
    kinds = ["me"] * settings.n_me + ["mae"] * settings.n_mae
    kinds = [kinds[i] for i in rng.permutation(len(kinds))]
    gap = math.ceil(settings.min_gap_s * settings.fps)
    budget = settings.n_frames - gap * (len(kinds) + 1)
    ranges = _fit_ranges(_length_ranges(settings), {"me": settings.n_me, "mae": settings.n_mae},
                         budget, settings, gap)
    lengths = [int(rng.integers(ranges[k][0], ranges[k][1] + 1)) for k in kinds]
    slack = budget - sum(lengths)
    cuts = np.sort(rng.integers(0, slack + 1, size=len(kinds)))
    extra = np.diff(np.concatenate([[0], cuts]))
    expressions, start = [], 0
    for kind, length, more in zip(kinds, lengths, extra, strict=True):
        onset = start + gap + int(more)
        expressions.append(_make_expression(onset, length, kind, settings, rng))
        start = onset + length
    return expressions


def expression_mask(expressions: list[Expression], n_frames: int, margin: int) -> np.ndarray:
    """Frames covered by an expression, widened by ``margin`` on both sides."""
    busy = np.zeros(n_frames, dtype=bool)
    for ex in expressions:
        busy[max(0, ex.onset - margin):ex.offset + margin + 1] = True
    return busy


def place_events(busy: np.ndarray, count: int, lengths: Range, fps: float, margin: int,
                 rng: np.random.Generator) -> list[tuple[int, int]]:
    """Up to ``count`` non-overlapping (start, end) spans in frames that ``busy`` leaves free.

    Each span is placed uniformly among the positions where it fits with ``margin`` quiet
    frames around it; spans that no longer fit anywhere are dropped.
    """
    busy = busy.copy()
    low = max(MIN_EVENT_FRAMES, math.ceil(lengths[0] * fps - 1e-9))
    high = max(low, math.floor(lengths[1] * fps + 1e-9))
    spans = []
    for _ in range(count):
        length = int(rng.integers(low, high + 1))
        window = length + 2 * margin
        if window > busy.size:
            break
        taken = np.concatenate([[0], np.cumsum(busy)])
        free_starts = np.flatnonzero(taken[window:] - taken[:-window] == 0)
        if free_starts.size == 0:
            break
        start = int(rng.choice(free_starts)) + margin
        spans.append((start, start + length - 1))
        busy[start - margin:start + length + margin] = True
    return sorted(spans)


def event_count(per_minute: float, duration_s: float) -> int:
    return round(per_minute * duration_s / 60.0)


def shake_offsets(length: int, amplitude: float) -> np.ndarray:
    """Horizontal head position (px) during a shake: a windowed oscillation back to rest."""
    tau = np.arange(length) / max(1, length - 1)
    return amplitude * np.sin(2 * np.pi * SHAKE_CYCLES * tau) * np.sin(np.pi * tau)


def smooth_wander(n_frames: int, fps: float, periods_s: Range, rng: np.random.Generator,
                  components: int = 3) -> np.ndarray:
    """A smooth random signal with peak |value| 1: a sum of slow sinusoids, random phases."""
    t = np.arange(n_frames) / fps
    signal = np.zeros(n_frames)
    for _ in range(components):
        period = rng.uniform(*periods_s)
        signal += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    peak = np.abs(signal).max()
    return signal / peak if peak > 0 else signal
