"""Flow inside the normalised eye/mouth regions of a window, with optional head-motion removal.

This is the AU-prototype spotter's input (paper eq. 8 per region): the regions are fitted on the
window's reference frame, every frame of the window is cut with the same transforms, and the
flow is computed from the reference crop to each later crop.

Head-motion compensation follows the MEGC-winning optical-flow spotters: the nose bridge is
rigid, so its flow is head motion only; its median displacement is carried into each region's
pixels (the regions are scaled differently) and subtracted. With ``similarity`` the later
frame is instead cut where the head carried each region (a similarity fitted on the rigid
landmarks of both frames), and the rotation, scale and translation left in the region flows
are fitted robustly and subtracted. See :mod:`napari_mespot.core.face.head_motion` for why.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from napari_mespot.core.face.head_motion import (
    head_motion_mode,
    landmark_motion,
    registered,
    remove_head_motion,
    residual_similarity,
    translation_motion,
)
from napari_mespot.core.face.landmarks import FaceLandmarks, FrameSource
from napari_mespot.core.face.regions import EYE, MOUTH, NOSE, RegionSpec, RegionTransform, face_regions
from napari_mespot.core.face.reliability import RESIDUAL_FLOW, UnexplainedShare
from napari_mespot.core.flow.batched import flows_to_reference
from napari_mespot.core.flow.methods import FlowMethod, get_method, to_gray
from napari_mespot.core.progress import Progress


def compensated(
    flows: dict[str, np.ndarray],
    transforms: Mapping[str, RegionTransform],
    mode: str,
    nose: RegionTransform | None = None,
    nose_flow: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """One frame's region flows minus the head motion of ``mode``: for ``similarity`` the
    similarity left in all regions together, for ``translation`` the nose bridge's shift
    (``nose_flow`` in ``nose`` pixels; without it nothing is removed)."""
    if mode == "similarity":
        motion = residual_similarity(flows, transforms)
    elif nose is not None and nose_flow is not None:
        motion = translation_motion(nose_flow, nose)
    else:
        return flows
    return {name: remove_head_motion(f, transforms[name], motion) for name, f in flows.items()}


def region_flows_pair(
    ref: np.ndarray,
    img: np.ndarray,
    transforms: Mapping[str, RegionTransform],
    method: str | FlowMethod = "farneback",
    nose: RegionTransform | None = None,
    head_motion: str = "translation",
    motion: np.ndarray | None = None,
    **params: Any,
) -> dict[str, np.ndarray]:
    """Flow of each region from frame ``ref`` to frame ``img`` (full frames, regions cut here).

    ``head_motion``: with ``translation`` and ``nose`` (the nose-bridge transform) the nose
    bridge's translation is subtracted from every region; with ``similarity``, ``img``'s regions
    are cut where ``motion`` (2×3, image coordinates, e.g. :func:`~.head_motion.landmark_motion`;
    none: where they are) carried them and the similarity left in the flows is subtracted.
    """
    m = get_method(method)
    mode = head_motion_mode(head_motion)
    ref_gray, img_gray = to_gray(ref), to_gray(img)
    moved = mode == "similarity" and motion is not None
    cuts = {n: registered(t, motion) for n, t in transforms.items()} if moved else transforms
    out = {name: m(t.warp(ref_gray), cuts[name].warp(img_gray), **params) for name, t in transforms.items()}
    nose_flow = None
    if nose is not None and mode == "translation":
        nose_flow = m(nose.warp(ref_gray), nose.warp(img_gray), **params)
    return compensated(out, transforms, mode, nose, nose_flow)


#: The key under which a window's per-frame unexplained shares travel with its flows.
_UNEXPLAINED = "_unexplained"


@dataclass(frozen=True, eq=False)  # holds arrays: identity equality
class WindowFlows:
    """Region flows of one window: ``flows[name]`` is (len(frames), h, w, 2) float32 (or, with a
    ``keep``, what it made of each frame's flows, stacked);
    ``head_motion`` is the compensation applied (one of ``HEAD_MOTION_MODES``);
    ``unexplained`` (len(frames),), when asked for, is per frame the largest share of a region
    its flow does not explain (:class:`~napari_mespot.core.face.reliability.UnexplainedShare`).
    """

    reference: int
    frames: np.ndarray
    transforms: dict[str, RegionTransform]
    flows: dict[str, np.ndarray]
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    head_motion: str = "off"
    unexplained: np.ndarray | None = None

    @property
    def head_motioncompensated(self) -> bool:
        return self.head_motion != "off"


def window_region_flows(
    video: FrameSource,
    landmarks: FaceLandmarks,
    reference: int,
    frames: Sequence[int] | np.ndarray,
    specs: Iterable[RegionSpec] = (EYE, MOUTH),
    method: str | FlowMethod = "farneback",
    head_motion: bool | str = "off",
    nose_spec: RegionSpec = NOSE,
    *,
    threads: int = 1,
    device: str | None = None,
    unexplained_kappa: float | None = None,
    keep: Callable[[dict[str, np.ndarray]], Mapping[str, np.ndarray]] | None = None,
    **params: Any,
) -> Generator[Progress, None, WindowFlows]:
    """Region flows from frame ``reference`` to each of ``frames`` (regions fitted on ``reference``).

    ``head_motion`` is the compensation: ``off``, ``translation`` or ``similarity`` (a bool is
    the former switch: ``True`` is ``translation``; see :mod:`napari_mespot.core.face.head_motion`).
    ``translation`` measures the head's translation on ``nose_spec``'s region; ``similarity`` cuts each frame
    where the landmarks say the head went (a frame without landmarks: where it is) and removes
    the similarity left in the region flows.

    Frames are decoded in order, each converted to grey once and cut into every region (and the
    nose bridge); :func:`.batched_flow.flows_to_reference` computes the flows — OpenCV on
    ``threads`` threads while the next frames decode, or the torch port on ``device`` — and
    removes the head translation per frame. The results do not depend on ``threads``.
    With ``unexplained_kappa`` each frame's share of the regions its flow cannot explain is
    measured too (on the flow before head-motion removal: the flow between the crops as cut; a
    DIS flow, the run's own or one computed for it, see ``RESIDUAL_FLOW``). ``keep`` maps each
    frame's compensated flows to what is returned in their place (e.g. their matching index, in
    the flow threads), so that a caller needing no flow field holds none.

    Raises :class:`~napari_mespot.core.face.regions.NoFaceError` when the reference frame has no face;
    later frames are cut with the reference transforms whether or not their own fit succeeded.
    """
    specs = tuple(specs)
    m = get_method(method)
    mode = head_motion_mode(head_motion)
    nosed = mode == "translation"
    fitted = face_regions(landmarks, reference, (*specs, nose_spec) if nosed else specs)
    ref_gray = to_gray(video[reference])
    ref_crops = {name: t.warp(ref_gray) for name, t in fitted.items()}
    nose = fitted.pop(nose_spec.name) if nosed else None
    index = np.asarray(frames, dtype=np.int64)
    if len(index) == 0:
        empty = {name: np.empty((0, t.size[1], t.size[0], 2), np.float32) for name, t in fitted.items()}
        none = None if unexplained_kappa is None else np.empty(0, np.float32)
        return WindowFlows(reference, index, fitted, empty, m.name, dict(params), mode, none)
    cuts = {**fitted, nose_spec.name: nose} if nose is not None else fitted

    def crops() -> Iterator[dict[str, np.ndarray]]:
        for i in index:
            gray = to_gray(video[int(i)])
            motion = landmark_motion(landmarks, reference, int(i)) if mode == "similarity" else None
            yield {
                name: (t if motion is None else registered(t, motion)).warp(gray) for name, t in cuts.items()
            }

    # The residual needs a flow that follows the lips and lids closely (RESIDUAL_FLOW): the run's
    # own when it is DIS, else DIS computed for the residual alone.
    own = m.name == RESIDUAL_FLOW[0]
    residual_flow = m if own else get_method(RESIDUAL_FLOW[0])
    kappa = unexplained_kappa
    residuals = {} if kappa is None else {name: UnexplainedShare(ref_crops[name], kappa) for name in fitted}

    def finish(flows: dict[str, np.ndarray], crops: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        nose_flow = flows.pop(nose_spec.name) if nose is not None else None
        shares = None
        if residuals:
            shares = max(
                residuals[name](
                    crops[name], f if own else residual_flow(ref_crops[name], crops[name], **RESIDUAL_FLOW[1])
                )
                for name, f in flows.items()
            )
        out = compensated(flows, fitted, mode, nose, nose_flow)
        out = out if keep is None else dict(keep(out))
        return out if shares is None else {**out, _UNEXPLAINED: np.float32(shares)}

    flows = yield from flows_to_reference(
        ref_crops, crops(), len(index), m, threads=threads, device=device, finish=finish, **params
    )
    shares = flows.pop(_UNEXPLAINED, None)
    return WindowFlows(reference, index, fitted, flows, m.name, dict(params), mode, shares)
