"""The distractors of a warped video: when they happen and their per-frame signals.

None of these is an expression, and none is in the ground truth:

- blinks (8-20 a minute, 0.12-0.35 s; never inside a micro-expression, they may fall inside a
  macro-expression as they do in real recordings);
- slow head motion over the whole video: roll, yaw, pitch (yaw and pitch by perspective), a
  little translation and zoom, each a sum of slow sinusoids;
- quick head shakes (0.3-0.9 s, one to two and a half swings of yaw);
- talking: bouts of 1-3.5 s of rhythmic jaw and lip opening, 3-6 syllables a second. Talking
  moves the mouth like AU25/26 but is not an expression: the datasets the spotters are scored
  on do not label speech, so a spotter that reports it is wrong, and it is scored so here;
- a hand passing over the face (see :mod:`.hand`), whose occluding frames are also written as
  unreliable spans;
- lighting: a light gradient across the frame that turns slowly, and steps of brightness
  (0.2-1 s ramps of 5-18 %);
- sensor noise and compression (the whole video; their levels are drawn per video).

Shakes, talking, hands and lighting steps stay ``margin_s`` away from every expression. Each
kind draws from its own random stream and is placed against the expressions only, so switching
one kind off leaves all the others exactly where they were (kinds may overlap each other).
"""

from __future__ import annotations

import math

import numpy as np

from napari_mespot.core.synth.warped.hand import HandPass, draw_pass
from napari_mespot.core.synth.warped.settings import WarpedSettings
from napari_mespot.core.synth.warped.timeline import Event, Expression, FreeTime, count, course, minimum_jerk

#: Pose columns: roll, yaw, pitch (rad), x and y shift (IOD), zoom (relative).
POSE = ("roll", "yaw", "pitch", "tx", "ty", "zoom")
#: Peak slow drift of each pose column, and the range of its periods (s).
_DRIFT = {"roll": math.radians(2.0), "yaw": math.radians(4.0), "pitch": math.radians(2.5),
          "tx": 0.12, "ty": 0.08, "zoom": 0.03}
_DRIFT_PERIODS_S = (6.0, 40.0)
#: The settings field of each placed kind's rate.
_RATES = {"head_shake": "shakes_per_minute", "talking": "talking_per_minute", "hand": "hands_per_minute",
          "lighting": "lighting_per_minute"}


def _busy(expressions: list[Expression], fps: float) -> list[tuple[float, float]]:
    return [(ex.onset / fps, ex.offset / fps) for ex in expressions]


def _place(kind: str, settings: WarpedSettings, expressions: list[Expression], rng: np.random.Generator,
           lengths: tuple[float, float]) -> list[tuple[float, float]]:
    free = FreeTime(settings.duration_s, _busy(expressions, settings.fps), settings.margin_s)
    spans = []
    for _ in range(count(getattr(settings, _RATES[kind]), settings.duration_s, rng)):
        length = float(rng.uniform(*lengths))
        start = free.place(length, rng)
        if start is not None:
            spans.append((start, start + length))
    return sorted(spans)


def schedule(settings: WarpedSettings, expressions: list[Expression],
             rngs: dict[str, np.random.Generator]) -> tuple[list[Event], list[HandPass]]:
    """Every distractor event the settings switch on, and the hand passes."""
    events: list[Event] = []
    hands: list[HandPass] = []
    if settings.blinks:
        events += _blinks(settings, expressions, rngs["blinks"])
    if settings.shakes:
        rng = rngs["shakes"]
        for start, end in _place("head_shake", settings, expressions, rng, (0.3, 0.9)):
            yaw = rng.uniform(4.0, 10.0) * rng.choice([-1.0, 1.0])  # degrees
            shape = {"cycles": float(rng.uniform(1.0, 2.5)), "roll": float(rng.uniform(-0.3, 0.3))}
            events.append(Event("head_shake", start, end, float(yaw), shape))
    if settings.talking:
        rng = rngs["talking"]
        for start, end in _place("talking", settings, expressions, rng, (1.0, 3.5)):
            rate = float(rng.uniform(3.0, 6.0))
            n = max(1, int((end - start) * rate))
            events.append(Event("talking", start, end, float(rng.uniform(0.02, 0.045)),
                                {"rate": rate, "levels": rng.uniform(0.3, 1.0, n).tolist(),
                                 "jitter": rng.uniform(-0.15, 0.15, n).tolist()}))
    if settings.hand:
        rng = rngs["hand"]
        for start, end in _place("hand", settings, expressions, rng, (1.2, 3.0)):
            hands.append(draw_pass(rng, start, end))
            events.append(Event("hand", start, end, 1.0))
    if settings.lighting:
        events += _lighting(settings, expressions, rngs["lighting"])
    return sorted(events, key=lambda e: (e.start, e.kind)), hands


