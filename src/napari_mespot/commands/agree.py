"""``mespot agree A B``: how far two annotators of the same videos agree (F1, boundaries, κ)."""

from __future__ import annotations

import argparse
import sys

from napari_mespot.commands.eval import label_formats


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import add_force_option

    p = sub.add_parser(
        "agree",
        help="agreement between two annotators: matched F1, onset/offset differences, frame-level kappa",
        description="Compare two annotations of the same videos. A and B are label files in any readable "
        "format, or review sessions (a <video>.mespot.json sidecar, or a video whose sidecar is found) whose "
        "kept corrected intervals are used. Prints the one-to-one type-aware F1 at IoU >= K, the mean "
        "absolute onset and offset difference of the matched pairs in frames, Cohen's kappa over the frame "
        "labels {none, ME, MaE} per video and pooled, and every disagreement. Kappa needs each video's "
        "frame count: a session knows it; for label files give --frames, else the last labelled frame "
        "+ 1 is used (with a note).",
    )
    p.add_argument("a", metavar="A", help="the first annotator's label file, session or video")
    p.add_argument("b", metavar="B", help="the second annotator's label file, session or video")
    p.add_argument("--k", type=float, default=0.5, help="IoU for two intervals to match (default 0.5)")
    p.add_argument(
        "--frames",
        action="append",
        default=[],
        metavar="N|VIDEO=N",
        help="frame count of every video (N) or of one video (VIDEO=N, repeatable)",
    )
    formats = label_formats()
    p.add_argument(
        "--a-format", choices=formats, metavar="FORMAT", help="label format of A (default: detected)"
    )
    p.add_argument(
        "--b-format", choices=formats, metavar="FORMAT", help="label format of B (default: detected)"
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="PATH",
        help="print every number and disagreement as JSON instead of the summary (or write it to PATH)",
    )
    add_force_option(p, "the --json PATH")
    p.set_defaults(func=run)


def parse_frames(values: list[str]) -> tuple[dict[str, int], int | None]:
    """``--frames`` values as per-video counts and a count for every other video."""
    from napari_mespot.core.errors import MespotError

    per_video: dict[str, int] = {}
    default = None
    for value in values:
        video, sep, text = value.rpartition("=")
        try:
            count = int(text)
        except ValueError:
            count = 0
        if count <= 0 or (sep and not video):
            raise MespotError(f"--frames {value}: expected a positive frame count N or VIDEO=N")
        if sep:
            per_video[video] = count
        else:
            default = count
    return per_video, default


def run(args: argparse.Namespace) -> int:
    from napari_mespot.commands._report import emit
    from napari_mespot.core.agreement import agreement, check_common_videos, frame_counts, read_annotations
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.errors import MespotError

    if not 0 < args.k <= 1:  # NaN fails this too
        raise MespotError(f"--k must be in (0, 1], got {args.k}")
    if args.json not in (None, "-"):
        check_output(args.json, inputs=[args.a, args.b], force=args.force)
    per_video, default = parse_frames(args.frames)
    a = read_annotations(args.a, args.a_format)
    b = read_annotations(args.b, args.b_format)
    check_common_videos(a, b)
    counts = frame_counts(a, b, per_video, default)
    result = agreement(a.videos, b.videos, counts, args.k)
    report = {"a": str(a.path), "a_kind": a.kind, "b": str(b.path), "b_kind": b.kind, **result.to_dict()}
    emit(report, args.json, lambda: format_summary(result, a, b))
    guessed = [v.video for v in result.videos if v.frames_source == "last label"]
    if guessed:
        print(
            f"mespot agree: note: the frame count of {len(guessed)} video(s) is not known "
            f"({', '.join(guessed[:5])}{' …' if len(guessed) > 5 else ''}); kappa counted their frames only "
            "up to the last labelled one, leaving out the tail both call 'none' (pass --frames)",
            file=sys.stderr,
        )
    return 0


def _number(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_summary(result, a, b) -> str:
    """The agreement as a person reads it: the three numbers, a table per video, the disagreements."""
    counts = result.counts
    lines = [
        f"A: {a.path} ({a.kind}), {counts.n_gt} interval(s)",
        f"B: {b.path} ({b.kind}), {counts.n_pred} interval(s)",
        f"matched F1 (one-to-one, type-aware, IoU >= {result.k:g}): {counts.f1:.4f} ({counts.tp} pair(s))",
        f"mean |onset difference| {_number(result.onset_mae, 2)} frames, "
        f"mean |offset difference| {_number(result.offset_mae, 2)} frames (matched pairs)",
        f"frame-level Cohen's kappa over none/ME/MaE: {_number(result.kappa)} "
        f"(pooled over {len(result.videos)} video(s), {int(result.confusion.sum())} frames)",
        "",
        f"{'video':<24}{'frames':>8}{'A':>5}{'B':>5}{'pairs':>6}{'F1':>8}{'|on|':>7}{'|off|':>7}{'kappa':>8}",
    ]
    for v in result.videos:
        c = v.counts
        lines.append(
            f"{v.video:<24}{v.n_frames:>8d}{c.n_gt:>5d}{c.n_pred:>5d}{c.tp:>6d}{c.f1:>8.4f}"
            f"{_number(v.onset_mae, 1):>7}{_number(v.offset_mae, 1):>7}{_number(v.kappa, 3):>8}"
        )
    rows = [(v.video, d) for v in result.videos for d in v.disagreements]
    lines += ["", f"{len(rows)} disagreement(s)" + (":" if rows else "")]
    for video, d in rows:
        lines.append(f"  {video}: {_describe(d)}")
    return "\n".join(lines)


def _describe(d) -> str:
    from napari_mespot.core.intervals import TYPE_NAMES

    def span(iv) -> str:
        return f"{TYPE_NAMES[iv.type]} {iv.onset}–{iv.offset}"

    if d.kind == "only_a":
        return f"only A marks {span(d.a)}"
    if d.kind == "only_b":
        return f"only B marks {span(d.b)}"
    return f"typed differently: A {span(d.a)}, B {span(d.b)} (IoU {d.iou:.2f})"
