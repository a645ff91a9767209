"""Every knob of the VoVNet spotter, grouped by what it shapes, with the paper's values as defaults.

Three groups travel together inside a checkpoint, because a trained network only makes sense
with the architecture it was built with and the input it was trained on:

- :class:`ModelConfig`: the network (Table 1 backbone, Table 2 pyramid, head width).
- :class:`DataSettings`: how a video becomes network input (face crop, flow).
- :class:`TrainSettings`: how it was trained (recorded for provenance and resuming).

:class:`SpotSettings` are per run: device, window overlap, thresholds override.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from napari_mespot.core.device import DEVICES
from napari_mespot.core.spotters.base import settings_from_mapping

CLASSES = ("me", "mae")
FLOW_METHODS = ("tvl1", "dis", "farneback")
#: How the face crop's grey levels are normalised (``DataSettings.image_norm``).
IMAGE_NORMS = ("fixed", "video")
#: What is removed from the crop flow before the network reads it (``DataSettings.head_motion``).
VOVNET_HEAD_MOTION = ("off", "similarity")
#: Temporal NMS overlap: a same-class candidate overlapping a better one by more is dropped.
#: Lower than the 0.5 of object detection: two expressions of one class rarely overlap, while
#: neighbouring positions propose many shifted copies of one (chosen on development seeds).
NMS_IOU = 0.3


@dataclass(frozen=True)
class ModelConfig:
    """The network. Defaults are Tables 1–2 of the paper.

    - ``stem``: the two stride-2 3×3 convs (Table 1 "Inception": 64, 128).
    - ``stage_channels`` / ``stage_out``: per OSA module, the width of its five 3×3 convs and of
      its 1×1 projection after the concatenation (64/80/96/112 → 128/256/384/512).
    - ``osa_layers``: 3×3 convs per OSA module (5).
    - ``pyramid_channels``: output channels of the five stride-2 1-D convs (Table 2).
    - ``pyramid_kernel``: their temporal kernel (3).
    - ``head_channels``: the common width the pyramid levels are projected to for the shared
      heads (ours: Table 2 gives level widths only; FPN fusion needs one width).
    - ``in_channels``: 3 (RGB face crop) + 2 (flow); 3 when trained ``--no-flow``, 2 when
      trained ``--no-image`` (:attr:`DataSettings.channels`).
    """

    in_channels: int = 5
    stem: tuple[int, int] = (64, 128)
    stage_channels: tuple[int, ...] = (64, 80, 96, 112)
    stage_out: tuple[int, ...] = (128, 256, 384, 512)
    osa_layers: int = 5
    pyramid_channels: tuple[int, ...] = (512, 1024, 1024, 1024, 2048)
    pyramid_kernel: int = 3
    head_channels: int = 256

    def __post_init__(self) -> None:
        for name in ("stem", "stage_channels", "stage_out", "pyramid_channels"):
            object.__setattr__(self, name, tuple(int(c) for c in getattr(self, name)))
        if len(self.stem) != 2:
            raise ValueError(f"stem needs two widths, got {self.stem}")
        if len(self.stage_channels) != len(self.stage_out) or not self.stage_channels:
            raise ValueError("stage_channels and stage_out need one entry per OSA module")
        if not self.pyramid_channels:
            raise ValueError("the pyramid needs at least one level")
        values = (
            self.in_channels,
            self.osa_layers,
            self.pyramid_kernel,
            self.head_channels,
            *self.stem,
            *self.stage_channels,
            *self.stage_out,
            *self.pyramid_channels,
        )
        if min(values) < 1:
            raise ValueError("every width, count and kernel must be at least 1")

    @property
    def levels(self) -> int:
        return len(self.pyramid_channels)

    @property
    def window_multiple(self) -> int:
        """Window lengths must be a multiple of this (each level halves the time axis)."""
        return 2**self.levels


#: A compact model for the shipped checkpoint and the CI runs (same topology, ~1/8 the widths).
SMALL_MODEL = ModelConfig(
    stem=(8, 16),
    stage_channels=(8, 10, 12, 14),
    stage_out=(16, 32, 48, 64),
    pyramid_channels=(64, 128, 128, 128, 256),
    head_channels=32,
)


@dataclass(frozen=True)
class DataSettings:
    """How one video becomes the network's input.

    - ``input_size``: side of the square face crop fed to the backbone.
    - ``flow``: stack optical flow with the crop (paper: yes; ``False`` is the Table 5 ablation).
    - ``image``: feed the face crop's colour channels (paper: yes). ``False`` feeds the flow
      alone (ours): the crop's pixels carry the identity, skin and lighting of the faces
      trained on, which a network trained on few faces can learn instead of the motion; the
      flow is measured in crop pixels and the crop is sized in eye distances, so the flow
      alone says the same about every face.
    - ``flow_method``: ``tvl1`` (paper), ``dis`` or ``farneback`` (fast, for previews and CI).
    - ``flow_gap``: flow from frame t − gap to frame t (1 = consecutive frames, as the paper).
    - ``flow_size``: side of the crop the flow is computed on, before it is resized to
      ``input_size`` (0 = ``input_size``); a larger one resolves sub-pixel facial motion.
    - ``flow_scale``: the flow (crop pixels) is multiplied by this before it enters the
      network. Facial motion between two frames is a few hundredths of a pixel to a pixel,
      against image channels of about ±2: unscaled, the flow channels start ~100× weaker than
      the image and the network needs many steps to stop ignoring them (ours).
    - ``face_gammas``: the face box around the nose bridge in eye distances d (left, up, right,
      down) — forehead to chin, cheek to cheek.
    - ``smooth_frames``: the landmarks are averaged over this many frames before the crop is
      fitted, so landmark jitter does not become crop motion that the flow reads as expression.
    - ``landmarks``: landmark provider name.
    - ``image_norm``: ``fixed`` maps every video's grey levels alike (0–255 to about ±2);
      ``video`` standardises each colour channel by its mean and spread over the video's face
      frames, so skin tone, exposure and white balance — which say nothing about expressions —
      reach the network already removed (ours; the flow needs nothing alike: it is measured in
      crop pixels, and the crop is sized in eye distances). Normalisation does not change the
      cached crops.
    - ``head_motion``: ``off`` feeds the flow as measured (paper); ``similarity`` removes from
      each frame's flow the rotation, scale and translation that best explain it (ours): the
      crop follows the head only at the crop's own frame, so a head turning, nodding or shaking
      between the two frames of a pair moves the whole crop content, as much as an expression
      or more. Like ``image_norm`` it changes how the cached flow is read, not the cache.
    """

    input_size: int = 128
    flow: bool = True
    image: bool = True
    flow_method: str = "tvl1"
    flow_gap: int = 1
    flow_size: int = 0
    flow_scale: float = 20.0
    face_gammas: tuple[float, float, float, float] = (0.9, 0.8, 0.9, 1.6)
    smooth_frames: int = 5
    landmarks: str = "mediapipe"
    image_norm: str = "fixed"
    head_motion: str = "off"

    def __post_init__(self) -> None:
        object.__setattr__(self, "face_gammas", tuple(float(g) for g in self.face_gammas))
        if self.head_motion not in VOVNET_HEAD_MOTION:
            raise ValueError(f"head_motion must be one of {VOVNET_HEAD_MOTION}, got {self.head_motion!r}")
        if self.input_size < 16:
            raise ValueError(f"input_size must be at least 16, got {self.input_size}")
        if self.flow_method not in FLOW_METHODS:
            raise ValueError(f"flow_method must be one of {FLOW_METHODS}, got {self.flow_method!r}")
        if self.image_norm not in IMAGE_NORMS:
            raise ValueError(f"image_norm must be one of {IMAGE_NORMS}, got {self.image_norm!r}")
        if not self.flow_scale > 0:
            raise ValueError(f"flow_scale must be positive, got {self.flow_scale}")
        if self.flow_gap < 1 or self.smooth_frames < 1 or self.flow_size < 0:
            raise ValueError("flow_gap and smooth_frames must be >= 1, flow_size >= 0")
        if not (self.image or self.flow):
            raise ValueError("the network needs an input: the face crop (image), the flow, or both")

    @property
    def channels(self) -> int:
        return 3 * self.image + 2 * self.flow

    @property
    def flow_x_channel(self) -> int | None:
        """Index of the flow's x component among the input channels (None without flow)."""
        return (3 if self.image else 0) if self.flow else None

    @property
    def flow_side(self) -> int:
        return self.flow_size or self.input_size


