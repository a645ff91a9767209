"""The cross-domain protocol: spotters made on one generator, scored where they were not made.

The shipped prototypes and VoVNet checkpoint were learnt, calibrated and developed on the first
generator's seeds 1000, 2000, 3000 and 5001-5004 (``napari_mespot/data/README.md`` and
``VOVNET.md``; 5101, 9000 and the tests' seeds hold earlier held-out reports). Nothing is
tuned here: every spotter runs with its shipped model and preset on three evaluation sets,

- ``gen1``: the first generator's held-out seed :data:`GEN1_SEED` (used for nothing else);
- ``gen2``: the warped generator's fixed validation seeds, at 30 fps and at 200 fps
  (:mod:`napari_mespot.core.synth.warped`, never used to make or tune a model);
- ``real``: annotated real clips (labels and unreliable spans), when the caller has them;

and is scored with the MEGC metric (one-to-one, IoU ≥ 0.5). The number to shrink is the drop
of overall F1 from ``gen1`` to ``gen2``. For sets with unreliable spans (the warped generator's
hand occlusions, the real clips' annotated ones) the predicted intervals that start inside a
span are counted: motion there is not an expression.

Generated videos are kept in a cache folder named by the generator's source digest and the
set's settings, so a rerun with unchanged generators renders nothing; predictions are always
computed afresh.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.labels.unreliable import UnreliableSpan, read_unreliable_csv, starting_inside
from napari_mespot.core.metrics import Evaluation, evaluate
from napari_mespot.core.progress import Progress, run_to_end
from napari_mespot.core.synth.settings import SynthSettings
from napari_mespot.core.synth.warped.settings import WarpedSettings

#: The first generator's held-out seed: no model, threshold or setting was made or chosen on it.
GEN1_SEED = 9200
#: The warped generator's validation seeds (30 fps, 200 fps).
GEN2_SEED, GEN2_FAST_SEED = 7100, 7200
PROTOTYPE_PRESETS = ("paper", "recommended", "fast", "robust")
VOVNET = "vovnet"
SPOTTERS = (*(f"prototype {p}" for p in PROTOTYPE_PRESETS), VOVNET)
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")
K = 0.5


@dataclass(frozen=True)
class Protocol:
    """What the sets are: counts and settings of the generated ones, and where the real one is.

    The defaults are sized so that the bench (four spotters, two of them slow on a CPU) runs in
    about a quarter of an hour on two cores: longer sets would give steadier F1, but there each
    minute of video costs minutes of spotting.
    """

    gen1_count: int = 4
    gen1: SynthSettings = field(default_factory=lambda: SynthSettings(duration_s=15.0, n_me=2, n_mae=2))
    gen2_count: int = 6
    gen2: WarpedSettings = field(default_factory=lambda: WarpedSettings(duration_s=20.0, n_me=2, n_mae=2))
    gen2_fast_count: int = 2
    gen2_fast: WarpedSettings = field(
        default_factory=lambda: WarpedSettings(duration_s=5.0, fps=200.0, n_me=1, n_mae=1))
    real_labels: Path | None = None
    real_unreliable: Path | None = None
    real_videos: Path | None = None
    spotters: tuple[str, ...] = SPOTTERS

    def describe(self) -> str:
        def videos(count: int, s: SynthSettings | WarpedSettings) -> str:
            return (f"{count} × {s.duration_s:g} s, {s.size[0]}×{s.size[1]}, {s.fps:g} fps, "
                    f"{s.n_me} ME + {s.n_mae} MaE each")

        gen1 = videos(self.gen1_count, self.gen1)
        gen2, fast = videos(self.gen2_count, self.gen2), videos(self.gen2_fast_count, self.gen2_fast)
        return (f"gen1 = first generator, held-out seed {GEN1_SEED}: {gen1}, head shakes on; gen2 = warped "
                f"generator, seed {GEN2_SEED}: {gen2}, plus seed {GEN2_FAST_SEED}: {fast}; every "
                "distractor on")


@dataclass
class EvalSet:
    """One evaluation set: videos by name, ground truth, unreliable spans, or why it is absent."""

    name: str
    videos: dict[str, Path] = field(default_factory=dict)
    truth: dict[str, VideoIntervals] = field(default_factory=dict)
    unreliable: dict[str, list[UnreliableSpan]] | None = None
    skipped: str = ""


@dataclass
class Outcome:
    """Predictions, scores and timings of every spotter on every set."""

    protocol: str
    sets: dict[str, EvalSet]
    predictions: dict[str, dict[str, dict[str, list[Interval]]]] = field(default_factory=dict)
    scores: dict[str, dict[str, Evaluation]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def in_unreliable(self, spotter: str, set_name: str) -> int | None:
        """Predicted intervals of ``spotter`` starting inside an unreliable span of the set (one
        region's span: those naming one of its AUs, or none; :func:`starting_inside`)."""
        spans = self.sets[set_name].unreliable
        if spans is None or set_name not in self.predictions.get(spotter, {}):
            return None
        return sum(len(starting_inside(ivs, spans.get(video, [])))
                   for video, ivs in self.predictions[spotter][set_name].items())

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "k": K,
            "sets": {n: {"videos": sorted(s.videos), "skipped": s.skipped} for n, s in self.sets.items()},
            "scores": {sp: {n: {t: getattr(ev, t).to_dict() for t in ("overall", "me", "mae")}
                            for n, ev in by_set.items()} for sp, by_set in self.scores.items()},
            "in_unreliable": {sp: {n: self.in_unreliable(sp, n) for n in self.sets} for sp in self.scores},
            "seconds": self.seconds,
        }


