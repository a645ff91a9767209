"""``mespot batch DATASET_ROOT|LIST --out DIR``: spot many videos on a dask cluster, resumably."""

from __future__ import annotations

import argparse
import json
import os


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import POSITIVE, POSITIVE_INT, add_force_option
    from napari_mespot.commands.spot import add_spot_options
    from napari_mespot.plugins import spotters

    p = sub.add_parser(
        "batch",
        help="spot every video of a folder or list on a dask.distributed cluster",
        description="Spot every video below a folder (video files and image-sequence folders) or "
        "listed in a text file, one dask task per video: on a local cluster by default, or on an "
        "existing scheduler (--scheduler tcp://host:8786; the workers need napari-mespot "
        "installed). Each video's intervals go to OUT/<video>.csv and every outcome, with the settings "
        "that made it, to OUT/manifest.json as it arrives; rerunning with the same settings skips the "
        "videos already done, with other settings it refuses (--force redoes them). A video that "
        "fails (unreadable, no usable face, too short) is reported with its reason and does not stop "
        "the others (exit code 1 if any failed).",
    )
    p.add_argument("source", metavar="DATASET_ROOT|LIST", help="folder of videos, or a text file of paths")
    p.add_argument("--out", required=True, metavar="DIR", help="where results and the manifest go")
    p.add_argument(
        "--method",
        choices=tuple(spotters()),
        default="prototype",
        help="spotting method (default: prototype); a plugin's method must be installed on the workers",
    )
    p.add_argument("--model", metavar="FILE", help="the method's model file (default: its shipped one)")
    p.add_argument("--prototypes", metavar="FILE", help="prototype file, the same as --model for prototype")
    p.add_argument("--fps", type=POSITIVE, help="frame rate of image folders")
    p.add_argument("--scheduler", metavar="ADDRESS", help="address of an existing dask scheduler")
    p.add_argument(
        "--workers",
        type=POSITIVE_INT,
        default=os.cpu_count() or 1,
        help="local workers, at least 1 (default: one per core)",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--verbose", action="store_true", help="also show dask's own log of the cluster")
    add_force_option(p, "the results in DIR made with other settings (they are redone)")
    add_spot_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.commands.spot import model_path, spot_settings
    from napari_mespot.jobs.batch import find_videos, report_dict, run_batch
    from napari_mespot.plugins import get_spotter

    spotter = get_spotter(args.method)
    settings = spot_settings(args, spotter)  # the same options, the same settings as `mespot spot`
    options = {"model": model_path(args, spotter), "fps": args.fps, "settings": settings}
    videos = find_videos(args.source)
    _dask_logging(args.verbose)
    gen = run_batch(
        videos,
        args.out,
        args.method,
        options,
        scheduler=args.scheduler,
        workers=args.workers,
        force=args.force,
        cluster_logs=args.verbose,
    )
    report = drive(gen, "batch")
    if args.json:
        print(json.dumps(report_dict(report), indent=1))
    else:
        print(
            f"{len(report.done)} done, {len(report.skipped)} already done, {len(report.failed)} failed "
            f"in {report.seconds:.1f} s; results in {report.out_dir}"
        )
        for name, error in report.failed.items():
            print(f"  failed {name}: {error}")
    return 1 if report.failed else 0


def _dask_logging(verbose: bool) -> None:
    """dask's log of its cluster (start, connections, shutdown tracebacks of closed comms) is for
    debugging the cluster, not a batch's outcome: shown with --verbose only."""
    import logging

    logger = logging.getLogger("distributed")
    if not verbose:
        logger.setLevel(logging.CRITICAL)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
