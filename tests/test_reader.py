"""The napari adapters: the reader and the sample data, in a real viewer under Xvfb."""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot._reader import get_reader
from napari_mespot.core.media.source import VideoSource

pytestmark = pytest.mark.gui


def test_reader_claims_videos_and_image_folders_only(fixtures_dir, tmp_path):
    assert get_reader(str(fixtures_dir / "video" / "single_face.mp4")) is not None
    assert get_reader(str(fixtures_dir / "labels" / "samm_lv_gt.xlsx")) is None
    assert get_reader(str(tmp_path)) is None  # an empty folder is not an image sequence


@pytest.mark.parametrize(
    "name, n_frames",
    [
        ("single_face.mp4", 72),
        ("WolfgangLanger_Pexels.mp4", 472),
        ("face_noface.mov", 169),
        ("no_face.mp4", 95),
    ],
)
def test_real_videos_open_as_lazy_rgb_layers(make_napari_viewer_proxy, fixtures_dir, name, n_frames):
    viewer = make_napari_viewer_proxy()
    path = fixtures_dir / "video" / name
    layers = viewer.open(str(path), plugin="napari-mespot")
    assert len(layers) == 1
    layer = layers[0]
    assert layer.name == path.stem and layer.rgb
    assert isinstance(layer.data, VideoSource), "the layer must hold the lazy source, not decoded frames"
    assert layer.data.shape[0] == n_frames
    assert layer.metadata["path"] == str(path) and layer.metadata["fps"] > 0
    # Moving the time slider shows exactly that frame of the video.
    step = n_frames // 2
    viewer.dims.set_current_step(0, step)
    shown = np.asarray(layer._slice.image.raw)
    assert np.array_equal(shown, layer.data[step])


def test_reader_error_is_one_clear_line(make_napari_viewer_proxy, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 4096)
    viewer = make_napari_viewer_proxy()
    with pytest.raises(Exception, match=r"broken\.mp4: not a readable video"):
        viewer.open(str(bad), plugin="napari-mespot")


def test_sample_data_opens(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    layers = viewer.open_sample("napari-mespot", "single_face")
    assert layers[0].data.shape == (72, 360, 640, 3)


def test_synthetic_sample_opens_with_its_ground_truth(make_napari_viewer_proxy):
    from napari_mespot.core.labels.native import read_native_csv

    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    assert layer.name == "synthetic_face" and layer.rgb
    truth = read_native_csv(layer.metadata["ground_truth"])
    intervals = truth["synthetic_face"]
    assert intervals, "the sample's ground truth must list its expressions"
    assert {iv.type for iv in intervals} == {"me", "mae"}
    assert max(iv.offset for iv in intervals) < layer.data.shape[0]