# -- the generated sets ------------------------------------------------------------------------------


def source_digest(package: str, *extra: str) -> str:
    """A digest of a generator's source files (and data files), so cached videos follow the code."""
    root = files(package)
    digest = hashlib.sha256()
    for entry in sorted((e for e in root.iterdir() if e.name.endswith(".py")), key=lambda e: e.name):
        digest.update(entry.name.encode() + entry.read_bytes())
    for path in extra:
        for entry in sorted(files("napari_mespot").joinpath(path).iterdir(), key=lambda e: e.name):
            digest.update(entry.name.encode() + entry.read_bytes())
    return digest.hexdigest()[:12]


def _cached(folder: Path, write: Callable[[Path], Generator[Progress, None, Any]]
            ) -> Generator[Progress, None, Path]:
    """``folder`` when complete, else written by ``write`` into a sibling and moved into place."""
    if (folder / "ground_truth.csv").is_file():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    yield from write(partial)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return folder


def _generated_set(name: str, folders: list[Path]) -> EvalSet:
    from napari_mespot.core.labels import read_labels

    out = EvalSet(name, unreliable={})
    for folder in folders:
        out.videos.update({p.stem: p for p in sorted(folder.glob("*.mp4"))})
        out.truth.update(read_labels(folder / "ground_truth.csv").videos)
        if (folder / "unreliable.csv").is_file():
            out.unreliable.update(read_unreliable_csv(folder / "unreliable.csv"))
    if not any((f / "unreliable.csv").is_file() for f in folders):
        out.unreliable = None
    return out


def gen1_set(protocol: Protocol, cache: Path) -> Generator[Progress, None, EvalSet]:
    from napari_mespot.core.synth.generator import write_synthetic_dataset

    key = hashlib.sha256(repr((protocol.gen1, protocol.gen1_count)).encode()).hexdigest()[:8]
    folder = cache / f"gen1-{source_digest('napari_mespot.core.synth')}-s{GEN1_SEED}-{key}"
    folder = yield from _cached(folder, lambda out: write_synthetic_dataset(
        out, protocol.gen1, GEN1_SEED, protocol.gen1_count))
    return _generated_set("gen1", [folder])


def gen2_set(protocol: Protocol, cache: Path) -> Generator[Progress, None, EvalSet]:
    from napari_mespot.core.synth.warped import write_warped_dataset

    version = source_digest("napari_mespot.core.synth.warped", "data/faces")
    folders = []
    for seed, settings, count in ((GEN2_SEED, protocol.gen2, protocol.gen2_count),
                                  (GEN2_FAST_SEED, protocol.gen2_fast, protocol.gen2_fast_count)):
        if count == 0:
            continue
        key = hashlib.sha256(repr((settings, count)).encode()).hexdigest()[:8]
        folder = cache / f"gen2-{version}-s{seed}-{key}"
        folders.append((yield from _cached(folder, lambda out, s=settings, n=count, sd=seed:
                                           write_warped_dataset(out, s, sd, n))))
    return _generated_set("gen2", folders)


