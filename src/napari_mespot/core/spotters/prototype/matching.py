"""AU-prototype matching (paper eq. 21–23).

The matching index of frame i with AU j is the sum over the region of the Hadamard product of
the frame's flow field with the prototype: p_i^j = Σ_x,y F_i[x, y] · M_j[x, y] (both flow
components). It is large when the face moves the way the AU moves, near 0 for motion elsewhere
or across the prototype's direction, and negative for the opposite motion.

All AUs of one region are matched at once per frame (one matrix-vector product), so each flow
field is read once however many AUs there are; the spotter does it as each frame's flow is
computed (:class:`FrameMatcher`). One product for all the frames of a window would be a
matrix product, which OpenBLAS spreads over its threads; on a shared machine its
spinning threads stall (measured at load 14 on 2 cores: 0.25-1.8 s for a 64-frame batch, against
0.02 s for the 64 matrix-vector products, which stay below its threading threshold and take the
same time on an idle machine).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: What the curves (and the thresholds θ_j) of the matching index are measured in.
CURVE_UNIT = "matching index"


def match_region(flows: np.ndarray, prototypes: np.ndarray) -> np.ndarray:
    """Eq. 21–22 for one region: flows (T, h, w, 2) × prototypes (V, h, w, 2) → (V, T)."""
    flows = np.asarray(flows, dtype=np.float32)
    prototypes = np.asarray(prototypes, dtype=np.float32)
    if flows.shape[1:] != prototypes.shape[1:]:
        raise ValueError(
            f"flow fields {flows.shape[1:]} and prototypes {prototypes.shape[1:]} differ in shape"
        )
    t, v = flows.shape[0], prototypes.shape[0]
    m = prototypes.reshape(v, -1)
    out = np.empty((v, t), dtype=np.float64)
    for k, f in enumerate(flows.reshape(t, -1)):
        out[:, k] = m @ f
    return out


class FrameMatcher:
    """Eq. 21–23 one frame at a time: the frame's column of W from its region flows.

    The spotter matches each frame as soon as its flow is computed (in the flow threads), so a
    window's flow fields (about 1 MB a frame) are never stacked and copied: only the V values
    of each frame are kept. Each region's prototypes are stacked once, here.
    """

    def __init__(self, prototypes: Sequence[np.ndarray], regions: Sequence[str]) -> None:
        if len(prototypes) != len(regions):
            raise ValueError("one region per prototype is required")
        self.count = len(prototypes)
        self.rows = {r: [v for v, name in enumerate(regions) if name == r] for r in dict.fromkeys(regions)}
        self.fields = {
            r: np.stack([np.asarray(prototypes[v], dtype=np.float32) for v in rows])
            for r, rows in self.rows.items()
        }

    def __call__(self, flows: Mapping[str, np.ndarray]) -> np.ndarray:
        """Row v of the result matches ``prototypes[v]`` against ``flows[regions[v]]`` (h, w, 2)."""
        out = np.empty(self.count, dtype=np.float64)
        for region, rows in self.rows.items():
            if region not in flows:
                raise ValueError(f"no flow for region {region!r}")
            out[rows] = match_region(flows[region][None], self.fields[region])[:, 0]
        return out
