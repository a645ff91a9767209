"""Torch flow ports vs OpenCV: per-pair time and batched throughput at the paper's region sizes.

The spotter computes the flow from one window reference to many frames, per region: eye 280×240
and mouth 260×160. This runs exactly that on real face content (the WolfgangLanger fixture, a
fixed crop across the face resized to each region size) for Farneback, TV-L1 and DIS: OpenCV one
pair at a time, the torch port one pair at a time and batched (one reference, B frames), on the
CPU and, where torch sees one, on the GPU. Beside each time it reports how far the torch flow is
from OpenCV's on the same pairs, and how far OpenCV's own flow moves when the frame is dithered
by one grey level (the yardstick tests/test_flow_torch.py holds torch TV-L1 to).

    python bench/bench_flow_torch.py [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
VIDEO = HERE.parent.parent / "shared" / "fixtures" / "video" / "WolfgangLanger_Pexels.mp4"
REGIONS = {"eye 280×240": (240, 280), "mouth 260×160": (160, 260)}
REFERENCE = 252
METHODS = ("farneback", "tvl1", "dis")
#: Frames per batch. On the CPU the same frames are also timed pair by pair, with OpenCV and
#: torch, so that per-pair times compare like with like (TV-L1's time depends on the content).
#: DIS's patch search is a fixed number of small sequential steps per level whatever the batch,
#: so on the GPU it is timed on a window's worth of frames (7 s at 30 fps ≈ 210).
BATCH = {
    ("farneback", "cpu"): 16,
    ("tvl1", "cpu"): 4,
    ("dis", "cpu"): 8,
    ("farneback", "cuda"): 64,
    ("tvl1", "cuda"): 64,
    ("dis", "cuda"): 200,
}


def region_frames(size: tuple[int, int], count: int) -> np.ndarray:
    """Grey crops (count + 1, H, W): the reference, then the frames after it."""
    import cv2

    from napari_mespot.core.flow.methods import to_gray
    from napari_mespot.core.media.video import open_video

    with open_video(VIDEO) as video:
        crops = [to_gray(video.frame(REFERENCE + i))[60:340, 300:620] for i in range(count + 1)]
    return np.stack([cv2.resize(c, size[::-1], interpolation=cv2.INTER_AREA) for c in crops])


def timed_ms(fn, sync) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    sync()
    return (time.perf_counter() - t0) * 1000, out


def mean_epe(flows: np.ndarray, cv_flows: np.ndarray, inside_only: bool = False) -> float:
    """Mean endpoint error; ``inside_only``: where OpenCV's flow lands ≥ 2 px inside the frame."""
    epe = np.hypot(*(flows - cv_flows).transpose(3, 0, 1, 2))
    if not inside_only:
        return float(epe.mean())
    _, h, w, _ = cv_flows.shape
    yy, xx = np.mgrid[0:h, 0:w]
    tx, ty = xx + cv_flows[..., 0], yy + cv_flows[..., 1]
    return float(epe[(tx >= 2) & (tx <= w - 3) & (ty >= 2) & (ty <= h - 3)].mean())


def dither_sensitivity(ref: np.ndarray, frame: np.ndarray, method: str) -> float:
    """How far OpenCV's own flow moves (inside) when the frame is dithered by ±1 grey level."""
    from napari_mespot.core.flow.methods import flow

    dither = np.random.default_rng(0).integers(-1, 2, size=frame.shape)
    dithered = np.clip(frame.astype(int) + dither, 0, 255).astype(np.uint8)
    return mean_epe(flow(ref, dithered, method)[None], flow(ref, frame, method)[None], inside_only=True)


