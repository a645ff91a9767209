"""Contact sheets and landmark support signals used to annotate the real clips (see README.md).

    python tests/data/real/make_sheets.py VIDEO OUT_DIR [START STOP STEP MODE]

Without a range: one sheet of face crops every 8 frames plus ``signals.png``. With a range: one
sheet of ``MODE`` crops (``face``, ``upper`` = forehead/brows/eyes, ``lower`` = nose to chin or
``full``) for frames ``START:STOP:STEP``. Frames are 0-based indices of the project's reader, the
number is drawn on each tile. The signals only helped to find where to look; every label is a
visual judgement on the sheets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

# MediaPipe Face Mesh point sets that a crop is centred on (one box size per sheet)
REGIONS = {
    "face": list(range(468)),
    "upper": [10, 67, 297, 109, 338, 70, 105, 107, 336, 334, 300, 33, 133, 159, 145, 362, 263, 386, 374],
    "lower": [1, 61, 291, 0, 17, 13, 14, 152, 206, 426, 50, 280],
}


def load(video_path: str) -> tuple[np.ndarray, np.ndarray, float]:
    from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
    from napari_mespot.core.media.video import open_video

    video = open_video(video_path)
    frames = np.stack([video[i] for i in range(len(video))])
    gen = MediaPipeFaceMesh().detect(frames)
    while True:
        try:
            next(gen)
        except StopIteration as done:
            return frames, done.value.points.astype(np.float64), video.fps


def sheet(frames, points, idx, out, mode="face", cols=8, tile_w=220) -> None:
    half = None
    if mode != "full":
        pts = points[idx][:, REGIONS[mode]]
        half = np.nanmedian(pts.max(1) - pts.min(1), axis=0) * 0.575
    tiles = []
    for i in idx:
        f = frames[i]
        p = points[i, REGIONS[mode]] if half is not None else None
        if p is not None and np.isfinite(p).all():
            cx, cy = (p.min(0) + p.max(0)) / 2
            y0, x0 = max(int(cy - half[1]), 0), max(int(cx - half[0]), 0)
            f = f[y0 : int(cy + half[1]), x0 : int(cx + half[0])]
        h = max(1, round(f.shape[0] * tile_w / f.shape[1]))
        t = cv2.resize(f, (tile_w, h), interpolation=cv2.INTER_AREA)
        cv2.putText(t, str(i), (4, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.65, (255, 255, 0), 2)
        tiles.append(t)
    th, rows = max(t.shape[0] for t in tiles), -(-len(tiles) // cols)
    canvas = np.full((rows * (th + 2), cols * (tile_w + 2), 3), 255, np.uint8)
    for k, t in enumerate(tiles):
        r, c = divmod(k, cols)
        canvas[r * (th + 2) : r * (th + 2) + t.shape[0], c * (tile_w + 2) : c * (tile_w + 2) + tile_w] = t
    cv2.imwrite(str(out), cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))


def signals(points: np.ndarray) -> dict[str, np.ndarray]:
    """Roll-corrected distances over the outer-eye-corner distance: rough AU proxies."""
    left, right = points[:, 33], points[:, 263]
    iod = np.linalg.norm(right - left, axis=1)
    ang = np.arctan2(right[:, 1] - left[:, 1], right[:, 0] - left[:, 0])
    c, s = np.cos(-ang)[:, None], np.sin(-ang)[:, None]
    q = points - ((left + right) / 2)[:, None]
    q = np.stack([q[..., 0] * c - q[..., 1] * s, q[..., 0] * s + q[..., 1] * c], -1) / iod[:, None, None]
    y = q[..., 1]

    def dist(a: int, b: int) -> np.ndarray:
        return np.linalg.norm(q[:, a] - q[:, b], axis=1)

    return {
        "mouth width (AU12/20)": dist(61, 291),
        "corner lift (AU12+, AU15-)": (y[:, 13] + y[:, 14]) / 2 - (y[:, 61] + y[:, 291]) / 2,
        "mouth open (AU25/26)": dist(13, 14),
        "eye opening (AU5+, AU7/43-)": (dist(159, 145) + dist(386, 374)) / 2,
        "brow height (AU1/2+, AU4-)": -(y[:, 105] + y[:, 334]) / 2,
    }


def plot_signals(sig: dict[str, np.ndarray], out: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(sig), 1, figsize=(16, 2 * len(sig)), sharex=True)
    for ax, (name, v) in zip(axes, sig.items(), strict=True):
        ax.plot(v, lw=1)
        ax.set_ylabel(name, fontsize=8, rotation=0, ha="right")
        ax.set_xticks(np.arange(0, len(v), 20))
        ax.grid(alpha=0.4)
    axes[-1].set_xlabel("frame (0-based)")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=80)


def main(argv: list[str]) -> None:
    video, out_dir = argv[0], Path(argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    frames, points, fps = load(video)
    stem = Path(video).name
    if len(argv) >= 5:
        start, stop, step = map(int, argv[2:5])
        mode = argv[5] if len(argv) > 5 else "face"
        sheet(
            frames,
            points,
            list(range(start, min(stop, len(frames)), step)),
            out_dir / f"{stem}_{mode}_{start}_{stop}_{step}.png",
            mode,
        )
        return
    sheet(frames, points, list(range(0, len(frames), 8)), out_dir / f"{stem}_face_every8.png", "face", 8, 160)
    plot_signals(signals(points), out_dir / f"{stem}_signals.png", f"{stem} ({fps:.3f} fps)")


if __name__ == "__main__":
    main(sys.argv[1:])
