"""The AU-prototype spotter end to end on short synthetic videos.

The videos use seeds that made neither the default prototypes nor their thresholds (see
``src/napari_mespot/data/README.md``: learning seeds 1000, calibration seed 2000), so the F1
here is a held-out measurement, not a fit.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.media.video import open_video
from napari_mespot.core.metrics import evaluate
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import PRESETS, PrototypeSettings, default_prototypes, spot
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_video

#: The frame size and amplitudes the default prototypes were calibrated at (640×480). At half
#: size with half the pixel amplitudes the same seed scores much lower (sub-pixel motion, see
#: the issue report), so the end-to-end check runs where the defaults claim to work.
SMALL = SynthSettings(duration_s=15.0, n_me=2, n_mae=2)
HELD_OUT_SEED = 424242


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    path = tmp_path_factory.mktemp("spot") / "held_out.mp4"
    result = run_to_end(write_synthetic_video(path, SMALL, HELD_OUT_SEED))
    return path, result


@pytest.fixture(scope="module")
def spotted(small_video):
    path, _ = small_video
    with open_video(path) as video:
        return run_to_end(spot(video, default_prototypes(), PRESETS["recommended"]))


@pytest.mark.slow
def test_spots_held_out_expressions(small_video, spotted):
    _, truth = small_video
    ev = evaluate({"held_out": truth.intervals}, {"held_out": spotted.intervals}, k=0.5)
    print(
        f"held-out seed {HELD_OUT_SEED}: F1 ME {ev.me.f1:.2f} MaE {ev.mae.f1:.2f} overall {ev.overall.f1:.2f}"
    )
    assert ev.overall.f1 >= 0.5, [(iv.onset, iv.offset, iv.type) for iv in spotted.intervals]


@pytest.mark.slow
def test_result_is_complete_and_consistent(spotted):
    r = spotted
    assert r.method == "prototype" and r.video == "held_out" and r.fps == pytest.approx(30.0)
    assert r.curves.shape == (8, r.n_frames) and r.curve_labels[0] == "AU1"
    assert np.isfinite(r.curves).all()  # a face on every frame: nothing skipped
    assert (r.curves >= 0).all()  # clipped (§3.2)
    assert r.skipped == () and r.analysed_fraction() == 1.0
    assert r.windows[0][0] == 0 and r.windows[-1][1] == r.n_frames - 1
    for iv in r.intervals:
        assert iv.onset <= iv.apex <= iv.offset and iv.score > 1.0 and iv.source == "prototype"
        assert iv.type == ("me" if iv.length / r.fps <= 0.5 else "mae")
        v = r.curve_labels.index(f"AU{iv.aus[0]}") if len(iv.aus) == 1 else None
        if v is not None:  # apex = the curve's maximum inside the interval
            assert r.curves[v, iv.apex] == pytest.approx(r.curves[v, iv.onset : iv.offset + 1].max())


@pytest.mark.slow
def test_frames_without_a_face_are_skipped_and_reported(small_video):
    from napari_mespot.core.face.cache import landmarks_for_video
    from napari_mespot.core.face.landmarks import FaceLandmarks, MediaPipeFaceMesh

    path, _ = small_video
    with open_video(path) as video:
        lm = run_to_end(landmarks_for_video(video, MediaPipeFaceMesh()))
        points = lm.points.copy()
        points[100:130] = np.nan  # the face "leaves" for a second
        gap = FaceLandmarks(points, lm.confidence, lm.scheme, lm.provider, lm.settings)
        r = run_to_end(spot(video, default_prototypes(), PrototypeSettings(), landmarks=gap))
    assert [(s.start, s.end, s.reason) for s in r.skipped] == [(100, 129, "no face found")]
    assert np.isnan(r.curves[:, 100:130]).all() and np.isfinite(r.curves[:, :100]).all()
    assert all(not (100 <= w[0] <= 129 or 100 <= w[1] <= 129) for w in r.windows)
    assert all(iv.offset < 100 or iv.onset > 129 for iv in r.intervals)
