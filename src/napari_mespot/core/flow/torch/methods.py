"""The torch flow methods under the common flow signature: ``farneback-torch``, ``tvl1-torch``, ``dis-torch``.

They take OpenCV's parameters (the same defaults as ``farneback`` and ``tvl1``) plus ``device``
(``auto``: the GPU when torch sees one), and return what OpenCV returns to within the errors
stated in ``tests/test_flow_torch.py``. This module is apart from the ports so that
listing the flow methods (every CLI call, the GUI's method menus) does not import torch, which
takes seconds on a small machine; torch loads when one of these methods first computes.
"""

from __future__ import annotations

import functools
from types import MappingProxyType
from typing import Any

import numpy as np

from napari_mespot.core.flow.methods import DIS, FARNEBACK, TVL1, FlowMethod


def _torch_flow(
    method: str, ref: np.ndarray, img: np.ndarray, device: str = "auto", **params: Any
) -> np.ndarray:
    from napari_mespot.core.flow.torch.ports import flow_batch

    return flow_batch(ref, img[None], method, device=device, **params)[0]


FARNEBACK_TORCH = FlowMethod(
    "farneback-torch",
    functools.partial(_torch_flow, "farneback"),
    MappingProxyType({**FARNEBACK.defaults, "gaussian_window": False, "device": "auto"}),
    "Farneback in torch, OpenCV's result on the GPU when there is one",
    FARNEBACK.rules,
)
TVL1_TORCH = FlowMethod(
    "tvl1-torch",
    functools.partial(_torch_flow, "tvl1"),
    # OpenCV's illumination term (gamma) is not ported; its default, 0, is what runs.
    MappingProxyType({**{k: v for k, v in TVL1.defaults.items() if k != "gamma"}, "device": "auto"}),
    "dual TV-L1 in torch, OpenCV's result on the GPU when there is one",
    TVL1.rules,
)
DIS_TORCH = FlowMethod(
    "dis-torch",
    functools.partial(_torch_flow, "dis"),
    MappingProxyType({**DIS.defaults, "device": "auto"}),
    "dense inverse search in torch, OpenCV's result on the GPU when there is one",
    DIS.rules,
)

