"""Extension points (pluggy): spotters, flow methods and landmark providers.

A third-party package extends napari-mespot by exposing a module (or object) with
``@hookimpl``-decorated functions under the entry-point group ``napari_mespot``::

    [project.entry-points.napari_mespot]
    my_plugin = "my_package.mespot_hooks"

The built-ins are preloaded in core's registries (:mod:`napari_mespot.core.registry`); this module
feeds the contributions of installed plugins into the same registries, once per process, so core
never reaches up here. Each hook returns a list of contributions; a name may be claimed once
(a clash is an error rather than a silent override).

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
from collections.abc import Iterable
from typing import Any

import pluggy

from napari_mespot.core import registry
from napari_mespot.core.errors import DuplicateNameError, UnknownMethodError
from napari_mespot.core.flow.methods import FlowMethod
from napari_mespot.core.registry import LandmarkProviderInfo, Registries, SpotterInfo
from napari_mespot.core.spotters.base import Spotter

PROJECT = "napari_mespot"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

__all__ = [
    "DuplicateNameError",
    "LandmarkProviderInfo",
    "SpotterInfo",
    "UnknownMethodError",
    "hookimpl",
]

#: The registry (attribute of :class:`~napari_mespot.core.registry.Registries`) each hook feeds.
_HOOKS = {
    "spotters": "mespot_spotters",
    "flow_methods": "mespot_flow_methods",
    "landmark_providers": "mespot_landmark_providers",
}
KINDS = tuple(_HOOKS)


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


def _contributions(pm: pluggy.PluginManager, kind: str, plugin: object | None = None) -> list[Any]:
    """The contributions of one kind from ``pm``'s plugins (or from ``plugin`` alone), in
    registration order (pluggy calls the last registered first)."""
    hook = _HOOKS[kind]
    if plugin is None:
        return [item for batch in reversed(getattr(pm.hook, hook)()) for item in batch or ()]
    return [
        item
        for caller in pm.get_hookcallers(plugin) or ()
        if caller.name == hook
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
        for item in impl.function() or ()
    ]


def feed(
    pm: pluggy.PluginManager, into: Registries, plugin: object | None = None, kinds: Iterable[str] = KINDS
) -> Registries:
    """Add the contributions of ``pm``'s plugins (or of ``plugin`` alone) to ``into``; a name
    claimed twice is an error."""
    for kind in kinds:
        for item in _contributions(pm, kind, plugin):
            into.add(kind, item)
    return into


def collect(pm: pluggy.PluginManager, kinds: Iterable[str] = KINDS) -> Registries:
    """The built-ins plus ``pm``'s plugins (of ``kinds``), in new registries: checks a set of
    plugins without touching the process's registries."""
    return feed(pm, registry.builtin_registries(), kinds=kinds)


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager; loading it feeds the ``napari_mespot`` entry points into
    core's registries (once)."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(MespotSpecs)
    pm.load_setuptools_entrypoints(PROJECT)
    feed(pm, registry.REGISTRIES)
    return pm


def register(plugin: object, name: str) -> None:
    """Register ``plugin`` at run time and add its contributions to core's registries."""
    pm = plugin_manager()
    pm.register(plugin, name=name)
    before = registry.REGISTRIES.copy()
    try:
        feed(pm, registry.REGISTRIES, plugin)
    except DuplicateNameError:
        registry.REGISTRIES.restore(before)
        pm.unregister(name=name)
        raise


def unregister(name: str) -> None:
    """Remove the run-time plugin ``name`` and its contributions."""
    pm = plugin_manager()
    plugin = pm.get_plugin(name)
    if plugin is None:
        return
    for kind in KINDS:
        for item in _contributions(pm, kind, plugin):
            getattr(registry.REGISTRIES, kind).remove(item.name)
    pm.unregister(name=name)


def _registries(pm: pluggy.PluginManager | None, kind: str) -> Registries:
    """The process's registries (plugins loaded), or those of ``pm`` alone for ``kind``."""
    if pm is None:
        plugin_manager()
        return registry.REGISTRIES
    return collect(pm, (kind,))


def spotters(pm: pluggy.PluginManager | None = None) -> dict[str, SpotterInfo]:
    """Every registered spotter by name (built-ins first)."""
    return _registries(pm, "spotters").spotters.items()


def get_spotter(name: str, pm: pluggy.PluginManager | None = None) -> Spotter:
    """The spotter registered as ``name``, loaded."""
    return _registries(pm, "spotters").spotters.get(name).load()


def flow_methods(pm: pluggy.PluginManager | None = None) -> dict[str, FlowMethod]:
    """Every registered flow method by name (built-ins first)."""
    return _registries(pm, "flow_methods").flow_methods.items()


def get_flow_method(name: str, pm: pluggy.PluginManager | None = None) -> FlowMethod:
    return _registries(pm, "flow_methods").flow_methods.get(name)


def landmark_providers(pm: pluggy.PluginManager | None = None) -> dict[str, LandmarkProviderInfo]:
    """Every registered landmark provider by name (built-ins first)."""
    return _registries(pm, "landmark_providers").landmark_providers.items()


def get_landmark_provider(name: str, pm: pluggy.PluginManager | None = None, **settings: Any) -> Any:
    """Build the provider ``name`` with ``settings`` (e.g. ``min_detection_confidence=0.7``)."""
    return _registries(pm, "landmark_providers").landmark_providers.get(name).factory(**settings)
