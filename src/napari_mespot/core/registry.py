"""The names core resolves: spotters, optical-flow methods and landmark providers.

core owns its registries so that a spotter can look a landmark provider up, or ``flow()`` a
method, without reaching up into the plugin layer (docs/architecture.md, "Layers"). The
registries are preloaded with the built-ins as *lazy* entries — an import path resolved on first
use — so listing the names (``mespot --help``, the dock's menus) imports neither torch nor
MediaPipe, and this module imports nothing of the package but its errors.
:mod:`napari_mespot.plugins` adds what third-party packages contribute through pluggy, once
per process.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from napari_mespot.core.errors import DuplicateNameError, UnknownMethodError

T = TypeVar("T")


@dataclass(frozen=True)
class LandmarkProviderInfo:
    """A landmark provider contribution: ``factory(**settings)`` builds a provider."""

    name: str
    factory: Callable[..., Any]
    description: str = ""


@dataclass(frozen=True)
class SpotterInfo:
    """A spotter contribution: ``load()`` imports the method and returns its
    :class:`~napari_mespot.core.spotters.base.Spotter` (called when the method is used)."""

    name: str
    description: str
    load: Callable[[], Any]


@dataclass(frozen=True)
class _Lazy:
    """``module:attribute``, imported when the entry is first used."""

    target: str

    def resolve(self) -> Any:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


def _lazy_call(target: str) -> Callable[..., Any]:
    """A callable that imports ``module:attribute`` on its first call and forwards to it."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return _Lazy(target).resolve()(*args, **kwargs)

    return call


class Registry(Generic[T]):
    """Contributions of one kind by name, built-ins first; a name may be claimed once."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | _Lazy] = {}

    def add(self, name: str, item: T | _Lazy) -> None:
        if name in self._entries:
            raise DuplicateNameError(f"two plugins register the {self.kind} {name!r}")
        self._entries[name] = item

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> T:
        if name not in self._entries:
            raise UnknownMethodError(f"unknown {self.kind} {name!r}; available: {', '.join(self._entries)}")
        entry = self._entries[name]
        if isinstance(entry, _Lazy):
            entry = self._entries[name] = entry.resolve()
        return entry

    def names(self) -> list[str]:
        return list(self._entries)

    def items(self) -> dict[str, T]:
        """Every entry by name, resolved (imports the lazy built-ins)."""
        return {name: self.get(name) for name in self._entries}

    def copy(self) -> Registry[T]:
        clone: Registry[T] = Registry(self.kind)
        clone._entries = dict(self._entries)
        return clone

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)


@dataclass(frozen=True)
class Registries:
    """The three kinds of contribution, as one unit so a second set can be built and checked."""

    spotters: Registry[SpotterInfo]
    flow_methods: Registry[Any]
    landmark_providers: Registry[LandmarkProviderInfo]

    def add(self, kind: str, contribution: Any) -> None:
        getattr(self, kind).add(contribution.name, contribution)

    def copy(self) -> Registries:
        return Registries(self.spotters.copy(), self.flow_methods.copy(), self.landmark_providers.copy())

    def restore(self, saved: Registries) -> None:
        """Put back what ``saved`` (a :meth:`copy`) held: undoes a plugin that failed half-way."""
        for kind in ("spotters", "flow_methods", "landmark_providers"):
            getattr(self, kind)._entries = dict(getattr(saved, kind)._entries)


_FLOW = "napari_mespot.core.flow.methods"
_FLOW_TORCH = "napari_mespot.core.flow.torch.methods"
_LANDMARKS = "napari_mespot.core.face.landmarks"


def builtin_registries() -> Registries:
    """Fresh registries holding napari-mespot's own methods, unresolved."""
    spotters: Registry[SpotterInfo] = Registry("spotter")
    spotters.add(
        "prototype",
        SpotterInfo(
            "prototype",
            "AU prototypes (He et al., ECAI 2023)",
            _lazy_call("napari_mespot.core.spotters.prototype.method:spotter"),
        ),
    )
    spotters.add(
        "vovnet",
        SpotterInfo(
            "vovnet",
            "VoVNet (Electronics 2023)",
            _lazy_call("napari_mespot.core.spotters.vovnet.method:spotter"),
        ),
    )
    flows: Registry[Any] = Registry("flow method")
    for name, attribute in (("farneback", "FARNEBACK"), ("tvl1", "TVL1"), ("dis", "DIS")):
        flows.add(name, _Lazy(f"{_FLOW}:{attribute}"))
    # torch is imported only when one of the ports computes, not when this entry resolves.
    for name, attribute in (
        ("farneback-torch", "FARNEBACK_TORCH"),
        ("tvl1-torch", "TVL1_TORCH"),
        ("dis-torch", "DIS_TORCH"),
    ):
        flows.add(name, _Lazy(f"{_FLOW_TORCH}:{attribute}"))
    providers: Registry[LandmarkProviderInfo] = Registry("landmark provider")
    providers.add(
        "mediapipe",
        LandmarkProviderInfo(
            "mediapipe",
            _lazy_call(f"{_LANDMARKS}:MediaPipeFaceMesh"),
            "MediaPipe Face Mesh, 468 points, tracking",
        ),
    )
    providers.add(
        "csv",
        LandmarkProviderInfo(
            "csv", _lazy_call(f"{_LANDMARKS}:CsvLandmarkProvider"), "68-point CSV from OpenFace 2 / py-feat"
        ),
    )
    return Registries(spotters, flows, providers)


#: The process's registries: the built-ins, plus what :mod:`napari_mespot.plugins` feeds in.
REGISTRIES = builtin_registries()
spotters = REGISTRIES.spotters
flow_methods = REGISTRIES.flow_methods
landmark_providers = REGISTRIES.landmark_providers


def landmark_provider(name: str, **settings: Any) -> Any:
    """Build the provider ``name`` with ``settings`` (e.g. ``min_detection_confidence=0.7``)."""
    return landmark_providers.get(name).factory(**settings)
