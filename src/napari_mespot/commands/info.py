"""``mespot info VIDEO``: what a video holds, read from its index without decoding it."""

from __future__ import annotations

import argparse
import json

import numpy as np


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import POSITIVE

    p = sub.add_parser(
        "info",
        help="frames, fps, size, duration, codec and keyframe interval of videos or image folders",
        description="Print what a video holds: frame count, frame rate, size, duration, codec "
        "and keyframe spacing. Nothing is decoded, so this is fast on long videos.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video file or image folder")
    p.add_argument("--fps", type=POSITIVE, help="frame rate of image folders (default: 30, with a warning)")
    p.add_argument("--json", action="store_true", help="print one JSON object per video")
    p.set_defaults(func=run)


def video_info(path: str, fps: float | None = None) -> dict:
    from napari_mespot.core.media.video import PyAVVideo, open_video

    with open_video(path, fps=fps) as video:
        n, height, width, _ = video.shape
        info = {
            "path": str(video.path),
            "frames": n,
            "fps": round(video.fps, 6),
            "fps_source": video.fps_source,
            "width": width,
            "height": height,
            "duration_s": round(video.duration, 6),
            "codec": video.codec,
            "content_hash": video.identity().content_hash[:16],
        }
        if isinstance(video, PyAVVideo):
            info["rotation"] = video.rotation
            gaps = np.diff(video.keyframe_indices)
            info["keyframes"] = len(video.keyframe_indices)
            info["keyframe_interval"] = {
                "mean": round(float(gaps.mean()), 2) if len(gaps) else n,
                "max": int(gaps.max()) if len(gaps) else n,
            }
            steps = np.diff(video.timestamps)
            info["variable_frame_rate"] = bool(
                len(steps) > 1 and steps.max() - steps.min() > 0.25 * steps.mean()
            )
        return info


def run(args: argparse.Namespace) -> int:
    for path in args.videos:
        info = video_info(path, args.fps)
        if args.json:
            print(json.dumps(info))
            continue
        print(info["path"])
        print(f"  frames      {info['frames']}")
        print(f"  fps         {info['fps']:.3f} ({info['fps_source']})")
        turned = f" (turned {info['rotation']}° as the file asks)" if info.get("rotation") else ""
        print(f"  size        {info['width']}×{info['height']}{turned}")
        print(f"  duration    {info['duration_s']:.2f} s")
        print(f"  codec       {info['codec']}")
        if "keyframe_interval" in info:
            gop = info["keyframe_interval"]
            spacing = f"every {gop['mean']:.1f} frames on average, max {gop['max']}"
            print(f"  keyframes   {info['keyframes']} ({spacing})")
            print(f"  frame rate  {'variable' if info['variable_frame_rate'] else 'constant'}")
    return 0
