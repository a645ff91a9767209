"""The default (``robust``) preset: the same face events give the same intervals whatever the
footage, and nothing is spotted while something covers the face.

One short video of the first generator (a seed used for nothing else: see
``src/napari_mespot/data/README.md``) is written again bigger, brighter and at 200 fps
(:mod:`napari_mespot.core.synth.augment`), and once with a skin-coloured ellipse over the
mouth for 1.5 s. Intervals are compared in seconds: two frames at 30 fps.

Its expressions are clear ones (a micro-expression of 2.5–3 px): one that barely reaches its
threshold comes and goes with any re-encoding, so only clear events can be asked to stay put.
"Brighter" is a tone curve (gamma 0.7: mid-tones up by about a third) rather than a gain: the
synthetic face is already bright (a tenth of it above 227), and a gain would saturate it — no
spotter can see motion in clipped white.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import CURVE_UNIT, PRESETS, default_prototypes, spot
from napari_mespot.core.spotters.prototype.normalise import FLOOR_UNIT
from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET
from napari_mespot.core.synth import augment
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

SEED = 777001
#: Short and clear: two macro-expressions and a micro-expression among the usual distractors.
SETTINGS = SynthSettings(
    duration_s=12.0, n_me=1, n_mae=2, me_amplitude_px=(2.5, 3.0), mae_amplitude_px=(5.0, 7.0)
)
TOLERANCE_S = 2 / 30


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    folder = tmp_path_factory.mktemp("robust")
    result = run_to_end(write_synthetic_video(folder / "original.mp4", SETTINGS, SEED))
    return result.path


def _spot(path):
    settings = PRESETS[DEFAULT_PRESET]
    with open_video(path) as video:
        return run_to_end(spot(video, default_prototypes(settings.shipped_prototypes), settings))


def _seconds(result) -> np.ndarray:
    return np.array([(iv.onset / result.fps, (iv.offset + 1) / result.fps) for iv in result.intervals])


@pytest.fixture(scope="module")
def spotted_original(original):
    result = _spot(original)
    assert len(result.intervals) >= 2  # something to compare: the check is not vacuous
    return result


def test_the_default_preset_is_the_robust_one():
    settings = PRESETS[DEFAULT_PRESET]
    assert DEFAULT_PRESET == "robust" and settings.normalise == "floor" and settings.reliability
    assert settings.head_motion == PRESETS["fast"].head_motion == PRESETS["recommended"].head_motion != "off"


def test_its_curves_and_thresholds_are_in_noise_floors(spotted_original):
    """Normalised curves are measured in the video's noise floor, and so are the thresholds the
    robust set was calibrated with: the plots and labels must not call them matching indices."""
    assert spotted_original.curve_unit == FLOOR_UNIT == default_prototypes("robust").threshold_unit
    assert default_prototypes("paper").threshold_unit == CURVE_UNIT


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "change", "fps"),
    [
        ("bigger", augment.rescaled(1.5), None),
        ("brighter", augment.brightened(gamma=0.7), None),
        ("200fps", None, 200.0),
    ],
)
def test_other_footage_of_the_same_face_gives_the_same_intervals(
    original, spotted_original, tmp_path, name, change, fps
):
    variant = augment.write_augmented(original, tmp_path / f"{name}.mp4", change, fps)
    result = _spot(variant)
    if fps is not None:
        assert result.fps == pytest.approx(fps) and result.n_frames > 6 * spotted_original.n_frames
    want, got = _seconds(spotted_original), _seconds(result)
    assert got.shape == want.shape, (want.round(2).tolist(), got.round(2).tolist())
    np.testing.assert_allclose(got, want, atol=TOLERANCE_S + 1e-9, rtol=0)


@pytest.mark.slow
def test_nothing_is_spotted_under_an_occluder_and_its_span_is_marked(original, tmp_path):
    from napari_mespot.core.face.cache import landmarks_for_video
    from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
    from napari_mespot.core.face.reliability import OCCLUDED

    fps = SETTINGS.fps
    start, end = round(5.0 * fps), round(6.5 * fps) - 1
    with open_video(original) as video:
        points = run_to_end(landmarks_for_video(video, MediaPipeFaceMesh())).key_points(start)
    mouth = (points["mouth_corner_l"] + points["mouth_corner_r"]) / 2
    iod = float(np.hypot(*(points["eye_outer_r"] - points["eye_outer_l"])))
    occluder = augment.Occluder(start, end, (float(mouth[0]), float(mouth[1])), (0.6 * iod, 0.4 * iod))
    path = augment.write_augmented(original, tmp_path / "occluded.mp4", augment.occluded(occluder))
    result = _spot(path)

    occluded = [s for s in result.unreliable if s.reason.startswith(OCCLUDED)]
    assert occluded, result.unreliable
    covered = np.zeros(result.n_frames, dtype=bool)
    for s in occluded:
        covered[s.start : s.end + 1] = True
    assert covered[start : end + 1].mean() >= 0.8
    assert abs(min(s.start for s in occluded) - start) <= round(0.2 * fps)
    for iv in result.intervals:
        assert not start <= iv.onset <= end, iv
        for s in result.unreliable:
            assert not s.start <= iv.onset <= s.end, (iv, s)
            assert iv.offset < s.start or iv.onset > s.end, (iv, s)  # none lies across one either
