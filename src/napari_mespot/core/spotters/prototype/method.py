"""The AU-prototype spotter as the registry's dispatchers run it (its model is a prototype file)."""

from __future__ import annotations

from typing import Any

from napari_mespot.core import registry
from napari_mespot.core.device import DEVICES
from napari_mespot.core.face.head_motion import HEAD_MOTION_MODES
from napari_mespot.core.spotters.base import Spotter
from napari_mespot.core.spotters.prototype import (
    PRESETS,
    SHIPPED_PROTOTYPES,
    PrototypeSet,
    PrototypeSettings,
    default_prototypes,
    default_prototypes_path,
    spot,
)
from napari_mespot.core.spotters.prototype.normalise import NORMALISATIONS
from napari_mespot.core.spotters.prototype.peaks import BOUNDARIES
from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET
from napari_mespot.core.spotters.prototype.spotter import check_usable


def _load_prototypes(path: str | None, settings: Any) -> PrototypeSet:
    """The prototype file of ``path``, else the shipped set the settings (their preset) name;
    prototypes the settings cannot use (another flow method, no thresholds) are refused here."""
    prototypes = default_prototypes(settings.shipped_prototypes) if path is None else PrototypeSet.load(path)
    check_usable(prototypes, settings)
    return prototypes


def spotter() -> Spotter:
    """He et al., ECAI 2023, with the dock's choices (flow methods: whatever is registered)."""
    return Spotter(
        settings=PrototypeSettings,
        spot=spot,
        load_model=_load_prototypes,
        default_model_path=lambda settings: default_prototypes_path(settings.shipped_prototypes),
        model_label="prototypes",
        model_filter="*.npz",
        presets=PRESETS,
        default_preset=DEFAULT_PRESET,
        choices={
            "boundaries": BOUNDARIES,
            "device": DEVICES,
            "flow_method": [None, *sorted(registry.flow_methods.names())],
            "shipped_prototypes": SHIPPED_PROTOTYPES,
            "head_motion": HEAD_MOTION_MODES,
            "normalise": NORMALISATIONS,
        },
        hidden=("landmarks", "flow_batch"),
    )
