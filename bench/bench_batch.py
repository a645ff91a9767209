"""Batch spotting on dask.distributed: one local worker against two, on the same 20 videos.

The videos are synthetic (8 s, 640×480, 30 fps, seeds 9000+k, never used in development) and
cached under bench/out/. Each run writes to a fresh folder, so nothing is skipped, and the
landmark caches are warmed first so both runs do the same work. The ratio is the speed-up the
cluster gives; with one worker per core, 2 cores bound it at 2.

    python bench/bench_batch.py [--videos 20]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "batch"


def make_videos(count: int) -> list[Path]:
    from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

    folder = OUT / "videos"
    folder.mkdir(parents=True, exist_ok=True)
    settings = SynthSettings(duration_s=8.0, n_me=1, n_mae=1)
    paths = []
    for k in range(count):
        path = folder / f"synth_{9000 + k}.mp4"
        if not path.exists():
            from napari_mespot.core.progress import run_to_end

            run_to_end(write_synthetic_video(path, settings, 9000 + k))
        paths.append(path)
    return paths


def timed_batch(videos: list[Path], workers: int, options: dict) -> float:
    from napari_mespot.core.progress import run_to_end
    from napari_mespot.jobs.batch import run_batch

    out = OUT / f"run_{workers}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    report = run_to_end(run_batch(videos, out, options=options, workers=workers))
    if report.failed:
        raise SystemExit(f"batch failed: {report.failed}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=20)
    args = parser.parse_args()
    videos = make_videos(args.videos)
    # The fast preset, one flow thread per worker: the speed-up measured is that of the
    # workers, not of the threads inside one spotting run.
    options = {"preset": "fast", "settings": {"threads": 1}}
    print("warming the landmark caches ...", file=sys.stderr)
    timed_batch(videos, 2, options)
    one = timed_batch(videos, 1, options)
    two = timed_batch(videos, 2, options)
    print("| workers | videos | wall time | videos/min |")
    print("|---|---|---|---|")
    print(f"| 1 | {len(videos)} | {one:.1f} s | {60 * len(videos) / one:.1f} |")
    print(f"| 2 | {len(videos)} | {two:.1f} s | {60 * len(videos) / two:.1f} |")
    print()
    print(f"Speed-up with 2 workers: **{one / two:.2f}×** (target ≥ 1.6×; the fast preset).")


if __name__ == "__main__":
    main()