@dataclass(frozen=True)
class TrainSettings:
    """Training (paper §4.2: Adam, lr 0.005, batch 32 on CAS(ME)², 2 on SAMM-LV).

    - ``window`` / ``window_stride``: training windows of ``window`` frames every
      ``window_stride`` frames (must be a multiple of 2^levels).
    - ``val_subjects``: training subjects held out to choose the epoch and the score
      thresholds (never the test subject). 0 = use the training windows (single subject).
    - ``seed``: weight init, window order; everything is deterministic on the CPU.
    - ``amp``: mixed precision on CUDA (ignored on the CPU).
    - ``device``: as :class:`SpotSettings`'s (features not yet cached get their flows there).
    - ``flip``: mirror a random half of the training windows left–right (the flow's x component
      changes sign): a mirrored face is still a face, and it doubles scarce training data (ours).
    - ``flow_jitter``: multiply each training window's flow by a factor drawn log-uniformly
      from [1 / (1 + j), 1 + j] (0: never), so the network reads the timing of the motion more
      than its size, which differs between faces and footage (ours; :mod:`.augment`).
    - ``warp_jitter``: turn, scale and shift each training window's crops a little (up to 10°,
      10 % and 6 % of the crop), the flow vectors with them, so the network learns the motion's
      pattern rather than where the training face's brows and lips lie (ours; :mod:`.augment`).
    """

    epochs: int = 30
    batch_size: int = 32
    lr: float = 0.005
    window: int = 128
    window_stride: int = 64
    val_subjects: int = 1
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    flip: bool = True
    flow_jitter: float = 0.0
    warp_jitter: bool = False
    threads: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.window < 1 or self.window_stride < 1:
            raise ValueError("epochs, batch_size, window and window_stride must be at least 1")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if not 0 <= self.flow_jitter <= 10:  # NaN fails too
            raise ValueError(f"flow_jitter must lie in [0, 10], got {self.flow_jitter}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")


