"""Benchmark the VoVNet spotter: inference fps on 640×480 video, training throughput, CUDA speedup.

Renders one synthetic 640×480 clip, then times, for the shipped compact checkpoint's input
settings and for the paper-size network (Tables 1–2, 128×128 input):

- face crops + flow (TV-L1 as in the paper, and DIS) per frame — the "with flow" part;
- the network alone on cached features — inference "without flow computation";
- the end-to-end ``spot`` generator with cached landmarks (crops + flow + network + decoding);
- training steps (frames per second, forward + backward + Adam);
- the same network timings on CUDA when a GPU is present (speedup over the CPU).

Then it prints the latest larger training run (below, or this machine's own in
``bench/out/vovnet_large.json``). With no argument (how ``bench/run.py`` calls it) it takes
about two minutes. ``--large`` first runs that larger config again (about 20 minutes on 2 CPU
cores) and records it in ``bench/out/vovnet_large.json``; ``--loso`` also runs a compact
synthetic leave-one-subject-out config and prints its F1. Prints a Markdown section on stdout.

    python bench/bench_vovnet.py [--frames 150] [--threads 0] [--large [--large-epochs 8]] [--loso]

The larger config (``--large``): the paper-size network (Tables 1-2 widths, 19.8 M
parameters) at the paper's 128x128 input, trained from scratch on the CPU with Adam (lr 0.001:
the paper's 0.005 diverged, below; batch 2 as the paper on SAMM-LV) on the first video of each
of the shipped checkpoint's training seeds 5001-5004 (one 20 s 640x480 video per subject;
training draws one subject as its validation subject, which picks the epoch and the
thresholds), and scored on the shipped checkpoint's held-out seed 5101 (two videos, 8 ME +
8 MaE; data/VOVNET.md), which no run trained on. DIS flow instead of the paper's TV-L1,
computed from frame t - 9 to t as for the shipped checkpoint, to keep the features to a minute
of CPU; windows of 128 frames without overlap so that an epoch is one pass over the training
frames.

Latest recorded larger run:

### Larger config: paper-size network on the CPU (recorded 2026-12-02 01:00 UTC)

paper widths (Tables 1-2), 19,770,249 parameters; 128px crops + DIS flow (gap 9); 8 epochs, Adam
lr 0.001, batch 2, window 128 / stride 128. Train seeds [5001, 5002, 5003, 5004] (one 20 s video
each; validation ['synth_5003_000']), held-out seed 5101 (2 videos). 2 threads, load average
7.71/7.66/8.26 -> 2.33/4.52/6.41.

- loss per epoch, train/val: 4.59/3.26, 3.37/83.42, 2.69/88.95, 3.32/66.03, 3.22/3.10,
  2.93/3.14, 3.48/2.83, 2.54/2.60 (best epoch 8)
- time: features 0 s, per epoch 156, 167, 158, 159, 160, 165, 74, 55 s, thresholds 17 s, held-
  out spotting 20 s, total 18.9 min wall, 20.0 min CPU
- held-out F1 (IoU >= 0.5): ME 0.0000, MaE 0.2545, overall 0.2222 (GT 16, predicted 47, TP 7)

Features came from the cache of the earlier runs below (computed: 22 s). Measured on the
2-core development machine shared with other jobs: the per-epoch times fall
from about 160 s to 55-74 s when the load average dropped from about 8 to 2 near the end;
the speed table of the same process (printed after the run, load about 2) read 44 frames/s
for a paper-size training step and 191 frames/s for its inference, against 6-7 and 18-21
frames/s in runs at load 8-10. The shipped compact checkpoint scores 0.4848 overall (ME
0.3158, MaE 0.7143) on the same two seed-5101 videos (``mespot vovnet eval``, data/VOVNET.md).

Every run of this config so far, on the same seeds (reported, none left out). Each run's
held-out F1 was seen before the next one was started, so the figure above is not a single-shot
held-out estimate; the settings were changed for what the training and validation losses
showed:

- lr 0.005 (the paper's), 4 epochs: diverged (train loss 129 -> 67, validation 3.8e6 -> 704),
  nothing predicted, F1 0; 29.5 min wall, 11.7 min CPU (read with ps) at load 9-10.
- lr 0.001 (Adam's default), 4 epochs: the first four epochs above, bit for bit (the run is
  deterministic); validation loss lowest after epoch 1, nothing passed the thresholds, F1 0;
  11.2 min wall, 9.4 min CPU.
- lr 0.001, 8 epochs: above. The validation spikes of epochs 2-4 (most likely BatchNorm
  running statistics lagging the weights after a few dozen steps of batch 2) settle from
  epoch 5.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.vovnet import (
    SMALL_MODEL,
    DataSettings,
    ModelConfig,
    SpotSettings,
    default_checkpoint,
    spot,
)
from napari_mespot.core.spotters.vovnet.data import compute_features
from napari_mespot.core.spotters.vovnet.model import VoVNetSpotter
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
LARGE_JSON = OUT / "vovnet_large.json"
#: The larger run's data: the shipped checkpoint's training seeds (first video of each) and its
#: held-out evaluation seed (data/VOVNET.md), so the two models are scored on the same videos.
LARGE_TRAIN_SEEDS = (5001, 5002, 5003, 5004)
LARGE_TEST_SEED = 5101
LARGE_EPOCHS = 8
#: Adam's own default rate (Kingma & Ba): the paper's 0.005 diverged in this short run (docstring).
LARGE_LR = 0.001
#: The docstring line after which the recorded larger run is written.
RECORDED_MARK = "Latest recorded larger run:"


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t)
    return best


def network_fps(
    config: ModelConfig, size: int, window: int, device: str, train: bool, batch: int = 2
) -> float:
    """Frames per second through the network (inference, or a training step)."""
    torch.manual_seed(0)
    model = VoVNetSpotter(config).to(device)
    x = torch.randn(batch, window, config.in_channels, size, size, device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    amp = device == "cuda"

    def step() -> None:
        if train:
            model.train()
            with torch.autocast(device, enabled=amp):
                logits, dists = model(x)
            (logits.float().mean() + dists.float().mean()).backward()
            opt.step()
            opt.zero_grad()
        else:
            model.eval()
            with torch.no_grad(), torch.autocast(device, enabled=amp):
                model(x)

    step()
    return batch * window / timed(step, repeat=3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=150, help="frames of the 640x480 clip (150)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--loso", action="store_true", help="also run the compact synthetic LOSO config")
    parser.add_argument(
        "--large",
        action="store_true",
        help=f"train and score the paper-size network on the CPU first (about 20 min; writes {LARGE_JSON})",
    )
    parser.add_argument(
        "--large-epochs", type=int, default=LARGE_EPOCHS, help=f"epochs of --large ({LARGE_EPOCHS})"
    )
    parser.add_argument("--large-lr", type=float, default=LARGE_LR, help=f"Adam lr of --large ({LARGE_LR})")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.large:
        run = large_run(args.large_epochs, args.large_lr)
        OUT.mkdir(parents=True, exist_ok=True)
        LARGE_JSON.write_text(json.dumps(run, indent=2) + "\n")
    ckpt = default_checkpoint()
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = SynthSettings(duration_s=args.frames / 30.0, size=(640, 480), n_me=1, n_mae=1, min_gap_s=0.5)
        run_to_end(write_synthetic_video(tmp / "clip.mp4", clip, 99))
        with open_video(tmp / "clip.mp4") as video:
            n = len(video)
            t_lm = timed(lambda: run_to_end(landmarks_for_video(video, MediaPipeFaceMesh())))
            lm = run_to_end(landmarks_for_video(video, MediaPipeFaceMesh()))
            rows.append(("landmarks (MediaPipe, once per video, cached)", f"{n / t_lm:.0f} fps"))
            for label, data in (
                ("shipped checkpoint's input", ckpt.data),
                ("paper input 128x128, TV-L1", DataSettings(input_size=128, flow_method="tvl1")),
                ("paper input 128x128, DIS", DataSettings(input_size=128, flow_method="dis")),
                ("128x128, no flow (ablation)", DataSettings(input_size=128, flow=False)),
            ):
                t = timed(lambda data=data: run_to_end(compute_features(video, lm, data)))
                desc = f"{data.input_size}px, {data.flow_method if data.flow else 'no flow'}"
                rows.append((f"face crops + flow: {label} ({desc})", f"{n / t:.0f} fps"))
            settings = SpotSettings(device="cpu", cache_dir=str(tmp / "cache"))
            t_first = timed(lambda: run_to_end(spot(video, ckpt, settings, landmarks=lm)))
            t_cached = timed(lambda: run_to_end(spot(video, ckpt, settings, landmarks=lm)), repeat=2)
            rows.append(("spot, shipped checkpoint, with crops + flow (CPU)", f"{n / t_first:.0f} fps"))
            rows.append(("spot, shipped checkpoint, features cached (CPU)", f"{n / t_cached:.0f} fps"))

    paper = ModelConfig()
    small = dataclasses.replace(SMALL_MODEL, in_channels=5)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    speed: dict[tuple[str, str, bool], float] = {}
    for name, config, size in (("compact 64px", small, 64), ("paper (Tables 1-2) 128px", paper, 128)):
        for device in devices:
            for train in (False, True):
                fps = network_fps(config, size, 64 if name.startswith("compact") else 32, device, train)
                speed[(name, device, train)] = fps
                rows.append(
                    (
                        f"network {'training' if train else 'inference'}, {name}, {device}",
                        f"{fps:.0f} frames/s",
                    )
                )
    if "cuda" in devices:
        for name in ("compact 64px", "paper (Tables 1-2) 128px"):
            for train in (False, True):
                ratio = speed[(name, "cuda", train)] / speed[(name, "cpu", train)]
                rows.append(
                    (f"CUDA speedup, {name}, {'training' if train else 'inference'}", f"{ratio:.1f}x")
                )

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CUDA rows skipped)"
    print("## VoVNet spotter\n")
    print(f"Clip: synthetic 640x480, {n} frames. Threads: {torch.get_num_threads()}. GPU: {gpu}.\n")
    print("| what | speed |\n|---|---|")
    for what, value in rows:
        print(f"| {what} | {value} |")
    print()
    print(recorded_large_section())
    if args.loso:
        print()
        print(loso_section())
    return 0


def recorded_large_section() -> str:
    """The latest larger run: this machine's ``--large`` result when there is one, else the run
    recorded in this file's docstring."""
    if LARGE_JSON.is_file():
        return large_section(json.loads(LARGE_JSON.read_text()))
    return __doc__.split(RECORDED_MARK, 1)[1].strip()


