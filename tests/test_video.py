"""Frame-accurate, lazy reading of video files and image folders.

Each generated test video draws its own frame index into the pixels as a row of black/white
blocks, so a read can be checked against the index it was asked for without trusting any
decoder: the truth is in the picture.
"""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from napari_mespot.core.errors import VideoOpenError, VideoReadError
from napari_mespot.core.media.image_sequence import ImageSequence
from napari_mespot.core.media.video import open_video
from napari_mespot.core.media.writer import write_video

N_BITS = 10
BLOCK_W, BLOCK_H = 16, 24
H, W = 128, 176


def coded_frame(index: int, texture: np.ndarray) -> np.ndarray:
    """A frame whose top strip spells ``index`` in binary over a moving texture."""
    frame = np.roll(texture, 3 * index, axis=1).copy()
    for bit in range(N_BITS):
        value = 255 if (index >> bit) & 1 else 0
        frame[:BLOCK_H, bit * BLOCK_W : (bit + 1) * BLOCK_W] = value
    return frame


def read_code(frame: np.ndarray) -> int:
    inner = frame[4 : BLOCK_H - 4]
    bits = [inner[:, b * BLOCK_W + 4 : (b + 1) * BLOCK_W - 4].mean() > 127 for b in range(N_BITS)]
    return sum(1 << b for b, on in enumerate(bits) if on)


