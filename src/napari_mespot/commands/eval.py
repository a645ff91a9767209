"""``mespot eval --gt GT --pred PRED``: the MEGC spotting metric, printed like the papers' tables."""

from __future__ import annotations

import argparse
import dataclasses
import sys


def add_label_options(p: argparse.ArgumentParser) -> None:
    """Options shared by the commands that read dataset label files."""
    p.add_argument(
        "--quirk",
        action="append",
        default=[],
        metavar="NAME=CHOICE",
        help="repair of a known label-file defect, repeatable: offset_zero=apex|drop|error, "
        "onset_zero=first-frame|drop|error, apex_missing=none|drop|error, "
        "apex_outside=clear-apex|extend|drop|error, fractional=truncate|round|widen|error "
        "(defaults first, as the MEGC baseline; every repair is logged with its rows)",
    )


def label_formats(writable: bool = False) -> list[str]:
    """Names of the label formats (only those that can be written, with ``writable``)."""
    from napari_mespot.core.labels import FORMATS

    return [name for name, fmt in FORMATS.items() if not writable or fmt.writer is not None]


def quirk_options(args: argparse.Namespace):
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.labels import QuirkOptions

    try:
        return QuirkOptions.parse(args.quirk)
    except ValueError as exc:
        raise MespotError(str(exc)) from None


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import POSITIVE, add_force_option

    p = sub.add_parser(
        "eval",
        help="score spotted intervals against ground truth (MEGC F1 for ME, MaE and overall)",
        description="Score predictions against ground truth with the MEGC protocol: a prediction "
        "is a true positive when its IoU (inclusive frames) with a ground-truth interval of the same "
        "type is at least k; counts are summed over videos before precision, recall and F1. Both "
        "files may be in any readable label format (native CSV/JSON, MEGC CSV, CAS(ME)², SAMM-LV or "
        "CASME II workbooks), chosen by extension and content or by --gt-format/--pred-format.",
    )
    p.add_argument("--gt", required=True, metavar="GT", help="ground-truth label file")
    p.add_argument("--pred", required=True, metavar="PRED", help="predicted intervals")
    p.add_argument(
        "--k", type=float, default=0.5, help="IoU threshold for a true positive, in (0, 1] (default 0.5)"
    )
    p.add_argument(
        "--matching",
        choices=("one-to-one", "megc2020"),
        default="one-to-one",
        help="one-to-one: each interval used once, greedy by IoU (default); megc2020: the official "
        "MEGC 2020 scorer (TP = ground truths hit by at least one prediction)",
    )
    p.add_argument(
        "--type-by",
        choices=("type", "duration"),
        default="type",
        help="type predictions by their type column (default) or by duration (<= 0.5 s is ME)",
    )
    p.add_argument(
        "--fps", type=POSITIVE, help="frame rate for typing by duration (default: the ground truth's)"
    )
    formats = label_formats()
    p.add_argument(
        "--format",
        dest="both_format",
        choices=formats,
        metavar="FORMAT",
        help=f"format of both files: {', '.join(formats)}",
    )
    p.add_argument("--gt-format", choices=formats, metavar="FORMAT", help="format of GT (default: detected)")
    p.add_argument(
        "--pred-format", choices=formats, metavar="FORMAT", help="format of PRED (default: detected)"
    )
    p.add_argument("--per-video", action="store_true", help="also print the counts of every video")
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="print every number as JSON instead of the table (or write it to PATH)",
    )
    add_force_option(p, "the --json PATH")
    add_label_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from napari_mespot.commands._report import emit
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.metrics import DEFAULT_KS, sweep

    if not 0 < args.k <= 1:  # NaN fails this too
        raise MespotError(f"--k must be in (0, 1], got {args.k}")
    if args.json not in (None, "-"):
        check_output(args.json, inputs=[args.gt, args.pred], force=args.force)
    quirks = quirk_options(args)
    gt = read_labels(args.gt, args.gt_format or args.both_format, quirks=quirks, fps=args.fps)
    fps = args.fps or _common_fps(gt)
    pred = read_labels(args.pred, args.pred_format or args.both_format, quirks=quirks, fps=fps)
    ks = sorted({*DEFAULT_KS, args.k})
    try:
        results = sweep(gt.videos, pred.videos, ks, args.matching, type_by=args.type_by, fps=args.fps)
    except ValueError as exc:
        raise MespotError(f"{exc}; pass --fps") from None
    main = results[args.k]
    unknown = sorted(pred.videos.keys() - gt.videos.keys())
    report = {
        "gt": str(args.gt),
        "pred": str(args.pred),
        "gt_format": gt.format,
        "pred_format": pred.format,
        **main.to_dict(),
        "sweep": {
            f"{k:g}": {t: getattr(ev, t).to_dict() for t in ("me", "mae", "overall")}
            for k, ev in results.items()
        },
        "pred_videos_not_in_gt": unknown,
        "gt_repairs": [dataclasses.asdict(q) for q in gt.quirks],
    }
    emit(report, args.json, lambda: format_table(main, results, args.per_video))
    if main.matching == "megc2020" and any(getattr(main, t).fp < 0 for t in ("me", "mae")):
        print(
            "mespot eval: note: some predictions hit several ground-truth intervals; the official MEGC 2020 "
            "scorer counts each hit, which makes FP negative (precision or F1 may exceed 1)",
            file=sys.stderr,
        )
    if unknown:
        print(
            f"mespot eval: note: {len(unknown)} predicted video(s) not in the ground truth, counted as "
            f"false positives: {', '.join(unknown[:10])}{' …' if len(unknown) > 10 else ''}",
            file=sys.stderr,
        )
    return 0


def _common_fps(labels) -> float | None:
    rates = {vi.fps for vi in labels if vi.fps is not None}
    return rates.pop() if len(rates) == 1 else None


def format_table(main, results, per_video: bool = False) -> str:
    """The layout of the papers' Tables 3–5: rows of counts and scores, columns MaE, ME, overall."""
    cols = ("mae", "me", "overall")
    heads = ("MaE", "ME", "Overall")
    lines = [
        f"k = {main.k:g}, matching = {main.matching}, predictions typed by {main.type_by}",
        f"{'':<13}" + "".join(f"{h:>10}" for h in heads),
    ]
    counts = [getattr(main, c) for c in cols]
    for label, attr in (
        ("Total (GT)", "n_gt"),
        ("Predictions", "n_pred"),
        ("TP", "tp"),
        ("FP", "fp"),
        ("FN", "fn"),
    ):
        lines.append(f"{label:<13}" + "".join(f"{getattr(c, attr):>10d}" for c in counts))
    for label, attr in (("Precision", "precision"), ("Recall", "recall"), ("F1-score", "f1")):
        lines.append(f"{label:<13}" + "".join(f"{getattr(c, attr):>10.4f}" for c in counts))
    lines += ["", "F1-score by k", f"{'k':<13}" + "".join(f"{h:>10}" for h in heads)]
    for k, ev in results.items():
        lines.append(f"{k:<13g}" + "".join(f"{getattr(ev, c).f1:>10.4f}" for c in cols))
    if per_video:
        lines += ["", f"{'video':<24}{'TP':>6}{'FP':>6}{'FN':>6}{'F1':>9}   (overall, k = {main.k:g})"]
        for v in main.videos:
            o = v.overall
            lines.append(f"{v.video:<24}{o.tp:>6d}{o.fp:>6d}{o.fn:>6d}{o.f1:>9.4f}")
    return "\n".join(lines)
