"""The native JSON label file: every field of every interval, with each video's fps and subject.

``{"format": "mespot-labels", "version": 1, "videos": [{"video", "fps", "subject",
"intervals": [...]}]}`` — the lossless interchange form (``Interval.to_dict``). Review sessions
(``<video>.mespot.json``) hold the same interval dicts inside their tracks.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.intervals import VideoIntervals
from napari_mespot.core.labels.base import Labels, format_error

FORMAT_TAG = "mespot-labels"
VERSION = 1


def write_native_json(path: str | os.PathLike, labels: Labels) -> None:
    doc = {
        "format": FORMAT_TAG,
        "version": VERSION,
        "videos": [labels.videos[v].to_dict() for v in sorted(labels.videos)],
    }
    atomic_write_text(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def read_native_json(path: str | os.PathLike) -> Labels:
    path = Path(path)
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise format_error(path, f"not a readable JSON file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_TAG:
        raise format_error(path, f'not a mespot label file (expected "format": "{FORMAT_TAG}")')
    if doc.get("version") != VERSION:
        raise format_error(path, f"unsupported version {doc.get('version')!r} (this build reads {VERSION})")
    items = doc.get("videos")
    if not isinstance(items, list):
        raise format_error(path, '"videos" must be a list')
    videos: dict[str, VideoIntervals] = {}
    for i, item in enumerate(items):
        where = f"videos[{i}]"
        try:
            if not isinstance(item, dict):
                raise TypeError("each video must be an object")
            vi = VideoIntervals.from_dict(item)
        except KeyError as exc:
            raise format_error(path, f"{where}: missing key {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise format_error(path, f"{where}: {exc}") from None
        if vi.video in videos:
            raise format_error(path, f"{where}: video {vi.video!r} appears twice")
        videos[vi.video] = vi
    return Labels(videos, "native-json")
