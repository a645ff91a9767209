"""Development set for sustained expressions (first generator, development seed 3000 only).

Why it exists: the synthetic scheduler holds an expression at its apex for at most 15 % of its
length, while real macro-expressions (a smile) often hold for seconds, and real clips may end
in the middle of one (MEGC labels keep such truncated expressions). This script renders
first-generator videos from development seed 3000 whose long macro-expressions (2-4 s) hold
at their apex, some cut by the clip's end, plus ordinary ``mespot synth`` videos of the same
seed (so a change is also judged on the expressions the preset already handled), and scores
variants of the ``robust`` preset on them. It never touches an evaluation or validation seed.

The walk (landmarks, flow, matching curves) does not depend on the detection settings, so it
is computed once per video and cached; every variant then reruns only the detection. ``--also``
scores the variants on further development folders too (videos and their
``ground_truth.csv``), e.g. the first generator's varied footage of the same seed,
``mespot synth DIR --vary --seed 3000 --count 8 --duration 20 --me 2 --mae 2``.

    python bench/dev_sustained.py OUTDIR [--variant NAME=key:value,key:value ...] [--also DIR ...]
"""

from __future__ import annotations

import argparse
import pickle
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.labels import read_labels
from napari_mespot.core.labels.native import write_native_csv
from napari_mespot.core.media.video import open_video
from napari_mespot.core.media.writer import write_video_with_progress
from napari_mespot.core.metrics import evaluate
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.registry import landmark_provider
from napari_mespot.core.spotters.prototype import default_prototypes
from napari_mespot.core.spotters.prototype.settings import PRESETS
from napari_mespot.core.spotters.prototype.spotter import _Detector, check_usable
from napari_mespot.core.spotters.prototype.walk import walk
from napari_mespot.core.spotters.prototype.windows import frames_in, next_start
from napari_mespot.core.synth.generator import SynthScene
from napari_mespot.core.synth.schedule import AU_COMBINATIONS, Expression
from napari_mespot.core.synth.settings import SynthSettings

SEED = 3000
FPS = 30.0


def _expression(onset: int, length: int, kind: str, held: bool, rng: np.random.Generator) -> Expression:
    steps = length - 1
    if held:  # rise, a long hold at the apex, fall
        rise = max(1, round(rng.uniform(0.15, 0.3) * steps))
        hold = round(rng.uniform(0.3, 0.55) * steps)
    else:  # the scheduler's own shape
        rise = max(1, round(rng.uniform(0.3, 0.45) * steps))
        hold = round(rng.uniform(0.0, 0.15) * steps)
    hold = min(hold, steps - rise - 1)
    aus = AU_COMBINATIONS[int(rng.integers(len(AU_COMBINATIONS)))]
    peak = rng.uniform(1.0, 2.0) if kind == "me" else rng.uniform(3.0, 8.0)
    amps = tuple(float(peak * (1.0 if i == 0 else rng.uniform(0.7, 1.0))) for i in range(len(aus)))
    return Expression(onset, onset + rise, onset + steps, hold, kind, aus, amps)


def held_scene(k: int, duration_s: float, truncated: bool) -> tuple[SynthScene, int]:
    """A scene of seed (SEED, 100 + k): 2 ME, 1 ordinary MaE and 2 held MaEs of 2-4 s in random
    order; with ``truncated`` the clip ends inside the last (held) expression. Returns the scene
    and the number of frames to write."""
    rng = np.random.default_rng([SEED, 100 + k])
    kinds = [("me", False), ("me", False), ("mae", False), ("mae", True)]
    order = [kinds[i] for i in rng.permutation(len(kinds))] + [("mae", True)]
    n = round(duration_s * FPS)
    script, t = [], round(rng.uniform(1.0, 2.0) * FPS)
    for kind, held in order:
        if kind == "me":
            length = int(rng.integers(round(0.2 * FPS), round(0.5 * FPS) + 1))
        elif held:
            length = int(rng.integers(round(2.0 * FPS), round(4.0 * FPS) + 1))
        else:
            length = int(rng.integers(round(0.6 * FPS), round(2.0 * FPS) + 1))
        script.append(_expression(t, length, kind, held, rng))
        t += length + round(rng.uniform(1.0, 2.5) * FPS)
    last = script[-1]
    total = max(n, last.offset + 1 + round(1.0 * FPS))
    settings = SynthSettings(duration_s=total / FPS, n_me=0, n_mae=0)
    scene = SynthScene(settings, (SEED, 100 + k), expressions=script)
    # Truncated: the clip ends inside the last expression's held apex.
    stop = last.apex + 1 + round(rng.uniform(0.2, 0.9) * max(1, last.hold)) if truncated else total
    return scene, stop


