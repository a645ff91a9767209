"""The raw matching curves of the AU-prototype spotter: flow settings, device, and matching.

Everything between the video and eq. 23's matrix W: which flow method and parameters a run
uses (the prototypes' own), where the flows run (CPU threads or a GPU port), and the matching
of frames against a reference frame, optionally with each frame's share of the regions its
flow cannot explain (:mod:`napari_mespot.core.face.reliability`).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from typing import Any

import numpy as np

from napari_mespot.core.device import cuda_available
from napari_mespot.core.device import resolve_device as resolve_device_for
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.flow.regions import window_region_flows
from napari_mespot.core.progress import Progress
from napari_mespot.core.spotters.prototype.matching import FrameMatcher
from napari_mespot.core.spotters.prototype.prototypes import PrototypeError, PrototypeSet
from napari_mespot.core.spotters.prototype.settings import PrototypeSettings

#: Flow methods with a batched torch port of OpenCV's (:mod:`napari_mespot.core.flow.torch.ports`,
#: :mod:`napari_mespot.core.flow.torch.dis`).
TORCH_FLOW_METHODS = ("farneback", "tvl1", "dis")
#: Those whose port ``auto`` sends to a GPU: Farneback and TV-L1 are a few hundred whole-image
#: operations per batch. DIS's port is exact only because it sweeps the patches in OpenCV's
#: propagation order, thousands of small sequential operations per window whatever the batch,
#: while OpenCV's DIS costs a few ms a pair per CPU core; so ``auto`` keeps DIS on the CPU
#: and its GPU port runs when ``cuda`` is asked for.
AUTO_GPU_FLOW_METHODS = ("farneback", "tvl1")
#: Said when ``cuda`` is asked for a method ``auto`` keeps on the CPU (bench/GPU.md measured DIS's
#: port about ten times slower than OpenCV's DIS on the CPU, batched, on an H200).
SLOW_GPU_NOTE = (
    "the {method} flow ran on the GPU as asked, but its exact port is slower there than OpenCV's "
    "{method} on the CPU (bench/GPU.md); device auto keeps it on the CPU"
)


def resolve_device(device: str, method: str = "farneback") -> tuple[str, tuple[str, ...]]:
    """The device the ``method`` flows run on and a note when that is not what was asked for.

    ``auto`` takes the GPU when there is one and the method is in :data:`AUTO_GPU_FLOW_METHODS`,
    else the CPU; ``cuda`` takes it for any method with a torch port (the fallback follows
    :mod:`napari_mespot.core.device`).
    """
    if device == "auto":
        return ("cuda" if method in AUTO_GPU_FLOW_METHODS and cuda_available() else "cpu"), ()
    choice = resolve_device_for(device, f"the {method} flow")
    if device != "cpu" and method not in TORCH_FLOW_METHODS:
        return "cpu", (f"device cuda requested: {method} flow has no GPU implementation; it ran on the CPU",)
    if choice.note is not None:
        return choice.device, (choice.note,)
    if choice.is_cuda and method not in AUTO_GPU_FLOW_METHODS:
        return choice.device, (SLOW_GPU_NOTE.format(method=method),)
    return choice.device, ()


def _resolved(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    from napari_mespot.core.flow.methods import get_method

    return {**get_method(method).defaults, **params}


def flow_settings(prototypes: PrototypeSet, settings: PrototypeSettings) -> tuple[str, dict[str, Any]]:
    """The flow method and parameters of a run: the prototypes' own.

    Settings naming another method, or parameters the prototypes were not learnt with, are a
    :class:`PrototypeError`: a prototype is the mean flow of one method, and another method's
    flow (other magnitudes, other smoothing) would be matched against it without any warning.
    """
    method, params = prototypes.flow_method, dict(prototypes.flow_params)
    if settings.flow_method is not None and settings.flow_method != method:
        raise PrototypeError(
            f"the prototypes were learnt with {method} flow, the settings ask for {settings.flow_method}: "
            f"use prototypes learnt with {settings.flow_method} (mespot prototypes learn --flow "
            f"{settings.flow_method}, or the preset that ships them) or leave the flow method unset"
        )
    if settings.flow_params:
        asked = _resolved(settings.flow_method or method, settings.flow_params)
        learnt = _resolved(method, params)
        differ = {k: (learnt.get(k), v) for k, v in asked.items() if learnt.get(k) != v}
        if differ:
            detail = ", ".join(f"{k}: learnt {a!r}, asked {b!r}" for k, (a, b) in differ.items())
            raise PrototypeError(f"the prototypes were learnt with other {method} parameters ({detail})")
    return method, params


#: The name the per-frame matching index travels under in place of the region flows.
_MATCHED = "_matched"


def reference_matching(
    video: Any,
    landmarks: FaceLandmarks,
    prototypes: PrototypeSet,
    reference: int,
    first: int,
    last: int,
    settings: PrototypeSettings,
    progress_total: int | None = None,
    device: str | None = None,
    unexplained_kappa: float | None = None,
) -> Generator[Progress, None, tuple[np.ndarray, np.ndarray | None]]:
    """The raw matching curves (V, last − first + 1) of frames ``first..last`` against frame
    ``reference`` (eq. 21–23, regions fitted on the reference), and with ``unexplained_kappa``
    each frame's largest share of a region its flow does not explain (else ``None``).

    Flows are computed by OpenCV on ``settings.threads`` threads, all frames in one pass (each
    frame's flows are reduced to its matching index in the flow threads, so nothing grows with
    the window), or with ``device`` (``cpu`` or ``cuda``) by the batched torch port of the
    method, one call per region and batch of ``settings.flow_batch`` frames (which the port
    holds in memory at once).
    """
    method, params = flow_settings(prototypes, settings)
    # The reliability check looks at the whole face (every region of the set), whichever regions
    # the prototypes match in: a hand beside a set's only region still covers the face.
    specs = prototypes.used_regions() if unexplained_kappa is None else prototypes.regions
    match = FrameMatcher([p.field for p in prototypes.prototypes], [p.region for p in prototypes.prototypes])
    threads = settings.threads or os.cpu_count() or 1
    count = max(0, last - first + 1)
    out = np.zeros((len(prototypes), count), dtype=np.float64)
    shares = None if unexplained_kappa is None else np.zeros(count, dtype=np.float64)
    # One pass on the CPU: a pass ends by waiting for its last frames with a thread idle.
    batch = settings.flow_batch if device is not None else max(1, count)
    for b0 in range(first, last + 1, batch):
        frames = np.arange(b0, min(last, b0 + batch - 1) + 1)
        gen = window_region_flows(
            video,
            landmarks,
            reference,
            frames,
            specs,
            method,
            settings.head_motion,
            threads=threads,
            device=device,
            unexplained_kappa=unexplained_kappa,
            keep=lambda flows: {_MATCHED: match(flows)},
            **params,
        )
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                flows = stop.value
                break
            yield Progress(int(b0 + p.done), progress_total, f"window at frame {reference}")
        out[:, frames - first] = flows.flows[_MATCHED].T
        if shares is not None:
            shares[frames - first] = flows.unexplained
    return out, shares


def window_matching(
    video: Any,
    landmarks: FaceLandmarks,
    prototypes: PrototypeSet,
    start: int,
    end: int,
    settings: PrototypeSettings,
    progress_total: int | None = None,
    device: str | None = None,
) -> Generator[Progress, None, np.ndarray]:
    """The raw matching curves (V, end − start + 1) of the window ``start..end``; column 0 is
    the reference frame (0 by definition)."""
    out = np.zeros((len(prototypes), end - start + 1), dtype=np.float64)
    later, _ = yield from reference_matching(
        video, landmarks, prototypes, start, start + 1, end, settings, progress_total, device
    )
    out[:, 1:] = later
    return out
