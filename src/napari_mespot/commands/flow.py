"""``mespot flow VIDEO --ref R --frame F``: dense optical flow between two frames, saved as .npy."""

from __future__ import annotations

import argparse
import ast
import dataclasses
import io
import time
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import NON_NEGATIVE, NON_NEGATIVE_INT, POSITIVE, add_force_option

    p = sub.add_parser(
        "flow",
        help="optical flow from frame R to frame F (whole frame or a normalised eye/mouth region)",
        description="Compute dense optical flow from a reference frame to another frame and save "
        "it as an (H, W, 2) float32 .npy of (dx, dy) per reference pixel. With --region the "
        "regions are fitted on the reference frame's landmarks (the AU-prototype spotter's input).",
    )
    p.add_argument("video", metavar="VIDEO", help="video file or image folder")
    frame = {"type": NON_NEGATIVE_INT, "required": True}
    p.add_argument("--ref", **frame, metavar="R", help="reference frame (0-based)")
    p.add_argument("--frame", **frame, metavar="F", help="target frame (0-based)")
    p.add_argument("--method", default="farneback", help="farneback (default), tvl1, dis or a plugin's")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="method parameter, e.g. --param winsize=21 (repeatable)",
    )
    p.add_argument(
        "--region",
        choices=["frame", "eye", "mouth"],
        default="frame",
        help="whole frame (default) or a normalised region",
    )
    p.add_argument(
        "--gammas",
        nargs=4,
        type=NON_NEGATIVE,
        metavar=("G1", "G2", "G3", "G4"),
        help="region margins of eq. 9–12 in units of the corner distance (default 0.2 0.6 0.2 0.6)",
    )
    p.add_argument(
        "--head-motion",
        action="store_true",
        help="subtract the nose bridge's flow (regions only)",
    )
    p.add_argument("--landmarks", metavar="CSV", help="68-point landmark CSV instead of MediaPipe")
    p.add_argument("--out", required=True, metavar="FLOW.npy", help="where to write the flow")
    p.add_argument("--fps", type=POSITIVE, help="frame rate of image folders")
    add_force_option(p, "FLOW.npy")
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["winsize=21", "preset=fast"]`` → ``{"winsize": 21, "preset": "fast"}``."""
    from napari_mespot.core.errors import MespotError

    params: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise MespotError(f"--param {item!r}: expected NAME=VALUE")
        try:
            params[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[name] = value
    return params


def _reference_landmarks(video, ref: int, csv: str | None):
    """Landmarks for the reference frame only: the CSV's, or MediaPipe on that one frame."""
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.face.landmarks import FaceLandmarks, MediaPipeFaceMesh, read_landmark_csv

    if csv:
        full = read_landmark_csv(csv, n_frames=len(video))
        return FaceLandmarks(
            full.points[ref : ref + 1], full.confidence[ref : ref + 1], full.scheme, full.provider
        )
    detector = MediaPipeFaceMesh(static_image_mode=True)
    return drive(detector.detect(video[ref : ref + 1]), "landmarks", quiet=True)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from napari_mespot.core.atomic import atomic_write_bytes, check_output
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.face.regions import EYE, MOUTH, NOSE, NoFaceError, face_regions
    from napari_mespot.core.flow.methods import flow, get_method, magnitude
    from napari_mespot.core.flow.regions import region_flows_pair
    from napari_mespot.core.media.video import open_video

    params = parse_params(args.param)
    method = get_method(args.method)
    method.check(params)
    check_output(args.out, inputs=[args.video, args.landmarks], force=args.force)
    if (args.head_motion or args.gammas) and args.region == "frame":
        raise MespotError("--head-motion and --gammas need --region eye or mouth")
    with open_video(args.video, fps=args.fps) as video:
        for name in ("ref", "frame"):
            index = getattr(args, name)
            if not 0 <= index < len(video):
                raise MespotError(f"--{name} {index} is outside the video's frames 0–{len(video) - 1}")
        ref_img, img = video[args.ref], video[args.frame]
        start = time.perf_counter()
        if args.region == "frame":
            result = flow(ref_img, img, method, **params)
        else:
            landmarks = _reference_landmarks(video, args.ref, args.landmarks)
            if landmarks.at(0) is None:
                raise NoFaceError(args.ref)
            spec = EYE if args.region == "eye" else MOUTH
            if args.gammas:
                spec = dataclasses.replace(spec, gammas=tuple(args.gammas))
            fitted = face_regions(landmarks, 0, (spec, NOSE))
            nose = fitted.pop(NOSE.name) if args.head_motion else None
            region = {args.region: fitted[args.region]}
            result = region_flows_pair(ref_img, img, region, method, nose=nose, **params)[args.region]
        seconds = time.perf_counter() - start
    buf = io.BytesIO()
    np.save(buf, result.astype(np.float32))
    atomic_write_bytes(args.out, buf.getvalue())
    mag = magnitude(result)
    print(
        f"{args.out}: {method.name} flow {args.ref}→{args.frame} ({args.region}), shape {result.shape}, "
        f"mean |flow| {mag.mean():.3f} px, max {mag.max():.3f} px, {seconds * 1000:.1f} ms"
    )
    return 0
