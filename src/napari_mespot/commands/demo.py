"""``mespot demo``: the whole job on the shipped sample clip, with its ground truth.

Spots the embedded synthetic clip (``synthetic_face.mp4``) with the default settings preset
(the one ``mespot spot`` uses) and its shipped prototypes, prints the intervals and the MEGC F1
(IoU ≥ 0.5, one-to-one) against the clip's ground truth, and writes the intervals, the curves
and the scores to an output folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import add_force_option

    p = sub.add_parser(
        "demo",
        help="spot the shipped sample clip and score it against its ground truth",
        description="Run the AU-prototype spotter on the sample clip shipped with the plugin (a "
        "synthetic face with known micro- and macro-expressions), print what it found and its F1 "
        "against the ground truth, and write the results.",
    )
    p.add_argument(
        "--out", default="mespot-demo", metavar="DIR", help="output folder (default: ./mespot-demo/)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_force_option(p, "the files of an earlier demo in DIR")
    p.set_defaults(func=run)


def score_lines(evaluation) -> list[str]:
    """The F1 table of an :class:`~napari_mespot.core.metrics.Evaluation` as text lines."""
    lines = [f"{'':8} {'GT':>4} {'pred':>5} {'TP':>4} {'F1':>6}"]
    for kind in ("me", "mae", "overall"):
        c = getattr(evaluation, kind)
        name = kind if kind == "overall" else kind.upper()
        lines.append(f"{name:8} {c.n_gt:>4} {c.n_pred:>5} {c.tp:>4} {c.f1:>6.3f}")
    return lines


def run(args: argparse.Namespace) -> int:
    from napari_mespot.commands.spot import check_outputs, intervals_table, spot_file, summary, write_results
    from napari_mespot.core.atomic import atomic_write_text, check_output
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.media.samples import SYNTHETIC_GROUND_TRUTH, SYNTHETIC_VIDEO, sample_path
    from napari_mespot.core.metrics import evaluate
    from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes, default_prototypes_path
    from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET
    from napari_mespot.core.synth.generator import prepare_outdir

    video = sample_path(SYNTHETIC_VIDEO)
    csv, scores = Path(args.out) / "intervals.csv", Path(args.out) / "scores.json"
    check_outputs(csv, Path(args.out) / "curves", [video.stem], [video], args.force)
    check_output(scores, force=args.force)
    out = prepare_outdir(args.out)
    truth = read_labels(sample_path(SYNTHETIC_GROUND_TRUTH))
    print(f"video: {video}")
    settings = PRESETS[DEFAULT_PRESET]
    shipped = settings.shipped_prototypes
    print(
        f"preset: {DEFAULT_PRESET}; prototypes: {default_prototypes_path(shipped)} (synthetic, see "
        "`mespot prototypes show`)"
    )
    result = spot_file(video, default_prototypes(shipped), settings, quiet=args.quiet)
    print(summary(result))
    print(intervals_table(result))
    evaluation = evaluate(truth.videos, {result.video: result.video_intervals()}, k=0.5)
    print("against the ground truth (IoU >= 0.5, one-to-one):")
    print("\n".join(score_lines(evaluation)))
    write_results([result], csv, out / "curves")
    atomic_write_text(scores, json.dumps(evaluation.to_dict(), indent=2) + "\n")
    print(f"written: {csv}, {out / 'curves'}/, {scores}")
    print("next: spot your own videos with `mespot spot VIDEO... --out OUT.csv`")
    return 0
