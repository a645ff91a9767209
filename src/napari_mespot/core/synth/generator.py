"""Synthetic face videos with exact ground truth, for tests, demos and training data.

A real face photograph is warped frame by frame with landmark-anchored FACS-like motion
fields (:mod:`.face`) following onset → apex → offset time courses
(:mod:`.schedule`, which also states the ground-truth convention), plus distractors that
are not expressions: slow head drift, quick head shakes, blinks, sensor noise and brightness
flicker. Everything is a pure function of (settings, seed, frame index), so a frame can be
rendered alone, a long video is streamed to the encoder without being held in memory, and the
same seed always gives the same pixels.

Each component draws from its own random stream, so switching a distractor off changes
nothing else: the expressions, and the other distractors, stay exactly where they were.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.intervals import Interval
from napari_mespot.core.progress import Progress, shifted
from napari_mespot.core.synth.face import AU_REGION, SUPPORTED_AUS, BaseFace, au_field, base_face, blink_field
from napari_mespot.core.synth.noise import NoiseBank
from napari_mespot.core.synth.schedule import (
    DISTRACTOR_MARGIN_S,
    MIN_EVENT_FRAMES,
    Distractor,
    Expression,
    envelope,
    event_count,
    expression_mask,
    place_events,
    schedule_expressions,
    scripted_expression,
    shake_offsets,
    smooth_wander,
)
from napari_mespot.core.synth.settings import SynthError, SynthSettings

__all__ = [
    "AU_REGION",
    "SUPPORTED_AUS",
    "Distractor",
    "SynthError",
    "SynthResult",
    "SynthScene",
    "SynthSettings",
    "scripted_expression",
    "synth_frames",
    "write_sample",
    "write_synthetic_dataset",
    "write_synthetic_video",
]

#: A seed: one integer, or several (a dataset's video ``k`` of seed ``s`` uses ``(s, k)``).
Seed = int | tuple[int, ...]
GROUND_TRUTH_CSV = "ground_truth.csv"
DISTRACTORS_CSV = "distractors.csv"
#: The sample clip shipped in ``sample_data/``: short, a few ME and MaE, two head shakes.
SAMPLE_NAME = "synthetic_face"
SAMPLE_SEED = 7
SAMPLE_SETTINGS = SynthSettings(duration_s=24.0, n_me=3, n_mae=3, shakes_per_minute=5.0, noise_sigma=1.0)
SAMPLE_CRF = 23
#: Independent random streams, one per component (see the module docstring); the noise has
#: two more, keyed by the seed plus a tag: one for its bank of fields, one per frame.
_STREAMS = ("expressions", "blinks", "shakes", "drift", "flicker")
_NOISE_BANK_TAG, _NOISE_FRAME_TAG = len(_STREAMS), len(_STREAMS) + 1
#: The AUs' own timing within an expression (``au_stagger``) draws from the seed plus this tag,
#: and only when asked for: every stream of a scene without it stays what it was.
_STAGGER_TAG = len(_STREAMS) + 2
_IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
#: Head rotation (rad) per px of horizontal shake offset, per px of eye distance: a shake turns
#: the head a little as well as shifting it.
_SHAKE_ROLL = 0.5
#: Head drift is a sum of sinusoids with periods in this range (s): slow enough that an ME
#: barely sees it, fast enough that a 7 s spotting window does.
_DRIFT_PERIODS_S = (15.0, 60.0)


def _entropy(seed: Seed) -> tuple[int, ...]:
    values = (seed,) if isinstance(seed, int | np.integer) else tuple(seed)
    if not values or any(int(v) < 0 for v in values):
        raise SynthError(f"a seed is one or more integers >= 0, got {seed!r}")
    return tuple(int(v) for v in values)


def _checked_script(expressions: Sequence[Expression], settings: SynthSettings) -> list[Expression]:
    script = sorted(expressions, key=lambda ex: ex.onset)
    for ex in script:
        if ex.offset >= settings.n_frames:
            raise SynthError(f"expression {ex.onset}-{ex.offset} ends after the last frame "
                             f"({settings.n_frames - 1})")
        unknown = set(ex.aus) - set(SUPPORTED_AUS)
        if unknown:
            raise SynthError(f"AU(s) {sorted(unknown)} have no synthetic motion field; "
                             f"supported: {SUPPORTED_AUS}")
    for a, b in pairwise(script):
        if b.onset <= a.offset:
            raise SynthError(f"expressions {a.onset}-{a.offset} and {b.onset}-{b.offset} overlap")
    return script


@dataclass(frozen=True)
class SynthResult:
    """A written synthetic video and what is in it."""

    path: Path
    fps: float
    n_frames: int
    size: tuple[int, int]
    seed: tuple[int, ...]
    intervals: list[Interval] = field(default_factory=list)
    distractors: list[Distractor] = field(default_factory=list)


class SynthScene:
    """One synthetic video as a function of the frame index.

    Building it schedules everything and precomputes the per-frame amplitudes and head pose
    (small arrays, even for an hour of video); :meth:`frame` renders any frame on demand.
    """

    def __init__(self, settings: SynthSettings, seed: Seed = 0,
                 expressions: Sequence[Expression] | None = None) -> None:
        """``expressions`` replaces the random schedule (see ``scripted_expression``); the
        distractors are still drawn from ``seed`` and kept away from them."""
        self.settings = settings
        self.seed = _entropy(seed)
        self.face: BaseFace = base_face(settings.size, settings.eye_distance_frac)
        n = settings.n_frames
        rngs = dict(zip(_STREAMS, (np.random.default_rng(s) for s in
                                   np.random.SeedSequence(self.seed).spawn(len(_STREAMS))), strict=True))
        self.expressions: list[Expression] = (
            schedule_expressions(settings, rngs["expressions"]) if expressions is None
            else _checked_script(expressions, settings)
        )
        self.distractors: list[Distractor] = []
        self._au_amp = np.zeros((n, len(SUPPORTED_AUS)), dtype=np.float32)
        self._blink = np.zeros(n, dtype=np.float32)
        self._pose = np.zeros((n, 3), dtype=np.float64)  # tx, ty (px), roll (rad)
        self._gain = np.ones(n, dtype=np.float32)
        self._fill_expressions()
        quiet = expression_mask(self.expressions, n, round(DISTRACTOR_MARGIN_S * settings.fps))
        self._add_blinks(quiet, rngs["blinks"])
        self._add_shakes(quiet, rngs["shakes"])
        self._add_drift(rngs["drift"])
        self._add_flicker(rngs["flicker"])
        if settings.noise_sigma > 0:
            self.distractors.append(Distractor("noise", 0, n - 1, settings.noise_sigma))
        self.distractors.sort(key=lambda d: (d.start, d.kind))
        width, height = settings.size
        self._grid = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
        self._noise = NoiseBank(settings.size, settings.noise_sigma, (*self.seed, _NOISE_BANK_TAG),
                                (*self.seed, _NOISE_FRAME_TAG))

    def __len__(self) -> int:
        return self.settings.n_frames

    @property
    def intervals(self) -> list[Interval]:
        """Ground truth: one Interval per expression (source ``gt``), ids stable across runs."""
        tag = "-".join(str(v) for v in self.seed)
        return [
            Interval(onset=ex.onset, offset=ex.offset, apex=ex.apex, type=ex.type, aus=ex.aus,
                     source="gt", id=f"synth-{tag}-{i:03d}",
                     note="peak px " + " ".join(f"AU{au}={a:.2f}" for au, a in
                                                zip(ex.aus, ex.amplitudes, strict=True)))
            for i, ex in enumerate(self.expressions)
        ]

    def blink_closure(self, k: int) -> float:
        """How far the eyes are closed on frame ``k`` (0 open, 1 closed)."""
        return float(self._blink[k])

    def head_pose(self, k: int) -> tuple[float, float, float]:
        """Rigid head motion on frame ``k``: (tx px, ty px, roll rad) about the frame centre."""
        tx, ty, roll = self._pose[k]
        return float(tx), float(ty), float(roll)

    def frame(self, k: int) -> np.ndarray:
        """Render frame ``k`` as RGB uint8 (H, W, 3)."""
        import cv2

        if not 0 <= k < len(self):
            raise IndexError(f"frame {k} is outside 0..{len(self) - 1}")
        inverse = self._inverse_pose(k)
        gx, gy = self._grid
        ox, oy = self.face.origin
        (a00, a01, a02), (a10, a11, a12) = inverse.tolist()
        # Where each output pixel comes from in the scaled photograph: undo the head motion...
        map_x = gx * a00 + gy * a01 + (a02 + ox)
        map_y = gx * a10 + gy * a11 + (a12 + oy)
        disp = self._displacement(k)
        if disp is not None:
            # ...then the expression. The fields live on the face, so they are looked up where
            # the head has carried each output pixel; backward warping by -D is exact to first
            # order for a smooth D.
            if not np.array_equal(inverse, _IDENTITY):
                disp = cv2.warpAffine(disp, inverse, self.settings.size,
                                      flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                      borderMode=cv2.BORDER_CONSTANT)
            map_x -= disp[..., 0]
            map_y -= disp[..., 1]
        image = cv2.remap(self.face.source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
        return self._photometric(image, k)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        for k in range(start, len(self) if stop is None else min(stop, len(self))):
            yield self.frame(k)

    # -- schedule -> per-frame arrays -------------------------------------------------------

    @property
    def au_time_courses(self) -> np.ndarray:
        """(n_frames, AUs) peak-scaled amplitude of every supported AU (columns in
        ``SUPPORTED_AUS`` order) on every frame: a copy."""
        return self._au_amp.copy()

    def _fill_expressions(self) -> None:
        column = {au: i for i, au in enumerate(SUPPORTED_AUS)}
        stagger = self.settings.au_stagger
        rng = np.random.default_rng((*self.seed, _STAGGER_TAG)) if stagger > 0 else None
        for ex in self.expressions:
            lead = int(rng.integers(len(ex.aus))) if rng is not None and len(ex.aus) > 1 else 0
            for i, (au, amp) in enumerate(zip(ex.aus, ex.amplitudes, strict=True)):
                start, end = ex.onset, ex.offset
                if i != lead and rng is not None:
                    start, end = _staggered(ex, stagger, rng)
                self._au_amp[start:end + 1, column[au]] += amp * _rescaled(ex, start, end).astype(np.float32)

    def _add_blinks(self, quiet: np.ndarray, rng: np.random.Generator) -> None:
        s = self.settings
        if not s.blinks:
            return
        count = event_count(s.blinks_per_minute, s.duration_s)
        margin = round(0.1 * s.fps)
        for start, end in place_events(quiet, count, s.blink_duration_s, s.fps, margin, rng):
            length = end - start + 1
            # Lids close fast and open more slowly.
            self._blink[start:end + 1] = envelope(length, max(1, round(0.4 * (length - 1))), 0)
            self.distractors.append(Distractor("blink", start, end, 1.0))

    def _add_shakes(self, quiet: np.ndarray, rng: np.random.Generator) -> None:
        s = self.settings
        if not s.head_shakes:
            return
        count = event_count(s.shakes_per_minute, s.duration_s)
        margin = round(DISTRACTOR_MARGIN_S * s.fps)
        spans = place_events(quiet, count, s.shake_duration_s, s.fps, margin, rng)
        for start, end in spans:
            amplitude = float(rng.uniform(*s.shake_amplitude_px) * rng.choice([-1.0, 1.0]))
            offsets = shake_offsets(end - start + 1, amplitude)
            self._pose[start:end + 1, 0] += offsets
            self._pose[start:end + 1, 2] += _SHAKE_ROLL * offsets / self.face.eye_distance
            self.distractors.append(Distractor("head_shake", start, end, amplitude))

    def _add_drift(self, rng: np.random.Generator) -> None:
        s = self.settings
        if not s.head_drift or (s.drift_px == 0 and s.drift_deg == 0):
            return
        n = s.n_frames
        self._pose[:, 0] += s.drift_px * smooth_wander(n, s.fps, _DRIFT_PERIODS_S, rng)
        self._pose[:, 1] += 0.6 * s.drift_px * smooth_wander(n, s.fps, _DRIFT_PERIODS_S, rng)
        self._pose[:, 2] += np.deg2rad(s.drift_deg) * smooth_wander(n, s.fps, _DRIFT_PERIODS_S, rng)
        self.distractors.append(Distractor("head_drift", 0, n - 1, s.drift_px))

    def _add_flicker(self, rng: np.random.Generator) -> None:
        s = self.settings
        if not s.flicker or s.flicker_amplitude == 0:
            return
        n = s.n_frames
        wave = 0.8 * smooth_wander(n, s.fps, (0.3, 3.0), rng, components=2)
        jitter = 0.2 * rng.uniform(-1.0, 1.0, size=n)
        self._gain = (1.0 + s.flicker_amplitude * (wave + jitter)).astype(np.float32)
        self.distractors.append(Distractor("flicker", 0, n - 1, s.flicker_amplitude))

    # -- rendering ----------------------------------------------------------------------------

    def _inverse_pose(self, k: int) -> np.ndarray:
        """2x3 affine taking an output pixel to the neutral-face point the head carried there.

        The head moves a point ``x`` to ``c + R(roll) (x - c) + t``; this is the inverse,
        ``q = c + R(-roll) (p - c - t)``.
        """
        tx, ty, roll = self._pose[k]
        if tx == 0 and ty == 0 and roll == 0:
            return _IDENTITY
        cx, cy = self.face.center
        c, sn = np.cos(roll), np.sin(roll)
        bx, by = cx + tx, cy + ty
        return np.array([[c, sn, cx - c * bx - sn * by],
                         [-sn, c, cy + sn * bx - c * by]])

    def _displacement(self, k: int) -> np.ndarray | None:
        """Sum of the active AU fields and the blink field on frame ``k`` (None when neutral)."""
        s = self.settings
        total = None
        terms = [(a, au_field(s.size, s.eye_distance_frac, au))
                 for au, a in zip(SUPPORTED_AUS, self._au_amp[k], strict=True) if a != 0]
        if self._blink[k] != 0:
            terms.append((self._blink[k], blink_field(s.size, s.eye_distance_frac)))
        for amplitude, unit in terms:
            if total is None:
                total = unit * np.float32(amplitude)
            else:
                total += unit * np.float32(amplitude)
        return total

    def _photometric(self, image: np.ndarray, k: int) -> np.ndarray:
        sigma = self.settings.noise_sigma
        gain = float(self._gain[k])
        if sigma == 0 and gain == 1:
            return image
        out = image.astype(np.float32)
        out *= gain
        if sigma > 0:
            out += self._noise.frame(k)
        np.clip(out, 0, 255, out=out)
        return np.rint(out, out=out).astype(np.uint8)


def _staggered(ex: Expression, stagger: float, rng: np.random.Generator) -> tuple[int, int]:
    """A later start and an earlier end inside ``ex`` for one of its AUs (``au_stagger``): each
    moved by a share of its length drawn from [0, ``stagger``], the AU keeping at least
    MIN_EVENT_FRAMES frames (else the expression's own span)."""
    steps = ex.offset - ex.onset
    late = round(rng.uniform(0, stagger) * steps)
    early = round(rng.uniform(0, stagger) * steps)
    if steps - late - early + 1 < MIN_EVENT_FRAMES:
        return ex.onset, ex.offset
    return ex.onset + late, ex.offset - early


def _rescaled(ex: Expression, start: int, end: int) -> np.ndarray:
    """The expression's time course (its rise and hold as shares of its length) over the
    frames ``start..end``; over its own frames, exactly :meth:`Expression.envelope`."""
    steps, length = ex.offset - ex.onset, end - start + 1
    rise = max(1, round((ex.apex - ex.onset) / steps * (length - 1)))
    hold = max(0, min(round(ex.hold / steps * (length - 1)), length - 2 - rise))
    return envelope(length, min(rise, length - 2), hold)


def synth_frames(settings: SynthSettings, seed: Seed = 0) -> Iterator[np.ndarray]:
    """Every frame of the video (settings, seed), one at a time."""
    return SynthScene(settings, seed).frames()


# -- writing -------------------------------------------------------------------------------------

def write_synthetic_video(path: str | os.PathLike, settings: SynthSettings, seed: Seed = 0, *,
                          crf: int = 20) -> Generator[Progress, None, SynthResult]:
    """Render (settings, seed) into an H.264 file at ``path``, yielding progress per frame.

    The file appears only when complete (atomic write); closing the generator early leaves
    nothing behind.
    """
    from napari_mespot.core.media.writer import write_video_with_progress

    path = Path(path)
    scene = SynthScene(settings, seed)
    n = len(scene)
    try:
        yield from write_video_with_progress(path, scene.frames(), n, settings.fps, crf=crf)
    except OSError as exc:
        raise SynthError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return SynthResult(path=path, fps=settings.fps, n_frames=n, size=settings.size, seed=scene.seed,
                       intervals=scene.intervals, distractors=list(scene.distractors))


def prepare_outdir(outdir: str | os.PathLike) -> Path:
    """Create ``outdir`` (and parents) or explain in one line why it cannot be used."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise SynthError(f"{outdir} exists and is not a folder")
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SynthError(f"cannot create folder {outdir}: {exc.strerror or exc}") from exc
    if not os.access(outdir, os.W_OK | os.X_OK):
        raise SynthError(f"folder {outdir} is not writable")
    return outdir


def dataset_video_name(seed: int, k: int) -> str:
    return f"synth_{seed}_{k:03d}"


def write_synthetic_dataset(outdir: str | os.PathLike, settings: SynthSettings, seed: int = 0,
                            count: int = 1, *, crf: int = 20
                            ) -> Generator[Progress, None, list[SynthResult]]:
    """Write ``count`` videos ``synth_<seed>_<k>.mp4`` plus ``ground_truth.csv`` (native CSV,
    video = file stem) and ``distractors.csv`` into ``outdir``.

    Video ``k`` is the scene of seed ``(seed, k)``, so any one of them can be re-rendered alone.
    """
    from napari_mespot.core.labels.native import write_native_csv

    if count < 1:
        raise SynthError(f"count must be at least 1, got {count}")
    _entropy(seed)
    SynthScene(settings, (seed, 0))  # fail on impossible settings before creating anything
    outdir = prepare_outdir(outdir)
    total = count * settings.n_frames
    results = []
    for k in range(count):
        path = outdir / f"{dataset_video_name(seed, k)}.mp4"
        video = write_synthetic_video(path, settings, (seed, k), crf=crf)
        results.append((yield from shifted(video, k * settings.n_frames, total, f"video {k + 1}/{count}")))
    write_native_csv(outdir / GROUND_TRUTH_CSV, {r.path.stem: r.intervals for r in results})
    distractors = {r.path.stem: r.distractors for r in results}
    atomic_write_text(outdir / DISTRACTORS_CSV, distractors_csv(distractors))
    return results


def distractors_csv(distractors: dict[str, list[Distractor]]) -> str:
    """CSV text ``video,kind,start,end,amplitude`` (frames 0-based, ends inclusive)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("video", "kind", "start", "end", "amplitude"))
    for video in sorted(distractors):
        for d in distractors[video]:
            writer.writerow((video, d.kind, d.start, d.end, f"{d.amplitude:.4g}"))
    return buf.getvalue()


def write_sample(folder: str | os.PathLike) -> Generator[Progress, None, SynthResult]:
    """Write the sample clip ``synthetic_face.mp4`` and ``synthetic_face.gt.csv`` into ``folder``."""
    from napari_mespot.core.labels.native import write_native_csv

    folder = prepare_outdir(folder)
    result = yield from write_synthetic_video(folder / f"{SAMPLE_NAME}.mp4", SAMPLE_SETTINGS, SAMPLE_SEED,
                                              crf=SAMPLE_CRF)
    write_native_csv(folder / f"{SAMPLE_NAME}.gt.csv", {SAMPLE_NAME: result.intervals})
    return result
