"""Phone videos: frames stored on their side with a display matrix come out upright.

The files are made here as a phone makes them: the real face clip's frames turned to lie on
their side (what the sensor records when the phone is held upright) and a display matrix that
turns them back; reading must give the clip as it was.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from napari_mespot.core.media.video import open_video


def write_stored_turned(path, frames: np.ndarray, fps: float, turn: int) -> None:
    """``frames`` stored turned ``-turn`` degrees (counter-clockwise) with a display matrix of
    ``turn`` degrees, so a player that follows the matrix shows the original frames. Lossless,
    so the only difference left from the original is the colour subsampling."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stored = np.rot90(frames, -turn // 90, axes=(1, 2))
        stream.height, stream.width = stored.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "0", "preset": "veryfast"}
        stream.set_display_rotation(turn)
        for k, frame in enumerate(stored):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = k
            out.mux(stream.encode(vf))
        out.mux(stream.encode(None))


@pytest.fixture(scope="module")
def original(fixtures_dir):
    with open_video(fixtures_dir / "video" / "single_face.mp4") as video:
        return np.asarray(video[:]), video.fps


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_frames_stored_on_their_side_are_read_upright(original, tmp_path, turn):
    frames, fps = original
    path = tmp_path / f"phone_{turn}.mp4"
    write_stored_turned(path, frames, fps, turn)
    with open_video(path) as video:
        assert video.rotation == turn
        assert video.shape == frames.shape
        # Upright: the same picture up to yuv420p's colour subsampling; turned any other way the
        # picture (or its shape) would differ everywhere.
        assert np.abs(video[10].astype(int) - frames[10]).mean() < 3.0
        assert np.abs(np.asarray(next(video.iter_frames()), int) - frames[0]).mean() < 3.0


def test_a_file_without_a_display_matrix_is_read_as_stored(original, tmp_path):
    frames, fps = original
    path = tmp_path / "plain.mp4"
    write_stored_turned(path, frames[:5], fps, 0)
    with open_video(path) as video:
        assert video.rotation == 0 and video.shape == frames[:5].shape
        assert "turned" not in video.identity().content_hash


def test_a_turn_that_is_not_a_quarter_is_ignored_with_a_warning(original, tmp_path, caplog):
    frames, _ = original
    path = tmp_path / "tilted45.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.height, stream.width, stream.pix_fmt = frames.shape[1], frames.shape[2], "yuv420p"
        stream.set_display_rotation(45)
        for k, frame in enumerate(frames[:3]):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            vf.pts = k
            out.mux(stream.encode(vf))
        out.mux(stream.encode(None))
    with open_video(path) as video:
        assert video.rotation == 0 and video.shape == frames[:3].shape
    assert "45.0° is not a quarter turn" in caplog.text


def test_info_says_the_frames_were_turned(original, tmp_path, cli):
    frames, fps = original
    path = tmp_path / "portrait.mp4"
    write_stored_turned(path, frames[:3], fps, 270)
    code, out, _ = cli("info", str(path))
    assert code == 0 and "turned 270° as the file asks" in out
    assert f"{frames.shape[2]}×{frames.shape[1]}" in out  # upright: as wide as the clip


def test_a_session_saved_before_files_were_read_turned_still_opens(original, tmp_path):
    """Its identity has the stored file's hash without the turn; its frame numbers are the same."""
    from dataclasses import replace

    from napari_mespot.core.review.session import ReviewSession

    frames, fps = original
    path = tmp_path / "phone.mp4"
    write_stored_turned(path, frames[:8], fps, 90)
    with open_video(path) as video:
        session = ReviewSession.open(video)
        session.model.add(1, 5)
        now = video.identity()
        assert now.content_hash.endswith("-turned90")
        session.identity = replace(now, content_hash=now.content_hash.removesuffix("-turned90"))
        session.save()  # as an older version wrote it
        assert len(ReviewSession.open(video).model.corrected) == 1
