"""``mespot reproduce prototype-paper|loso``: run a whole evaluation protocol on dataset roots.

For users who have the (licensed) datasets: every number of the run is printed as the papers'
tables and written with the predictions, the per-fold thresholds and the settings into
``--out``. An interrupted run resumes from ``--out`` at the first unfinished fold.
"""

from __future__ import annotations

import argparse

from napari_mespot.commands._options import NON_NEGATIVE_INT, POSITIVE, POSITIVE_INT
from napari_mespot.commands.eval import add_label_options


def _common(p: argparse.ArgumentParser) -> None:
    from napari_mespot.commands.spot import add_spot_options

    p.add_argument("--out", required=True, metavar="DIR", help="output folder (an earlier run there resumes)")
    p.add_argument(
        "--matching",
        choices=("one-to-one", "megc2020"),
        default="one-to-one",
        help="MEGC matching mode of the scores (default one-to-one)",
    )
    p.add_argument(
        "--min-count",
        type=POSITIVE_INT,
        default=10,
        help="fewest clips an AU needs to get a prototype (10, the paper)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_label_options(p)
    add_spot_options(p)


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.plugins import spotters

    p = sub.add_parser(
        "reproduce",
        help="run a whole evaluation protocol on dataset roots",
        description="Run an evaluation protocol end to end on dataset folders and print the scores "
        "like the papers' tables. Thresholds and models are always chosen on training subjects only.",
    )
    protocols = p.add_subparsers(dest="protocol", metavar="PROTOCOL", required=True)

    paper = protocols.add_parser(
        "prototype-paper",
        help="the AU-prototype paper: prototypes from CASME II, spotting and scoring on CAS(ME)²",
        description="He et al. (ECAI 2023): prototypes learnt on all CASME II clips (AUs seen in at "
        "least --min-count clips), thresholds chosen by leave-one-subject-out over CAS(ME)² (calibrated "
        "on the other subjects' videos), every CAS(ME)² video spotted once and scored with the MEGC "
        "metric; the paper's published numbers are printed beside ours. The spotter runs with the paper "
        "preset unless --preset recommended or single options say otherwise.",
    )
    paper.add_argument(
        "--casme2", required=True, metavar="ROOT", help="CASME II root (subNN/EPxx_yy/img<n>.jpg)"
    )
    paper.add_argument(
        "--casme2-coding", metavar="XLSX", help="CASME II coding workbook (default: found in ROOT)"
    )
    paper.add_argument(
        "--cas-me2", required=True, metavar="ROOT", help="CAS(ME)² root (rawpic/sNN/NN_XXXX*/)"
    )
    paper.add_argument(
        "--cas-me2-labels", metavar="XLSX", help="CAS(ME)² code_final workbook (default: found)"
    )
    _common(paper)
    paper.set_defaults(func=run_paper, preset="paper")

    loso = protocols.add_parser(
        "loso",
        help="leave-one-subject-out of a trainable spotter on one dataset",
        description="For every subject: fit the method on the other subjects' labelled videos (for the "
        "prototype method: learn the prototypes and calibrate the thresholds), spot the subject's "
        "videos; score all predictions together. A plugin's spotter (no training step) spots every "
        "subject with its fixed --model and --set settings.",
    )
    loso.add_argument(
        "--dataset", required=True, choices=("cas-me2", "samm", "casme2"), help="dataset layout"
    )
    loso.add_argument("--root", required=True, metavar="ROOT", help="dataset root")
    loso.add_argument("--labels", metavar="FILE", help="label workbook (default: found in ROOT)")
    loso.add_argument(
        "--method",
        choices=tuple(spotters()),
        default="prototype",
        help="spotting method (default: prototype)",
    )
    loso.add_argument(
        "--model", metavar="FILE", help="a plugin method's fixed model file (default: its shipped one)"
    )
    _common(loso)
    _vovnet_options(loso)
    loso.set_defaults(func=run_loso)

    vovnet = protocols.add_parser(
        "vovnet",
        help="the VoVNet paper: leave-one-subject-out on CAS(ME)² or SAMM-LV, Table 4 beside ours",
        description="The Electronics 2023 VoVNet spotter's protocol: for every subject, train on the "
        "other subjects (validation, epoch and thresholds inside those folds), spot the subject's "
        "videos, score all together with the MEGC metric; the paper's published F1 (Table 4, or "
        "Table 5's ablation with --no-flow) is printed beside ours.",
    )
    vovnet.add_argument("--dataset", required=True, choices=("cas-me2", "samm"), help="dataset layout")
    vovnet.add_argument("--root", required=True, metavar="ROOT", help="dataset root")
    vovnet.add_argument("--labels", metavar="FILE", help="label workbook (default: found in ROOT)")
    _common(vovnet)
    _vovnet_options(vovnet)
    vovnet.set_defaults(func=run_vovnet, method="vovnet")


def _vovnet_options(p: argparse.ArgumentParser) -> None:
    """Training options of ``--method vovnet`` (its flow method is ``--flow``, default tvl1)."""
    g = p.add_argument_group("VoVNet training (with --method vovnet; defaults: the paper's)")
    g.add_argument("--epochs", type=POSITIVE_INT, default=30, help="epochs per fold (30)")
    g.add_argument(
        "--batch-size", type=POSITIVE_INT, default=32, help="windows per batch (32, paper on CAS(ME)²)"
    )
    g.add_argument("--lr", type=POSITIVE, default=0.005, help="Adam learning rate (0.005, paper)")
    g.add_argument("--train-window", type=POSITIVE_INT, default=128, help="frames per training window (128)")
    g.add_argument(
        "--train-stride", type=NON_NEGATIVE_INT, default=0, help="frames between training windows (window/2)"
    )
    g.add_argument(
        "--val-subjects",
        type=NON_NEGATIVE_INT,
        default=1,
        help="training subjects held out for validation (1)",
    )
    g.add_argument("--seed", type=int, default=0, help="random seed (0)")
    g.add_argument(
        "--input-size", type=POSITIVE_INT, default=128, help="face crop side fed to the network (128)"
    )
    g.add_argument("--no-flow", action="store_true", help="face crops only (the paper's Table 5 ablation)")
    g.add_argument("--small", action="store_true", help="the compact model (1/8 of Table 1-2 widths)")
    g.add_argument(
        "--cache-dir", metavar="DIR", help="cache of face crops and flow (default: the user cache)"
    )


def _vovnet_method(args: argparse.Namespace):
    import dataclasses

    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.reproduce.vovnet_method import VoVNetMethod
    from napari_mespot.core.spotters.vovnet import SMALL_MODEL, DataSettings, ModelConfig, TrainSettings

    try:
        data = DataSettings(
            input_size=args.input_size, flow=not args.no_flow, flow_method=args.flow or "tvl1"
        )
        config = dataclasses.replace(SMALL_MODEL if args.small else ModelConfig(), in_channels=data.channels)
        settings = TrainSettings(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            window=args.train_window,
            window_stride=args.train_stride or max(1, args.train_window // 2),
            val_subjects=args.val_subjects,
            seed=args.seed,
            device=args.device or "auto",
        )
    except ValueError as exc:
        raise MespotError(str(exc)) from None
    return VoVNetMethod(config, data, settings, cache_dir=args.cache_dir)


#: The methods whose adapters learn per fold; any other registered spotter runs with a fixed model.
TRAINABLE = ("prototype", "vovnet")


def _fixed_method(args: argparse.Namespace):
    """A registered spotter without a training step, with ``--model`` and its settings."""
    from napari_mespot.commands.spot import model_path, spot_settings
    from napari_mespot.core.reproduce import FixedModelMethod
    from napari_mespot.plugins import get_spotter

    spotter = get_spotter(args.method)
    return FixedModelMethod(args.method, spotter, spot_settings(args, spotter), model_path(args, spotter))


def _settings(args: argparse.Namespace):
    from napari_mespot.commands.spot import spot_settings
    from napari_mespot.core.errors import MespotError

    if args.threshold:
        raise MespotError(
            "reproduce chooses the thresholds on the training subjects; --threshold is not accepted"
        )
    if args.min_count < 1:
        raise MespotError(f"--min-count must be at least 1, got {args.min_count}")
    return spot_settings(args)


def _report(outcome, quiet: bool) -> int:
    print(outcome.table)
    print(
        f"\nwritten to {outcome.paths['report'].parent}: " + ", ".join(p.name for p in outcome.paths.values())
    )
    if outcome.run.resumed and not quiet:
        print(f"resumed: folds {', '.join(outcome.run.resumed)} were read back from the earlier run")
    return 0


def run_paper(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.commands.eval import quirk_options
    from napari_mespot.core.atomic import check_output_folder
    from napari_mespot.core.reproduce import prototype_paper

    check_output_folder(args.out)  # before any work: an unwritable DIR is one line
    gen = prototype_paper(
        args.casme2,
        args.cas_me2,
        args.out,
        casme2_coding=args.casme2_coding,
        cas_me2_labels=args.cas_me2_labels,
        settings=_settings(args),
        min_count=args.min_count,
        learn_flow=args.flow or "farneback",
        matching=args.matching,
        quirks=quirk_options(args),
    )
    return _report(drive(gen, "prototype-paper", args.quiet), args.quiet)


def run_loso(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.commands.eval import quirk_options
    from napari_mespot.core.atomic import check_output_folder
    from napari_mespot.core.reproduce import LearntPrototypes, discover, loso

    check_output_folder(args.out)  # before any work: an unwritable DIR is one line
    settings = _settings(args)
    quirks = quirk_options(args)
    dataset = discover(args.dataset, args.root, args.labels, quirks)
    if args.method not in TRAINABLE:
        method = _fixed_method(args)
    elif args.method == "vovnet":
        method = _vovnet_method(args)
    else:
        method = LearntPrototypes(
            settings,
            min_count=args.min_count,
            flow_method=args.flow or "farneback",
            head_motion=settings.head_motion != "off",
        )
    gen = loso(dataset, method, args.out, matching=args.matching, config={"quirks": args.quirk})
    return _report(drive(gen, "loso", args.quiet), args.quiet)


def run_vovnet(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.commands.eval import quirk_options
    from napari_mespot.core.atomic import check_output_folder
    from napari_mespot.core.reproduce import discover, loso, paper_vovnet

    check_output_folder(args.out)  # before any work: an unwritable DIR is one line
    dataset = discover(args.dataset, args.root, args.labels, quirk_options(args))
    gen = loso(
        dataset,
        _vovnet_method(args),
        args.out,
        matching=args.matching,
        config={"quirks": args.quirk},
        paper=paper_vovnet(args.dataset, flow=not args.no_flow),
        protocol="vovnet",
    )
    return _report(drive(gen, "vovnet", args.quiet), args.quiet)
