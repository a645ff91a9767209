"""Flows of many frames against one reference per region: the hot loop of prototype spotting.

A window's flows are independent given the reference crops, so they are computed two ways that
give the per-frame loop's results:

- **OpenCV on a thread pool** (the CPU path). OpenCV releases the GIL inside its calls, so
  ``threads`` frames are computed at once while the calling thread decodes and cuts the next
  frames (decoding must stay sequential: a video decodes forward, and out-of-order requests
  would seek). Each flow is the same call on the same crops as in a serial loop, so the results
  are identical whatever the number of threads.
- **The batched torch port** (:mod:`napari_mespot.core.flow.torch.ports`, the GPU path): every
  frame's crop of a region against the reference crop in one call on the device. ``farneback``,
  ``tvl1`` and ``dis`` are ported; their results agree with OpenCV's within the errors stated in
  ``tests/test_flow_torch.py`` and ``tests/test_flow_torch_dis.py``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from napari_mespot.core.flow.methods import FlowMethod, get_method
from napari_mespot.core.progress import Progress

Crops = Mapping[str, np.ndarray]
#: Per-frame post-processing of the flows (e.g. head-motion removal): all regions' flows of one
#: frame and the crops they were computed on in, the arrays to keep out.
Finish = Callable[[dict[str, np.ndarray], Crops], Mapping[str, np.ndarray]]


def torch_params(method: FlowMethod, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` completed with the method's defaults, as the torch port takes them.

    OpenCV's TV-L1 illumination term (``gamma``) is not ported; its default, 0, is what runs,
    and any other value is refused rather than ignored.
    """
    full = {**method.defaults, **params}
    if method.name == "tvl1":
        gamma = full.pop("gamma", 0.0)
        if gamma:
            raise ValueError(f"the torch TV-L1 has no illumination term: gamma must be 0, got {gamma}")
    return full


def flows_to_reference(
    references: Crops,
    frames: Iterable[Crops],
    count: int,
    method: str | FlowMethod = "farneback",
    *,
    threads: int = 1,
    device: str | None = None,
    finish: Finish | None = None,
    label: str = "",
    **params: Any,
) -> Generator[Progress, None, dict[str, np.ndarray]]:
    """Flow from ``references[name]`` to each frame's ``crops[name]``: ``{name: (count, h, w, 2)}``.

    ``frames`` yields ``count`` dicts of uint8 grey crops (same names and sizes as
    ``references``), read lazily in order. ``device`` ``None`` uses OpenCV on ``threads``
    threads; ``"cpu"`` or ``"cuda"`` uses the torch port on that device. ``finish`` maps each
    frame's flows (and its crops) to what is returned: one array per name, stacked over the
    frames (on the CPU path it runs in the worker threads too).
    """
    m = get_method(method)
    m.check(params)  # once here: the torch path does not call the method per frame
    label = label or f"{m.name} flow"
    # Each frame's arrays are kept as they come and stacked once at the end (one copy, as writing
    # them into arrays made on the first frame's shapes was, but no frame has to come first).
    kept: list[Mapping[str, np.ndarray]] = [{}] * count

    def store(k: int, flows: dict[str, np.ndarray], crops: Crops) -> None:
        kept[k] = finish(flows, crops) if finish is not None else flows

    if device is not None:
        yield from _torch_flows(references, frames, count, m, device, label, store, params)
    else:
        yield from _opencv_flows(references, frames, count, m, max(1, threads), label, store, params)
    names = kept[0] if kept else {}
    return {name: np.stack([k[name] for k in kept]).astype(np.float32, copy=False) for name in names}


def _opencv_flows(
    references: Crops,
    frames: Iterable[Crops],
    count: int,
    m: FlowMethod,
    threads: int,
    label: str,
    store: Callable[[int, dict[str, np.ndarray], Crops], None],
    params: Mapping[str, Any],
) -> Generator[Progress, None, None]:
    def one(k: int, crops: Crops) -> None:
        store(k, {name: m(ref, crops[name], **params) for name, ref in references.items()}, crops)

    if threads == 1:
        for k, crops in enumerate(frames):
            yield Progress(k, count, label)
            one(k, crops)
        yield Progress(count, count, label)
        return
    # At most 2 × threads frames in flight: the pool stays busy while the crops held stay few.
    pending: deque[Future] = deque()
    done = 0

    def settle(keep: int) -> Generator[Progress, None, None]:
        """Wait for the oldest frames until at most ``keep`` are in flight."""
        nonlocal done
        while len(pending) > keep:
            pending.popleft().result()
            done += 1
            yield Progress(done, count, label)

    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mespot-flow") as pool:
        for k, crops in enumerate(frames):
            pending.append(pool.submit(one, k, crops))
            yield from settle(2 * threads - 1)
        yield from settle(0)


def _torch_flows(
    references: Crops,
    frames: Iterable[Crops],
    count: int,
    m: FlowMethod,
    device: str,
    label: str,
    store: Callable[[int, dict[str, np.ndarray], Crops], None],
    params: Mapping[str, Any],
) -> Generator[Progress, None, None]:
    from napari_mespot.core.flow.torch.ports import flow_batch

    full = torch_params(m, params)
    stacks = {name: np.empty((count, *ref.shape), np.uint8) for name, ref in references.items()}
    for k, crops in enumerate(frames):
        yield Progress(k, 2 * count, f"{label}: cutting")
        for name in references:
            stacks[name][k] = crops[name]
    flows = {}
    for j, (name, ref) in enumerate(references.items()):
        yield Progress(count + j * count // len(references), 2 * count, f"{label} on {device}")
        flows[name] = flow_batch(ref, stacks[name], m.name, device=device, chunk=max(1, count), **full)
    for k in range(count):
        store(k, {name: f[k] for name, f in flows.items()}, {name: s[k] for name, s in stacks.items()})
    yield Progress(2 * count, 2 * count, label)
