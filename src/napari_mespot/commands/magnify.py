"""``mespot magnify VIDEO --from F --to G --out CLIP``: a clip with its facial motion magnified."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import (
        NON_NEGATIVE_INT,
        POSITIVE,
        POSITIVE_INT,
        add_force_option,
    )

    p = sub.add_parser(
        "magnify",
        help="write frames F..G of a video with their small motions magnified (Eulerian, linear)",
        description="Magnify the motion in frames F to G (inclusive) of VIDEO, so that a 1-px movement "
        "becomes visible, and write the clip to OUT. The motion in the band LOW..HIGH Hz comes out FACTOR "
        "times as large (structure finer than about 16 px somewhat less). --aligned cuts out the face and "
        "holds the head still first (landmarks from the cache, else found on the range), so that head "
        "motion is not magnified. OUT is never the input video, and an existing OUT is replaced only "
        "with --force.",
    )
    p.add_argument("video", metavar="VIDEO", help="video file or image folder")
    frame = {"type": NON_NEGATIVE_INT, "required": True}
    p.add_argument("--from", dest="start", **frame, metavar="F", help="first frame")
    p.add_argument("--to", dest="stop", **frame, metavar="G", help="last frame (inclusive)")
    p.add_argument("--out", required=True, metavar="CLIP", help="video file to write (.mp4, .mkv, .avi, …)")
    p.add_argument("--factor", type=POSITIVE, default=10.0, help="how many times larger the motion gets (10)")
    p.add_argument("--low", type=POSITIVE, default=0.5, metavar="HZ", help="low edge of the band (0.5 Hz)")
    p.add_argument("--high", type=POSITIVE, default=5.0, metavar="HZ", help="high edge of the band (5 Hz)")
    p.add_argument("--levels", type=POSITIVE_INT, default=5, help="Laplacian pyramid levels (5)")
    p.add_argument("--aligned", action="store_true", help="magnify the aligned face, not the whole frame")
    p.add_argument("--side-by-side", action="store_true", help="the original on the left, magnified right")
    p.add_argument("--slow", type=POSITIVE, default=1.0, metavar="N", help="play the clip N times slower (1)")
    add_force_option(p, "CLIP")
    p.add_argument("--fps", type=POSITIVE, help="frame rate of image folders")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def check_clip(out: Path, video_path: Path, force: bool) -> None:
    """OUT is a video file name, and may be written under the output policy (never the input
    video, an existing file only with ``force``)."""
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.media.video import VIDEO_EXTENSIONS

    if out.suffix.lower() not in VIDEO_EXTENSIONS:
        raise MespotError(f"{out}: give a video file name to write (.mp4, .mkv, .avi, …)")
    check_output(out, inputs=[video_path], force=force)


def run(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.face.align import DEFAULT_SIZE, aligned_frames
    from napari_mespot.core.face.magnified import face_warps
    from napari_mespot.core.media.magnify import MagnifySettings, write_magnified
    from napari_mespot.core.media.video import open_video
    from napari_mespot.plugins import get_landmark_provider

    out = Path(args.out)
    check_clip(out, Path(args.video), args.force)
    settings = MagnifySettings(factor=args.factor, low_hz=args.low, high_hz=args.high, levels=args.levels)
    with open_video(args.video, fps=args.fps) as video:
        if not 0 <= args.start <= args.stop < len(video):
            raise MespotError(
                f"--from {args.start} --to {args.stop}: give 0 <= F <= G < {len(video)} (the video's frames)"
            )
        stop = args.stop + 1
        frames = video.iter_frames(args.start, stop)
        if args.aligned:  # landmarks from the cache, else found on the range
            warps = face_warps(video, get_landmark_provider("mediapipe"), args.start, stop)
            frames = aligned_frames(frames, drive(warps, "landmarks", quiet=args.quiet), DEFAULT_SIZE)
        job = write_magnified(
            out,
            frames,
            stop - args.start,
            video.fps,
            settings,
            side_by_side=args.side_by_side,
            slow=args.slow,
        )
        written = drive(job, "magnify", quiet=args.quiet)
    notes = [
        *(["aligned face"] if args.aligned else []),
        *(["side by side"] if args.side_by_side else []),
        *([f"{args.slow:g}× slower"] if args.slow != 1 else []),
    ]
    print(
        f"wrote {out}: frames {args.start}–{args.stop} ({written}) with their {args.low:g}–{args.high:g} Hz "
        f"motion magnified ×{args.factor:g}" + "".join(f", {note}" for note in notes)
    )
    return 0
