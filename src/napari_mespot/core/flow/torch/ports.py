"""The torch flow ports' numpy entry point: batched, on CPU or GPU.

The ports — :mod:`.farneback`, :mod:`.tvl1`, :mod:`.dis` (with :mod:`.variational`) — take a
reference ``(H, W)`` or ``(B, H, W)`` and frames ``(B, H, W)`` (grey levels 0..255) and return
``(B, H, W, 2)`` float32 flow in OpenCV's convention (``flow[y, x] = (dx, dy)`` with
``frames(x + dx, y + dy) ≈ ref(x, y)``), on the inputs' device. A single reference is expanded
once and broadcast, which is what the spotter needs: one window reference against many frames.
:func:`flow_batch` is the numpy entry point with a device choice (``auto``, ``cpu``, ``cuda``,
resolved by :mod:`napari_mespot.core.device`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from napari_mespot.core.device import torch_device
from napari_mespot.core.flow.torch._ops import TensorLike, as_batch
from napari_mespot.core.flow.torch.dis import dis
from napari_mespot.core.flow.torch.farneback import farneback
from napari_mespot.core.flow.torch.tvl1 import tvl1

#: The torch methods by their OpenCV name.
METHODS: dict[str, Callable[..., torch.Tensor]] = {"farneback": farneback, "tvl1": tvl1, "dis": dis}
METHOD_NAMES = tuple(METHODS)


def torch_method(name: str) -> Callable[..., torch.Tensor]:
    """The torch flow function ported from OpenCV's method ``name``."""
    if name not in METHODS:
        raise ValueError(f"torch flow method must be one of {sorted(METHOD_NAMES)}, got {name!r}")
    return METHODS[name]


def flow_batch(
    ref: TensorLike,
    frames: TensorLike,
    method: str = "farneback",
    *,
    device: str | torch.device = "auto",
    chunk: int = 64,
    **params: Any,
) -> np.ndarray:
    """Flows from ``ref`` ((H, W) or (B, H, W)) to each of ``frames`` ((B, H, W)) as numpy.

    Grey levels 0..255 in, (B, H, W, 2) float32 out. ``device`` is ``auto`` (the GPU when there
    is one), ``cpu`` or ``cuda``; ``params`` are the method's OpenCV parameters. At most ``chunk``
    frames are on the device at a time, which bounds memory whatever the window length (a 7-s
    window of a 200-fps video is 1400 frames).
    """
    compute = torch_method(method)
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    target = torch_device(device, f"the {method} flow")
    r, f = as_batch(ref, frames, torch.device("cpu"))
    out = np.empty((*f.shape, 2), np.float32)
    for start in range(0, f.shape[0], chunk):
        part = slice(start, start + chunk)
        refs = r if r.shape[0] == 1 else r[part]
        out[part] = compute(refs.to(target), f[part].to(target), **params).cpu().numpy()
    return out
