"""``mespot augment VIDEO... --gt LABELS --out DIR``: the same videos filmed differently.

Writes each video with the footage changes asked for (size, brightness, sensor noise, camera
drift, frame rate, compression; :mod:`napari_mespot.core.synth.augment`) as
``DIR/<stem><suffix>.mp4``, and their ground truth, carried to the new frame rate, into
``DIR/ground_truth.csv`` (added to the rows already there). Used to widen the training videos
of the prototype thresholds and to check that spotting does not depend on the footage.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "augment",
        help="write videos again with other footage (size, brightness, noise, drift, frame rate)",
        description="Write labelled videos again as if filmed differently, with their ground truth: "
        "for widening training videos and for checking that results do not depend on the footage.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files (stems as in --gt)")
    p.add_argument("--gt", required=True, metavar="LABELS", help="their ground truth (any readable format)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the videos and ground_truth.csv")
    p.add_argument("--suffix", default="", help="added to each file stem (default: none)")
    p.add_argument("--scale", type=float, help="resize by this factor (e.g. 1.5)")
    p.add_argument("--gain", type=float, default=1.0, help="multiply grey levels (brightness and contrast)")
    p.add_argument("--offset", type=float, default=0.0, help="add to grey levels after --gain")
    p.add_argument("--gamma", type=float, default=1.0, help="tone curve: below 1 brightens mid-tones")
    p.add_argument("--noise", type=float, help="add Gaussian sensor noise of this sigma (grey levels)")
    p.add_argument("--seed", type=int, default=0, help="noise seed; video k draws from seed·1000 + k (0)")
    p.add_argument(
        "--drift", type=float, nargs=2, metavar=("PX", "DEG"), help="hand-held camera drift (shift, rotation)"
    )
    p.add_argument("--fps", type=float, help="resample to this frame rate (frames repeated or dropped)")
    p.add_argument("--crf", type=int, default=20, help="H.264 quality, lower is better (20)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.intervals import VideoIntervals
    from napari_mespot.core.labels import Labels, read_labels, write_labels
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.synth import augment
    from napari_mespot.core.synth.generator import GROUND_TRUTH_CSV, prepare_outdir

    if not 0 <= args.crf <= 51:
        raise MespotError(f"--crf must lie in 0..51, got {args.crf}")
    if args.fps is not None and args.fps <= 0:
        raise MespotError(f"--fps must be positive, got {args.fps}")
    truth = read_labels(args.gt)
    out = prepare_outdir(args.out)
    table = out / GROUND_TRUTH_CSV
    rows = dict(read_labels(table).videos) if table.is_file() else {}
    for k, path in enumerate(args.videos):
        stem = Path(path).stem
        if stem not in truth.videos:
            raise MespotError(f"{args.gt} has no labels for video {stem!r}")
        changes = []
        if args.scale is not None:
            changes.append(augment.rescaled(args.scale))
        if (args.gain, args.offset, args.gamma) != (1.0, 0.0, 1.0):
            changes.append(augment.brightened(args.gain, args.offset, args.gamma))
        if args.drift is not None:
            with open_video(path) as video:
                fps = float(args.fps or video.fps)
            changes.append(augment.drifting(fps, *args.drift))
        if args.noise is not None:
            changes.append(augment.noisy(args.noise, args.seed * 1000 + k))
        dst = out / f"{stem}{args.suffix}.mp4"
        with open_video(path) as video:
            fps_in = float(video.fps)
        augment.write_augmented(path, dst, augment.chained(changes) if changes else None, args.fps, args.crf)
        intervals = truth.videos[stem].intervals
        if args.fps is not None:
            intervals = augment.resampled_intervals(intervals, fps_in, args.fps)
        rows[dst.stem] = VideoIntervals(dst.stem, tuple(intervals), float(args.fps or fps_in))
        print(f"{dst}")
    write_labels(table, Labels(rows, "native-csv"), "native-csv")
    print(f"ground truth: {table}")
    return 0