# -- the real set -----------------------------------------------------------------------------------


def _find_video(folder: Path, name: str) -> Path | None:
    """The video a label file calls ``name``: a file of that name, or of that stem."""
    if (folder / name).is_file():
        return folder / name
    found = sorted(p for p in folder.glob(f"{name}.*") if p.suffix.lower() in VIDEO_SUFFIXES)
    return found[0] if found else None


def real_set(protocol: Protocol) -> EvalSet:
    """The annotated real clips, or an empty set that says why it is absent.

    Its videos are those of the labels and those of the unreliable spans: a clip annotated as
    having no usable face has no expression, so whatever is spotted there is a false positive.
    """
    from napari_mespot.core.labels import read_labels

    out = EvalSet("real")
    labels, videos = protocol.real_labels, protocol.real_videos
    if labels is None or videos is None:
        out.skipped = "no real labels or video folder given"
        return out
    for path in (labels, videos):
        if not path.exists():
            out.skipped = f"{path} not found"
            return out
    truth = dict(read_labels(labels).videos)
    spans = protocol.real_unreliable
    unreliable = read_unreliable_csv(spans) if spans is not None and spans.is_file() else None
    found = {name: _find_video(videos, name) for name in sorted({*truth, *(unreliable or {})})}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        out.skipped = f"video(s) {', '.join(map(repr, missing))} of {labels.parent} not in {videos}"
        return out
    out.videos, out.truth, out.unreliable = found, truth, unreliable
    return out


# -- spotting and scoring -----------------------------------------------------------------------------


def _spotters(names: tuple[str, ...], cache: Path) -> dict[str, Callable]:
    """Per name, a function (video, landmarks) -> a spotting generator returning a SpotResult."""
    from napari_mespot.core.spotters import vovnet
    from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes, spot

    out: dict[str, Callable] = {}
    for name in names:
        if name == VOVNET:
            ckpt = vovnet.default_checkpoint()
            settings = vovnet.SpotSettings(cache_dir=str(cache / "vovnet-features"))
            out[name] = lambda video, lm, c=ckpt, s=settings: vovnet.spot(video, c, s, landmarks=lm)
        elif name.startswith("prototype ") and name.removeprefix("prototype ") in PRESETS:
            preset = PRESETS[name.removeprefix("prototype ")]
            protos = default_prototypes(preset.shipped_prototypes)
            out[name] = lambda video, lm, p=protos, s=preset: spot(video, p, s, landmarks=lm)
        else:
            raise MespotError(f"unknown spotter {name!r}; known: {', '.join(SPOTTERS)}")
    return out


def run(protocol: Protocol, cache: str | os.PathLike) -> Generator[Progress, None, Outcome]:
    """Generate (or reuse) the sets, spot every video with every spotter and score them."""
    from napari_mespot.core.face.cache import landmarks_for_video
    from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
    from napari_mespot.core.media.video import open_video

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sets = {"gen1": (yield from gen1_set(protocol, cache)), "gen2": (yield from gen2_set(protocol, cache)),
            "real": real_set(protocol)}
    outcome = Outcome(protocol.describe(), sets, seconds={"generate": time.perf_counter() - t0})
    spotters = _spotters(protocol.spotters, cache)
    jobs = [(s, v) for s in sets.values() for v in sorted(s.videos)]
    for i, (eval_set, video_name) in enumerate(jobs):
        yield Progress(i, len(jobs), f"{eval_set.name} {video_name}")
        with open_video(eval_set.videos[video_name]) as video:
            t0 = time.perf_counter()
            landmarks = run_to_end(landmarks_for_video(video, MediaPipeFaceMesh()))
            outcome.seconds["landmarks"] = outcome.seconds.get("landmarks", 0.0) + time.perf_counter() - t0
            for name, spot in spotters.items():
                t0 = time.perf_counter()
                result = run_to_end(spot(video, landmarks))
                outcome.seconds[name] = outcome.seconds.get(name, 0.0) + time.perf_counter() - t0
                by_set = outcome.predictions.setdefault(name, {}).setdefault(eval_set.name, {})
                by_set[video_name] = list(result.intervals)
    yield Progress(len(jobs), len(jobs), "scoring")
    for name in spotters:
        outcome.scores[name] = {
            s.name: evaluate(s.truth, outcome.predictions.get(name, {}).get(s.name, {}), k=K)
            for s in sets.values() if s.videos}
    return outcome


