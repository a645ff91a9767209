"""``mespot spot VIDEO... --out OUT.csv``: spot ME and MaE intervals with a registered spotter.

``--method`` is any spotter of the plugin registry (:func:`napari_mespot.plugins.spotters`; the
built-ins are ``prototype``, the default, and ``vovnet``): its settings start from the method's
default preset, its model from ``--model`` (or the method's shipped one). Writes the native CSV
(``video,onset,apex,offset,type,aus,score,source,status``; ``video`` is the file stem, frames
0-based, offsets inclusive); ``--curves DIR`` also saves each video's curves and thresholds.

Every video is opened and named, and every output checked (the policy of
:func:`napari_mespot.core.atomic.check_output`), before any video is spotted; a video that fails
while being spotted, or of which no frame could be analysed, is listed with its reason, the
others' intervals are written, and the exit code is 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from napari_mespot.core.spotters.base import SpotResult, Spotter

#: The method-specific spellings of ``--model``: each is accepted for a method whose model
#: is called so (``Spotter.model_label``).
MODEL_OPTIONS = ("prototypes", "checkpoint")


def add_spot_options(p: argparse.ArgumentParser) -> None:
    """The spotter settings every command that runs a spotter accepts.

    A preset gives every value; each option given explicitly overrides its preset value. An
    option the chosen method's settings have no field for is refused, not ignored.
    """
    from napari_mespot.commands._options import NON_NEGATIVE, POSITIVE, number
    from napari_mespot.core.face.head_motion import HEAD_MOTION_MODES
    from napari_mespot.core.spotters.prototype import PRESETS
    from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET

    g = p.add_argument_group("spotter settings (each overrides the preset)")
    g.add_argument(
        "--preset",
        metavar="NAME",
        help=f"one of the method's presets (prototype: {', '.join(PRESETS)}; default {DEFAULT_PRESET}; a "
        "plugin's are checked when it runs). prototype: paper: the paper's settings, its thresholds "
        "calibrated under them; recommended: plus interval boundaries at the motion's start and end, "
        "head-motion compensation and no spotting in unreliable spans (a hand over the face...); "
        "fast: recommended with the shipped DIS-flow prototypes (several times faster); robust (the "
        "default): fast with each curve in units of its video's noise floor and relative "
        "thresholds, so they hold on footage unlike the training videos",
    )
    g.add_argument(
        "--flow",
        choices=("farneback", "dis", "tvl1"),
        help="flow method; it must be the prototypes' (the default): other prototypes are refused",
    )
    g.add_argument(
        "--head-motion",
        nargs="?",
        const="translation",
        choices=HEAD_MOTION_MODES,
        help="remove the head's motion before matching: translation (the nose-bridge flow; the "
        "flag alone, as before) or similarity (rotation, scale and translation from the rigid "
        "landmarks, then the nose bridge; the recommended preset's); off: none",
    )
    g.add_argument(
        "--no-head-motion",
        dest="head_motion",
        action="store_const",
        const="off",
        help="the same as --head-motion off",
    )
    g.add_argument("--window", type=POSITIVE, help="window length N in s (paper: 7)")
    g.add_argument("--radius", type=POSITIVE, help="peak search radius m in s (paper: 1)")
    g.add_argument(
        "--delta", type=number(0, 1, high_open=True), help="fusion overlap δ in [0, 1) (paper: 0.33)"
    )
    g.add_argument(
        "--cutoff",
        type=NON_NEGATIVE,
        help="low-pass cutoff in Hz, below the video's Nyquist frequency (fps/2); 0 = off (5)",
    )
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
        help="override θ of one AU, repeatable (e.g. --threshold 12=350; vovnet: me=0.4)",
    )
    g.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set any field of the method's settings dataclass, repeatable (e.g. --set nms_iou=0.5)",
    )
    g.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        help="where to compute (auto: the GPU when there is one; the prototype method's Farneback "
        "and TV-L1 flows run there through torch, DIS on the CPU)",
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


def _threshold_key(text: str) -> int | str:
    """An AU code (``12``, ``AU12``) as an int, any other key (a VoVNet class) as written."""
    code = text.strip().upper().removeprefix("AU")
    return int(code) if code.isdigit() else text.strip().lower()


def spot_settings(args: argparse.Namespace, spotter: Spotter | None = None):
    """The method's preset (its default when none is chosen) with every explicitly given option
    applied; ``spotter`` defaults to the prototype method."""
    from argparse import ArgumentTypeError
    from dataclasses import fields, replace

    from napari_mespot.commands._options import POSITIVE
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.spotters.base import settings_with

    spotter = spotter or _registered("prototype")
    thresholds = {}
    for item in args.threshold:
        try:
            key, value = item.split("=")
            thresholds[_threshold_key(key)] = POSITIVE(value)
        except (ValueError, ArgumentTypeError):
            raise MespotError(
                f"--threshold expects AU=VALUE with a finite VALUE > 0, such as 12=350, got {item!r}"
            ) from None
    changes = {field: getattr(args, opt) for opt, field in _FIELDS.items() if getattr(args, opt) is not None}
    if thresholds:
        changes["thresholds"] = thresholds
    known = {f.name for f in fields(spotter.settings)}
    refused = [opt for opt, field in _FIELDS.items() if field in changes and field not in known]
    refused += ["threshold"] if thresholds and "thresholds" not in known else []
    if refused:
        options = ", ".join(f"--{opt.replace('_', '-')}" for opt in refused)
        raise MespotError(f"{options}: not a setting of this method ({spotter.settings.__name__})")
    if args.preset and not spotter.presets:
        raise MespotError(f"--preset {args.preset}: this method has no presets")
    try:
        return settings_with(replace(spotter.base_settings(args.preset), **changes), args.set)
    except ValueError as exc:
        raise MespotError(str(exc)) from None


def _registered(name: str) -> Spotter:
    from napari_mespot.plugins import get_spotter

    return get_spotter(name)


def model_path(args: argparse.Namespace, spotter: Spotter) -> str | None:
    """The model file of ``--model`` (or its method-specific spelling); ``None``: the default."""
    from napari_mespot.core.errors import MespotError

    given = {
        f"--{opt}": getattr(args, opt, None) for opt in ("model", *MODEL_OPTIONS) if getattr(args, opt, None)
    }
    if len(given) > 1:
        raise MespotError(f"give one model file, not {' and '.join(given)}")
    for opt in MODEL_OPTIONS:
        if f"--{opt}" in given and spotter.model_label != opt:
            raise MespotError(f"--{opt} is not the model of --method {args.method}; use --model")
    if given and not spotter.model_label:
        raise MespotError(f"--method {args.method} takes no model file")
    return next(iter(given.values()), None)


def load_prototypes(path: str | None):
    """The prototype file ``path``, else the shipped set of the default preset."""
    from napari_mespot.core.spotters.prototype import PRESETS, PrototypeSet, default_prototypes
    from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET

    if path is None:
        return default_prototypes(PRESETS[DEFAULT_PRESET].shipped_prototypes)
    return PrototypeSet.load(path)


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import POSITIVE, add_force_option
    from napari_mespot.plugins import spotters

    registered = spotters()
    p = sub.add_parser(
        "spot",
        help="spot micro- and macro-expressions in videos",
        description="Spot facial micro-expressions (<= 0.5 s) and macro-expressions. The default "
        "method is the AU-prototype method (He et al., ECAI 2023): sliding 7 s windows, Farneback "
        "flow in the eye and mouth regions against each window's first frame, matching with per-AU "
        "motion prototypes, peak detection and fusion; without a model file the shipped default set "
        "is used (learnt from synthetic faces, not from CASME II; see `mespot prototypes show`). "
        "--method vovnet runs the VoVNet multi-scale detector (Electronics 2023), by default with "
        "the shipped compact model trained on synthetic faces. Methods of installed plugins are "
        "listed under --method.",
    )
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files or image folders")
    p.add_argument(
        "--method",
        choices=tuple(registered),
        default="prototype",
        help="spotting method (default: prototype): "
        + "; ".join(f"{name}: {info.description}" for name, info in registered.items()),
    )
    p.add_argument(
        "--model", metavar="FILE", help="the method's model file (default: the method's shipped one)"
    )
    p.add_argument("--prototypes", metavar="FILE", help="prototype file, the same as --model for prototype")
    p.add_argument(
        "--checkpoint", metavar="FILE.pt", help="VoVNet checkpoint, the same as --model for vovnet"
    )
    p.add_argument(
        "--out", required=True, metavar="OUT.csv", help="where to write the intervals (native CSV)"
    )
    p.add_argument("--curves", metavar="DIR", help="also save each video's matching curves here")
    p.add_argument("--fps", type=POSITIVE, help="frame rate of image folders (video files know theirs)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    add_force_option(p, "OUT.csv and the curve files")
    add_spot_options(p)
    p.set_defaults(func=run)


def spot_file(
    path: str | Path, prototypes, settings, fps: float | None = None, quiet: bool = False
) -> SpotResult:
    """Open one video and run the prototype spotter on it with a progress bar."""
    from napari_mespot.core.spotters.prototype import spot

    return spot_with(path, lambda video: spot(video, prototypes, settings), fps, quiet)


def spot_with(path: str | Path, spotter, fps: float | None = None, quiet: bool = False) -> SpotResult:
    """Open one video and drive ``spotter(video)`` (a spotting generator) with a progress bar."""
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.media.video import open_video

    video = open_video(path, fps=fps)
    try:
        return drive(spotter(video), Path(path).name, quiet=quiet)
    finally:
        video.close()


def summary(result: SpotResult) -> str:
    """A few lines about one result: counts, skipped and unreliable spans, and notes."""
    n_me = sum(iv.type == "me" for iv in result.intervals)
    lines = [
        f"{result.video}: {len(result.intervals)} intervals ({n_me} ME, {len(result.intervals) - n_me} MaE) "
        f"in {result.n_frames} frames at {result.fps:g} fps, {len(result.windows)} windows"
    ]
    lines += [f"  skipped frames {s.start}-{s.end}: {s.reason}" for s in result.skipped]
    lines += [f"  unreliable frames {s.start}-{s.end}, not spotted: {s.reason}" for s in result.unreliable]
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


def video_name(path: str | Path) -> str:
    """The name a video's intervals are written under: its file stem (a folder's name)."""
    return Path(path).stem


def check_inputs(paths: list[str], fps: float | None) -> list[str]:
    """Every video opens and has a name of its own, checked before any is spotted; their names."""
    from collections import Counter

    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.media.video import open_video

    names = [video_name(p) for p in paths]
    twice = sorted(name for name, n in Counter(names).items() if n > 1)
    if twice:
        same = [p for p, name in zip(paths, names, strict=True) if name in twice]
        raise MespotError(
            f"videos {', '.join(same)} share the name {', '.join(twice)}; the CSV keys videos by file "
            "stem, so rename one or spot them separately"
        )
    for path in paths:
        open_video(path, fps=fps).close()
    return names


def check_outputs(
    out: str | Path, curves: str | Path | None, names: list[str], inputs: list, force: bool
) -> None:
    """The intervals file and every curve file may be written (the output policy), before any work."""
    from napari_mespot.core.atomic import check_output, check_output_folder

    check_output(out, inputs=inputs, force=force)
    if curves is not None:
        folder = check_output_folder(curves)
        for name in names:
            for suffix in (".curves.npz", ".curves.csv"):
                check_output(folder / f"{Path(name).name}{suffix}", inputs=inputs, force=force)


def write_results(results: list[SpotResult], out: str | Path, curves: str | Path | None = None) -> None:
    """The native CSV of all results and, with ``curves``, each video's curve files."""
    from napari_mespot.core.labels import Labels, write_labels

    write_labels(out, Labels({r.video: r.video_intervals() for r in results}, "native-csv"), "native-csv")
    if curves is not None:
        for r in results:
            r.save_curves(curves)


