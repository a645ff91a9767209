"""A varied training mix from the first generator: its own knobs drawn per video, then filmed.

Every video ``k`` of seed ``s`` is the generator's scene of seed ``(s, k)`` under settings drawn
from :class:`SceneRanges` — another resolution, another face size, other expression strengths
(scaled with the face, so an ME stays an ME relative to the face), more or less head drift,
head shakes, blinks, flicker and noise — and is then passed through a :class:`Footage` drawn
from :class:`FootageRanges` (framing, camera motion, colour, light, blur, noise, compression).
Neither changes time, so the ground truth is the scene's, frame for frame.

It is still one photograph (scikit-image's astronaut): the appearance changes make it look
like other skin, light and cameras, not like other people. Used to train the shipped VoVNet
checkpoint (``napari_mespot/data/VOVNET.md``); ``mespot synth --vary`` writes it.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.progress import Progress
from napari_mespot.core.synth.face import base_face
from napari_mespot.core.synth.footage import DEFAULT_RANGES, Footage, FootageRanges, draw_footage
from napari_mespot.core.synth.generator import (
    DISTRACTORS_CSV,
    GROUND_TRUTH_CSV,
    SynthResult,
    SynthScene,
    distractors_csv,
    prepare_outdir,
)
from napari_mespot.core.synth.schedule import DISTRACTOR_MARGIN_S, expression_mask
from napari_mespot.core.synth.settings import Range, SynthError, SynthSettings

VARIATIONS_JSON = "variations.json"
#: Entropy tags keeping the draws of one video apart from its scene's seed ``(s, k)``.
_SETTINGS_TAG, _FOOTAGE_TAG = 1, 2
#: The generator's default framing: eye distance over frame height (0.3 x 640 / 480).
_DEFAULT = SynthSettings()
REFERENCE_EYE_HEIGHT = _DEFAULT.eye_distance_frac * _DEFAULT.size[0] / _DEFAULT.size[1]
#: The default face's eye distance in pixels: the amplitude ranges below are given for it.
REFERENCE_EYE_PX = _DEFAULT.eye_distance_frac * _DEFAULT.size[0]


@dataclass(frozen=True)
class SceneRanges:
    """The generator's knobs one video may get; each uniform in its range.

    ``face_scale`` is the eye distance relative to the default framing (0.4 frame heights);
    pixel amounts (amplitudes, drift, shakes) are given for the default face (eye distance
    192 px) and scaled with the drawn face.
    """

    sizes: tuple[tuple[int, int], ...] = ((640, 480), (480, 360), (1280, 720), (848, 480))
    face_scale: Range = (0.6, 1.4)
    me_amplitude_px: Range = (0.7, 2.5)
    mae_amplitude_px: Range = (2.5, 9.0)
    drift_px: Range = (0.0, 4.0)
    drift_deg: Range = (0.0, 1.5)
    shakes_per_minute: Range = (0.0, 6.0)
    shake_amplitude_px: Range = (3.0, 10.0)
    blinks_per_minute: Range = (4.0, 20.0)
    noise_sigma: Range = (0.5, 2.5)
    flicker_amplitude: Range = (0.0, 0.04)

    def __post_init__(self) -> None:
        if not self.sizes:
            raise SynthError("give at least one frame size")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name != "sizes" and not 0 <= value[0] <= value[1]:
                raise SynthError(f"scene range {f.name} must satisfy 0 <= low <= high, got {value}")


DEFAULT_SCENE_RANGES = SceneRanges()


def varied_settings(base: SynthSettings, ranges: SceneRanges, rng: np.random.Generator) -> SynthSettings:
    """``base`` (duration, fps, counts, durations) with the knobs of ``ranges`` drawn from ``rng``."""

    def draw(bounds: Range) -> float:
        return float(rng.uniform(*bounds))

    width, height = ranges.sizes[int(rng.integers(len(ranges.sizes)))]
    scale = draw(ranges.face_scale)
    eye_px = REFERENCE_EYE_HEIGHT * scale * height
    px = eye_px / REFERENCE_EYE_PX

    def scaled(bounds: Range) -> Range:
        return bounds[0] * px, bounds[1] * px

    return dataclasses.replace(
        base,
        size=(width, height),
        eye_distance_frac=eye_px / width,
        me_amplitude_px=scaled(ranges.me_amplitude_px),
        mae_amplitude_px=scaled(ranges.mae_amplitude_px),
        drift_px=draw(ranges.drift_px) * px,
        drift_deg=draw(ranges.drift_deg),
        shakes_per_minute=draw(ranges.shakes_per_minute),
        shake_amplitude_px=scaled(ranges.shake_amplitude_px),
        blinks_per_minute=draw(ranges.blinks_per_minute),
        noise_sigma=draw(ranges.noise_sigma),
        flicker_amplitude=draw(ranges.flicker_amplitude),
    )


def face_room(scene: SynthScene) -> tuple[float, float]:
    """How far (px, x and y) the face's landmarks may move before one leaves the frame, less the
    head's own drift."""
    width, height = scene.settings.size
    points = scene.face.landmarks
    low, high = points.min(axis=0), points.max(axis=0)
    drift = scene.settings.drift_px if scene.settings.head_drift else 0.0
    return (max(0.0, min(low[0], width - high[0]) - drift), max(0.0, min(low[1], height - high[1]) - drift))