# -- the report ------------------------------------------------------------------------------------


def _f1s(ev: Evaluation | None) -> str:
    """Overall / ME / MaE F1; a type with no ground truth shows its false positives instead."""
    if ev is None:
        return "–"
    return " / ".join(f"{c.f1:.2f}" if c.n_gt else f"– ({c.n_pred} FP)" for c in (ev.overall, ev.me, ev.mae))


def _fast(outcome: Outcome, spotter: str) -> str:
    """Overall F1 on the 200 fps videos of gen2 alone."""
    gen2 = outcome.sets["gen2"]
    fast = {v: vi for v, vi in gen2.truth.items() if vi.fps and vi.fps > 60}
    if not fast:
        return "–"
    pred = outcome.predictions.get(spotter, {}).get("gen2", {})
    return f"{evaluate(fast, {v: pred.get(v, []) for v in fast}, k=K).overall.f1:.2f}"


def format_tables(outcome: Outcome) -> str:
    """The Markdown report: the F1 table, the counts behind it, and the protocol."""
    sets = outcome.sets
    real_note = f" (skipped: {sets['real'].skipped})" if sets["real"].skipped else ""
    rows = [
        "| spotter | gen1 held-out F1 all / ME / MaE | gen2 F1 all / ME / MaE | gen2 @200 fps F1 "
        "| **drop gen1 → gen2** | real F1 all / ME / MaE | starts in unreliable spans: gen2 / real |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, by_set in outcome.scores.items():
        g1, g2 = by_set.get("gen1"), by_set.get("gen2")
        drop = f"{g1.overall.f1 - g2.overall.f1:+.2f}" if g1 and g2 else "–"
        starts = " / ".join("–" if (n := outcome.in_unreliable(name, s)) is None else str(n)
                            for s in ("gen2", "real"))
        rows.append(f"| {name} | {_f1s(g1)} | {_f1s(g2)} | {_fast(outcome, name)} | **{drop}** | "
                    f"{_f1s(by_set.get('real'))} | {starts} |")
    counts = ["| spotter | " + " | ".join(f"{n}: GT / pred / TP" for n, s in sets.items() if s.videos) + " |",
              "|---|" + "---|" * sum(1 for s in sets.values() if s.videos)]
    for name, by_set in outcome.scores.items():
        cells = [f"{ev.overall.n_gt} / {ev.overall.n_pred} / {ev.overall.tp}" for ev in by_set.values()]
        counts.append(f"| {name} | " + " | ".join(cells) + " |")
    videos = ", ".join(f"{n} {len(s.videos)} videos" for n, s in sets.items() if s.videos)
    times = ", ".join(f"{k} {v:.0f} s" for k, v in outcome.seconds.items())
    return "\n".join([
        f"MEGC metric (one-to-one, IoU ≥ {K}), every spotter with its shipped model and preset, "
        f"nothing tuned on these sets. Protocol: {outcome.protocol}; real = annotated real clips"
        f"{real_note}. F1 cells: overall / ME / MaE (a type absent from a set's ground truth shows its "
        "false positives). Drop = gen1 overall F1 − gen2 overall F1 (the "
        "number to shrink). Starts in unreliable spans: predicted intervals whose onset lies in a "
        "hand occlusion (gen2) or an annotated unreliable span (real; in a span of one face region, "
        "an interval counts when it names one of that region's AUs, or none); nothing should start there.",
        "",
        *rows,
        "",
        f"Counts behind the F1 ({videos}):",
        "",
        *counts,
        "",
        f"Time: {times}.",
    ])

