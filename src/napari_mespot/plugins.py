"""Extension points (pluggy): spotters, flow methods and landmark providers.

A third-party package extends napari-mespot by exposing a module (or object) with
``@hookimpl``-decorated functions under the entry-point group ``napari_mespot``::

    [project.entry-points.napari_mespot]
    my_plugin = "my_package.mespot_hooks"

The built-ins register through the very same hooks (:class:`_Builtins`), so there is one path
for every method. Each hook returns a list of contributions; the registry merges them, and a
name may be claimed once (a clash is an error rather than a silent override).

The hooks:

- ``mespot_spotters() -> list[SpotterInfo]``: spotting methods. A :class:`SpotterInfo` is a name,
  a one-line description and ``load()``, which imports the method only when it is used (so
  ``mespot --help`` does not import torch) and returns a
  :class:`~napari_mespot.core.spotters.base.Spotter`: the settings dataclass, the spot generator
  (yields ``Progress``, returns a ``SpotResult`` whose ``method`` is the registered name), how to
  load the model (``None`` = the default one), and hints for the dock's form. A registered
  spotter is at once a ``mespot spot --method`` choice (settings through ``--set FIELD=VALUE``,
  its model through ``--model FILE``), an entry of the spot dock's method list with a settings
  form built from its dataclass, a ``mespot batch --method`` (the dask workers load entry-point
  plugins themselves) and a ``mespot reproduce loso --method`` choice (a spotter without a
  training step is evaluated with its fixed model on every subject).
- ``mespot_flow_methods() -> list[FlowMethod]``: optical-flow methods.
- ``mespot_landmark_providers() -> list[LandmarkProviderInfo]``: landmark providers.

A minimal spotter plugin::

    from napari_mespot.core.spotters.base import Spotter
    from napari_mespot.plugins import SpotterInfo, hookimpl

    @hookimpl
    def mespot_spotters():
        return [SpotterInfo("energy", "frame-difference energy", lambda: Spotter(
            settings=EnergySettings, spot=spot_energy, load_model=lambda path, settings: None))]
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from napari_mespot.core.errors import MespotError
from napari_mespot.core.face.landmarks import LandmarkProvider
from napari_mespot.core.flow.methods import FlowMethod
from napari_mespot.core.spotters.base import Spotter

PROJECT = "napari_mespot"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class UnknownMethodError(MespotError):
    """A spotter, flow method or landmark provider name that nothing registered."""


class DuplicateNameError(MespotError):
    """Two plugins registered the same spotter, method or provider name."""


@dataclass(frozen=True)
class LandmarkProviderInfo:
    """A landmark provider contribution: ``factory(**settings)`` builds a provider."""

    name: str
    factory: Callable[..., LandmarkProvider]
    description: str = ""


@dataclass(frozen=True)
class SpotterInfo:
    """A spotter contribution: ``load()`` imports the method and returns its
    :class:`~napari_mespot.core.spotters.base.Spotter` (called when the method is used)."""

    name: str
    description: str
    load: Callable[[], Spotter]


class MespotSpecs:
    """The hook specifications. Every hook returns a list of contributions."""

    @hookspec
    def mespot_spotters(self) -> list[SpotterInfo]:
        """Spotting methods (see :class:`SpotterInfo`)."""

    @hookspec
    def mespot_flow_methods(self) -> list[FlowMethod]:
        """Optical-flow methods (see :class:`napari_mespot.core.flow.methods.FlowMethod`)."""

    @hookspec
    def mespot_landmark_providers(self) -> list[LandmarkProviderInfo]:
        """Landmark providers (see :class:`napari_mespot.core.face.landmarks.LandmarkProvider`)."""


def _load_prototypes(path: str | None, settings: Any):
    """The prototype file of ``path``, else the shipped set the settings (their preset) name."""
    from napari_mespot.core.spotters.prototype import PrototypeSet, default_prototypes

    return default_prototypes(settings.shipped_prototypes) if path is None else PrototypeSet.load(path)


def _prototype_spotter() -> Spotter:
    """The AU-prototype spotter (He et al., ECAI 2023); its model is a prototype file."""
    from napari_mespot.core.face.head_motion import HEAD_MOTION_MODES
    from napari_mespot.core.spotters import prototype
    from napari_mespot.core.spotters.prototype.peaks import BOUNDARIES
    from napari_mespot.core.spotters.prototype.settings import DEVICES

    return Spotter(
        settings=prototype.PrototypeSettings,
        spot=prototype.spot,
        load_model=_load_prototypes,
        default_model_path=lambda settings: prototype.default_prototypes_path(settings.shipped_prototypes),
        model_label="prototypes",
        model_filter="*.npz",
        presets=prototype.PRESETS,
        default_preset="recommended",
        choices={
            "boundaries": BOUNDARIES,
            "device": DEVICES,
            "flow_method": [None, *sorted(flow_methods())],
            "shipped_prototypes": prototype.SHIPPED_PROTOTYPES,
            "head_motion": HEAD_MOTION_MODES,
        },
        hidden=("landmarks", "flow_batch"),
    )


def _load_checkpoint(path: str | None, settings: Any):
    """The checkpoint of ``path`` (default: the shipped one) on the settings' device."""
    from napari_mespot.core.spotters import vovnet

    device = vovnet.resolve_device(settings.device)
    return vovnet.default_checkpoint(device) if path is None else vovnet.load_checkpoint(path, device)


