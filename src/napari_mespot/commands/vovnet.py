"""``mespot vovnet train|eval|spot``: train, evaluate and run the VoVNet spotter.

A *labelled folder* is a folder holding ``ground_truth.csv`` (any readable label format can be
given with ``--labels``) and the videos it names (``<video>.mp4|avi|mov|mkv`` or a folder of
frames) — what ``mespot synth --count N`` writes. A video's subject (for leave-one-subject-out)
is the label file's subject column when it has one, else the video name without its trailing
``_<number>`` (``synth_11_000`` → ``synth_11``).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
from pathlib import Path

#: The fine-tuning defaults of ``core.spotters.vovnet.settings``, repeated here so the help can
#: say them without importing torch at start-up (a test keeps the two equal).
FINETUNE_EPOCHS, FINETUNE_LR = 10, 0.0005

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv")


def register(sub: argparse._SubParsersAction) -> None:
    from napari_mespot.commands._options import (
        NON_NEGATIVE_INT,
        POSITIVE,
        POSITIVE_INT,
        add_force_option,
        number,
    )

    p = sub.add_parser(
        "vovnet",
        help="train, evaluate or run the VoVNet spotter",
        description="The VoVNet multi-scale spotter (Electronics 2023): face crops + optical flow through "
        "a VoVNet backbone, a 1-D feature pyramid and anchor-free heads.",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    tr = actions.add_parser(
        "train",
        help="train a checkpoint on labelled folders or corrected sessions (or evaluate by LOSO)",
        description="Train on every video of the labelled folders and review sessions. Validation uses "
        "held-out *training* subjects (--val-subjects) to choose the epoch and the score thresholds. With "
        "--loso, one model per subject is trained on the others and the held-out subject is spotted; F1 is "
        "printed. --init CKPT fine-tunes that checkpoint: the network starts from its weights and keeps its "
        "architecture, input settings and window (giving a different one is an error). With --sessions the "
        "default is to fine-tune the shipped checkpoint (--from-scratch to train a new network): a handful "
        "of corrected videos is far too little to train the network from random weights, but enough to adapt "
        "a trained one. Fine-tuning defaults: "
        f"{FINETUNE_EPOCHS} epochs, lr {FINETUNE_LR} (a tenth of the paper's from-scratch 0.005), batch 8, "
        "a window every 1/8 window.",
    )
    _add_data_args(tr)
    tr.add_argument("--out", required=True, metavar="FILE.pt", help="checkpoint (or folder with --loso)")
    tr.add_argument("--loso", action="store_true", help="leave-one-subject-out evaluation")
    start = tr.add_mutually_exclusive_group()
    start.add_argument(
        "--init",
        metavar="CKPT.pt",
        help="fine-tune this checkpoint (default with --sessions: the shipped one)",
    )
    start.add_argument(
        "--from-scratch", action="store_true", help="train from random weights, also with --sessions"
    )
    tr.add_argument("--epochs", type=POSITIVE_INT, help=f"epochs (30; fine-tuning {FINETUNE_EPOCHS})")
    tr.add_argument(
        "--batch-size", type=POSITIVE_INT, help="windows per batch (32, paper on CAS(ME)²; fine-tuning 8)"
    )
    tr.add_argument(
        "--lr", type=POSITIVE, help=f"Adam learning rate (0.005, paper; fine-tuning {FINETUNE_LR})"
    )
    tr.add_argument(
        "--window", type=POSITIVE_INT, help="frames per training window (128; fine-tuning: the checkpoint's)"
    )
    tr.add_argument(
        "--window-stride", type=POSITIVE_INT, help="frames between windows (window/2; fine-tuning window/8)"
    )
    tr.add_argument(
        "--val-subjects",
        type=NON_NEGATIVE_INT,
        default=1,
        help="training subjects held out for validation (1)",
    )
    tr.add_argument("--seed", type=int, default=0, help="random seed (0)")
    tr.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    tr.add_argument(
        "--threads", type=NON_NEGATIVE_INT, default=0, help="CPU threads for torch (0: torch's default)"
    )
    inputs = tr.add_mutually_exclusive_group()
    inputs.add_argument(
        "--no-flow", action="store_true", help="face crops only (the paper's Table 5 ablation)"
    )
    inputs.add_argument(
        "--no-image",
        action="store_true",
        help="optical flow only, no face crop pixels: nothing of the training faces' identity, skin or "
        "lighting reaches the network",
    )
    tr.add_argument(
        "--flow-jitter",
        type=number(0, 10),
        help="multiply each training window's flow by a random factor in [1/(1+J), 1+J] (0)",
    )
    tr.add_argument(
        "--warp-jitter",
        action="store_true",
        help="turn, scale and shift each training window's crops a little (up to 10 degrees, 10%%, 6%%)",
    )
    tr.add_argument(
        "--head-motion",
        choices=("off", "similarity"),
        help="remove from each frame's crop flow the rotation, scale and shift that best explain it "
        "(similarity) or feed it as measured (off, the paper)",
    )
    tr.add_argument("--flow", choices=("tvl1", "dis", "farneback"), help="flow method (tvl1)")
    tr.add_argument("--flow-gap", type=POSITIVE_INT, help="flow from frame t-gap to t (1)")
    tr.add_argument(
        "--flow-size", type=NON_NEGATIVE_INT, help="crop side the flow is computed on (input size)"
    )
    tr.add_argument("--input-size", type=POSITIVE_INT, help="face crop side fed to the network (128)")
    tr.add_argument(
        "--image-norm",
        choices=("fixed", "video"),
        help="face crop grey levels: fixed (the same for every video) or standardised per video and "
        "colour channel over its face frames (fixed)",
    )
    tr.add_argument("--small", action="store_true", help="the compact model (1/8 of Table 1-2 widths)")
    tr.add_argument("--resume", action="store_true", help="continue an interrupted training")
    add_force_option(tr, "FILE.pt")
    tr.set_defaults(func=run_train)

    ev = actions.add_parser(
        "eval",
        help="spot labelled folders with a checkpoint and print the MEGC F1",
        description="Spot every video of the labelled folders with a checkpoint and score the result "
        "(IoU >= k, one-to-one matching). Use videos the checkpoint was not trained on.",
    )
    ev.add_argument("checkpoint", metavar="FILE.pt")
    _add_data_args(ev)
    ev.add_argument(
        "--k", type=number(0, 1, low_open=True), default=0.5, help="IoU threshold in (0, 1] (0.5)"
    )
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ev.add_argument("--pred", metavar="CSV", help="also write the predictions as native CSV")
    add_force_option(ev, "CSV")
    ev.set_defaults(func=run_eval)

    cal = actions.add_parser(
        "calibrate",
        help="choose a checkpoint's score thresholds on labelled validation videos",
        description="Spot the labelled folders with the checkpoint and write a copy of it (--out) that "
        "holds, per class, the score threshold with the best F1 on them. Use training or validation videos "
        "only: thresholds chosen on test videos overstate results.",
    )
    cal.add_argument("checkpoint", metavar="FILE.pt")
    _add_data_args(cal)
    cal.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    cal.add_argument(
        "--out", required=True, metavar="NEW.pt", help="the calibrated checkpoint (FILE.pt is kept as it is)"
    )
    add_force_option(cal, "NEW.pt")
    cal.set_defaults(func=run_calibrate)

    sp = actions.add_parser(
        "spot", help="spot one video", description="Spot one video and print its intervals."
    )
    sp.add_argument("video")
    sp.add_argument("--checkpoint", metavar="FILE.pt", help="checkpoint (default: the shipped one)")
    sp.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    sp.add_argument("--out", metavar="CSV", help="write the intervals as native CSV")
    sp.add_argument("--cache-dir", metavar="DIR", help="cache folder for face crops and flow")
    sp.add_argument("--quiet", action="store_true")
    add_force_option(sp, "CSV")
    sp.set_defaults(func=run_spot)


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "folders", nargs="*", metavar="FOLDER", help="labelled folders (ground_truth.csv + videos)"
    )
    p.add_argument(
        "--sessions",
        nargs="+",
        default=[],
        metavar="SESSION",
        help="also train on review sessions (<video>.mespot.json): each video with the intervals its "
        "annotator kept (accepted, edited, added); each video counts as its own subject",
    )
    p.add_argument("--labels", default="ground_truth.csv", help="label file name in each folder")
    p.add_argument("--cache-dir", metavar="DIR", help="cache folder for face crops and flow (user cache)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _video_path(folder: Path, name: str) -> Path:
    for ext in VIDEO_EXTENSIONS:
        if (folder / f"{name}{ext}").is_file():
            return folder / f"{name}{ext}"
    if (folder / name).is_dir():
        return folder / name
    from napari_mespot.core.errors import MespotError

    raise MespotError(
        f"{folder}: no video named {name} (looked for {', '.join(VIDEO_EXTENSIONS)} or a folder)"
    )


def labelled_videos(folders: list[str], labels_name: str) -> list:
    """Every labelled video of the folders, with its subject."""
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.labels import read_labels
    from napari_mespot.core.spotters.vovnet import LabelledVideo

    out = []
    for folder in map(Path, folders):
        path = folder / labels_name
        if not path.is_file():
            raise MespotError(f"{folder}: no label file {labels_name}")
        for vi in read_labels(path):
            subject = vi.subject or re.sub(r"_\d+$", "", vi.video)
            out.append(
                LabelledVideo(str(_video_path(folder, vi.video)), tuple(vi.intervals), subject, vi.video)
            )
    if not out:
        raise MespotError("the label files name no videos")
    return out


def session_videos(paths: list[str]) -> list:
    """The corrected videos of review sessions, as labelled videos (each its own subject)."""
    from napari_mespot.jobs.retrain import open_corrected, session_training_videos

    return session_training_videos(open_corrected(paths))


def training_videos(args: argparse.Namespace) -> list:
    from napari_mespot.core.errors import MespotError

    if not args.folders and not args.sessions:
        raise MespotError("give labelled folders, --sessions, or both")
    videos = labelled_videos(args.folders, args.labels) if args.folders else []
    return videos + session_videos(args.sessions)


def start_checkpoint(args: argparse.Namespace) -> str | None:
    """The checkpoint to fine-tune: ``--init``, else the shipped one for ``--sessions`` (unless
    ``--from-scratch``), else none (train from random weights)."""
    from napari_mespot.core.spotters.vovnet import default_checkpoint_path

    if args.init:
        return args.init
    if args.sessions and not args.from_scratch:
        return str(default_checkpoint_path())
    return None


def model_and_data(args: argparse.Namespace, base) -> tuple:
    """The architecture and input settings: the options given on top of the paper's defaults, or
    of ``base``'s when fine-tuning (where any difference is then reported as a conflict)."""
    from napari_mespot.core.spotters.vovnet import SMALL_MODEL, DataSettings, ModelConfig

    given = {"input_size": args.input_size, "flow_method": args.flow, "flow_gap": args.flow_gap}
    given.update(flow_size=args.flow_size, image_norm=args.image_norm, head_motion=args.head_motion)
    changes = {k: v for k, v in given.items() if v is not None}
    if args.no_flow:
        changes["flow"] = False
    if args.no_image:
        changes["image"] = False
    data = dataclasses.replace(base.data, **changes) if base else DataSettings(**changes)
    if args.small or base is None:
        config = dataclasses.replace(SMALL_MODEL if args.small else ModelConfig(), in_channels=data.channels)
    else:
        config = base.config
    return config, data


