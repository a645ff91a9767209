"""Plugin hooks: built-ins register like plugins, third parties can add flow methods/providers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pluggy
import pytest

from napari_mespot import plugins
from napari_mespot.core.errors import MespotError
from napari_mespot.core.face.landmarks import CsvLandmarkProvider, MediaPipeFaceMesh
from napari_mespot.core.flow.methods import FlowMethod, flow
from napari_mespot.plugins import (
    DuplicateNameError,
    LandmarkProviderInfo,
    UnknownMethodError,
    flow_methods,
    get_flow_method,
    get_landmark_provider,
    hookimpl,
    landmark_providers,
)


def zero_flow(ref, img, scale=1.0):
    return np.zeros((*ref.shape, 2), np.float32) + scale


class ThirdParty:
    @hookimpl
    def mespot_flow_methods(self):
        return [FlowMethod("constant", zero_flow, {"scale": 1.0}, "test method")]

    @hookimpl
    def mespot_landmark_providers(self):
        return [LandmarkProviderInfo("fixed", lambda **kw: ("fixed-provider", kw))]


def test_builtins_are_registered():
    assert list(flow_methods())[:3] == ["farneback", "tvl1", "dis"]
    assert {"mediapipe", "csv"} <= set(landmark_providers())
    provider = get_landmark_provider("mediapipe", min_detection_confidence=0.7)
    assert isinstance(provider, MediaPipeFaceMesh) and provider.min_detection_confidence == 0.7
    assert isinstance(get_landmark_provider("csv", path="x.csv"), CsvLandmarkProvider)


def test_a_plugin_adds_a_flow_method_reachable_by_name():
    plugins.register(ThirdParty(), name="third-party")
    try:
        assert "constant" in flow_methods()
        img = np.zeros((5, 7), np.uint8)
        out = flow(img, img, "constant", scale=2.0)
        assert out.shape == (5, 7, 2) and (out == 2.0).all()
        assert get_landmark_provider("fixed", a=1) == ("fixed-provider", {"a": 1})
    finally:
        plugins.unregister("third-party")
    with pytest.raises(UnknownMethodError, match="available: farneback, tvl1, dis"):
        flow(img, img, "constant")


def test_name_clash_and_unknown_names_are_user_errors():
    pm = pluggy.PluginManager(plugins.PROJECT)
    pm.add_hookspecs(plugins.MespotSpecs)
    pm.register(ThirdParty(), name="a")

    class Clash:
        @hookimpl
        def mespot_flow_methods(self):
            return [FlowMethod("dis", zero_flow)]

    assert get_flow_method("constant", pm).name == "constant"
    pm.register(Clash(), name="b")
    with pytest.raises(DuplicateNameError, match="'dis'"):
        flow_methods(pm)
    with pytest.raises(UnknownMethodError) as info:
        get_landmark_provider("dlib", pm)
    assert isinstance(info.value, MespotError)


def test_core_and_plugins_import_no_gui_toolkit():
    code = (
        "import sys\n"
        "import napari_mespot.plugins, napari_mespot.core.face.landmarks, napari_mespot.core.face.cache\n"
        "import napari_mespot.core.face.regions, napari_mespot.core.flow.methods\n"
        "import napari_mespot.core.flow.regions\n"
        "import napari_mespot.core.flow.display\n"
        "import napari_mespot.commands.landmarks, napari_mespot.commands.flow\n"
        "bad = {'napari', 'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'magicgui', 'vispy', 'superqt'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
