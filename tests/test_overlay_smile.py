"""The face overlay on a real clip explains the expression, not the head.

``WolfgangLanger_Pexels.mp4`` smiles as his hand leaves his face (tests/data/real/labels.csv:
``wl-smile-1``, onset 228, apex 256) while his head moves. The overlay of the apex against the
onset, with the head motion removed the way the spotter removes it (``similarity``), must show
the mouth corners moving outward and upward and little elsewhere; without the removal a frame
pair across a large head movement is one uniform field.
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import key_points
from napari_mespot.core.flow.display import ARROW_PX, frame_overlay
from napari_mespot.core.labels import read_labels
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.registry import landmark_provider

CLIP = "WolfgangLanger_Pexels.mp4"
LABELS = "tests/data/real/labels.csv"
#: Arrows that start this close (image px) to a mouth corner of the reference frame are its flow.
CORNER_RADIUS_PX = 10.0


@pytest.fixture(scope="module")
def clip(fixtures_dir, tmp_path_factory):
    """The clip and its Face Mesh landmarks, found once for the module."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("landmark-cache")))
        video = open_video(fixtures_dir / "video" / CLIP)
        landmarks = run_to_end(landmarks_for_video(video, landmark_provider("mediapipe")))
    yield video, landmarks
    video.close()


def smile():
    intervals = read_labels(LABELS).videos[CLIP].intervals
    return next(iv for iv in intervals if iv.id == "wl-smile-1")


def arrows(overlay):
    """Start points (x, y) and unscaled displacements (dx, dy) of the arrows, in image px."""
    return overlay.vectors[:, 0, ::-1], overlay.vectors[:, 1, ::-1] / overlay.scale


def corner_flow(overlay, landmarks, corner: str) -> np.ndarray:
    start, delta = arrows(overlay)
    at = key_points(landmarks.at(overlay.reference), landmarks.scheme)[corner]
    near = np.hypot(*(start - at).T) < CORNER_RADIUS_PX
    assert near.sum() >= 3, f"too few arrows near the {corner}"
    return delta[near].mean(axis=0)


def test_the_smile_shows_its_mouth_corners_moving_out_and_up(clip):
    video, landmarks = clip
    expression = smile()
    overlay = frame_overlay(video, landmarks, expression.onset, expression.apex, head_motion="similarity")
    _, delta = arrows(overlay)
    median = float(np.median(np.hypot(*delta.T)))
    left = corner_flow(overlay, landmarks, "mouth_corner_l")  # image left: moves to smaller x
    right = corner_flow(overlay, landmarks, "mouth_corner_r")
    assert median < 1.0  # the face at large is still: sub-pixel flow
    assert left[0] < 0 and right[0] > 0  # outward
    assert left[1] < 0 and right[1] < 0  # upward (image y points down)
    for corner in (left, right):
        assert np.hypot(*corner) > 3 * median


def test_removing_the_head_motion_removes_the_uniform_field(clip):
    video, landmarks = clip
    reference, frame = 240, 300  # inside the smile; the head moves between them
    bridge = key_points(landmarks.at(frame), "mediapipe")["nose_bridge"]
    moved = np.hypot(*(bridge - key_points(landmarks.at(reference), "mediapipe")["nose_bridge"]))
    assert moved > 10  # the premise: a large head movement
    medians = {}
    for mode in ("off", "similarity"):
        _, delta = arrows(frame_overlay(video, landmarks, reference, frame, head_motion=mode))
        medians[mode] = float(np.median(np.hypot(*delta.T)))
    assert medians["similarity"] < 1.0
    assert medians["similarity"] < medians["off"] / 3


def test_arrows_are_scaled_to_be_read_and_the_scale_is_reported(clip):
    video, landmarks = clip
    expression = smile()
    auto = frame_overlay(video, landmarks, expression.onset, expression.apex, head_motion="similarity")
    lengths = np.hypot(*auto.vectors[:, 1].T)
    assert np.percentile(lengths, 95) == pytest.approx(ARROW_PX, rel=1e-3)
    fixed = frame_overlay(
        video, landmarks, expression.onset, expression.apex, head_motion="similarity", scale=1.0
    )
    np.testing.assert_allclose(fixed.vectors[:, 1] * auto.scale, auto.vectors[:, 1], rtol=1e-4, atol=1e-4)
