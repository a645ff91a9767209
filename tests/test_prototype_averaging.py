"""Eq. 18 pinned by hand: M_j is the per-pixel mean of the apex flows of the clips with AU j.

The flow is a test method whose field is known in advance (the onset→apex grey-level change
times a fixed pattern), so the prototypes can be written down by hand; everything else — the
landmarks, the region cuts, the per-AU bookkeeping, the averaging — is the real learner.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.face.regions import RegionSpec
from napari_mespot.core.flow.methods import FlowMethod
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import LabelledClip, learn_prototypes

EYE = RegionSpec("eye", ("eye_outer_l", "eye_outer_r"), (0.5, 0.25, 0.5, 0.25), (4, 2))
MOUTH = RegionSpec("mouth", ("mouth_corner_l", "mouth_corner_r"), (0.5, 0.25, 0.5, 0.25), (3, 2))


def _pattern(ref: np.ndarray, img: np.ndarray) -> np.ndarray:
    """Field (dv·(x + 1), −dv·(y + 1)) with dv the mean grey-level change: known per pixel."""
    dv = float(img.astype(np.float64).mean() - ref.astype(np.float64).mean())
    h, w = ref.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([dv * (xs + 1), -dv * (ys + 1)], axis=-1).astype(np.float32)


PATTERN = FlowMethod("pattern", _pattern)


def _landmarks() -> FaceLandmarks:
    points = np.full((1, 68, 2), 30.0, dtype=np.float32)
    points[0, 36], points[0, 45] = (20, 20), (40, 20)  # outer eye corners, 20 px apart
    points[0, 48], points[0, 54] = (24, 44), (36, 44)  # mouth corners
    return FaceLandmarks(points, np.ones(1, np.float32), "ibug68", "test")


def _clip(name: str, aus: tuple[int, ...], change: int) -> LabelledClip:
    onset = np.full((64, 64, 3), 100, np.uint8)
    apex = np.full((64, 64, 3), 100 + change, np.uint8)
    return LabelledClip(name, np.stack([onset, apex]), 0, 1, aus, _landmarks())


def _learn(clips, min_count):
    return run_to_end(learn_prototypes(clips, min_count=min_count, regions=(EYE, MOUTH), flow_method=PATTERN))


CLIPS = [
    _clip("a", (1,), 10),
    _clip("b", (1, 12), 20),  # both regions: counts for AU1 (eye) and AU12 (mouth)
    _clip("c", (12,), -6),
    _clip("d", (1,), 30),
    _clip("e", (99,), 50),  # no AU with a region: not averaged anywhere
]


def test_each_prototype_is_the_mean_apex_flow_of_its_clips():
    learnt = _learn(CLIPS, min_count=1)
    assert learnt.aus == (1, 12)
    # AU1: clips a, b, d with dv 10, 20, 30 → mean 20, over the 4×2 eye region.
    expected_au1 = np.array(
        [
            [[20, -20], [40, -20], [60, -20], [80, -20]],
            [[20, -40], [40, -40], [60, -40], [80, -40]],
        ],
        dtype=np.float32,
    )
    # AU12: clips b, c with dv 20, −6 → mean 7, over the 3×2 mouth region.
    expected_au12 = np.array(
        [
            [[7, -7], [14, -7], [21, -7]],
            [[7, -14], [14, -14], [21, -14]],
        ],
        dtype=np.float32,
    )
    np.testing.assert_allclose(learnt[1].field, expected_au1, rtol=0, atol=1e-5)
    np.testing.assert_allclose(learnt[12].field, expected_au12, rtol=0, atol=1e-5)
    assert (learnt[1].count, learnt[12].count) == (3, 2)
    assert learnt.provenance["used"] == 4 and "e" in learnt.provenance["skipped"]


def test_an_au_below_min_count_is_dropped_not_averaged_with_fewer_clips():
    learnt = _learn(CLIPS, min_count=3)
    assert learnt.aus == (1,)
    assert learnt.provenance["dropped_aus"] == {"12": 2}
    assert learnt[1].field[1, 3].tolist() == pytest.approx([80.0, -40.0])
