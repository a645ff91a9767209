"""napari reader: a video file or an image folder becomes one lazy RGB Image layer."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from napari_mespot.core.errors import MespotError
from napari_mespot.core.media.source import VideoSource
from napari_mespot.core.media.video import is_video_path, open_video

log = logging.getLogger(__name__)


def get_reader(path: str | list[str]):
    """Return :func:`read_videos` when every path is a video file or an image folder."""
    paths = [path] if isinstance(path, str) else list(path)
    if not paths or not all(is_video_path(p) for p in paths):
        return None
    return read_videos


def read_videos(path: str | list[str]) -> list[tuple]:
    paths = [path] if isinstance(path, str) else list(path)
    layers = []
    for p in paths:
        try:
            source = open_video(p)
        except MespotError as exc:
            # napari shows a reader's exception as a notification: keep it one clear line.
            raise OSError(str(exc)) from exc
        layers.append(video_layer_data(source))
    return layers


def video_layer_data(source: VideoSource, name: str | None = None, **metadata) -> tuple:
    """The (data, kwargs, 'image') tuple of one lazy video layer.

    Contrast limits are given so napari does not decode frames to estimate them, and
    ``multiscale=False`` so it does not probe the source for pyramid levels. The review keys are
    bound in the viewer the layer goes to, so they work before any review dock is open.
    """
    if "napari._qt.qt_main_window" in sys.modules:  # a viewer window exists: no Qt for headless reads
        from napari_mespot._widgets.review_keys import enable_review_keys

        enable_review_keys()
    path = Path(source.path)
    kwargs = {
        "name": name or (path.stem if path.is_file() else path.name),
        "rgb": True,
        "multiscale": False,
        "contrast_limits": [0, 255],
        "metadata": {
            "mespot_video": True,
            "path": str(path),
            "fps": source.fps,
            "fps_source": source.fps_source,
            "n_frames": len(source),
            **metadata,
        },
    }
    return (source, kwargs, "image")
