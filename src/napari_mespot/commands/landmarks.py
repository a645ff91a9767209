"""``mespot landmarks VIDEO``: find (or import) face landmarks, cache them, report faceless frames."""

from __future__ import annotations

import argparse
import json

import numpy as np


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import NON_NEGATIVE_INT, POSITIVE, UNIT

    p = sub.add_parser(
        "landmarks",
        help="compute and cache face landmarks; report frames without a face",
        description="Track the face through each video with MediaPipe Face Mesh (or import "
        "68-point landmarks from an OpenFace 2 / py-feat CSV) and cache the result next to the "
        "video, so the GUI and the spotters reopen it instantly. Frames without a face are listed.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video file or image folder")
    p.add_argument("--provider", default="mediapipe", help="landmark provider (default: mediapipe)")
    p.add_argument("--csv", metavar="CSV", help="import 68-point landmarks from this CSV (one video only)")
    p.add_argument(
        "--frame-base", type=NON_NEGATIVE_INT, help="first frame number in --csv (default: by format)"
    )
    p.add_argument("--min-detection-confidence", type=UNIT, default=0.5, metavar="P", help="in [0, 1] (0.5)")
    p.add_argument("--min-tracking-confidence", type=UNIT, default=0.5, metavar="P", help="in [0, 1] (0.5)")
    p.add_argument("--refine", action="store_true", help="MediaPipe's refined mesh (478 points, irises)")
    p.add_argument("--static", action="store_true", help="detect on every frame instead of tracking")
    p.add_argument("--no-cache", action="store_true", help="recompute even when a cache file is valid")
    p.add_argument("--fps", type=POSITIVE, help="frame rate of image folders")
    p.add_argument("--json", action="store_true", help="print one JSON object per video")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def frame_ranges(frames: np.ndarray) -> str:
    """Compact list of frame indices: ``3, 10–20, 31``."""
    if len(frames) == 0:
        return "none"
    breaks = np.flatnonzero(np.diff(frames) != 1)
    starts = np.r_[frames[0], frames[breaks + 1]]
    ends = np.r_[frames[breaks], frames[-1]]
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in zip(starts, ends, strict=True))


def _provider(args: argparse.Namespace):
    from napari_mespot.core.errors import MespotError
    from napari_mespot.plugins import get_landmark_provider

    if args.csv:
        if len(args.videos) > 1:
            raise MespotError("--csv holds the landmarks of one video; give one VIDEO")
        return get_landmark_provider("csv", path=args.csv, frame_base=args.frame_base)
    if args.provider != "mediapipe":
        return get_landmark_provider(args.provider)
    return get_landmark_provider(
        "mediapipe",
        static_image_mode=args.static,
        refine_landmarks=args.refine,
        min_detection_confidence=args.min_detection_confidence,
        min_tracking_confidence=args.min_tracking_confidence,
    )


def run(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.face.cache import cache_file, landmarks_for_video
    from napari_mespot.core.media.video import open_video

    provider = _provider(args)
    for path in args.videos:
        with open_video(path, fps=args.fps) as video:
            lm = drive(
                landmarks_for_video(video, provider, use_cache=not args.no_cache),
                f"landmarks {video.path.name}",
                quiet=args.quiet,
            )
            missing = lm.missing_frames()
            cache = cache_file(video, provider)
            report = {
                "path": str(video.path),
                "frames": len(lm),
                "with_face": len(lm) - len(missing),
                "without_face": len(missing),
                "frames_without_face": missing.tolist(),
                "provider": lm.provider,
                "scheme": lm.scheme,
                "cache": str(cache) if cache else None,
            }
        if args.json:
            print(json.dumps(report))
            continue
        print(f"{report['path']}: {report['frames']} frames, {report['with_face']} with a face")
        print(f"  without a face: {frame_ranges(missing)}")
        if cache:
            print(f"  cache: {cache}")
    return 0
