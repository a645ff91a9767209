"""``mespot prototypes learn|calibrate|show``: make, tune and inspect AU-prototype files.

- ``learn`` averages onset→apex flows per AU (paper eq. 18) from CASME II clips
  (``--casme2 ROOT --coding XLSX``) or from synthetic expressions (``--synthetic SEED``).
- ``calibrate`` chooses each AU's peak threshold on labelled *training* videos and stores it in
  the file (never calibrate on the videos you evaluate on).
- ``show`` prints what a file holds: AUs, regions, clip counts, thresholds, provenance.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from napari_mespot.commands._options import POSITIVE, POSITIVE_INT, add_force_option
from napari_mespot.commands.spot import add_spot_options, load_prototypes, spot_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prototypes",
        help="learn, calibrate or inspect AU-prototype files",
        description="Manage the AU prototypes of the prototype spotter (He et al., ECAI 2023).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    learn = actions.add_parser(
        "learn",
        help="learn prototypes from labelled clips (eq. 18)",
        description="Average the onset->apex flow of every labelled clip per AU, in the AU's region "
        "(eye: brows and lids, mouth: lips and chin). Only AUs seen in at least --min-count clips "
        "get a prototype. The file still needs thresholds: run `mespot prototypes calibrate`.",
    )
    src = learn.add_mutually_exclusive_group(required=True)
    src.add_argument("--casme2", metavar="ROOT", help="CASME II root holding subNN/<clip>/img<n>.jpg")
    src.add_argument(
        "--synthetic", type=int, metavar="SEED", help="learn from synthetic expressions of this seed"
    )
    src.add_argument(
        "--sessions",
        nargs="+",
        metavar="SESSION",
        help="learn from the corrections in review sessions (<video>.mespot.json): kept intervals "
        "with an apex and AUs; AUs with fewer than --min-count clips keep the --base prototype; "
        "the thresholds are then calibrated on the sessions' videos",
    )
    learn.add_argument("--base", metavar="FILE.npz", help="base prototypes for --sessions (default: shipped)")
    learn.add_argument("--coding", metavar="XLSX", help="CASME II coding workbook (with --casme2)")
    learn.add_argument("--fps", type=POSITIVE, default=200.0, help="frame rate of the CASME II clips (200)")
    learn.add_argument(
        "--count", type=POSITIVE_INT, default=20, help="synthetic videos to draw clips from (20)"
    )
    learn.add_argument(
        "--min-count", type=POSITIVE_INT, default=10, help="fewest clips an AU needs (10, as the paper)"
    )
    learn.add_argument(
        "--flow", choices=("farneback", "dis", "tvl1"), default="farneback", help="flow method"
    )
    learn.add_argument(
        "--flow-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="flow method parameter, e.g. --flow-param preset=fast for dis (repeatable); stored "
        "with the prototypes, which spotting then uses",
    )
    learn.add_argument("--head-motion", action="store_true", help="subtract head motion from the apex flows")
    learn.add_argument("--out", required=True, metavar="FILE.npz", help="prototype file to write")
    learn.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    add_force_option(learn, "FILE.npz")
    learn.set_defaults(func=run_learn)

    cal = actions.add_parser(
        "calibrate",
        help="choose per-AU thresholds on labelled training videos",
        description="Run the matching on labelled training videos and choose each AU's threshold "
        "theta_j to best separate its labelled expressions from motion outside any expression "
        "(per-AU F1). Use training videos only: thresholds chosen on test videos overstate results.",
    )
    cal.add_argument("prototypes", metavar="FILE.npz", help="prototype file to calibrate")
    cal.add_argument(
        "videos", nargs="+", metavar="VIDEO", help="training videos (file stems must match --gt)"
    )
    cal.add_argument("--gt", required=True, metavar="LABELS", help="their ground truth (any readable format)")
    cal.add_argument("--fps", type=POSITIVE, help="frame rate of image folders")
    cal.add_argument("--out", required=True, metavar="FILE.npz", help="calibrated prototype file to write")
    cal.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    add_force_option(cal, "FILE.npz (never the prototype file calibrated)")
    add_spot_options(cal)
    cal.set_defaults(func=run_calibrate)

    show = actions.add_parser("show", help="print what a prototype file holds")
    show.add_argument(
        "file", nargs="?", metavar="FILE.npz", help="prototype file (default: the default preset's)"
    )
    show.set_defaults(func=run_show)


def run_learn(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.commands.flow import parse_params
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.flow.methods import get_method
    from napari_mespot.core.spotters.prototype import casme2_clips, learn_prototypes, synthetic_clips

    inputs = [args.base, args.coding, *(args.sessions or ())]
    check_output(args.out, inputs=inputs, force=args.force)
    flow_params = parse_params(args.flow_param)
    get_method(args.flow).check(flow_params)
    if args.sessions is not None:
        return learn_from_sessions(args)
    if args.casme2 is not None:
        if args.coding is None:
            raise MespotError("--casme2 needs --coding (the CASME II coding workbook)")
        clips, missing = casme2_clips(args.casme2, args.coding, args.fps)
        if not clips:
            raise MespotError(f"no usable clip under {args.casme2} ({len(missing)} rows without images)")
        provenance = {
            "source": "casme2",
            "root": str(Path(args.casme2).resolve()),
            "coding": Path(args.coding).name,
            "rows_without_clip": len(missing),
        }
    else:
        from napari_mespot.core.synth.generator import SynthSettings

        settings = SynthSettings()
        seeds = [(args.synthetic, k) for k in range(args.count)]
        clips = synthetic_clips(settings, seeds)
        missing = {}
        provenance = {
            "source": "synthetic",
            "seeds": f"({args.synthetic}, k) for k in 0..{args.count - 1}",
            "synth_settings": "SynthSettings() defaults",
        }
    gen = learn_prototypes(
        clips,
        min_count=args.min_count,
        flow_method=args.flow,
        flow_params=flow_params,
        head_motion=args.head_motion,
        provenance=provenance,
    )
    prototypes = drive(gen, "learn", quiet=args.quiet)
    prototypes.save(args.out)
    if not args.quiet:
        if missing:
            print(
                f"{len(missing)} labelled row(s) had no usable images (first: {next(iter(missing.items()))})"
            )
        print(prototypes.describe())
        print(f"written: {args.out} (thresholds not calibrated yet: mespot prototypes calibrate)")
    return 0


def learn_from_sessions(args: argparse.Namespace) -> int:
    """Retrain from annotators' corrections (the same as the Spot dock's Retrain button)."""
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.spotters.prototype import PrototypeSet
    from napari_mespot.jobs.retrain import open_corrected, retrain_prototypes

    base = PrototypeSet.load(args.base) if args.base else load_prototypes(None)
    videos = open_corrected(args.sessions)
    prototypes = drive(
        retrain_prototypes(videos, base, min_count=args.min_count), "retrain", quiet=args.quiet
    )
    prototypes.save(args.out)
    if not args.quiet:
        print(prototypes.describe())
        relearnt = prototypes.provenance.get("relearnt_aus") or "none"
        print(f"relearnt AUs: {relearnt}; thresholds calibrated on {len(videos)} corrected video(s)")
        print(f"written: {args.out}")
    return 0


def training_videos(paths: list[str], gt_path: str, fps: float | None):
    """Open the videos and pair each with its ground truth (by file stem)."""
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.spotters.prototype import TrainingVideo

    truth = read_labels(gt_path)
    out = []
    for path in paths:
        stem = Path(path).stem if Path(path).is_file() else Path(path).name
        if stem not in truth.videos:
            raise MespotError(f"{gt_path} has no labels for video {stem!r}")
        out.append(TrainingVideo(stem, open_video(path, fps=fps), truth.videos[stem].intervals))
    return out


def run_calibrate(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.spotters.prototype import calibrate

    check_output(args.out, inputs=[args.prototypes, args.gt, *args.videos], force=args.force)
    prototypes = load_prototypes(args.prototypes)
    videos = training_videos(args.videos, args.gt, args.fps)
    try:
        calibrated = drive(calibrate(videos, prototypes, spot_settings(args)), "calibrate", quiet=args.quiet)
    finally:
        for tv in videos:
            tv.video.close()
    calibrated.save(args.out)
    if not args.quiet:
        print(calibrated.describe())
        print(f"written: {args.out}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes_path
    from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET

    path = args.file or default_prototypes_path(PRESETS[DEFAULT_PRESET].shipped_prototypes)
    print(f"{path}")
    print(load_prototypes(str(path)).describe())
    return 0
