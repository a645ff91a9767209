"""Writing warped videos and their ground truth.

A dataset folder holds ``warped_<seed>_<k>.mp4`` (video ``k`` is the scene of seed
``(seed, k)``, so any one can be re-rendered alone) and four CSV files:

- ``ground_truth.csv``: the expressions, native CSV (video = file stem, per-video fps);
- ``distractors.csv``: ``video,kind,start,end,amplitude`` for every distractor, in frames
  (blink: closure 0-1; head_shake: peak yaw in degrees; head_drift: the drift's peak yaw in
  degrees; talking: peak opening in IOD; hand: 1; lighting: the relative brightness change;
  noise: sigma in grey levels; compression: the H.264 CRF);
- ``unreliable.csv``: ``video,start,end,reason``, the frames where a hand covers the face;
- ``videos.csv``: what each video is (identity, size, face size, CRF, noise).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.progress import Progress, shifted
from napari_mespot.core.synth.settings import SynthError
from napari_mespot.core.synth.warped.scene import Seed, Span, WarpedScene, entropy
from napari_mespot.core.synth.warped.settings import WarpedSettings

GROUND_TRUTH_CSV = "ground_truth.csv"
DISTRACTORS_CSV = "distractors.csv"
UNRELIABLE_CSV = "unreliable.csv"
VIDEOS_CSV = "videos.csv"
OCCLUSION_REASON = "hand over the face"


@dataclass(frozen=True)
class WarpedResult:
    """A written warped video and what is in it."""

    path: Path
    fps: float
    n_frames: int
    size: tuple[int, int]
    seed: tuple[int, ...]
    identity: str
    crf: int
    noise_sigma: float
    iod_px: float
    intervals: list[Interval] = field(default_factory=list)
    distractors: list[Span] = field(default_factory=list)
    occlusions: list[tuple[int, int]] = field(default_factory=list)


def video_name(seed: int, k: int) -> str:
    return f"warped_{seed}_{k:03d}"


def write_warped_video(path: str | os.PathLike, settings: WarpedSettings,
                       seed: Seed = 0) -> Generator[Progress, None, WarpedResult]:
    """Render (settings, seed) into an H.264 file at ``path`` (atomic), yielding progress per frame."""
    from napari_mespot.core.media.writer import write_video_with_progress

    path = Path(path)
    scene = WarpedScene(settings, seed)
    n = len(scene)
    try:
        yield from write_video_with_progress(path, scene.frames(), n, settings.fps, crf=scene.crf)
    except OSError as exc:
        raise SynthError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return WarpedResult(path=path, fps=settings.fps, n_frames=n, size=settings.size, seed=scene.seed,
                        identity=scene.identity.description, crf=scene.crf, noise_sigma=scene.noise_sigma,
                        iod_px=scene.iod, intervals=scene.intervals, distractors=scene.distractors,
                        occlusions=list(scene.occlusions))


def write_warped_dataset(outdir: str | os.PathLike, settings: WarpedSettings, seed: int = 0,
                         count: int = 1) -> Generator[Progress, None, list[WarpedResult]]:
    """Write ``count`` videos and the four CSV files (module docstring) into ``outdir``."""
    from napari_mespot.core.labels import Labels
    from napari_mespot.core.labels.native import save_native_csv
    from napari_mespot.core.labels.unreliable import UnreliableSpan, write_unreliable_csv
    from napari_mespot.core.synth.generator import distractors_csv, prepare_outdir

    if count < 1:
        raise SynthError(f"count must be at least 1, got {count}")
    entropy(seed)
    outdir = prepare_outdir(outdir)
    total = count * settings.n_frames
    results = []
    for k in range(count):
        video = write_warped_video(outdir / f"{video_name(seed, k)}.mp4", settings, (seed, k))
        results.append((yield from shifted(video, k * settings.n_frames, total, f"video {k + 1}/{count}")))
    stems = {r.path.stem: r for r in results}
    labels = Labels({v: VideoIntervals(v, tuple(r.intervals), r.fps) for v, r in stems.items()}, "native-csv")
    save_native_csv(outdir / GROUND_TRUTH_CSV, labels)
    atomic_write_text(outdir / DISTRACTORS_CSV, distractors_csv({v: r.distractors for v, r in stems.items()}))
    write_unreliable_csv(outdir / UNRELIABLE_CSV, {
        v: [UnreliableSpan(a, b, OCCLUSION_REASON) for a, b in r.occlusions] for v, r in stems.items()})
    atomic_write_text(outdir / VIDEOS_CSV, videos_csv(results))
    return results


def videos_csv(results: list[WarpedResult]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("video", "fps", "frames", "width", "height", "iod_px", "crf", "noise_sigma", "identity"))
    for r in sorted(results, key=lambda r: r.path.stem):
        writer.writerow((r.path.stem, f"{r.fps:g}", r.n_frames, *r.size, f"{r.iod_px:.1f}", r.crf,
                         f"{r.noise_sigma:.2f}", r.identity))
    return buf.getvalue()
