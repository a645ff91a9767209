"""Training, threshold choice and leave-one-subject-out evaluation of the VoVNet spotter.

:func:`train` is the unit a protocol runner calls per fold: labelled training videos in, a
checkpoint out. Inside it, ``val_subjects`` of the *training* subjects are held out; after every
epoch the loss on their windows is measured and the epoch with the lowest one is kept, and the
per-class score thresholds are the ones that maximise F1 on them. The test subject of a fold is
never seen before :func:`loso` spots it, so nothing is tuned on test data.

Fine-tuning (``init``): the network starts from a checkpoint's weights and takes its
architecture, input settings and window, so the features it was trained on mean the same
thing; an explicit config that differs is an error, never silently replaced. The starting
weights compete as "epoch 0" for the lowest validation loss, so fine-tuning on a few
corrections never returns a network that validates worse than the one it started from. The
batch norms keep the checkpoint's statistics while fine-tuning (:func:`train_mode`): a batch of
windows from one or two videos is no sample of the footage the network was trained on, and
normalising by its statistics makes the training loss a different function from the one the
fine-tuned network is used with.

The checkpoint records the frame rate of its training videos (``fps``), which must be one:
the network learns frame counts. Fine-tuning reads videos at another rate at the starting
checkpoint's rate, their labels mapped onto the frames read (:mod:`.timebase`).

Training is resumable: after every epoch ``<out>.state.pt`` holds the weights, the optimiser,
the best weights so far and the loss history (read with ``weights_only=True``); running again
with ``resume=True`` continues after the last finished epoch with the same window order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from napari_mespot.core.atomic import atomic_write_bytes
from napari_mespot.core.device import keep_triton_out_if_llvm_loaded, torch_device
from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.video import open_video
from napari_mespot.core.metrics import Evaluation, evaluate
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.vovnet.augment import flow_factors, mirror, scale_flow, warp_windows
from napari_mespot.core.spotters.vovnet.checkpoint import (
    Checkpoint,
    CheckpointError,
    load_checkpoint,
    save_checkpoint,
)
from napari_mespot.core.spotters.vovnet.data import (
    Features,
    LabelledVideo,
    features_for_video,
    window_starts,
    window_targets,
)
from napari_mespot.core.spotters.vovnet.head import assign_targets, points
from napari_mespot.core.spotters.vovnet.losses import detection_loss
from napari_mespot.core.spotters.vovnet.model import VoVNetSpotter
from napari_mespot.core.spotters.vovnet.settings import (
    CLASSES,
    NMS_IOU,
    DataSettings,
    ModelConfig,
    TrainSettings,
    to_dict,
)
from napari_mespot.core.spotters.vovnet.spotter import gpu_flow_device, infer, to_intervals
from napari_mespot.core.spotters.vovnet.timebase import on_timebase, stream_at

#: Candidate thresholds searched on the validation videos.
THRESHOLD_GRID = tuple(np.round(np.arange(0.05, 0.96, 0.05), 2))
LOSS_TERMS = ("focal", "l1", "iou", "total")


@dataclass
class TrainResult:
    checkpoint: Path
    history: list[dict[str, float]]
    best_epoch: int
    thresholds: dict[str, float]
    val_videos: tuple[str, ...]
    loss_plot: Path | None = None
    #: When fine-tuned: the starting checkpoint (file, SHA-256) and its losses before any step.
    init: dict[str, Any] | None = None

    @property
    def best_val_loss(self) -> float:
        """Validation loss of the weights kept (epoch 0: the starting checkpoint's)."""
        if self.best_epoch == 0 and self.init is not None:
            return float(self.init["val_total"])
        return next(h["val_total"] for h in self.history if h["epoch"] == self.best_epoch)


def load_features(
    videos: Sequence[LabelledVideo],
    data: DataSettings,
    cache_dir: str | os.PathLike | None,
    flow_device: str | None = None,
    fps: float | None = None,
) -> Generator[Progress, None, list[Features]]:
    """Face crops and flow of every video (cached on disk; see :mod:`.data`); ``flow_device``
    as :func:`.data.compute_features`. ``fps``: read every video at this rate (:mod:`.timebase`;
    ``videos`` then carry their labels on that rate, as :func:`.timebase.on_timebase` gives)."""
    out = []
    for i, v in enumerate(videos):
        with open_video(v.path) as video:
            stream = video if fps is None else stream_at(video, fps)[0]
            gen = features_for_video(stream, data, cache_dir, flow_device=flow_device)
            while True:
                try:
                    p = next(gen)
                except StopIteration as stop:
                    out.append(stop.value if v.frames is None else _first_frames(stop.value, v.frames))
                    break
                yield Progress(
                    i * 1000 + int(1000 * (p.fraction or 0)), len(videos) * 1000, f"features {v.video_name}"
                )
    return out


def _first_frames(features: Features, frames: int) -> Features:
    """``features`` of the video's first ``frames`` frames only."""
    flow = None if features.flow is None else features.flow[:frames]
    return replace(features, frames=features.frames[:frames], flow=flow, found=features.found[:frames])


def split_validation(videos: Sequence[LabelledVideo], count: int, seed: int) -> tuple[list[int], list[int]]:
    """Indices of training and validation videos: ``count`` whole subjects, drawn by ``seed``.

    With fewer than two subjects there is nothing to hold out; validation then uses the
    training videos (said in the checkpoint's meta).
    """
    subjects = sorted({v.subject for v in videos})
    if count == 0 or len(subjects) < 2:
        idx = list(range(len(videos)))
        return idx, idx
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(subjects)[: min(count, len(subjects) - 1)].tolist())
    train = [i for i, v in enumerate(videos) if v.subject not in held]
    val = [i for i, v in enumerate(videos) if v.subject in held]
    return train, val