#: Adam's learning rate when fine-tuning a trained checkpoint: one tenth of the paper's
#: from-scratch 0.005, the usual rule of thumb for fine-tuning with the optimiser a network was
#: trained with, so the first steps on a handful of corrected windows adapt the network rather
#: than wash out what it learnt. A convention, not a tuned value: no data chose it.
FINETUNE_LR = 0.0005
#: Epochs of a fine-tuning run: a few passes over a few corrected videos; the epoch actually
#: kept is still the one with the lowest validation loss (the starting weights included).
FINETUNE_EPOCHS = 10


def finetune_settings(window: int, **changes: Any) -> TrainSettings:
    """Training settings for fine-tuning a checkpoint with ``window`` frames per window.

    :data:`FINETUNE_LR` and :data:`FINETUNE_EPOCHS`, batches of 8 and a window every eighth of
    a window (how the shipped checkpoint was trained: corrections are scarce, dense windows
    see each of them at several positions), then ``changes``.
    """
    defaults = {
        "epochs": FINETUNE_EPOCHS,
        "batch_size": 8,
        "lr": FINETUNE_LR,
        "window": window,
        "window_stride": max(1, window // 8),
    }
    return TrainSettings(**{**defaults, **changes})


@dataclass(frozen=True)
class SpotSettings:
    """One inference run.

    - ``thresholds``: score threshold per class (``me``, ``mae``), overriding the checkpoint's
      (which were chosen on its training-fold validation videos).
    - ``nms_iou``: temporal NMS suppresses a same-class interval overlapping a better one by more.
    - ``window_stride``: frames between inference windows (0 = half the checkpoint's window).
    - ``batch_size``: windows per forward pass (memory only).
    - ``device``: ``auto`` (CUDA when present), ``cpu`` or ``cuda``. On CUDA the features' optical
      flows are computed there too, batched through the torch port of OpenCV's method.
    - ``cache_dir``: where face crops and flow are cached ("" = the user cache folder).
    - ``reliability``: leave out the spans whose landmarks jump, whose head moves too fast or
      whose eyes stay closed too long, as the prototype spotter's robust preset does (ours; off
      in the paper's protocol, ``mespot reproduce vovnet``).
    """

    thresholds: Mapping[str, float] = field(default_factory=dict)
    nms_iou: float = NMS_IOU
    window_stride: int = 0
    batch_size: int = 4
    device: str = "auto"
    cache_dir: str = ""
    reliability: bool = True

    def __post_init__(self) -> None:
        unknown = set(self.thresholds) - set(CLASSES)
        if unknown:
            raise ValueError(f"thresholds are per class {CLASSES}, got {sorted(unknown)}")
        object.__setattr__(self, "thresholds", {k: float(v) for k, v in self.thresholds.items()})
        bad = {k: v for k, v in self.thresholds.items() if not 0 < v <= 1}  # NaN fails too
        if bad:
            raise ValueError(f"thresholds are scores in (0, 1], got {bad}")
        if not 0 < self.nms_iou <= 1:
            raise ValueError(f"nms_iou must lie in (0, 1], got {self.nms_iou}")
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.window_stride < 0 or self.batch_size < 1:
            raise ValueError("window_stride must be >= 0 and batch_size >= 1")


def to_dict(settings: Any) -> dict[str, Any]:
    """A settings dataclass as JSON-ready values (tuples become lists)."""
    return dataclasses.asdict(settings)


def from_dict(cls: type, values: Mapping[str, Any]) -> Any:
    """The inverse of :func:`to_dict`, rejecting unknown keys by name."""
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return settings_from_mapping(cls, clean)