def loso_section() -> str:
    """The larger synthetic config: 4 subjects x 2 videos, LOSO, compact model."""
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.spotters.vovnet import LabelledVideo, TrainSettings, loso
    from napari_mespot.core.synth.generator import write_synthetic_dataset

    videos_settings = SynthSettings(duration_s=20.0)
    data = DataSettings(input_size=64, flow_method="dis", flow_size=128, flow_gap=2)
    config = dataclasses.replace(SMALL_MODEL, in_channels=data.channels)
    train = TrainSettings(epochs=12, batch_size=8, lr=0.001, window=64, window_stride=32, device="auto")
    seeds = (8101, 8102, 8103, 8104)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        videos = []
        for seed in seeds:
            run_to_end(write_synthetic_dataset(tmp / f"s{seed}", videos_settings, seed, 2))
            videos += [
                LabelledVideo(
                    str(tmp / f"s{seed}" / f"{vi.video}.mp4"), tuple(vi.intervals), f"s{seed}", vi.video
                )
                for vi in read_labels(tmp / f"s{seed}" / "ground_truth.csv")
            ]
        t = time.perf_counter()
        result = run_to_end(loso(videos, tmp / "folds", config, data, train, cache_dir=tmp / "cache"))
        elapsed = time.perf_counter() - t
    ev = result.evaluation
    return (
        f"### Synthetic LOSO (seeds {seeds[0]}-{seeds[-1]}, 2 x 20 s 640x480 videos each; compact model, "
        f"64px DIS flow, 12 epochs, lr 0.001, batch 8; {elapsed / 60:.1f} min)\n\n"
        "| | MaE | ME | Overall |\n|---|---|---|---|\n"
        f"| F1 (IoU >= 0.5) | {ev.mae.f1:.4f} | {ev.me.f1:.4f} | {ev.overall.f1:.4f} |"
    )


