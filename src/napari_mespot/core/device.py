"""Where torch work runs: one policy for every spotter, trainer and flow port.

``auto`` takes the GPU when torch sees one; ``cpu`` the CPU; ``cuda`` (or ``cuda:N``) the GPU,
and where there is none the work runs on the CPU with a note that says so — the same note from
the prototype spotter, VoVNet and the flow ports, so the CLI prints it and the dock shows it,
instead of one method falling back and another refusing. A device name that is not one of those
is the one error (:class:`DeviceUnavailableError`).
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_mespot.core.errors import MespotError

DEVICES = ("auto", "cpu", "cuda")


class DeviceUnavailableError(MespotError):
    """A device name torch does not know (``cuda`` without a GPU falls back instead)."""


@dataclass(frozen=True)
class DeviceChoice:
    """The device work runs on (``cpu``, ``cuda`` or ``cuda:N``) and, when that is not what was
    asked for, why."""

    device: str
    note: str | None = None

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")


@functools.cache
def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU (asked once per process); torch is imported only when a
    CUDA driver is installed, so a CPU-only run does not pay seconds of torch import to learn
    there is none."""
    import ctypes.util
    import importlib.util

    if not any(ctypes.util.find_library(name) for name in ("cuda", "nvcuda")):
        return False
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def fallback_note(what: str) -> str:
    """The words every caller uses when ``cuda`` was asked for and ``what`` ran on the CPU."""
    return f"device cuda asked for, but torch sees no CUDA GPU here: {what} ran on the CPU"


def resolve_device(asked: str, what: str = "the computation") -> DeviceChoice:
    """The device for ``asked`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``); ``what`` names the work
    in the fallback note."""
    name = str(asked).strip().lower()
    if name == "cpu":
        return DeviceChoice("cpu")
    if name == "auto":
        return DeviceChoice("cuda" if cuda_available() else "cpu")
    kind, colon, index = name.partition(":")
    if kind != "cuda" or (colon and not index.isdigit()):
        raise DeviceUnavailableError(f"unknown device {asked!r}; use {', '.join(DEVICES)} (or cuda:N)")
    if not cuda_available():
        return DeviceChoice("cpu", fallback_note(what))
    return DeviceChoice(name)


def torch_device(asked: Any, what: str = "the computation") -> Any:
    """:func:`resolve_device` as a ``torch.device``, for work with no result to carry the note:
    the fallback note is logged (the CLI prints it as a warning). A ``torch.device`` passes."""
    import torch

    if isinstance(asked, torch.device):
        return asked
    choice = resolve_device(asked, what)
    if choice.note:
        logging.getLogger(__name__).warning(choice.note)
    return torch.device(choice.device)


def keep_triton_out_if_llvm_loaded() -> bool:
    """Make ``import triton`` fail in this process when another LLVM is already loaded in it;
    ``True`` when it did.

    torch's optimisers import ``torch._dynamo`` on first use, which imports triton where the
    wheel ships it (torch's CUDA wheels; on Python 3.12 PyPI has no other for Linux). Triton's
    extension carries its own LLVM, and loading it into a process that has Mesa's ``libLLVM``
    (software OpenGL: napari under Xvfb, a VM, a remote desktop) crashes the process with a
    segmentation fault. Training never compiles, so torch is told there is no triton instead
    (it then imports none), and the run says so in the log.
    """
    if "triton" in sys.modules or importlib.util.find_spec("triton") is None:
        return False
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:  # not Linux: no Mesa LLVM clash known there
        return False
    if "libLLVM" not in maps:
        return False
    sys.modules["triton"] = None  # type: ignore[assignment]  # `import triton` raises ImportError
    logging.getLogger(__name__).warning(
        "an LLVM library (software OpenGL) is loaded in this process, so triton, which carries its "
        "own LLVM and would crash here, is kept out; training does not need it"
    )
    return True
