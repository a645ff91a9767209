"""Landmark providers, the key-point table, CSV import and the on-disk cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from napari_mespot.core.face import cache as landmark_cache
from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import (
    KEY_POINTS,
    SCHEMES,
    CsvLandmarkProvider,
    FaceLandmarks,
    LandmarkError,
    MediaPipeFaceMesh,
    key_points,
    read_landmark_csv,
)
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import Progress


def run(gen):
    """Drive a progress generator to its result, checking what it yields."""
    while True:
        try:
            item = next(gen)
        except StopIteration as stop:
            return stop.value
        assert isinstance(item, Progress)


# --- the table -------------------------------------------------------------------------------


def test_key_point_table_maps_every_point_in_both_schemes():
    needed = {
        "eye_outer_l",
        "eye_outer_r",
        "mouth_corner_l",
        "mouth_corner_r",
        "nose_bridge",
        "brow_l",
        "brow_r",
    }
    assert needed <= set(KEY_POINTS)
    for name, per_scheme in KEY_POINTS.items():
        assert set(per_scheme) == set(SCHEMES), name
        for scheme, idx in per_scheme.items():
            assert idx and all(0 <= i < min(SCHEMES[scheme]) for i in idx), (name, scheme)


def test_key_points_average_multi_index_points():
    pts = np.zeros((68, 2))
    pts[[27, 28, 29]] = [[10, 0], [10, 10], [10, 20]]
    kp = key_points(pts, "ibug68")
    np.testing.assert_allclose(kp["nose_bridge"], [10, 10])
    with pytest.raises(LandmarkError):
        key_points(pts, "dlib5")


# --- MediaPipe on the real videos --------------------------------------------------------------


@pytest.fixture(scope="module")
def wolfgang(fixtures_dir):
    video = open_video(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4")
    return video, run(MediaPipeFaceMesh().detect(video))


def test_mediapipe_finds_the_face_on_every_visible_frame(wolfgang):
    video, lm = wolfgang
    assert len(lm) == len(video) == 472
    assert lm.scheme == "mediapipe" and lm.points.shape == (472, 468, 2)
    # The face is in view (partly behind a hand while crying) for the whole clip.
    assert lm.found.mean() >= 0.98
    assert np.median(lm.confidence[lm.found]) > 0.9
    pts = lm.points[lm.found]
    assert (pts[..., 0] >= -5).all() and (pts[..., 0] <= 645).all()


def test_mediapipe_key_points_match_hand_marked_eyes_and_mouth(wolfgang):
    _, lm = wolfgang
    # Pupils and mouth centre read by eye from the frames (x, y), not from any model.
    marked = {0: ((370, 180), (465, 177), (432, 281)), 300: ((405, 112), (510, 118), (450, 225))}
    for frame, (pupil_l, pupil_r, mouth) in marked.items():
        kp = lm.key_points(frame)
        inter = np.hypot(*np.subtract(pupil_r, pupil_l))
        # Outer eye corners lie outward of the pupils, within half an inter-pupil distance.
        assert 0 < pupil_l[0] - kp["eye_outer_l"][0] < inter / 2
        assert 0 < kp["eye_outer_r"][0] - pupil_r[0] < inter / 2
        mouth_mid = (kp["mouth_corner_l"] + kp["mouth_corner_r"]) / 2
        assert np.hypot(*(mouth_mid - mouth)) < 12
        assert kp["brow_l"][1] < pupil_l[1] and kp["brow_r"][1] < pupil_r[1]
        assert pupil_l[0] < kp["nose_bridge"][0] < pupil_r[0]


def test_no_face_video_reports_every_frame_missing(fixtures_dir):
    video = open_video(fixtures_dir / "video" / "no_face.mp4")
    lm = run(MediaPipeFaceMesh().detect(video))
    assert len(lm) == len(video)
    assert lm.missing_frames().tolist() == list(range(len(video)))
    assert lm.at(0) is None and lm.key_points(0) is None
    assert (lm.confidence < 0.5).all()


def test_face_leaving_the_frame_is_reported(fixtures_dir):
    video = open_video(fixtures_dir / "video" / "face_noface.mov")
    lm = run(MediaPipeFaceMesh().detect(video))
    # By eye: the man is in view on frames 0–71; frame 72 is black, then sky and clouds.
    assert lm.found[:71].all()
    assert not lm.found[72:].any()
    assert lm.at(10) is not None and lm.at(100) is None


# --- CSV import --------------------------------------------------------------------------------


def test_openface_csv_import(fixtures_dir):
    lm = read_landmark_csv(fixtures_dir / "landmarks" / "openface2_test.csv")
    assert (lm.scheme, lm.provider, lm.settings["format"]) == ("ibug68", "csv", "openface2")
    assert lm.points.shape == (100, 68, 2) and lm.found.all()
    # OpenFace numbers frames from 1: its "frame 1" row is our frame 0 (values from the file).
    np.testing.assert_allclose(lm.points[0, 36], [297.654, 186.139], atol=1e-3)
    np.testing.assert_allclose(lm.points[0, 45], [364.607, 184.018], atol=1e-3)
    np.testing.assert_allclose(lm.confidence[0], 0.883333, atol=1e-5)


def test_pyfeat_csv_import_and_padding(fixtures_dir):
    lm = read_landmark_csv(fixtures_dir / "landmarks" / "pyfeat_001.csv", n_frames=50)
    assert lm.settings["format"] == "pyfeat"
    assert lm.points.shape == (50, 68, 2)
    # py-feat numbers frames from 0; frames 40–49 are not in the file.
    np.testing.assert_allclose(lm.points[0, 36], [439.593403, 510.238430], atol=1e-4)
    np.testing.assert_allclose(lm.points[2, 45], [696.395747, 488.007852], atol=1e-4)
    assert lm.missing_frames().tolist() == list(range(40, 50))
    kp = lm.key_points(0)
    assert kp["eye_outer_l"][0] < kp["eye_outer_r"][0]
    assert kp["mouth_corner_l"][1] > kp["eye_outer_l"][1]


def test_csv_failures_and_no_face_rows(fixtures_dir, tmp_path):
    import pandas as pd

    src = fixtures_dir / "landmarks" / "openface2_test.csv"
    with pytest.raises(LandmarkError, match="video has 10 frames"):
        read_landmark_csv(src, n_frames=10)
    table = pd.read_csv(src, skipinitialspace=True)
    table.loc[3, "success"] = 0
    table.loc[5, "x_10"] = np.nan
    edited = tmp_path / "of.csv"
    table.to_csv(edited, index=False)
    lm = read_landmark_csv(edited)
    assert lm.missing_frames().tolist() == [3, 5]
    table.drop(columns=["y_67"]).to_csv(edited, index=False)
    with pytest.raises(LandmarkError, match="missing columns"):
        read_landmark_csv(edited)
    lm2 = read_landmark_csv(src, frame_base=0)  # an explicit base wins over the format's
    assert len(lm2) == 101 and lm2.missing_frames().tolist() == [0]


def test_csv_keeps_the_most_confident_face_per_frame(fixtures_dir, tmp_path):
    import pandas as pd

    table = pd.read_csv(fixtures_dir / "landmarks" / "pyfeat_001.csv")
    second = table.iloc[[0]].copy()
    second["FaceScore"] = 0.5
    second[[f"x_{i}" for i in range(68)]] += 100.0
    pd.concat([second, table]).to_csv(tmp_path / "two.csv", index=False)
    lm = read_landmark_csv(tmp_path / "two.csv")
    np.testing.assert_allclose(lm.points[0, 36, 0], 439.593403, atol=1e-4)


def test_csv_provider_sizes_to_the_video(fixtures_dir):
    frames = np.zeros((120, 4, 4, 3), np.uint8)
    lm = run(CsvLandmarkProvider(fixtures_dir / "landmarks" / "openface2_test.csv").detect(frames))
    assert len(lm) == 120 and lm.missing_frames().tolist() == list(range(100, 120))


# --- cache -------------------------------------------------------------------------------------


class CountingProvider:
    """A provider that records how often it really ran."""

    name = "counting"
    scheme = "ibug68"
    cacheable = True

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self.calls = 0

    def settings(self):
        return {"threshold": self.threshold}

    def detect(self, frames):
        self.calls += 1
        n = len(frames)
        pts = np.random.default_rng(1).uniform(0, 100, (n, 68, 2)).astype(np.float32)
        pts[1] = np.nan
        yield Progress(n, n)
        return FaceLandmarks(pts, np.ones(n, np.float32), self.scheme, self.name, self.settings())


@pytest.fixture
def video_copy(fixtures_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tmp_path / "videos"
    folder.mkdir()
    path = folder / "clip.mp4"
    shutil.copy(fixtures_dir / "video" / "single_face.mp4", path)
    return path


def test_cache_next_to_video_is_reused_and_keyed_by_settings(video_copy):
    provider = CountingProvider()
    first = run(landmarks_for_video(open_video(video_copy), provider))
    cached = list(video_copy.parent.glob("clip.mp4.mespot-landmarks-counting-*.npz"))
    assert len(cached) == 1
    second = run(landmarks_for_video(open_video(video_copy), provider))
    assert provider.calls == 1
    np.testing.assert_array_equal(first.points, second.points)
    assert second.missing_frames().tolist() == [1]
    assert second.settings == {"threshold": 0.5}

    other = CountingProvider(threshold=0.7)
    run(landmarks_for_video(open_video(video_copy), other))
    assert other.calls == 1
    assert len(list(video_copy.parent.glob("*.npz"))) == 2

    run(landmarks_for_video(open_video(video_copy), provider, use_cache=False))
    assert provider.calls == 2


def test_corrupt_cache_is_recomputed(video_copy, caplog):
    provider = CountingProvider()
    run(landmarks_for_video(open_video(video_copy), provider))
    (cache,) = video_copy.parent.glob("*.npz")
    cache.write_bytes(b"not a zip")
    with caplog.at_level("WARNING"):
        run(landmarks_for_video(open_video(video_copy), provider))
    assert "damaged landmark cache" in caplog.text and str(cache) in caplog.text
    assert provider.calls == 2


def test_unwritable_video_folder_falls_back_to_user_cache(video_copy, tmp_path, monkeypatch):
    """Dataset folders are often read-only; the cache then lives in the user cache folder."""
    provider = CountingProvider()
    real = landmark_cache.atomic_write_bytes

    def refuse_beside_video(path, data):
        if Path(path).parent == video_copy.parent:
            raise PermissionError(13, "read-only", str(path))
        return real(path, data)

    monkeypatch.setattr(landmark_cache, "atomic_write_bytes", refuse_beside_video)
    run(landmarks_for_video(open_video(video_copy), provider))
    run(landmarks_for_video(open_video(video_copy), provider))
    assert provider.calls == 1
    assert not list(video_copy.parent.glob("*.npz"))
    assert list((tmp_path / "xdg" / "napari-mespot" / "landmarks").glob("*.npz"))


def test_in_memory_frames_are_not_cached(tmp_path):
    provider = CountingProvider()
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    run(landmarks_for_video(frames, provider))
    run(landmarks_for_video(frames, provider))
    assert provider.calls == 2


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_landmarks_caches_and_reports_faceless_frames(fixtures_dir, tmp_path, monkeypatch, capsys):
    from napari_mespot.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    video = tmp_path / "face_noface.mov"
    shutil.copy(fixtures_dir / "video" / "face_noface.mov", video)
    assert main(["landmarks", "-q", str(video)]) == 0
    out = capsys.readouterr().out
    assert "169 frames, 72 with a face" in out and "without a face: 72–168" in out
    (cache,) = tmp_path.glob("face_noface.mov.mespot-landmarks-mediapipe-*.npz")
    assert f"cache: {cache}" in out
    mtime = cache.stat().st_mtime_ns
    assert main(["landmarks", "-q", "--json", str(video)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames_without_face"] == list(range(72, 169)) and report["with_face"] == 72
    assert cache.stat().st_mtime_ns == mtime  # served from the cache, not rewritten


def test_cli_landmarks_imports_csv_and_rejects_bad_input(fixtures_dir, tmp_path, capsys):
    from napari_mespot.cli import main

    video = tmp_path / "clip.mp4"
    shutil.copy(fixtures_dir / "video" / "single_face.mp4", video)
    csv = fixtures_dir / "landmarks" / "openface2_test.csv"
    # The OpenFace file has 100 frames; this video only 72.
    assert main(["landmarks", "-q", "--csv", str(csv), str(video)]) == 2
    assert "video has 72 frames" in capsys.readouterr().err
    assert main(["landmarks", "-q", "--provider", "dlib", str(video)]) == 2
    assert "unknown landmark provider 'dlib'" in capsys.readouterr().err
    assert main(["landmarks", "-q", str(tmp_path / "missing.mp4")]) == 2