def synthetic_subjects(root: Path, seeds: tuple[int, ...], count: int) -> list:
    """``count`` 20 s 640x480 synthetic videos per seed (rendered once under ``root``), one subject
    per seed; video k of seed s is the scene (s, k), as ``mespot synth --seed s --count N``."""
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.spotters.vovnet import LabelledVideo
    from napari_mespot.core.synth.generator import write_synthetic_dataset

    videos = []
    for seed in seeds:
        folder = root / f"s{seed}x{count}"
        if not (folder / "ground_truth.csv").is_file():
            run_to_end(write_synthetic_dataset(folder, SynthSettings(duration_s=20.0), seed, count))
        videos += [
            LabelledVideo(str(folder / f"{vi.video}.mp4"), tuple(vi.intervals), f"s{seed}", vi.video)
            for vi in read_labels(folder / "ground_truth.csv")
        ]
    return videos


def large_run(epochs: int, lr: float) -> dict:
    """Train the paper-size network (Tables 1-2, 128x128 input) on the CPU and score it on a
    held-out subject; timings per phase, the loss history and the machine load go in the result.

    Epoch boundaries are read from the training generator's progress messages: an epoch's time
    runs from the last step of the previous epoch to its own last step (so it holds the previous
    epoch's validation pass; the last validation pass counts towards "thresholds").
    """
    from napari_mespot.core.metrics import evaluate
    from napari_mespot.core.spotters.vovnet import TrainSettings, load_checkpoint, spot_videos, train

    data = DataSettings(input_size=128, flow_method="dis", flow_gap=9)
    config = ModelConfig(in_channels=data.channels)
    settings = TrainSettings(epochs=epochs, batch_size=2, lr=lr, window=128, window_stride=128, device="cpu")
    root = OUT / "vovnet_large"
    train_videos = synthetic_subjects(root, LARGE_TRAIN_SEEDS, 1)
    test_videos = synthetic_subjects(root, (LARGE_TEST_SEED,), 2)
    load_before = os.getloadavg()
    t0, cpu0 = time.perf_counter(), time.process_time()
    last_step: dict[int, float] = {}
    features_done = t0
    gen = train(train_videos, root / "large.pt", config, data, settings, cache_dir=root / "cache")
    while True:
        try:
            p = next(gen)
        except StopIteration as stop:
            result = stop.value
            break
        if p.message.startswith("epoch "):
            last_step[int(p.message.split()[1].rstrip(":"))] = time.perf_counter()
        elif p.message.startswith("features"):
            features_done = time.perf_counter()
    t_trained = time.perf_counter()
    ckpt = load_checkpoint(result.checkpoint)
    pred = run_to_end(spot_videos(ckpt, test_videos, root / "cache", "cpu"))
    t_spotted = time.perf_counter()
    ev = evaluate({v.video_name: list(v.intervals) for v in test_videos}, pred, k=0.5)
    marks = [features_done] + [last_step[e] for e in sorted(last_step)]
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "model": "paper widths (Tables 1-2)",
        "parameters": sum(p.numel() for p in ckpt.model.parameters()),
        "data": dataclasses.asdict(data),
        "train": dataclasses.asdict(settings),
        "train_seeds": list(LARGE_TRAIN_SEEDS),
        "val_videos": list(result.val_videos),
        "test_seed": LARGE_TEST_SEED,
        "test_videos": [v.video_name for v in test_videos],
        "threads": torch.get_num_threads(),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "seconds": {
            "features": round(features_done - t0, 1),
            "per_epoch": [round(b - a, 1) for a, b in itertools.pairwise(marks)],
            "thresholds_and_save": round(t_trained - marks[-1], 1),
            "spot_held_out": round(t_spotted - t_trained, 1),
            "total": round(t_spotted - t0, 1),
            "cpu": round(time.process_time() - cpu0, 1),
        },
        "history": result.history,
        "best_epoch": result.best_epoch,
        "thresholds": result.thresholds,
        "f1": {"me": ev.me.f1, "mae": ev.mae.f1, "overall": ev.overall.f1},
        "counts": {"gt": ev.overall.n_gt, "pred": ev.overall.n_pred, "tp": ev.overall.tp},
    }


