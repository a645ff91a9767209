"""``mespot spot VIDEO... --out OUT.csv``: spot ME and MaE intervals with the AU-prototype method.

Writes the native CSV (``video,onset,apex,offset,type,aus,score,source,status``; ``video`` is the
file stem, frames 0-based, offsets inclusive); ``--curves DIR`` also saves the per-AU matching
curves and thresholds of every video.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.spotters.base import SpotResult
    from ..core.spotters.prototype import PrototypeSettings

METHODS = ("prototype", "vovnet")


def add_spot_options(p: argparse.ArgumentParser) -> None:
    """The spotter settings every command that runs the prototype spotter accepts.

    A preset gives every value; each option given explicitly overrides its preset value.
    """
    from ..core.spotters.prototype import PRESETS

    g = p.add_argument_group("spotter settings (each overrides the preset)")
    g.add_argument(
        "--preset",
        choices=tuple(PRESETS),
        default="recommended",
        help="paper: the paper's settings; recommended (default): plus interval boundaries at the "
        "motion's start and end, and head-motion compensation",
    )
    g.add_argument(
        "--flow", choices=("farneback", "dis", "tvl1"), help="flow method (default: the prototypes')"
    )
    g.add_argument(
        "--head-motion",
        action=argparse.BooleanOptionalAction,
        help="subtract the head's motion (nose-bridge flow) before matching",
    )
    g.add_argument("--window", type=float, help="window length N in s (paper: 7)")
    g.add_argument("--radius", type=float, help="peak search radius m in s (paper: 1)")
    g.add_argument("--delta", type=float, help="fusion overlap δ (paper: 0.33)")
    g.add_argument("--cutoff", type=float, help="low-pass cutoff in Hz, 0 = off (5)")
    g.add_argument(
        "--boundaries",
        choices=("peak-points", "valleys"),
        help="interval = run of peak points (paper) or widened to the motion's start and end",
    )
    g.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="AU=VALUE",
        help="override θ of one AU, repeatable (e.g. --threshold 12=350)",
    )
    g.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where to compute (the prototype spotter runs on the CPU; cuda is accepted and reported)",
    )


#: Option name -> settings field.
_FIELDS = {
    "flow": "flow_method",
    "head_motion": "head_motion",
    "window": "window_s",
    "radius": "search_radius_s",
    "delta": "fusion_delta",
    "cutoff": "lowpass_cutoff_hz",
    "boundaries": "boundaries",
    "device": "device",
}


def spot_settings(args: argparse.Namespace) -> PrototypeSettings:
    """The preset's settings with every explicitly given option applied."""
    from dataclasses import replace

    from ..core.errors import MespotError
    from ..core.spotters.prototype import PRESETS

    thresholds = {}
    for item in args.threshold:
        try:
            au, value = item.split("=")
            thresholds[int(au.strip().upper().removeprefix("AU"))] = float(value)
        except ValueError:
            raise MespotError(f"--threshold expects AU=VALUE such as 12=350, got {item!r}") from None
    changes = {field: getattr(args, opt) for opt, field in _FIELDS.items() if getattr(args, opt) is not None}
    if thresholds:
        changes["thresholds"] = thresholds
    try:
        return replace(PRESETS[args.preset], **changes)
    except ValueError as exc:
        raise MespotError(str(exc)) from None