class WindowBatches:
    """Training windows of some videos and their targets, batched."""

    def __init__(
        self,
        feats: Sequence[Features],
        videos: Sequence[LabelledVideo],
        window: int,
        stride: int,
        levels: int,
    ):
        self.feats, self.videos, self.window = feats, videos, window
        self.pts = points(window, levels)
        self.items = [(i, s) for i, f in enumerate(feats) for s in window_starts(len(f), window, stride)]

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, picks: Sequence[int]) -> tuple[torch.Tensor, ...]:
        xs, cls_ts, reg_ts, poss, valids = [], [], [], [], []
        for k in picks:
            vi, start = self.items[k]
            x, valid = self.feats[vi].window(start, self.window)
            segs, classes = window_targets(self.videos[vi].intervals, start, self.window)
            cls_t, reg_t, pos = assign_targets(self.pts, segs, classes)
            xs.append(x)
            cls_ts.append(cls_t)
            reg_ts.append(reg_t)
            poss.append(pos)
            valids.append(self.pts.center < valid)
        return tuple(torch.stack(t) for t in (xs, cls_ts, reg_ts, poss, valids))


def train_mode(model: VoVNetSpotter, keep_norm_statistics: bool) -> None:
    """Put ``model`` in training mode; with ``keep_norm_statistics`` its batch norms stay in
    evaluation mode, normalising with (and not updating) the statistics they hold."""
    model.train()
    if keep_norm_statistics:
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.eval()


def _epoch_losses(
    model: VoVNetSpotter, batches: WindowBatches, batch_size: int, device: torch.device
) -> dict[str, float]:
    """Mean loss terms over all windows of ``batches`` (evaluation mode, no gradients)."""
    model.eval()
    sums = dict.fromkeys(LOSS_TERMS, 0.0)
    count = 0
    with torch.no_grad():
        for b0 in range(0, len(batches), batch_size):
            picks = range(b0, min(b0 + batch_size, len(batches)))
            x, cls_t, reg_t, pos, valid = (t.to(device) for t in batches.batch(picks))
            logits, dists = model(x)
            terms = detection_loss(logits, dists, cls_t, reg_t, pos, valid)
            for k in LOSS_TERMS:
                sums[k] += float(terms[k]) * len(picks)
            count += len(picks)
    return {k: v / max(count, 1) for k, v in sums.items()}


