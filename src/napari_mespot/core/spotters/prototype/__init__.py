"""The AU-prototype spotter (He et al., ECAI 2023; DESIGN.md §2.1).

Learn prototypes (:func:`learn_prototypes`), choose thresholds on training videos
(:func:`calibrate`), then :func:`spot`. The shipped default set is :func:`default_prototypes`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .calibration import TrainingVideo, calibrate
from .learning import LabelledClip, casme2_clips, learn_prototypes, synthetic_clips
from .prototypes import AU_REGIONS, PAPER_AUS, Prototype, PrototypeError, PrototypeSet
from .settings import PRESETS, PrototypeSettings
from .spotter import METHOD, spot

DEFAULT_PROTOTYPES_FILE = "default_prototypes.npz"


def default_prototypes_path() -> Path:
    """The shipped prototype file (learnt from synthetic clips; see ``napari_mespot/data/README.md``)."""
    return Path(str(files("napari_mespot") / "data" / DEFAULT_PROTOTYPES_FILE))


def default_prototypes() -> PrototypeSet:
    """The shipped default prototypes (synthetic, calibrated on synthetic training videos)."""
    path = default_prototypes_path()
    if not path.is_file():
        raise PrototypeError(f"the default prototypes are missing from the installation ({path})")
    return PrototypeSet.load(path)


__all__ = [
    "AU_REGIONS",
    "DEFAULT_PROTOTYPES_FILE",
    "METHOD",
    "PAPER_AUS",
    "PRESETS",
    "LabelledClip",
    "Prototype",
    "PrototypeError",
    "PrototypeSet",
    "PrototypeSettings",
    "TrainingVideo",
    "calibrate",
    "casme2_clips",
    "default_prototypes",
    "default_prototypes_path",
    "learn_prototypes",
    "spot",
    "synthetic_clips",
]