def _vovnet_spotter() -> Spotter:
    """The VoVNet multi-scale detector (Electronics 2023); its model is a checkpoint (torch)."""
    from napari_mespot.core.spotters import vovnet
    from napari_mespot.core.spotters.vovnet.settings import DEVICES

    return Spotter(
        settings=vovnet.SpotSettings,
        spot=vovnet.spot,
        load_model=_load_checkpoint,
        default_model_path=lambda settings: vovnet.default_checkpoint_path(),
        model_label="checkpoint",
        model_filter="*.pt",
        choices={"device": DEVICES},
        hidden=("cache_dir", "batch_size"),
    )


class _Builtins:
    """napari-mespot's own contributions, registered like any plugin's."""

    @hookimpl
    def mespot_spotters(self) -> list[SpotterInfo]:
        return [
            SpotterInfo("prototype", "AU prototypes (He et al., ECAI 2023)", _prototype_spotter),
            SpotterInfo("vovnet", "VoVNet (Electronics 2023)", _vovnet_spotter),
        ]

    @hookimpl
    def mespot_flow_methods(self) -> list[FlowMethod]:
        from napari_mespot.core.flow.methods import BUILTIN_METHODS

        return list(BUILTIN_METHODS)

    @hookimpl
    def mespot_landmark_providers(self) -> list[LandmarkProviderInfo]:
        from napari_mespot.core.face.landmarks import CsvLandmarkProvider, MediaPipeFaceMesh

        return [
            LandmarkProviderInfo("mediapipe", MediaPipeFaceMesh, "MediaPipe Face Mesh, 468 points, tracking"),
            LandmarkProviderInfo("csv", CsvLandmarkProvider, "68-point CSV from OpenFace 2 / py-feat"),
        ]


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager: built-ins plus the ``napari_mespot`` entry points."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(MespotSpecs)
    pm.register(_Builtins(), name="napari-mespot")
    # farneback-torch / tvl1-torch / dis-torch; torch is imported only when one of them computes.
    from napari_mespot.core.flow.torch import methods as flow_torch_methods

    pm.register(flow_torch_methods, name="napari-mespot-torch")
    pm.load_setuptools_entrypoints(PROJECT)
    return pm


def _collect(pm: pluggy.PluginManager | None, hook: str, kind: str) -> dict[str, Any]:
    """Every contribution of ``hook`` by name, built-ins first (pluggy calls the last registered
    first); a name claimed twice is an error."""
    results = getattr((pm or plugin_manager()).hook, hook)()
    merged: dict[str, Any] = {}
    for contribution in (item for batch in reversed(results) for item in batch or ()):
        if contribution.name in merged:
            raise DuplicateNameError(f"two plugins register the {kind} {contribution.name!r}")
        merged[contribution.name] = contribution
    return merged


def _lookup(registered: dict[str, Any], name: str, kind: str) -> Any:
    if name not in registered:
        raise UnknownMethodError(f"unknown {kind} {name!r}; available: {', '.join(registered)}")
    return registered[name]


def spotters(pm: pluggy.PluginManager | None = None) -> dict[str, SpotterInfo]:
    """Every registered spotter by name (built-ins first)."""
    return _collect(pm, "mespot_spotters", "spotter")


def get_spotter(name: str, pm: pluggy.PluginManager | None = None) -> Spotter:
    """The spotter registered as ``name``, loaded."""
    return _lookup(spotters(pm), name, "spotter").load()


def flow_methods(pm: pluggy.PluginManager | None = None) -> dict[str, FlowMethod]:
    """Every registered flow method by name (built-ins first)."""
    return _collect(pm, "mespot_flow_methods", "flow method")


def get_flow_method(name: str, pm: pluggy.PluginManager | None = None) -> FlowMethod:
    return _lookup(flow_methods(pm), name, "flow method")


def landmark_providers(pm: pluggy.PluginManager | None = None) -> dict[str, LandmarkProviderInfo]:
    """Every registered landmark provider by name (built-ins first)."""
    return _collect(pm, "mespot_landmark_providers", "landmark provider")


def get_landmark_provider(
    name: str, pm: pluggy.PluginManager | None = None, **settings: Any
) -> LandmarkProvider:
    """Build the provider ``name`` with ``settings`` (e.g. ``min_detection_confidence=0.7``)."""
    return _lookup(landmark_providers(pm), name, "landmark provider").factory(**settings)