def choose_thresholds(
    ckpt: Checkpoint,
    feats: Sequence[Features],
    videos: Sequence[LabelledVideo],
    device: torch.device,
    nms_iou: float = NMS_IOU,
) -> dict[str, float]:
    """Per class, the threshold of :data:`THRESHOLD_GRID` with the best F1 on ``videos``
    (ties: the higher threshold, fewer false positives)."""
    runs = []
    for f in feats:
        gen = infer(ckpt, f, max(1, ckpt.window // 2), device, min_score=THRESHOLD_GRID[0])
        while True:
            try:
                next(gen)
            except StopIteration as stop:
                runs.append(stop.value)
                break
    best: dict[str, float] = {}
    for c, name in enumerate(CLASSES):
        scores = []
        for t in THRESHOLD_GRID:
            th = np.ones(len(CLASSES))
            th[c] = t
            pred = {
                v.video_name: to_intervals(d, th, curves, np.asarray(f.found, bool), nms_iou)
                for v, f, (d, curves) in zip(videos, feats, runs, strict=True)
            }
            gt = {v.video_name: list(v.intervals) for v in videos}
            ev = evaluate(gt, pred)
            scores.append(getattr(ev, name).f1)
        scores_arr = np.array(scores)
        best[name] = float(THRESHOLD_GRID[int(np.flatnonzero(scores_arr == scores_arr.max())[-1])])
    return best


def save_loss_plot(path: Path, history: list[dict[str, float]]) -> Path:
    """Training and validation loss per epoch as a PNG (matplotlib Agg, written atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    epochs = [h["epoch"] for h in history]
    for key, style in (("train_total", "-"), ("val_total", "--")):
        ax.plot(epochs, [h[key] for h in history], style, marker="o", label=key.replace("_", " "))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (eq. 11)")
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    atomic_write_bytes(path, buf.getvalue())
    return path


def _save_state(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _differences(given: Any, theirs: Any) -> list[str]:
    """``field given (checkpoint: theirs)`` for every field where two settings dataclasses differ."""
    return [
        f"{f.name} {getattr(given, f.name)!r} (checkpoint: {getattr(theirs, f.name)!r})"
        for f in dataclasses.fields(given)
        if getattr(given, f.name) != getattr(theirs, f.name)
    ]


def start_from(
    init: str | os.PathLike,
    config: ModelConfig | None,
    data: DataSettings | None,
    window: int,
) -> tuple[Checkpoint, dict[str, Any]]:
    """The checkpoint to fine-tune and its provenance record (file, SHA-256).

    ``config`` and ``data`` (``None``: the checkpoint's) and ``window`` must be the checkpoint's:
    its weights only make sense for its architecture and for the input it was trained on.
    """
    path = Path(init)
    base = load_checkpoint(path)
    conflicts = _differences(config, base.config) if config is not None else []
    conflicts += _differences(data, base.data) if data is not None else []
    if window != base.window:
        conflicts.append(f"window {window} (checkpoint: {base.window})")
    if conflicts:
        raise CheckpointError(
            f"fine-tuning {path} keeps its architecture and input settings; these differ: "
            + "; ".join(conflicts)
            + " (drop those options, or train from scratch)"
        )
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return base, {"checkpoint": str(path.resolve()), "sha256": digest}


def train(
    videos: Sequence[LabelledVideo],
    out: str | os.PathLike,
    config: ModelConfig | None = None,
    data: DataSettings | None = None,
    settings: TrainSettings | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    resume: bool = False,
    init: str | os.PathLike | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> Generator[Progress, None, TrainResult]:
    """Train on ``videos`` and write the checkpoint ``out`` (+ ``.json``, loss curve ``.png``).

    ``init``: fine-tune this checkpoint instead of starting from random weights (see the module
    docstring); ``provenance`` is stored in the checkpoint's meta as it is (e.g. the sessions).
    Yields progress per batch with the running losses in the message.
    """
    settings = settings or TrainSettings()
    base, init_record = (None, None)
    if init is not None:
        base, init_record = start_from(init, config, data, settings.window)
        config, data = base.config, base.data
    data = data or DataSettings()
    config = config or ModelConfig(in_channels=data.channels)
    if config.in_channels != data.channels:
        raise CheckpointError(
            f"the model takes {config.in_channels} channels, the data gives {data.channels}"
        )
    if settings.window % config.window_multiple:
        raise CheckpointError(f"window {settings.window} must be a multiple of {config.window_multiple}")
    if not videos:
        raise CheckpointError("no training videos")
    out = Path(out)
    device = torch_device(settings.device, "VoVNet training")
    keep_triton_out_if_llvm_loaded()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    videos, fps = on_timebase(videos, None if base is None else base.fps)
    feats = yield from load_features(videos, data, cache_dir, gpu_flow_device(device), fps)
    tr_idx, val_idx = split_validation(videos, settings.val_subjects, settings.seed)
    sub = lambda idx: ([feats[i] for i in idx], [videos[i] for i in idx])  # noqa: E731
    train_set = WindowBatches(*sub(tr_idx), settings.window, settings.window_stride, config.levels)
    val_set = WindowBatches(*sub(val_idx), settings.window, settings.window_stride, config.levels)

    torch.manual_seed(settings.seed)
    model = VoVNetSpotter(config).to(device)
    best = (float("inf"), 0, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    if base is not None and init_record is not None:
        model.load_state_dict(base.model.state_dict())
        before = {
            f"{part}_{k}": v
            for part, windows in (("train", train_set), ("val", val_set))
            for k, v in _epoch_losses(model, windows, settings.batch_size, device).items()
        }
        init_record.update(before)
        best = (before["val_total"], 0, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
    optim = torch.optim.Adam(model.parameters(), lr=settings.lr)
    scaler = torch.amp.GradScaler(enabled=device.type == "cuda" and settings.amp)
    history: list[dict[str, float]] = []
    state_path = out.with_suffix(".state.pt")
    start_epoch = 1
    if resume and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("config") != json.dumps(to_dict(config), sort_keys=True):
            raise CheckpointError(f"{state_path} belongs to another architecture: delete it or drop --resume")
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optim"])
        history = json.loads(state["history"])
        best = (state["best_loss"], state["best_epoch"], state["best_model"])
        start_epoch = len(history) + 1

    steps_per_epoch = -(-len(train_set) // settings.batch_size)
    total = steps_per_epoch * settings.epochs
    for epoch in range(start_epoch, settings.epochs + 1):
        train_mode(model, keep_norm_statistics=base is not None)
        epoch_seed = settings.seed * 10007 + epoch
        order = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(epoch_seed))
        flips = torch.Generator().manual_seed(epoch_seed + 5003)
        scales = torch.Generator().manual_seed(epoch_seed + 7001)
        warps = torch.Generator().manual_seed(epoch_seed + 9001)
        flow_x = data.flow_x_channel
        running = dict.fromkeys(LOSS_TERMS, 0.0)
        for step, b0 in enumerate(range(0, len(train_set), settings.batch_size), start=1):
            picks = order[b0 : b0 + settings.batch_size].tolist()
            x, cls_t, reg_t, pos, valid = train_set.batch(picks)
            if settings.flip:
                x = mirror(x, torch.rand(len(picks), generator=flips) < 0.5, flow_x)
            if settings.flow_jitter and flow_x is not None:
                x = scale_flow(x, flow_factors(len(picks), settings.flow_jitter, scales), flow_x)
            if settings.warp_jitter:
                x = warp_windows(x, warps, flow_x)
            x, cls_t, reg_t, pos, valid = (t.to(device) for t in (x, cls_t, reg_t, pos, valid))
            with torch.autocast(device.type, enabled=device.type == "cuda" and settings.amp):
                logits, dists = model(x)
            terms = detection_loss(logits, dists, cls_t, reg_t, pos, valid)
            optim.zero_grad(set_to_none=True)
            scaler.scale(terms["total"]).backward()
            scaler.step(optim)
            scaler.update()
            for k in LOSS_TERMS:
                running[k] += float(terms[k].detach())
            msg = " ".join(f"{k} {running[k] / step:.3f}" for k in LOSS_TERMS)
            yield Progress((epoch - 1) * steps_per_epoch + step, total, f"epoch {epoch}: {msg}")
        train_losses = {k: v / steps_per_epoch for k, v in running.items()}
        val_losses = _epoch_losses(model, val_set, settings.batch_size, device)
        history.append(
            {
                "epoch": epoch,
                **{f"train_{k}": v for k, v in train_losses.items()},
                **{f"val_{k}": v for k, v in val_losses.items()},
            }
        )
        if val_losses["total"] < best[0]:
            best = (
                val_losses["total"],
                epoch,
                {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
            )
        _save_state(
            state_path,
            {
                "config": json.dumps(to_dict(config), sort_keys=True),
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optim": optim.state_dict(),
                "history": json.dumps(history),
                "best_loss": best[0],
                "best_epoch": best[1],
                "best_model": best[2],
            },
        )

    model.load_state_dict(best[2])
    val_names = tuple(videos[i].video_name for i in val_idx)
    meta = {
        "train_settings": to_dict(settings),
        "best_epoch": best[1],
        "history": history,
        "train_videos": [videos[i].video_name for i in tr_idx],
        "val_videos": list(val_names),
        "val_is_train": val_idx == tr_idx,
        **({"init": init_record} if init_record is not None else {}),
        **dict(provenance or {}),
    }
    ckpt = Checkpoint(model.eval(), config, data, settings.window, dict.fromkeys(CLASSES, 0.5), meta, fps)
    yield Progress(total, total, "choosing thresholds on the validation videos")
    ckpt.thresholds = choose_thresholds(ckpt, *sub(val_idx), device)
    save_checkpoint(out, ckpt)
    plot = save_loss_plot(out.with_suffix(".loss.png"), history)
    return TrainResult(out, history, best[1], ckpt.thresholds, val_names, plot, init_record)


@dataclass
class LosoResult:
    """Per-fold checkpoints and predictions, and the evaluation over all test videos."""

    folds: dict[str, Path]
    predictions: dict[str, list[Interval]]
    evaluation: Evaluation
    ground_truth: dict[str, list[Interval]] = field(default_factory=dict)


def spot_videos(
    ckpt: Checkpoint,
    videos: Sequence[LabelledVideo],
    cache_dir: str | os.PathLike | None = None,
    device: str = "auto",
) -> Generator[Progress, None, dict[str, list[Interval]]]:
    """Spot each of ``videos`` with ``ckpt``: {video name: intervals}."""
    from napari_mespot.core.spotters.vovnet.settings import SpotSettings
    from napari_mespot.core.spotters.vovnet.spotter import spot

    out = {}
    settings = SpotSettings(device=device, cache_dir=str(cache_dir or ""))
    for v in videos:
        with open_video(v.path) as video:
            result = yield from spot(video, ckpt, settings, name=v.video_name)
        out[v.video_name] = list(result.intervals)
    return out


def loso(
    videos: Sequence[LabelledVideo],
    out_dir: str | os.PathLike,
    config: ModelConfig | None = None,
    data: DataSettings | None = None,
    settings: TrainSettings | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    k: float = 0.5,
    init: str | os.PathLike | None = None,
) -> Generator[Progress, None, LosoResult]:
    """Leave-one-subject-out: per subject, train on the others (:func:`train`; every fold from
    ``init`` when given), spot its videos."""
    settings = settings or TrainSettings()
    out_dir = Path(out_dir)
    subjects = sorted({v.subject for v in videos})
    if len(subjects) < 2:
        raise CheckpointError(f"leave-one-subject-out needs at least two subjects, got {subjects}")
    folds: dict[str, Path] = {}
    predictions: dict[str, list[Interval]] = {}
    for subject in subjects:
        train_v = [v for v in videos if v.subject != subject]
        test_v = [v for v in videos if v.subject == subject]
        result = yield from train(
            train_v, out_dir / f"fold-{subject}.pt", config, data, settings, cache_dir=cache_dir, init=init
        )
        folds[subject] = result.checkpoint
        ckpt = load_checkpoint(result.checkpoint, torch_device(settings.device, "VoVNet training"))
        predictions.update((yield from spot_videos(ckpt, test_v, cache_dir, settings.device)))
    gt = {v.video_name: list(v.intervals) for v in videos}
    return LosoResult(folds, predictions, evaluate(gt, predictions, k=k), gt)
