"""``mespot synth OUTDIR``: synthetic face videos with exact ground truth.

Writes ``synth_<seed>_<k>.mp4`` for k = 0..count-1, ``ground_truth.csv`` (native CSV, video =
file stem) and ``distractors.csv`` (blinks, head shakes… that a spotter should not report).
``--generator warped`` uses the second, independently designed generator
(:mod:`napari_mespot.core.synth.warped`): ``warped_<seed>_<k>.mp4``, the same two files plus
``unreliable.csv`` (hand occlusions) and ``videos.csv``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from napari_mespot.core.synth.settings import SynthSettings

if TYPE_CHECKING:
    from napari_mespot.core.synth.generator import SynthResult

_DEFAULTS = SynthSettings()
_CRF = 20
#: Options that shape the output; ``--sample`` has fixed values for all of them.
_SHAPING = ("seed", "count", "duration", "fps", "size", "me", "mae", "noise", "no_head_shakes",
            "no_drift", "no_blinks", "no_flicker", "crf", "vary", "stagger")
GENERATORS = ("face", "warped")
#: Options of the first generator only.
_FACE_ONLY = ("noise", "no_head_shakes", "no_drift", "no_blinks", "no_flicker", "sample", "vary", "stagger")


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    return width, height


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import (
        NON_NEGATIVE,
        NON_NEGATIVE_INT,
        POSITIVE,
        add_force_option,
    )

    p = sub.add_parser(
        "synth",
        help="write synthetic face videos with ground-truth ME/MaE intervals",
        description="Render synthetic face videos (a real photograph warped by landmark-anchored "
        "FACS-like motion) with micro- and macro-expressions at known frames, plus distractors "
        "that are not expressions (head drift and shakes, blinks, noise, flicker). With --generator "
        "warped: faces morphed from real portraits, thin-plate-spline action units, talking, a hand "
        "over the face, lighting changes and compression levels. The same seed always gives the "
        "same videos.",
    )
    p.add_argument("outdir", metavar="OUTDIR", help="folder to write into (created if missing)")
    p.add_argument("--generator", choices=GENERATORS, default="face",
                   help="face (default): the astronaut photograph with Gaussian motion fields; warped: "
                   "morphed real faces, thin-plate-spline action units, talking, hands, lighting and "
                   "compression (a second generator, for cross-domain validation)")
    p.add_argument("--seed", type=int, help="random seed (default: 0)")
    p.add_argument("--count", type=int, help="number of videos (default: 1)")
    p.add_argument("--duration", type=POSITIVE, help=f"seconds per video (default: {_DEFAULTS.duration_s:g})")
    p.add_argument("--fps", type=POSITIVE, help=f"frame rate (default: {_DEFAULTS.fps:g})")
    p.add_argument("--size", type=_size, metavar="WxH",
                   help="frame size, even numbers (default: {}x{})".format(*_DEFAULTS.size))
    p.add_argument("--me", type=NON_NEGATIVE_INT,
                   help=f"micro-expressions per video (default: {_DEFAULTS.n_me})")
    p.add_argument("--mae", type=NON_NEGATIVE_INT,
                   help=f"macro-expressions per video (default: {_DEFAULTS.n_mae})")
    p.add_argument("--noise", type=NON_NEGATIVE,
                   help=f"sensor noise sigma in grey levels, 0 = none (default: {_DEFAULTS.noise_sigma:g})")
    p.add_argument("--stagger", type=NON_NEGATIVE, metavar="SHARE",
                   help="each AU of a several-AU expression but one starts up to SHARE of the "
                   "expression's length after its onset and ends up to SHARE before its offset, "
                   "below 0.5 (default: 0, one time course for all its AUs)")
    p.add_argument("--no-head-shakes", action="store_true", help="no quick head shakes")
    p.add_argument("--no-drift", action="store_true", help="no slow head drift")
    p.add_argument("--no-blinks", action="store_true", help="no blinks")
    p.add_argument("--no-flicker", action="store_true", help="no brightness flicker")
    p.add_argument("--crf", type=int, help=f"H.264 quality, lower is better (default: {_CRF}; "
                   "warped: drawn per video in 18..32)")
    p.add_argument("--vary", action="store_true",
                   help="the varied training mix: each video gets its own resolution, face size, "
                   "expression strength, head motion, blinks, noise, then camera framing and motion, "
                   "colour, lighting, blur and compression, all drawn from the seed (files "
                   "varied_<seed>_<k>.mp4 and variations.json; core/synth/varied.py)")
    p.add_argument("--sample", action="store_true",
                   help="write the sample clip shipped with the plugin (synthetic_face.mp4 and "
                   "synthetic_face.gt.csv, fixed settings and seed) instead of a dataset")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    add_force_option(p, "files of the same names in OUTDIR")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> SynthSettings:
    """The settings the options ask for; an option left out keeps the SynthSettings default."""
    given = {
        "duration_s": args.duration,
        "fps": args.fps,
        "size": args.size,
        "n_me": args.me,
        "n_mae": args.mae,
        "noise_sigma": args.noise,
        "au_stagger": args.stagger,
    }
    return SynthSettings(
        **{k: v for k, v in given.items() if v is not None},
        head_shakes=not args.no_head_shakes,
        head_drift=not args.no_drift,
        blinks=not args.no_blinks,
        flicker=not args.no_flicker,
    )


def run(args: argparse.Namespace) -> int:
    from napari_mespot.core.synth.generator import (
        DISTRACTORS_CSV,
        GROUND_TRUTH_CSV,
        SAMPLE_NAME,
        SynthError,
        dataset_video_name,
    )
    from napari_mespot.core.synth.varied import VARIATIONS_JSON, varied_video_name

    if args.crf is not None and not 0 <= args.crf <= 51:
        raise SynthError(f"--crf must lie in 0..51, got {args.crf}")
    if args.stagger is not None and not args.stagger < 0.5:
        raise SynthError(f"--stagger is a share of an expression's length below 0.5, got {args.stagger:g}")
    if args.generator == "warped":
        clashing = [f"--{d.replace('_', '-')}" for d in _FACE_ONLY if getattr(args, d) not in (None, False)]
        if clashing:
            raise SynthError(f"{', '.join(clashing)} belong(s) to the face generator, not --generator warped")
        return _run_warped(args)
    if args.sample:
        clashing = [f"--{d.replace('_', '-')}" for d in _SHAPING if getattr(args, d) not in (None, False)]
        if clashing:
            raise SynthError(f"--sample has fixed settings; drop {', '.join(clashing)}")
        _check_outputs(args, [f"{SAMPLE_NAME}.mp4", f"{SAMPLE_NAME}.gt.csv"])
        return _run_sample(args)
    if args.vary:
        drawn = [f"--{d}" for d in ("size", "noise", "crf") if getattr(args, d) is not None]
        if drawn:
            raise SynthError(f"--vary draws {', '.join(drawn)} per video; drop them")
    seed = 0 if args.seed is None else args.seed
    name = varied_video_name if args.vary else dataset_video_name
    videos = [f"{name(seed, k)}.mp4" for k in range(1 if args.count is None else args.count)]
    extra = [VARIATIONS_JSON] if args.vary else []
    _check_outputs(args, [*videos, GROUND_TRUTH_CSV, DISTRACTORS_CSV, *extra])
    return _run_dataset(args, None if args.vary else (_CRF if args.crf is None else args.crf))


def _check_outputs(args: argparse.Namespace, names: list[str]) -> None:
    """Every file the run writes may be written (the output policy), before anything is rendered."""
    from napari_mespot.core.atomic import check_output, check_output_folder

    folder = check_output_folder(args.outdir)
    for name in names:
        check_output(folder / name, force=args.force)


def _run_dataset(args: argparse.Namespace, crf: int | None) -> int:
    """Write the dataset; ``crf`` None: the varied mix (each video draws its own)."""
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.synth.generator import GROUND_TRUTH_CSV, write_synthetic_dataset
    from napari_mespot.core.synth.varied import write_varied_dataset

    seed = 0 if args.seed is None else args.seed
    count = 1 if args.count is None else args.count
    settings = settings_from_args(args)
    if crf is None:
        gen = write_varied_dataset(args.outdir, settings, seed, count)
    else:
        gen = write_synthetic_dataset(args.outdir, settings, seed, count, crf=crf)
    results = drive(gen, "synth", quiet=args.quiet)
    if not args.quiet:
        for r in results:
            _summary(r)
        print(f"ground truth: {results[0].path.parent / GROUND_TRUTH_CSV}")
    return 0


def warped_settings_from_args(args: argparse.Namespace):
    """The warped generator's settings the options ask for (WarpedSettings defaults otherwise)."""
    from napari_mespot.core.synth.warped import WarpedSettings

    given = {"duration_s": args.duration, "fps": args.fps, "size": args.size, "n_me": args.me,
             "n_mae": args.mae, "crf": args.crf}
    return WarpedSettings(**{k: v for k, v in given.items() if v is not None})