def make_texture(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 216, size=(H // 8, W // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC)


def coded_frames(n: int):
    texture = make_texture()
    return (coded_frame(i, texture) for i in range(n))


def has_reordered_frames(path: Path) -> bool:
    """B-frames show up as packets whose pts go backwards in decode order."""
    with av.open(str(path)) as c:
        pts = [p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None]
    return any(b < a for a, b in itertools.pairwise(pts))


@pytest.fixture(scope="module")
def bframe_mp4(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("v") / "bframes.mp4"
    return write_video(path, coded_frames(700), fps=30, gop=250, bframes=3)


@pytest.fixture(scope="module")
def vfr_mp4(tmp_path_factory) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(1)
    times = np.cumsum(rng.uniform(0.015, 0.070, size=600))
    path = tmp_path_factory.mktemp("v") / "vfr.mp4"
    return write_video(path, coded_frames(600), fps=30, gop=90, bframes=2, timestamps=times), times


@pytest.fixture(scope="module")
def mpegts(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("v") / "stream.ts"
    return write_video(path, coded_frames(600), fps=25, gop=120, bframes=2)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seq") / "EP01_01"
    folder.mkdir()
    for i, frame in enumerate(coded_frames(600)):
        # 1-based names, like CASME II / CAS(ME)²; natural order must beat string order.
        cv2.imwrite(str(folder / f"img{i + 1}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return folder


def assert_random_access_exact(source, n_reads: int = 500, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    wrong = []
    for index in rng.integers(0, len(source), size=n_reads):
        got = read_code(source[int(index)])
        if got != index:
            wrong.append((int(index), got))
    assert not wrong, f"{len(wrong)} of {n_reads} random reads returned the wrong frame: {wrong[:10]}"


def test_bframe_long_gop_random_access(bframe_mp4):
    assert has_reordered_frames(bframe_mp4), "the test file must really contain B-frames"
    with open_video(bframe_mp4) as video:
        assert len(video) == 700
        assert video.shape == (700, H, W, 3) and video.dtype == np.uint8 and video.ndim == 4
        assert video.fps == pytest.approx(30.0)
        assert_random_access_exact(video)


def test_variable_frame_rate_random_access_and_timestamps(vfr_mp4):
    path, times = vfr_mp4
    with open_video(path) as video:
        assert len(video) == len(times)
        # Timestamps come from the file, not from index / fps.
        np.testing.assert_allclose(video.timestamps, times - times[0], atol=1.5 / 90000)
        assert_random_access_exact(video)


def test_mpegts_random_access(mpegts):
    with open_video(mpegts) as video:
        assert len(video) == 600
        assert_random_access_exact(video)


def test_image_folder_natural_order_and_random_access(image_folder):
    with open_video(image_folder, fps=200) as video:
        assert isinstance(video, ImageSequence)
        assert len(video) == 600 and video.fps == 200 and video.fps_source == "user"
        assert video.frame_numbers[:3] == [1, 2, 3] and video.frame_numbers[-1] == 600
        assert_random_access_exact(video)


def test_image_folder_without_fps_assumes_30_and_says_so(image_folder, caplog):
    with open_video(image_folder) as video:
        assert video.fps == 30 and video.fps_source == "assumed"
    assert "assuming 30 fps" in caplog.text


def test_samm_style_names_sort_by_frame_number(tmp_path):
    folder = tmp_path / "006_1"
    folder.mkdir()
    texture = make_texture()
    for number in (1, 2, 10, 100, 9):
        frame = coded_frame(number, texture)
        cv2.imwrite(str(folder / f"006_1_{number:04d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    with open_video(folder, fps=200) as video:
        assert video.frame_numbers == [1, 2, 9, 10, 100]
        assert [read_code(f) for f in video] == [1, 2, 9, 10, 100]


def test_sequential_read_matches_random_access(bframe_mp4):
    with open_video(bframe_mp4) as video:
        assert [read_code(f) for f in video.iter_frames(100, 400)] == list(range(100, 400))
        assert [read_code(f) for f in video.iter_frames(650, 700, 7)] == list(range(650, 700, 7))


def test_indexing_forms(bframe_mp4):
    with open_video(bframe_mp4) as video:
        assert read_code(video[-1]) == 699
        assert [read_code(f) for f in video[10:40:10]] == [10, 20, 30]
        assert [read_code(f) for f in video[np.array([5, 3, 600])]] == [5, 3, 600]
        # napari slices with a full tuple, one entry per axis.
        crop = video[(12, slice(0, BLOCK_H), slice(None), slice(None))]
        assert crop.shape == (BLOCK_H, W, 3)
        assert np.array_equal(crop, video[12][:BLOCK_H])
        assert video[3:5, :2, :2, 0].shape == (2, 2, 2)
        with pytest.raises(IndexError):
            video[700]
        frame = video[0]
        with pytest.raises(ValueError):
            frame[0, 0, 0] = 1  # frames are shared with the cache and must stay read-only


def test_real_fixtures_random_access_equals_sequential_decode(fixtures_dir):
    """On the real clips (H.264 with B-frames and an edit list, HEVC), seeking gives the decoder's frames."""
    for name in ("single_face.mp4", "face_noface.mov", "WolfgangLanger_Pexels.mp4", "no_face.mp4"):
        path = fixtures_dir / "video" / name
        with av.open(str(path)) as c:
            reference = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        with open_video(path) as video:
            assert len(video) == len(reference), name
            rng = np.random.default_rng(3)
            for index in rng.integers(0, len(video), size=40):
                assert np.array_equal(video[int(index)], reference[index]), f"{name} frame {index}"


def test_threads_reading_at_once_get_their_own_frames(bframe_mp4):
    errors: list[str] = []

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        for index in rng.integers(0, len(video), size=60):
            got = read_code(video[int(index)])
            if got != index:
                errors.append(f"asked {index}, got {got}")

    with open_video(bframe_mp4) as video:
        threads = [threading.Thread(target=reader, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors, errors[:5]


def test_opening_is_lazy(bframe_mp4, monkeypatch):
    calls = []
    original = av.VideoFrame.to_ndarray
    monkeypatch.setattr(
        av.VideoFrame, "to_ndarray", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    with open_video(bframe_mp4) as video:
        assert len(video) == 700
        assert calls == []
        video[5]
        assert len(calls) == 1


def test_identity_is_stable_and_content_based(bframe_mp4, tmp_path):
    copy = tmp_path / "moved.mp4"
    copy.write_bytes(bframe_mp4.read_bytes())
    with open_video(bframe_mp4) as a, open_video(copy) as b, open_video(bframe_mp4) as c:
        assert a.identity() == c.identity()
        assert a.identity().same_file(b.identity()) and a.identity().path != b.identity().path
    other = write_video(tmp_path / "other.mp4", (coded_frame(i + 1, make_texture(5)) for i in range(700)))
    with open_video(other) as d, open_video(bframe_mp4) as a:
        assert not a.identity().same_file(d.identity())


# -- bad input: a clear error that names the path ----------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(VideoOpenError, match="no such file"):
        open_video(tmp_path / "nope.mp4")


def test_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 100)
    with pytest.raises(VideoOpenError, match=r"notes.mp4"):
        open_video(path)


def test_empty_folder(tmp_path):
    with pytest.raises(VideoOpenError, match="no images"):
        open_video(tmp_path)


def test_truncated_mp4_is_refused(bframe_mp4, tmp_path):
    data = bframe_mp4.read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])  # the index (moov) is at the end and is lost
    with pytest.raises(VideoOpenError, match=r"cut.mp4"):
        open_video(path)


def test_truncated_mpegts_opens_what_is_there(mpegts, tmp_path, caplog):
    data = mpegts.read_bytes()
    path = tmp_path / "cut.ts"
    path.write_bytes(data[: len(data) // 2])
    with open_video(path) as video:
        assert 200 < len(video) < 600
        assert_random_access_exact(video, n_reads=50)


def test_unreadable_image_in_folder_names_the_file(image_folder, tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    for name in ("img1.png", "img2.png", "img3.png"):
        (folder / name).write_bytes((image_folder / name).read_bytes())
    (folder / "img2.png").write_bytes(b"garbage")
    with open_video(folder, fps=30) as video:
        assert read_code(video[0]) == 0
        with pytest.raises(VideoReadError, match=r"img2.png"):
            video[1]
        assert read_code(video[2]) == 2


def test_image_of_another_size_is_reported(tmp_path):
    folder = tmp_path / "seq"
    folder.mkdir()
    cv2.imwrite(str(folder / "img1.png"), np.zeros((32, 32, 3), np.uint8))
    cv2.imwrite(str(folder / "img2.png"), np.zeros((16, 32, 3), np.uint8))
    with open_video(folder, fps=30) as video, pytest.raises(VideoReadError, match=r"frame 1 has shape"):
        video[1]