def render(outdir: Path, n_held: int, n_plain: int) -> dict:
    outdir.mkdir(parents=True, exist_ok=True)
    gt = {}
    for k in range(n_held):
        scene, stop = held_scene(k, 25.0, truncated=k % 2 == 1)
        name = f"held_{k}"
        path = outdir / f"{name}.mp4"
        if not path.exists():
            run_to_end(write_video_with_progress(path, scene.frames(0, stop), stop, FPS, crf=20))
        gt[name] = [
            replace(iv, offset=min(iv.offset, stop - 1), apex=min(iv.apex, stop - 1))
            for iv in scene.intervals
            if iv.onset < stop - 1
        ]
    for k in range(n_plain):
        scene = SynthScene(SynthSettings(duration_s=20.0, n_me=2, n_mae=2), (SEED, k))
        name = f"plain_{k}"
        path = outdir / f"{name}.mp4"
        if not path.exists():
            run_to_end(write_video_with_progress(path, scene.frames(), len(scene), FPS, crf=20))
        gt[name] = list(scene.intervals)
    write_native_csv(outdir / "ground_truth.csv", gt)
    return gt


def walks(outdir: Path, names: list[str]) -> dict:
    """The robust preset's fixed walk of every video (cached in OUTDIR/walks.pkl)."""
    cache = outdir / "walks.pkl"
    done = pickle.loads(cache.read_bytes()) if cache.exists() else {}
    settings = PRESETS["robust"]
    prototypes = default_prototypes("robust")
    for name in names:
        if name in done:
            continue
        video = open_video(outdir / f"{name}.mp4")
        lms = run_to_end(landmarks_for_video(video, landmark_provider(settings.landmarks)))
        length = frames_in(settings.window_s, video.fps, minimum=3)
        step = lambda w, n=length: next_start(w.start, n, None)  # noqa: E731  (the fixed walk)
        walked = run_to_end(walk(video, lms, prototypes, settings, step))
        done[name] = (float(video.fps), len(video), walked)
        cache.write_bytes(pickle.dumps(done))
        print(f"walked {name}", file=sys.stderr, flush=True)
    return done


def detect(walked: dict, settings) -> dict:
    prototypes = default_prototypes("robust")
    theta, _ = check_usable(prototypes, settings)
    out = {}
    for name, (fps, n, w) in walked.items():
        det = _Detector(prototypes, settings, theta, fps, n)
        det.normalised_windows(w.windows)
        out[name] = det.intervals
    return out


def _value(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text, text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir", type=Path)
    p.add_argument("--held", type=int, default=6)
    p.add_argument("--plain", type=int, default=4)
    p.add_argument("--variant", nargs="*", default=[], help="NAME=key:value,key:value on top of robust")
    p.add_argument("--also", nargs="*", type=Path, default=[], help="more development folders to score")
    args = p.parse_args(argv)
    gt = render(args.outdir, args.held, args.plain)
    walked = walks(args.outdir, sorted(gt))
    subsets = ["held", "plain", ""]
    for folder in args.also:
        labels = read_labels(folder / "ground_truth.csv")
        extra = {Path(k).stem: list(v.intervals) for k, v in labels.videos.items()}
        walked.update({f"{folder.name}/{k}": w for k, w in walks(folder, sorted(extra)).items()})
        gt.update({f"{folder.name}/{k}": ivs for k, ivs in extra.items()})
        subsets.insert(-1, f"{folder.name}/")
    variants = {"robust": PRESETS["robust"]}
    for spec in args.variant:
        name, _, body = spec.partition("=")
        changes = dict(kv.split(":", 1) for kv in body.split(",") if kv)
        variants[name] = replace(PRESETS["robust"], **{k: _value(v) for k, v in changes.items()})
    for vname, settings in variants.items():
        pred = detect(walked, settings)
        for subset in subsets:
            keys = [k for k in gt if k.startswith(subset)]
            ev = evaluate({k: gt[k] for k in keys}, {k: pred[k] for k in keys})
            c = ev.overall
            print(
                f"{vname:>14} {subset or 'all':>8}: F1 {c.f1:.3f} (ME {ev.me.f1:.3f}, MaE {ev.mae.f1:.3f}) "
                f"TP {c.tp} FP {c.fp} FN {c.fn}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
