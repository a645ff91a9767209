"""napari sample data: the shipped synthetic clip (with ground truth) and a real face clip."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from ._reader import video_layer_data
from .core.video import open_video

SYNTHETIC_VIDEO = "synthetic_face.mp4"
SYNTHETIC_GROUND_TRUTH = "synthetic_face.gt.csv"
SINGLE_FACE_VIDEO = "single_face.mp4"


def sample_path(name: str) -> Path:
    """Absolute path of a file shipped in ``napari_mespot.sample_data``."""
    path = Path(str(files("napari_mespot.sample_data") / name))
    if not path.is_file():
        raise FileNotFoundError(f"sample file {name} is missing from the installation ({path})")
    return path


def synthetic_face() -> list[tuple]:
    video = sample_path(SYNTHETIC_VIDEO)
    truth = sample_path(SYNTHETIC_GROUND_TRUTH)
    return [video_layer_data(open_video(video), ground_truth=str(truth), sample=True)]


def single_face() -> list[tuple]:
    return [video_layer_data(open_video(sample_path(SINGLE_FACE_VIDEO)), sample=True)]
