"""The per-layer review state the docks share."""

from __future__ import annotations

import pytest

from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for, video_layers

pytestmark = pytest.mark.gui


def test_one_state_per_layer_with_the_sample_ground_truth(make_napari_viewer_proxy):
    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    viewer.add_points([[0, 1, 1]], name="not a video")
    assert video_layers(viewer) == [layer]
    review = review_for(layer)
    assert review_for(layer) is review
    truth = review.model.tracks[GROUND_TRUTH]
    assert truth.read_only and len(truth) > 0
    assert review.fps == pytest.approx(30.0)
    assert not review.session.path.is_relative_to(review.video.path.parent)  # not inside the package
