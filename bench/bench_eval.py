"""Benchmark ``mespot eval``: 1 000 videos × 50 predictions must score in under a second.

Generates ground truth (native CSV) and predictions (MEGC CSV) with a fixed seed, then times
the metric alone (in memory), ``mespot eval`` in-process (reading both files, k sweep, table) and
``mespot eval`` as a fresh process (interpreter start and imports included). Prints the times, or
one JSON object with ``--json``.

    python bench/bench_eval.py [--videos 1000] [--preds 50] [--gt 10] [--repeat 3] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_mespot.cli import main as mespot
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import Labels, write_labels
from napari_mespot.core.metrics import evaluate

LIMIT_S = 1.0


def synthetic(n_videos: int, n_pred: int, n_gt: int, seed: int = 0) -> tuple[Labels, Labels]:
    """GT intervals spread over 9 000 frames; predictions near them (jittered) or anywhere."""
    rng = np.random.default_rng(seed)
    gt, pred = {}, {}
    for v in range(n_videos):
        video = f"{v // 10:02d}_{v % 10:04d}"
        starts = np.sort(rng.choice(9_000, n_gt, replace=False))
        lengths = np.where(rng.random(n_gt) < 0.3, rng.integers(5, 15, n_gt), rng.integers(16, 120, n_gt))
        gt[video] = [
            Interval(int(s), int(s + n - 1), "me" if n <= 15 else "mae", id=f"g{i}")
            for i, (s, n) in enumerate(zip(starts, lengths, strict=True))
        ]
        near = rng.integers(0, n_gt, n_pred)
        jitter = rng.integers(-8, 9, (n_pred, 2))
        ivs = []
        for i in range(n_pred):
            if i % 2:
                onset = int(starts[near[i]] + jitter[i, 0])
                offset = int(starts[near[i]] + lengths[near[i]] - 1 + jitter[i, 1])
            else:
                onset = int(rng.integers(0, 9_000))
                offset = onset + int(rng.integers(5, 120))
            onset = max(0, onset)
            offset = max(onset, offset)
            ivs.append(Interval(onset, offset, "me" if offset - onset < 15 else "mae", id=f"p{i}"))
        pred[video] = ivs
    return Labels.from_label_set(gt, fps=30.0), Labels.from_label_set(pred, fps=30.0)


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run(n_videos: int, n_pred: int, n_gt: int, repeat: int) -> dict:
    gt, pred = synthetic(n_videos, n_pred, n_gt)
    with tempfile.TemporaryDirectory() as tmp:
        gt_path, pred_path = Path(tmp) / "gt.csv", Path(tmp) / "pred.csv"
        write_labels(gt_path, gt)
        write_labels(pred_path, pred, "megc-csv")
        argv = ["eval", "--gt", str(gt_path), "--pred", str(pred_path)]

        def in_process() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                assert mespot(argv) == 0

        def fresh_process() -> None:
            code = "import sys; from napari_mespot.cli import main; sys.exit(main(sys.argv[1:]))"
            subprocess.run([sys.executable, "-c", code, *argv], check=True, capture_output=True)

        result = {
            "videos": n_videos,
            "predictions": n_videos * n_pred,
            "ground_truth": n_videos * n_gt,
            "metric_s": best_of(repeat, lambda: evaluate(gt.videos, pred.videos)),
            "eval_in_process_s": best_of(repeat, in_process),
            "eval_fresh_process_s": best_of(repeat, fresh_process),
            "limit_s": LIMIT_S,
        }
    result["ok"] = result["eval_fresh_process_s"] < LIMIT_S
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=1000)
    parser.add_argument("--preds", type=int, default=50, help="predictions per video")
    parser.add_argument("--gt", type=int, default=10, help="ground-truth intervals per video")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best is kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(args.videos, args.preds, args.gt, args.repeat)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['videos']} videos, {result['predictions']} predictions, {result['ground_truth']} GT")
        print(f"metric (in memory)        {result['metric_s']:.3f} s")
        print(f"mespot eval (in process)  {result['eval_in_process_s']:.3f} s  (read files, k sweep, table)")
        print(
            f"mespot eval (new process) {result['eval_fresh_process_s']:.3f} s  (limit {LIMIT_S:.1f} s): "
            f"{'OK' if result['ok'] else 'TOO SLOW'}"
        )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
