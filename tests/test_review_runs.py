"""A run's curves kept beside its review session and read back on a reopen."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import ReviewModel
from napari_mespot.core.review.runs import CURVES_KEY, load_run, runs_folder, save_run
from napari_mespot.core.spotters.base import CurvesFileError, SkippedSpan, SpotResult
from napari_mespot.core.spotters.prototype import PrototypeSettings

N = 120


def a_result() -> SpotResult:
    rng = np.random.default_rng(3)
    curves = rng.normal(size=(2, N)).astype(np.float32)
    curves[:, 100:] = np.nan  # skipped frames stay NaN
    return SpotResult(
        video="clip",
        method="prototype",
        fps=25.0,
        n_frames=N,
        intervals=(Interval(10, 14, "me", apex=12, score=1.5, source="prototype", id="p1"),),
        curve_labels=("AU4", "AU12"),
        curves=curves,
        thresholds=np.array([1740.2, 0.25]),
        raw_curves=curves * 2,
        windows=((0, 59), (30, 99)),
        skipped=(SkippedSpan(100, 119, "no face found"),),
        unreliable=(SkippedSpan(40, 55, "face occluded or its appearance changed"),),
        settings=PrototypeSettings(head_motion="similarity"),
        notes=("a note",),
        curve_unit="matching index",
    )


@pytest.fixture
def session_path(tmp_path):
    return tmp_path / "clip.mp4.mespot.json"


def saved_track(session_path, result):
    model = ReviewModel(result.fps, N)
    relative = save_run(session_path, "prototype 1", result)
    return model.add_track("prototype 1", result.intervals, run="prototype 1", **{CURVES_KEY: relative})


def test_a_saved_run_comes_back_as_it_was(session_path):
    result = a_result()
    track = saved_track(session_path, result)
    assert track.meta[CURVES_KEY] == "clip.mp4.mespot-runs/prototype 1/clip.curves.npz"
    assert runs_folder(session_path).is_dir()
    back = load_run(session_path, track, N)
    np.testing.assert_array_equal(back.curves, result.curves)  # NaN in the same places
    np.testing.assert_array_equal(back.raw_curves, result.raw_curves)
    np.testing.assert_array_equal(back.thresholds, result.thresholds)
    assert back.intervals == result.intervals
    # The unreliable spans too: a reopened run hatches where its spotter did not trust the face.
    names = (
        "video",
        "method",
        "fps",
        "n_frames",
        "curve_labels",
        "windows",
        "skipped",
        "unreliable",
        "notes",
    )
    for name in names:
        assert getattr(back, name) == getattr(result, name), name
    assert back.curve_unit == "matching index"
    assert back.settings_dict() == result.settings_dict()
    assert back.settings_dict()["head_motion"] == "similarity"


def test_a_track_without_curves_has_no_result(session_path):
    model = ReviewModel(25.0, N)
    track = model.add_track("scripted", [Interval(1, 5, "me")])
    assert load_run(session_path, track, N) is None


def test_a_missing_curves_file_is_one_line_naming_the_run(session_path):
    track = saved_track(session_path, a_result())
    (session_path.parent / track.meta[CURVES_KEY]).unlink()
    with pytest.raises(
        CurvesFileError, match=r"^run 'prototype 1': .*clip.curves.npz: the run's curves file is missing$"
    ):
        load_run(session_path, track, N)


def test_a_damaged_curves_file_is_one_line(session_path):
    track = saved_track(session_path, a_result())
    path = session_path.parent / track.meta[CURVES_KEY]
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CurvesFileError, match="cannot read the run's curves") as caught:
        load_run(session_path, track, N)
    assert "\n" not in str(caught.value)
    np.savez(path, curves=np.zeros((1, N)))  # an npz, but not a curves file
    with pytest.raises(CurvesFileError, match="not a curves file of a spotter run"):
        load_run(session_path, track, N)


def test_curves_of_another_length_are_refused(session_path):
    track = saved_track(session_path, a_result())
    with pytest.raises(CurvesFileError, match="holds curves of 120 frames, the video has 200"):
        load_run(session_path, track, 200)