def large_section(run: dict) -> str:
    """A recorded larger run as Markdown."""
    sec, f1 = run["seconds"], run["f1"]
    curve = ", ".join(f"{h['train_total']:.2f}/{h['val_total']:.2f}" for h in run["history"])
    epochs = ", ".join(f"{s:.0f}" for s in sec["per_epoch"])
    load = (
        "/".join(f"{x:g}" for x in run["loadavg_before"])
        + " -> "
        + "/".join(f"{x:g}" for x in run["loadavg_after"])
    )
    return (
        f"### Larger config: paper-size network on the CPU (recorded {run['date']})\n\n"
        f"{run['model']}, {run['parameters']:,} parameters; {run['data']['input_size']}px crops + "
        f"{run['data']['flow_method'].upper()} flow (gap {run['data']['flow_gap']}); "
        f"{run['train']['epochs']} epochs, Adam lr {run['train']['lr']}, batch {run['train']['batch_size']}, "
        f"window {run['train']['window']} / stride {run['train']['window_stride']}. Train seeds "
        f"{run['train_seeds']} (one 20 s video each; validation {run['val_videos']}), held-out seed "
        f"{run['test_seed']} ({len(run['test_videos'])} videos). {run['threads']} threads, "
        f"load average {load}.\n\n"
        f"- loss per epoch, train/val: {curve} (best epoch {run['best_epoch']})\n"
        f"- time: features {sec['features']:.0f} s, per epoch {epochs} s, "
        f"thresholds {sec['thresholds_and_save']:.0f} s, held-out spotting {sec['spot_held_out']:.0f} s, "
        f"total {sec['total'] / 60:.1f} min wall, {sec.get('cpu', float('nan')) / 60:.1f} min CPU\n"
        f"- held-out F1 (IoU >= 0.5): ME {f1['me']:.4f}, MaE {f1['mae']:.4f}, overall {f1['overall']:.4f} "
        f"(GT {run['counts']['gt']}, predicted {run['counts']['pred']}, TP {run['counts']['tp']})"
    )


if __name__ == "__main__":
    raise SystemExit(main())