def bench_method(method: str, frames: np.ndarray, devices: list[str]) -> dict:
    import torch

    from napari_mespot.core.flow.methods import flow
    from napari_mespot.core.flow.torch.ports import flow_batch

    ref, pairs = frames[0], frames[1 : 1 + BATCH[(method, "cpu")]]
    cv_ms, cv_flows = timed_ms(lambda: np.stack([flow(ref, f, method) for f in pairs]), lambda: None)
    row = {
        "pairs": len(pairs),
        "opencv_ms": cv_ms / len(pairs),
        "opencv_dither_epe": dither_sensitivity(ref, pairs[0], method),
    }
    for device in devices:
        sync = torch.cuda.synchronize if device == "cuda" else lambda: None
        single = lambda f, d=device: flow_batch(ref, f, method, device=d)[0]  # noqa: E731
        single(pairs[0])  # warm-up: kernels, caches, the CUDA context
        pair_ms, torch_flows = timed_ms(lambda s=single: np.stack([s(f) for f in pairs]), sync)
        batch = frames[1 : 1 + BATCH[(method, device)]]
        batch_ms, _ = timed_ms(lambda d=device, x=batch: flow_batch(ref, x, method, device=d), sync)
        row[device] = {
            "pair_ms": pair_ms / len(pairs),
            "batch": len(batch),
            "batch_ms_per_pair": batch_ms / len(batch),
            "epe": mean_epe(torch_flows, cv_flows),
            "epe_inside": mean_epe(torch_flows, cv_flows, inside_only=True),
        }
    return row


def table(result: dict) -> str:
    devices = result["devices"]
    head = "| method | region | OpenCV per pair | OpenCV vs OpenCV ±1 dither |"
    rule = "|---|---|---|---|"
    for d in devices:
        head += f" torch {d} per pair | torch {d} batched | {d} speed ÷ OpenCV | {d} vs OpenCV |"
        rule += "---|---|---|---|"
    lines = [head, rule]
    for key, row in result["rows"].items():
        method, region = key.split(" @ ")
        line = f"| {method} | {region} | {row['opencv_ms']:.1f} ms | {row['opencv_dither_epe']:.1e} px |"
        for d in devices:
            r = row[d]
            speed = (
                f"{row['opencv_ms'] / r['pair_ms']:.2f}× / {row['opencv_ms'] / r['batch_ms_per_pair']:.2f}×"
            )
            line += (
                f" {r['pair_ms']:.1f} ms | {r['batch_ms_per_pair']:.1f} ms/pair (B={r['batch']}) | "
                f"{speed} | {r['epe']:.1e} / {r['epe_inside']:.1e} px |"
            )
        lines.append(line)
    gpu = result["gpu"] or "none here, so the GPU path was not measured (no CUDA columns)"
    lines += [
        "",
        f"GPU: {gpu}. torch CPU threads: {result['torch_threads']}; OpenCV threads: "
        f"{result['opencv_threads']}. Real face crops, frame {REFERENCE} as the window reference "
        "against the frames after it; OpenCV's default parameters for each method (DIS: the medium "
        "preset, as the fast spotting preset uses). Per pair: mean "
        "over the same pairs for OpenCV and torch (the CPU batch's frames); batched: one reference "
        "against B frames in one call. 'speed ÷ OpenCV': OpenCV's time over torch's, per pair / "
        "batched (> 1: torch is faster). 'vs OpenCV': mean endpoint error between the two flows, "
        "whole frame / where the flow stays 2 px inside. 'OpenCV vs OpenCV ±1 dither': how far "
        "OpenCV's own flow moves (inside) when the first frame is dithered by one grey level; "
        "tests/test_flow_torch.py holds torch TV-L1 to that, Farneback (and tests/test_flow_torch_dis.py "
        "DIS) to 1e-3 px. On a shared "
        "CPU, torch's intra-op threads stall on OpenMP barriers whenever another process holds a "
        "core, so the CPU runs use one thread unless `--threads` says otherwise.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on the CPU")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    args = parser.parse_args()
    import cv2
    import torch

    if not VIDEO.exists():
        sys.exit(f"fixture video missing: {VIDEO}")
    torch.set_num_threads(args.threads)
    devices = ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]
    need = max(BATCH[(m, d)] for m in args.methods for d in devices)
    rows = {}
    for region, size in REGIONS.items():
        frames = region_frames(size, need)
        for method in args.methods:
            rows[f"{method} @ {region}"] = bench_method(method, frames, devices)
    result = {
        "devices": devices,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch_threads": torch.get_num_threads(),
        "opencv_threads": cv2.getNumThreads(),
        "rows": rows,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print(table(result))


if __name__ == "__main__":
    main()
