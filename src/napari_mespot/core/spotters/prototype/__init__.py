"""The AU-prototype spotter (He et al., ECAI 2023; docs/architecture.md §2.1).

Learn prototypes (:func:`learn_prototypes`), choose thresholds on training videos
(:func:`calibrate`), then :func:`spot`. The shipped default set is :func:`default_prototypes`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from napari_mespot.core.spotters.prototype.calibration import TrainingVideo, calibrate
from napari_mespot.core.spotters.prototype.learning import (
    LabelledClip,
    casme2_clips,
    learn_prototypes,
    synthetic_clips,
)
from napari_mespot.core.spotters.prototype.matching import CURVE_UNIT
from napari_mespot.core.spotters.prototype.prototypes import (
    AU_REGIONS,
    PAPER_AUS,
    Prototype,
    PrototypeError,
    PrototypeSet,
)
from napari_mespot.core.spotters.prototype.settings import PRESETS, SHIPPED_PROTOTYPES, PrototypeSettings
from napari_mespot.core.spotters.prototype.spotter import METHOD, spot

DEFAULT_PROTOTYPES_FILE = "default_prototypes.npz"


def default_prototypes_path(name: str = "default") -> Path:
    """A shipped prototype file: ``default`` (Farneback) or ``fast`` (DIS), both learnt from
    synthetic clips (see ``napari_mespot/data/README.md``).

    A preset names its set in ``PrototypeSettings.shipped_prototypes``.
    """
    if name not in SHIPPED_PROTOTYPES:
        raise PrototypeError(f"no shipped prototype set {name!r}; shipped: {', '.join(SHIPPED_PROTOTYPES)}")
    return Path(str(files("napari_mespot") / "data" / f"{name}_prototypes.npz"))


def default_prototypes(name: str = "default") -> PrototypeSet:
    """A shipped prototype set (synthetic, calibrated on synthetic training videos)."""
    path = default_prototypes_path(name)
    if not path.is_file():
        raise PrototypeError(f"the {name} prototypes are missing from the installation ({path})")
    return PrototypeSet.load(path)


__all__ = [
    "AU_REGIONS",
    "CURVE_UNIT",
    "DEFAULT_PROTOTYPES_FILE",
    "METHOD",
    "PAPER_AUS",
    "PRESETS",
    "SHIPPED_PROTOTYPES",
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