def _lighting(settings: WarpedSettings, expressions: list[Expression],
              rng: np.random.Generator) -> list[Event]:
    """Brightness steps to a new level in 0.82-1.18 of the first, each a change of 5 % or more;
    the amplitude is the relative change."""
    events, level = [], 1.0
    for start, end in _place("lighting", settings, expressions, rng, (0.2, 1.0)):
        new = level
        while abs(new / level - 1.0) < 0.05:
            new = float(rng.uniform(0.82, 1.18))
        events.append(Event("lighting", start, end, new / level - 1.0))
        level = new
    return events


def _blinks(settings: WarpedSettings, expressions: list[Expression], rng: np.random.Generator) -> list[Event]:
    """A Poisson train of blinks that skips micro-expressions (with 0.15 s to spare)."""
    per_minute = rng.uniform(8.0, 20.0)
    fps = settings.fps
    micro = [(ex.onset / fps - 0.15, ex.offset / fps + 0.15) for ex in expressions if ex.type == "me"]
    events, t = [], float(rng.exponential(60.0 / per_minute))
    while t < settings.duration_s - 0.5:
        length = float(rng.uniform(0.12, 0.35))
        closure = float(rng.uniform(0.7, 1.0))
        if not any(a < t + length and t < b for a, b in micro):
            events.append(Event("blink", t, t + length, closure))
        t += length + 0.2 + float(rng.exponential(60.0 / per_minute))
    return events


def blink_signal(events: list[Event], times: np.ndarray) -> np.ndarray:
    """Eye closure per frame (0 open .. 1 shut): lids fall fast and lift slowly."""
    out = np.zeros_like(times)
    for e in events:
        if e.kind == "blink":
            out += e.amplitude * course(times, e.start, e.start + 0.35 * (e.end - e.start), e.end, 4.0)
    return np.minimum(out, 1.0)


def speech_signal(events: list[Event], times: np.ndarray) -> np.ndarray:
    """Mouth opening per frame (IOD): one smooth open-close per syllable."""
    out = np.zeros_like(times)
    for e in events:
        if e.kind != "talking":
            continue
        period = 1.0 / e.params["rate"]
        for i, (level, jitter) in enumerate(zip(e.params["levels"], e.params["jitter"], strict=True)):
            t0 = e.start + (i + 0.5 * jitter) * period
            t1 = min(t0 + 0.9 * period, e.end)
            inside = (times > t0) & (times < t1)
            out[inside] += e.amplitude * level * np.sin(np.pi * (times[inside] - t0) / (t1 - t0)) ** 2
    return out


def pose_signal(settings: WarpedSettings, events: list[Event], times: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Head pose per frame, columns :data:`POSE`: slow drift plus the quick shakes; and the
    drift's largest yaw in degrees."""
    pose = np.zeros((times.size, len(POSE)))
    if settings.drift:
        for col, name in enumerate(POSE):
            wave = np.zeros_like(times)
            for _ in range(3):
                period = rng.uniform(*_DRIFT_PERIODS_S)
                wave += rng.uniform(0.4, 1.0) * np.sin(2 * np.pi * times / period + rng.uniform(0, 2 * np.pi))
            pose[:, col] = _DRIFT[name] * wave / 2.4
    drift_yaw = math.degrees(float(np.abs(pose[:, POSE.index("yaw")]).max()))
    for e in events:
        if e.kind != "head_shake":
            continue
        inside = (times >= e.start) & (times <= e.end)
        u = (times[inside] - e.start) / (e.end - e.start)
        swing = np.sin(2 * np.pi * e.params["cycles"] * u) * np.sin(np.pi * u) ** 2
        yaw = math.radians(e.amplitude)
        pose[inside, POSE.index("yaw")] += yaw * swing
        pose[inside, POSE.index("roll")] += e.params["roll"] * yaw * swing
    return pose, drift_yaw


def lighting_signal(events: list[Event], times: np.ndarray, rng: np.random.Generator,
                    enabled: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: global gain, strength of the light gradient across the frame, and its angle
    (which turns slowly)."""
    gain = np.ones_like(times)
    if not enabled:
        return gain, np.zeros_like(times), np.zeros_like(times)
    strength = np.full_like(times, rng.uniform(0.0, 0.35))
    base, swing, period = rng.uniform(0, 2 * np.pi), rng.uniform(-0.6, 0.6), rng.uniform(20, 60)
    angle = base + swing * np.sin(2 * np.pi * times / period)
    for e in events:
        if e.kind == "lighting":
            gain *= 1.0 + e.amplitude * minimum_jerk((times - e.start) / (e.end - e.start))
    return gain, strength, angle