def spot_each(paths: list[str], spot_one, quiet: bool) -> tuple[list[SpotResult], dict[str, str]]:
    """Spot every video with ``spot_one(path)``; a video that fails (or of which nothing could be
    analysed) is recorded with its reason and the others go on."""
    import sys

    from napari_mespot.core.errors import MespotError

    results, failures = [], {}
    for path in paths:
        try:
            result = spot_one(path)
        except MespotError as exc:
            failures[str(path)] = str(exc)
            continue
        reason = result.unusable_reason()
        if reason:
            failures[str(path)] = reason
            continue
        results.append(result)
        if not quiet:
            print(summary(result))
        else:  # no summary, but what did not run as asked still reaches the user
            for note in result.notes:
                print(f"mespot spot: {Path(path).name}: note: {note}", file=sys.stderr)
    return results, failures


def run(args: argparse.Namespace) -> int:
    import sys

    spotter = _registered(args.method)
    settings = spot_settings(args, spotter)
    model_file = model_path(args, spotter)
    names = check_inputs(args.videos, args.fps)
    check_outputs(args.out, args.curves, names, [*args.videos, model_file], args.force)
    model = spotter.load_model(model_file, settings)  # once for every video

    def spot_one(path: str) -> SpotResult:
        return spot_with(path, lambda video: spotter.spot(video, model, settings), args.fps, args.quiet)

    results, failures = spot_each(args.videos, spot_one, args.quiet)
    if results:
        write_results(results, args.out, args.curves)
        if not args.quiet:
            print(f"intervals: {args.out}" + (f"; curves: {args.curves}" if args.curves else ""))
    for path, reason in failures.items():
        print(f"mespot spot: failed {path}: {reason}", file=sys.stderr)
    if failures:
        print(
            f"mespot spot: {len(failures)} of {len(args.videos)} video(s) failed"
            + (f"; the intervals of the others are in {args.out}" if results else "; nothing was written"),
            file=sys.stderr,
        )
    return 1 if failures else 0