def train_settings(args: argparse.Namespace, base):
    """The options given on top of the paper's training settings, or of the fine-tuning ones."""
    from napari_mespot.core.spotters.vovnet import TrainSettings, finetune_settings

    given = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "window": args.window}
    given.update(window_stride=args.window_stride, flow_jitter=args.flow_jitter)
    if args.warp_jitter:
        given["warp_jitter"] = True
    changes = {k: v for k, v in given.items() if v is not None}
    changes.update(val_subjects=args.val_subjects, seed=args.seed, device=args.device, threads=args.threads)
    if base is not None:
        return finetune_settings(base.window, **changes)
    if "window" in changes and "window_stride" not in changes:
        changes["window_stride"] = max(1, changes["window"] // 2)
    return TrainSettings(**changes)


def run_train(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.atomic import check_output, check_output_folder
    from napari_mespot.core.errors import MespotError
    from napari_mespot.core.spotters.vovnet import load_checkpoint, loso, train
    from napari_mespot.jobs.retrain import open_corrected, retrain_vovnet

    if not args.folders and not args.sessions:
        raise MespotError("give labelled folders, --sessions, or both")
    init = start_checkpoint(args)
    if args.loso:
        check_output_folder(args.out)
    else:  # --resume continues the checkpoint it names
        check_output(args.out, inputs=[init, *args.sessions], force=args.force or args.resume)
    base = load_checkpoint(init) if init else None
    config, data = model_and_data(args, base)
    settings = train_settings(args, base)
    folder_videos = labelled_videos(args.folders, args.labels) if args.folders else []
    if args.loso:
        videos = folder_videos + session_videos(args.sessions)
        gen = loso(videos, args.out, config, data, settings, cache_dir=args.cache_dir, init=init)
        result = drive(gen, "LOSO", args.quiet)
        ev = result.evaluation
        print(f"LOSO over {len(result.folds)} subjects, {len(videos)} videos, IoU >= {ev.k}")
        print("| | MaE | ME | Overall |\n|---|---|---|---|")
        print(f"| F1 | {ev.mae.f1:.4f} | {ev.me.f1:.4f} | {ev.overall.f1:.4f} |")
        return 0
    options = {"cache_dir": args.cache_dir, "resume": args.resume}
    if args.sessions:
        sessions = open_corrected(args.sessions)
        gen = retrain_vovnet(
            sessions, args.out, init, settings, extra=folder_videos, config=config, data=data, **options
        )
    else:
        gen = train(folder_videos, args.out, config, data, settings, init=init, **options)
    result = drive(gen, "fine-tuning" if init else "training", args.quiet)
    print(training_summary(result))
    return 0


def training_summary(result) -> str:
    """One paragraph on what a training run wrote; with the starting point when fine-tuned."""
    last = result.history[-1]
    text = (
        f"wrote {result.checkpoint} (epoch {result.best_epoch} of {len(result.history)}; "
        f"final train loss {last['train_total']:.4f}, val loss {last['val_total']:.4f}; "
        f"thresholds ME {result.thresholds['me']:.2f} MaE {result.thresholds['mae']:.2f}); "
        f"loss curve {result.loss_plot}"
    )
    if result.init:
        kept = " (no epoch lowered it: the starting weights were kept)" if result.best_epoch == 0 else ""
        text += (
            f"\nfine-tuned from {result.init['checkpoint']} (sha256 {result.init['sha256'][:12]}…): "
            f"val loss {result.init['val_total']:.4f} before, {result.best_val_loss:.4f} kept{kept}"
        )
    return text


def run_eval(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.device import torch_device
    from napari_mespot.core.labels.native import write_native_csv
    from napari_mespot.core.metrics import evaluate
    from napari_mespot.core.spotters.vovnet import load_checkpoint, spot_videos

    if args.pred:
        check_output(args.pred, inputs=[args.checkpoint, *args.sessions], force=args.force)
    videos = training_videos(args)
    ckpt = load_checkpoint(args.checkpoint, torch_device(args.device, "VoVNet"))
    pred = drive(spot_videos(ckpt, videos, args.cache_dir, args.device), "spotting", args.quiet)
    ev = evaluate({v.video_name: list(v.intervals) for v in videos}, pred, k=args.k)
    print(f"{len(videos)} videos, IoU >= {args.k}")
    print("| | MaE | ME | Overall |\n|---|---|---|---|")
    print(f"| F1 | {ev.mae.f1:.4f} | {ev.me.f1:.4f} | {ev.overall.f1:.4f} |")
    if args.pred:
        write_native_csv(args.pred, pred)
    return 0


def run_calibrate(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.device import torch_device
    from napari_mespot.core.spotters.vovnet import load_checkpoint, save_checkpoint
    from napari_mespot.core.spotters.vovnet.timebase import on_timebase
    from napari_mespot.core.spotters.vovnet.train import choose_thresholds, load_features

    check_output(args.out, inputs=[args.checkpoint, *args.sessions], force=args.force)
    device = torch_device(args.device, "VoVNet")
    ckpt = load_checkpoint(args.checkpoint, device)
    videos, _ = on_timebase(training_videos(args), ckpt.fps)
    feats = drive(load_features(videos, ckpt.data, args.cache_dir, fps=ckpt.fps), "features", args.quiet)
    ckpt.thresholds = choose_thresholds(ckpt, feats, videos, device)
    ckpt.meta["calibrated_on"] = [v.video_name for v in videos]
    save_checkpoint(args.out, ckpt)
    print(f"{args.out}: thresholds ME {ckpt.thresholds['me']:.2f} MaE {ckpt.thresholds['mae']:.2f}")
    return 0


def run_spot(args: argparse.Namespace) -> int:
    from napari_mespot.commands._progress import drive
    from napari_mespot.core.atomic import check_output
    from napari_mespot.core.device import torch_device
    from napari_mespot.core.labels.native import write_native_csv
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.spotters.vovnet import SpotSettings, default_checkpoint, load_checkpoint, spot

    if args.out:
        check_output(args.out, inputs=[args.video, args.checkpoint], force=args.force)
    device = torch_device(args.device, "VoVNet")
    ckpt = load_checkpoint(args.checkpoint, device) if args.checkpoint else default_checkpoint(device)
    settings = SpotSettings(device=args.device, cache_dir=args.cache_dir or "")
    with open_video(args.video) as video:
        result = drive(spot(video, ckpt, settings), "spotting", args.quiet)
    for iv in result.intervals:
        print(f"{iv.type}\t{iv.onset}\t{iv.apex}\t{iv.offset}\t{iv.score:.3f}")
    if args.out:
        write_native_csv(args.out, {result.video: list(result.intervals)})
    if not result.intervals:
        print("no expression spotted", file=sys.stderr)
    return 0
