"""napari sample data: the shipped synthetic clip (with ground truth) and a real face clip."""

from __future__ import annotations

from napari_mespot._reader import video_layer_data
from napari_mespot.core.media.samples import (
    SINGLE_FACE_VIDEO,
    SYNTHETIC_GROUND_TRUTH,
    SYNTHETIC_VIDEO,
    sample_path,
)
from napari_mespot.core.media.video import open_video


def synthetic_face() -> list[tuple]:
    video = sample_path(SYNTHETIC_VIDEO)
    truth = sample_path(SYNTHETIC_GROUND_TRUTH)
    return [video_layer_data(open_video(video), ground_truth=str(truth))]


def single_face() -> list[tuple]:
    return [video_layer_data(open_video(sample_path(SINGLE_FACE_VIDEO)))]
