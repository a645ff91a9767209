"""``mespot synth OUTDIR``: synthetic face videos with exact ground truth.

Writes ``synth_<seed>_<k>.mp4`` for k = 0..count-1, ``ground_truth.csv`` (native CSV, video =
file stem) and ``distractors.csv`` (blinks, head shakes… that a spotter should not report).
"""

from __future__ import annotations

import argparse

from ..core.synth_settings import SynthSettings

_DEFAULTS = SynthSettings()


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x480, got {text!r}") from None
    return width, height


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "synth",
        help="write synthetic face videos with ground-truth ME/MaE intervals",
        description="Render synthetic face videos (a real photograph warped by landmark-anchored "
        "FACS-like motion) with micro- and macro-expressions at known frames, plus distractors "
        "that are not expressions (head drift and shakes, blinks, noise, flicker). The same seed "
        "always gives the same videos.",
    )
    p.add_argument("outdir", metavar="OUTDIR", help="folder to write into (created if missing)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--count", type=int, default=1, help="number of videos (default: 1)")
    p.add_argument("--duration", type=float, default=_DEFAULTS.duration_s,
                   help=f"seconds per video (default: {_DEFAULTS.duration_s:g})")
    p.add_argument("--fps", type=float, default=_DEFAULTS.fps,
                   help=f"frame rate (default: {_DEFAULTS.fps:g})")
    p.add_argument("--size", type=_size, default=_DEFAULTS.size, metavar="WxH",
                   help="frame size, even numbers (default: {}x{})".format(*_DEFAULTS.size))
    p.add_argument("--me", type=int, default=_DEFAULTS.n_me,
                   help=f"micro-expressions per video (default: {_DEFAULTS.n_me})")
    p.add_argument("--mae", type=int, default=_DEFAULTS.n_mae,
                   help=f"macro-expressions per video (default: {_DEFAULTS.n_mae})")
    p.add_argument("--noise", type=float, default=_DEFAULTS.noise_sigma,
                   help=f"sensor noise sigma in grey levels, 0 = none (default: {_DEFAULTS.noise_sigma:g})")
    p.add_argument("--no-head-shakes", action="store_true", help="no quick head shakes")
    p.add_argument("--no-drift", action="store_true", help="no slow head drift")
    p.add_argument("--no-blinks", action="store_true", help="no blinks")
    p.add_argument("--no-flicker", action="store_true", help="no brightness flicker")
    p.add_argument("--crf", type=int, default=20, help="H.264 quality, lower is better (default: 20)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> SynthSettings:
    return SynthSettings(
        duration_s=args.duration,
        fps=args.fps,
        size=args.size,
        n_me=args.me,
        n_mae=args.mae,
        noise_sigma=args.noise,
        head_shakes=not args.no_head_shakes,
        head_drift=not args.no_drift,
        blinks=not args.no_blinks,
        flicker=not args.no_flicker,
    )


def run(args: argparse.Namespace) -> int:
    from ..core.synth import GROUND_TRUTH_CSV, SynthError, write_synthetic_dataset
    from ._progress import drive

    if not 0 <= args.crf <= 51:
        raise SynthError(f"--crf must lie in 0..51, got {args.crf}")
    settings = settings_from_args(args)
    results = drive(write_synthetic_dataset(args.outdir, settings, args.seed, args.count, crf=args.crf),
                    "synth", quiet=args.quiet)
    if not args.quiet:
        for r in results:
            n_me = sum(iv.type == "me" for iv in r.intervals)
            print(f"{r.path}  {r.n_frames} frames, {n_me} ME, {len(r.intervals) - n_me} MaE, "
                  f"{len(r.distractors)} distractors")
        print(f"ground truth: {results[0].path.parent / GROUND_TRUTH_CSV}")
    return 0