def varied_video_name(seed: int, k: int) -> str:
    return f"varied_{seed}_{k:03d}"


def varied_scene(base: SynthSettings, seed: int, k: int, scene_ranges: SceneRanges,
                 footage_ranges: FootageRanges) -> tuple[SynthScene, Footage]:
    """Video ``k`` of seed ``seed``: its scene (seed ``(seed, k)``) and the footage it is filmed with."""
    rng = np.random.default_rng(np.random.SeedSequence((seed, k, _SETTINGS_TAG)))
    settings = varied_settings(base, scene_ranges, rng)
    base_face(settings.size, settings.eye_distance_frac)  # fail on an impossible framing here
    scene = SynthScene(settings, (seed, k))
    busy = expression_mask(scene.expressions, len(scene), round(DISTRACTOR_MARGIN_S * settings.fps))
    footage = draw_footage(settings.size, len(scene), settings.fps, (seed, k, _FOOTAGE_TAG), footage_ranges,
                           busy=busy, room=face_room(scene))
    return scene, footage


def write_varied_dataset(
    outdir: str | os.PathLike,
    base: SynthSettings,
    seed: int,
    count: int,
    scene_ranges: SceneRanges = DEFAULT_SCENE_RANGES,
    footage_ranges: FootageRanges = DEFAULT_RANGES,
) -> Generator[Progress, None, list[SynthResult]]:
    """Write ``count`` videos ``varied_<seed>_<k>.mp4`` with ``ground_truth.csv``,
    ``distractors.csv`` (the scene's and the camera shakes) and ``variations.json`` (every
    video's drawn settings and footage) into ``outdir``."""
    from napari_mespot.core.labels.native import write_native_csv
    from napari_mespot.core.media.writer import video_writer

    if count < 1:
        raise SynthError(f"count must be at least 1, got {count}")
    if seed < 0:
        raise SynthError(f"a seed is an integer >= 0, got {seed}")
    outdir = prepare_outdir(outdir)
    results, records = [], {}
    total = count * base.n_frames
    for k in range(count):
        scene, footage = varied_scene(base, seed, k, scene_ranges, footage_ranges)
        path = outdir / f"{varied_video_name(seed, k)}.mp4"
        try:
            with video_writer(path, scene.settings.fps, crf=footage.crf) as write:
                for j in range(len(scene)):
                    write(footage.apply(scene.frame(j), j))
                    yield Progress(k * base.n_frames + j + 1, total, f"video {k + 1}/{count}")
        except OSError as exc:
            raise SynthError(f"cannot write {path}: {exc.strerror or exc}") from exc
        distractors = sorted([*scene.distractors, *footage.shakes], key=lambda d: (d.start, d.kind))
        results.append(SynthResult(path=path, fps=scene.settings.fps, n_frames=len(scene),
                                   size=scene.settings.size, seed=scene.seed, intervals=scene.intervals,
                                   distractors=distractors))
        records[path.stem] = {"scene": dataclasses.asdict(scene.settings), "footage": footage.record()}
    write_native_csv(outdir / GROUND_TRUTH_CSV, {r.path.stem: r.intervals for r in results})
    distractors = distractors_csv({r.path.stem: r.distractors for r in results})
    atomic_write_text(outdir / DISTRACTORS_CSV, distractors)
    atomic_write_text(outdir / VARIATIONS_JSON, json.dumps(records, indent=1, sort_keys=True) + "\n")
    return results

