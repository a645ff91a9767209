"""Extension points (pluggy): flow methods and landmark providers, more to come.

A third-party package extends napari-mespot by exposing a module (or object) with
``@hookimpl``-decorated functions under the entry-point group ``napari_mespot``::

    [project.entry-points.napari_mespot]
    my_flow = "my_package.mespot_hooks"

The built-ins register through the very same hooks (:class:`_Builtins`), so there is one path
for every method. Each hook returns a list of contributions; the registry merges them, and a
name may be claimed once (a clash is an error rather than a silent override). New kinds of
contributions (spotters) are added as further ``mespot_*`` specs on :class:`MespotSpecs`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from .core.errors import MespotError
from .core.flow import FlowMethod
from .core.landmarks import LandmarkProvider

PROJECT = "napari_mespot"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class UnknownMethodError(MespotError):
    """A flow method or landmark provider name that nothing registered."""


class DuplicateNameError(MespotError):
    """Two plugins registered the same method or provider name."""


@dataclass(frozen=True)
class LandmarkProviderInfo:
    """A landmark provider contribution: ``factory(**settings)`` builds a provider."""

    name: str
    factory: Callable[..., LandmarkProvider]
    description: str = ""


class MespotSpecs:
    """The hook specifications. Every hook returns a list of contributions."""

    @hookspec
    def mespot_flow_methods(self) -> list[FlowMethod]:
        """Optical-flow methods (see :class:`napari_mespot.core.flow.FlowMethod`)."""

    @hookspec
    def mespot_landmark_providers(self) -> list[LandmarkProviderInfo]:
        """Landmark providers (see :class:`napari_mespot.core.landmarks.LandmarkProvider`)."""


class _Builtins:
    """napari-mespot's own contributions, registered like any plugin's."""

    @hookimpl
    def mespot_flow_methods(self) -> list[FlowMethod]:
        from .core.flow import BUILTIN_METHODS

        return list(BUILTIN_METHODS)

    @hookimpl
    def mespot_landmark_providers(self) -> list[LandmarkProviderInfo]:
        from .core.landmarks import CsvLandmarkProvider, MediaPipeFaceMesh

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
    # farneback-torch / tvl1-torch; torch itself is imported only when one of them computes.
    from .core import flow_torch_methods

    pm.register(flow_torch_methods, name="napari-mespot-torch")
    pm.load_setuptools_entrypoints(PROJECT)
    return pm


def _collect(results: list[list[Any]], kind: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for contribution in (item for batch in results for item in batch or ()):
        if contribution.name in merged:
            raise DuplicateNameError(f"two plugins register the {kind} {contribution.name!r}")
        merged[contribution.name] = contribution
    return merged


def flow_methods(pm: pluggy.PluginManager | None = None) -> dict[str, FlowMethod]:
    """Every registered flow method by name (built-ins first)."""
    pm = pm or plugin_manager()
    return _collect(list(reversed(pm.hook.mespot_flow_methods())), "flow method")


def get_flow_method(name: str, pm: pluggy.PluginManager | None = None) -> FlowMethod:
    methods = flow_methods(pm)
    if name not in methods:
        raise UnknownMethodError(f"unknown flow method {name!r}; available: {', '.join(methods)}")
    return methods[name]


def landmark_providers(pm: pluggy.PluginManager | None = None) -> dict[str, LandmarkProviderInfo]:
    """Every registered landmark provider by name (built-ins first)."""
    pm = pm or plugin_manager()
    return _collect(list(reversed(pm.hook.mespot_landmark_providers())), "landmark provider")


def get_landmark_provider(
    name: str, pm: pluggy.PluginManager | None = None, **settings: Any
) -> LandmarkProvider:
    """Build the provider ``name`` with ``settings`` (e.g. ``min_detection_confidence=0.7``)."""
    providers = landmark_providers(pm)
    if name not in providers:
        raise UnknownMethodError(f"unknown landmark provider {name!r}; available: {', '.join(providers)}")
    return providers[name].factory(**settings)
