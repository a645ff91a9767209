"""The sample videos shipped inside the package (``napari_mespot.sample_data``).

They live in the installation, which may be read-only and must not collect users' files, so
everything derived from them (landmark caches, review sessions) goes to the user's folders.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SYNTHETIC_VIDEO = "synthetic_face.mp4"
SYNTHETIC_GROUND_TRUTH = "synthetic_face.gt.csv"
SINGLE_FACE_VIDEO = "single_face.mp4"


def sample_dir() -> Path:
    return Path(str(files("napari_mespot.sample_data")))


def sample_path(name: str) -> Path:
    """Absolute path of a file shipped in ``napari_mespot.sample_data``."""
    path = sample_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"sample file {name} is missing from the installation ({path})")
    return path


def is_sample(path: str | Path) -> bool:
    """Whether ``path`` is one of the shipped samples."""
    return Path(path).absolute().parent == sample_dir().absolute()