def load_prototypes(path: str | None):
    from ..core.spotters.prototype import PrototypeSet, default_prototypes

    return default_prototypes() if path is None else PrototypeSet.load(path)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spot",
        help="spot micro- and macro-expressions in videos",
        description="Spot facial micro-expressions (<= 0.5 s) and macro-expressions with the "
        "AU-prototype method (He et al., ECAI 2023): sliding 7 s windows, Farneback flow in the eye "
        "and mouth regions against each window's first frame, matching with per-AU motion "
        "prototypes, peak detection and fusion. Without --prototypes the shipped default set is "
        "used (learnt from synthetic faces, not from CASME II; see `mespot prototypes show`). "
        "--method vovnet runs the VoVNet multi-scale detector (Electronics 2023) with --checkpoint "
        "(default: the shipped compact model trained on synthetic faces).",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or image folders")
    p.add_argument(
        "--method", choices=METHODS, default="prototype", help="spotting method (default: prototype)"
    )
    p.add_argument("--prototypes", metavar="FILE", help="prototype file (default: the shipped set)")
    p.add_argument(
        "--checkpoint",
        metavar="FILE.pt",
        help="VoVNet checkpoint for --method vovnet (default: the shipped one)",
    )
    p.add_argument(
        "--out", required=True, metavar="OUT.csv", help="where to write the intervals (native CSV)"
    )
    p.add_argument("--curves", metavar="DIR", help="also save each video's matching curves here")
    p.add_argument("--fps", type=float, help="frame rate of image folders (video files know theirs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    add_spot_options(p)
    p.set_defaults(func=run)


def spot_file(
    path: str | Path, prototypes, settings, fps: float | None = None, quiet: bool = False
) -> SpotResult:
    """Open one video and run the prototype spotter on it with a progress bar."""
    from ..core.spotters.prototype import spot

    return spot_with(path, lambda video: spot(video, prototypes, settings), fps, quiet)


def spot_with(path: str | Path, spotter, fps: float | None = None, quiet: bool = False) -> SpotResult:
    """Open one video and drive ``spotter(video)`` (a spotting generator) with a progress bar."""
    from ..core.video import open_video
    from ._progress import drive

    video = open_video(path, fps=fps)
    try:
        return drive(spotter(video), Path(path).name, quiet=quiet)
    finally:
        video.close()


def vovnet_spotter(args: argparse.Namespace):
    """The VoVNet spotter of ``--checkpoint`` on ``--device``, as a function of the video."""
    from ..core.spotters import vovnet

    device_name = args.device or "auto"
    device = vovnet.resolve_device(device_name)
    checkpoint = (
        vovnet.load_checkpoint(args.checkpoint, device)
        if args.checkpoint
        else vovnet.default_checkpoint(device)
    )
    settings = vovnet.SpotSettings(device=device_name)
    return lambda video: vovnet.spot(video, checkpoint, settings)


def summary(result: SpotResult) -> str:
    """A few lines about one result: counts, skipped spans and notes."""
    n_me = sum(iv.type == "me" for iv in result.intervals)
    lines = [
        f"{result.video}: {len(result.intervals)} intervals ({n_me} ME, {len(result.intervals) - n_me} MaE) "
        f"in {result.n_frames} frames at {result.fps:g} fps, {len(result.windows)} windows"
    ]
    lines += [f"  skipped frames {s.start}-{s.end}: {s.reason}" for s in result.skipped]
    lines += [f"  note: {n}" for n in result.notes]
    return "\n".join(lines)


def intervals_table(result: SpotResult) -> str:
    """The intervals as aligned text rows (frames and seconds)."""
    rows = [f"  {'onset':>6} {'apex':>6} {'offset':>6} {'type':>4} {'seconds':>13}  {'aus':<10} score"]
    for iv in result.intervals:
        span = f"{iv.onset / result.fps:.2f}-{(iv.offset + 1) / result.fps:.2f}"
        aus = "+".join(str(a) for a in iv.aus)
        rows.append(
            f"  {iv.onset:>6} {iv.apex:>6} {iv.offset:>6} {iv.type:>4} {span:>13}  {aus:<10} {iv.score:.2f}"
        )
    return "\n".join(rows)


def write_results(results: list[SpotResult], out: str | Path, curves: str | Path | None = None) -> None:
    """The native CSV of all results and, with ``curves``, each video's curve files."""
    from ..core.labels import Labels, write_labels

    names = [r.video for r in results]
    if len(set(names)) != len(names):
        from ..core.errors import MespotError

        raise MespotError(f"two videos share a file stem ({', '.join(names)}); the CSV keys videos by stem")
    write_labels(out, Labels({r.video: r.video_intervals() for r in results}, "native-csv"), "native-csv")
    if curves is not None:
        for r in results:
            r.save_curves(curves)


def run(args: argparse.Namespace) -> int:
    if args.method == "vovnet":
        spotter = vovnet_spotter(args)
    else:
        from ..core.spotters.prototype import spot

        prototypes, settings = load_prototypes(args.prototypes), spot_settings(args)

        def spotter(video):
            return spot(video, prototypes, settings)

    results = []
    for path in args.videos:
        result = spot_with(path, spotter, args.fps, args.quiet)
        results.append(result)
        if not args.quiet:
            print(summary(result))
    write_results(results, args.out, args.curves)
    if not args.quiet:
        print(f"intervals: {args.out}" + (f"; curves: {args.curves}" if args.curves else ""))
    return 0
