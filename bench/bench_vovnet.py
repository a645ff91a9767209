"""Benchmark the VoVNet spotter: inference fps on 640×480 video, training throughput, CUDA speedup.

Renders one synthetic 640×480 clip, then times, for the shipped compact checkpoint's input
settings and for the paper-size network (Tables 1–2, 128×128 input):

- face crops + flow (TV-L1 as in the paper, and DIS) per frame — the "with flow" part;
- the network alone on cached features — inference "without flow computation";
- the end-to-end ``spot`` generator with cached landmarks (crops + flow + network + decoding);
- training steps (frames per second, forward + backward + Adam);
- the same network timings on CUDA when a GPU is present (speedup over the CPU).

With ``--loso`` it also runs the larger synthetic leave-one-subject-out config (the CI test's
recipe with more subjects and epochs) and prints its F1. Prints a Markdown section on stdout.

    python bench/bench_vovnet.py [--frames 150] [--threads 0] [--loso]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from napari_mespot.core.landmark_cache import landmarks_for_video
from napari_mespot.core.landmarks import MediaPipeFaceMesh
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
from napari_mespot.core.synth import SynthSettings, write_synthetic_video
from napari_mespot.core.video import open_video


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
    parser.add_argument("--loso", action="store_true", help="also run the larger synthetic LOSO config")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
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
    if args.loso:
        print()
        print(loso_section())
    return 0


def loso_section() -> str:
    """The larger synthetic config: 4 subjects x 2 videos, LOSO, compact model."""
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.spotters.vovnet import LabelledVideo, TrainSettings, loso
    from napari_mespot.core.synth import write_synthetic_dataset

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


if __name__ == "__main__":
    raise SystemExit(main())