def _run_warped(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.synth.warped import GROUND_TRUTH_CSV, write_warped_dataset
    from napari_mespot.core.synth.warped.dataset import (
        DISTRACTORS_CSV,
        UNRELIABLE_CSV,
        VIDEOS_CSV,
        video_name,
    )

    seed = 0 if args.seed is None else args.seed
    count = 1 if args.count is None else args.count
    videos = [f"{video_name(seed, k)}.mp4" for k in range(count)]
    _check_outputs(args, [*videos, GROUND_TRUTH_CSV, DISTRACTORS_CSV, UNRELIABLE_CSV, VIDEOS_CSV])
    results = drive(write_warped_dataset(args.outdir, warped_settings_from_args(args), seed, count), "synth",
                    quiet=args.quiet)
    if not args.quiet:
        for r in results:
            n_me = sum(iv.type == "me" for iv in r.intervals)
            print(f"{r.path}  {r.n_frames} frames, {n_me} ME, {len(r.intervals) - n_me} MaE, "
                  f"{len(r.distractors)} distractors, {len(r.occlusions)} hand occlusions; {r.identity}")
        print(f"ground truth: {results[0].path.parent / GROUND_TRUTH_CSV}")
    return 0


def _run_sample(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.synth.generator import write_sample

    result = drive(write_sample(args.outdir), "synth", quiet=args.quiet)
    if not args.quiet:
        _summary(result)
    return 0


def _summary(result: SynthResult) -> None:
    n_me = sum(iv.type == "me" for iv in result.intervals)
    print(f"{result.path}  {result.n_frames} frames, {n_me} ME, {len(result.intervals) - n_me} MaE, "
          f"{len(result.distractors)} distractors")
