"""A face leaving the frame is not an expression (issue 15, item 14).

While the face is partly outside the image, its landmarks are extrapolated and the regions the
flow is measured in are cut by the border: such frames are excluded from spotting, reported as
skipped with their reason, and named in the result's notes.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.face.border import face_at_border
from napari_mespot.core.face.landmarks import FaceLandmarks
from napari_mespot.core.media.writer import write_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.synth.generator import SynthScene, SynthSettings


def _box(x0, y0, x1, y1, n_points=468):
    """Landmarks filling the box (x0, y0)–(x1, y1), for one frame."""
    xs = np.linspace(x0, x1, n_points)
    ys = np.linspace(y0, y1, n_points)
    return np.stack([xs, ys], axis=1)


def test_frames_whose_face_box_reaches_the_border_are_marked():
    points = np.stack(
        [
            _box(200, 100, 400, 350),  # well inside a 640 x 480 frame
            _box(-20, 100, 180, 350),  # cut by the left border
            _box(450, 100, 650, 350),  # cut by the right border
            _box(200, 300, 400, 550),  # cut by the bottom
            _box(0, 100, 200, 350),  # touching the left border
            _box(5, 100, 205, 350),  # near it, but whole
            np.full((468, 2), np.nan),  # no face
        ]
    ).astype(np.float32)
    landmarks = FaceLandmarks(points, np.ones(len(points), np.float32), "mediapipe", "test")
    assert face_at_border(landmarks, (480, 640)).tolist() == [False, True, True, True, True, False, False]


START, STEPS = 110, 30


@pytest.fixture(scope="module")
def exit_clip(tmp_path_factory):
    """A still face that slides out of the frame to the left from frame START over STEPS frames."""
    fps, start, steps = 30.0, START, STEPS
    settings = SynthSettings(
        duration_s=6.0, n_me=0, n_mae=0, head_drift=False, head_shakes=False, blinks=False, flicker=False
    )
    scene = SynthScene(settings, 7)
    frames = []
    for k, frame in enumerate(scene.frames()):
        shift = min(frame.shape[1], round(max(0, k - start + 1) / steps * frame.shape[1]))
        moved = np.zeros_like(frame)
        moved[:, : frame.shape[1] - shift] = frame[:, shift:]
        frames.append(moved)
    path = write_video(tmp_path_factory.mktemp("exit") / "exit.mp4", frames, fps=fps)
    # The frame where the face first touches the border, known from how the clip was made: the
    # face's left edge in the still frames, moved by the shift of each later frame.
    from napari_mespot.core.face.cache import landmarks_for_video
    from napari_mespot.core.media.video import open_video
    from napari_mespot.plugins import get_landmark_provider

    with open_video(path) as video:
        lm = run_to_end(landmarks_for_video(video, get_landmark_provider("mediapipe")))
    left = float(np.nanmin(lm.points[start - 5, :, 0]))
    width = frames[0].shape[1]
    shifts = [round(max(0, k - start + 1) / steps * width) for k in range(len(frames))]
    return path, next(k for k, s in enumerate(shifts) if s >= left)


def _check_exit(result, leaving: int) -> None:
    cut = [s for s in result.skipped if "outside the frame" in s.reason]
    assert cut and any("outside the frame" in note for note in result.notes)
    first_cut = cut[0].start
    assert first_cut <= leaving
    for iv in result.intervals:
        assert iv.offset < first_cut, f"an expression spotted while the face leaves: {iv}"


@pytest.mark.slow
def test_a_face_sliding_out_of_the_frame_gives_no_expression(exit_clip):
    from napari_mespot.commands.spot import spot_file
    from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes

    path, leaving = exit_clip
    _check_exit(spot_file(path, default_prototypes(), PRESETS["recommended"], quiet=True), leaving)


@pytest.mark.slow
def test_vovnet_skips_the_frames_where_the_face_leaves(exit_clip):
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.spotters.vovnet import spot

    path, leaving = exit_clip
    with open_video(path) as video:
        result = run_to_end(spot(video))
    _check_exit(result, leaving)
    cut = next(s for s in result.skipped if "outside the frame" in s.reason)
    assert np.isnan(result.curves[:, cut.start : cut.end + 1]).all()
