"""Development set for occlusions: development videos with ellipses over the mouth, the eyes or
the whole face, and how a preset spots through them (development seeds only).

Why it exists: the first generator draws no occluder, so its development videos say nothing
about a hand or an object over the face, and the warped generator's hands are the validation
set. This script copies development videos (a folder with their ``ground_truth.csv``, e.g.
the held and plain videos ``bench/dev_sustained.py`` renders from seed 3000) with two skin-
coloured ellipses each (``core/synth/augment.py``; 1-3 s at random times, drawn from ``--seed``,
placed on the landmarks of their first frame), writes where they are as an unreliable-span
file (``occluders.csv``: region ``mouth``, ``eye`` or empty for the whole face), spots every
copy end to end with the preset and reports the MEGC F1 and the intervals that start under
an occluder showing what it covers (``starting_inside``). It never touches a validation seed.

    python bench/dev_occlusion.py SOURCE_DIR OUT_DIR [--preset robust] [--seed 31000]

The session-10 entry of ``src/napari_mespot/data/README.md`` was measured with it on the ten
held and plain videos of seed 3000 (``--seed 31000``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.labels import read_labels
from napari_mespot.core.labels.native import write_native_csv
from napari_mespot.core.labels.unreliable import (
    UnreliableSpan,
    starting_inside,
    write_unreliable_csv,
)
from napari_mespot.core.media.video import open_video
from napari_mespot.core.metrics import evaluate
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.registry import landmark_provider
from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes, spot
from napari_mespot.core.synth import augment

#: Each kind's centre (a share of the way from the eyes' midpoint to the mouth's), half-axes
#: (in eye distances), and the region it covers as an unreliable span names it (empty: the
#: whole face).
KINDS = {
    "mouth": (1.0, (0.6, 0.4), "mouth"),
    "eyes": (0.0, (0.9, 0.3), "eye"),
    "face": (0.5, (0.9, 1.0), ""),
}


def _occluders(landmarks, n: int, fps: float, rng: np.random.Generator) -> list[tuple[augment.Occluder, str]]:
    out = []
    for kind in rng.permutation(list(KINDS))[:2]:
        towards_mouth, (ax, ay), region = KINDS[str(kind)]
        length = int(rng.uniform(1.0, 3.0) * fps)
        start = int(rng.integers(int(fps), n - length - int(fps)))
        p = landmarks.key_points(start)
        iod = float(np.hypot(*(p["eye_outer_r"] - p["eye_outer_l"])))
        eyes = (p["eye_outer_l"] + p["eye_outer_r"]) / 2
        mouth = (p["mouth_corner_l"] + p["mouth_corner_r"]) / 2
        centre = eyes + towards_mouth * (mouth - eyes)
        travel = tuple(float(t) for t in rng.normal(0, 0.1 * iod, 2))
        occluder = augment.Occluder(
            start,
            start + length - 1,
            (float(centre[0]), float(centre[1])),
            (ax * iod, ay * iod),
            travel,
            seed=int(rng.integers(1000)),
        )
        out.append((occluder, region))
    return out


def render(source: Path, outdir: Path, seed: int, settings) -> tuple[dict, dict]:
    """The occluded copies (written to ``outdir``, drawn again on every run so that they always
    come from ``seed``), their ground truth and their occluders."""
    outdir.mkdir(parents=True, exist_ok=True)
    labels = read_labels(source / "ground_truth.csv")
    truth = {Path(k).stem: list(v.intervals) for k, v in labels.videos.items()}
    rng = np.random.default_rng(seed)
    spans = {}
    for name in sorted(truth):
        with open_video(source / f"{name}.mp4") as video:
            fps, n = float(video.fps), len(video)
            landmarks = run_to_end(landmarks_for_video(video, landmark_provider(settings.landmarks)))
        drawn = _occluders(landmarks, n, fps, rng)
        changes = [augment.occluded(o) for o, _ in drawn]
        augment.write_augmented(source / f"{name}.mp4", outdir / f"{name}.mp4", augment.chained(changes))
        spans[name] = [UnreliableSpan(o.start, o.end, "ellipse", region) for o, region in drawn]
    write_native_csv(outdir / "ground_truth.csv", truth)
    write_unreliable_csv(outdir / "occluders.csv", spans)
    return truth, spans


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path, help="development videos and their ground_truth.csv")
    p.add_argument("outdir", type=Path)
    p.add_argument("--preset", default="robust", choices=sorted(PRESETS))
    p.add_argument("--seed", type=int, default=31000)
    args = p.parse_args(argv)
    settings = PRESETS[args.preset]
    truth, spans = render(args.source, args.outdir, args.seed, settings)
    prototypes = default_prototypes(settings.shipped_prototypes)
    predicted, under = {}, 0
    for name in sorted(truth):
        with open_video(args.outdir / f"{name}.mp4") as video:
            result = run_to_end(spot(video, prototypes, settings))
        predicted[name] = list(result.intervals)
        for iv in starting_inside(result.intervals, spans.get(name, [])):
            under += 1
            print(f"{name}: {iv.onset}-{iv.offset} AU {'+'.join(map(str, iv.aus))} starts under an occluder")
    ev = evaluate(truth, predicted)
    c = ev.overall
    print(
        f"{args.preset}: F1 {c.f1:.3f} (ME {ev.me.f1:.3f}, MaE {ev.mae.f1:.3f}) "
        f"TP {c.tp} FP {c.fp} FN {c.fn}; {under} intervals start under an occluder"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
