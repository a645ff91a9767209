"""Learning (eq. 18) puts each AU's motion where FACS says it is, and selects AUs by count."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.spotters.prototype import LabelledClip, PrototypeError, learn_prototypes
from napari_mespot.core.synth import SynthScene, SynthSettings, scripted_expression
from napari_mespot.core.synth_schedule import Expression

QUIET = SynthSettings(
    duration_s=2.0,
    size=(320, 240),
    head_drift=False,
    head_shakes=False,
    blinks=False,
    noise_sigma=0.0,
    flicker=False,
)


def _clip(au: int, amplitude: float, seed: int) -> LabelledClip:
    ex: Expression = scripted_expression(5, 20, (au,), amplitude, QUIET.fps)
    scene = SynthScene(QUIET, seed, expressions=[ex])
    frames = np.stack([scene.frame(ex.onset), scene.frame(ex.apex)])
    return LabelledClip(f"au{au}-{seed}", frames, 0, 1, (au,))


def _run(gen):
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def _mean(field: np.ndarray, x: int, y: int, r: int = 12) -> np.ndarray:
    return field[y - r : y + r, x - r : x + r].reshape(-1, 2).mean(axis=0)


@pytest.fixture(scope="module")
def learnt():
    clips = [_clip(12, 1.5, 0), _clip(12, 2.0, 1), _clip(15, 1.5, 2), _clip(1, 1.5, 3), _clip(1, 2.0, 4)]
    return _run(learn_prototypes(clips, min_count=2, provenance={"test": True}))


def test_min_count_selects_the_aus(learnt):
    # AU15 occurs once: below min_count 2, dropped and recorded.
    assert learnt.aus == (1, 12)
    assert learnt[12].count == 2 and learnt[12].region == "mouth" and learnt[1].region == "eye"
    assert learnt.provenance["dropped_aus"] == {"15": 1}
    assert learnt.provenance["test"] is True


def test_au12_pulls_the_lip_corners_up_and_out(learnt):
    field = learnt[12].field
    # Mouth region (260×160, eq. 9–12 with γ = 0.2/0.6): the corners sit at x = 0.2/1.4·260 ≈ 37
    # and 260 − 37 = 223, at mid-height y = 80.
    left, right, middle = _mean(field, 37, 80), _mean(field, 223, 80), _mean(field, 130, 80)
    assert left[1] < -0.3 and right[1] < -0.3  # up (image y grows downwards)
    assert left[0] < -0.1 and right[0] > 0.1  # outwards
    assert np.hypot(*left) > 3 * np.hypot(*middle)  # the motion is at the corners


def test_au1_raises_the_inner_brows(learnt):
    field = learnt[1].field
    mag = learnt[1].magnitude()
    # Eye region 280×240: the brows lie in the upper half; the inner brows near the middle.
    y, x = np.unravel_index(np.argmax(mag), mag.shape)
    assert y < 120 and 60 < x < 220
    assert _mean(field, int(x), int(y), 6)[1] < 0  # upwards


def test_too_rare_everywhere_is_an_error():
    with pytest.raises(PrototypeError, match="at least 5"):
        _run(learn_prototypes([_clip(12, 1.5, 0)], min_count=5))
