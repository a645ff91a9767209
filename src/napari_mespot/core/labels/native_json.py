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
from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.labels._rows import RowContext
from napari_mespot.core.labels.base import (
    Labels,
    QuirkOptions,
    format_error,
    report_duplicates,
    report_quirks,
)

FORMAT_TAG = "mespot-labels"
VERSION = 1


def write_native_json(path: str | os.PathLike, labels: Labels) -> None:
    doc = {
        "format": FORMAT_TAG,
        "version": VERSION,
        "videos": [labels.videos[v].to_dict() for v in sorted(labels.videos)],
    }
    atomic_write_text(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def read_native_json(path: str | os.PathLike, quirks: QuirkOptions | None = None) -> Labels:
    """Read a native JSON file; an apex outside its interval or fractional frames (an edited
    file) are repaired as ``quirks`` say and logged, as in every other format. Intervals are
    numbered through the file (1, 2, …) in messages: a JSON file has no rows."""
    path = Path(path)
    options = quirks or QuirkOptions()
    ctx = RowContext(path, None, options, [], row_word="interval")
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
    read: list[tuple[int, str, Interval]] = []
    for i, item in enumerate(items):
        where = f"videos[{i}]"
        try:
            if not isinstance(item, dict):
                raise TypeError("each video must be an object")
            item = {**item, "intervals": _repaired(ctx, item, len(read))}
            vi = VideoIntervals.from_dict(item)
        except KeyError as exc:
            raise format_error(path, f"{where}: missing key {exc}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise format_error(path, f"{where}: {exc}") from None
        if vi.video in videos:
            raise format_error(path, f"{where}: video {vi.video!r} appears twice")
        videos[vi.video] = vi
        read += [(len(read) + k + 1, vi.video, iv) for k, iv in enumerate(vi.intervals)]
    report_quirks(path, ctx.quirks, options, "interval")
    report_duplicates(path, read, "interval")
    return Labels(videos, "native-json", ctx.quirks)


def _repaired(ctx: RowContext, item: dict, before: int) -> list:
    """The video's interval objects with their frames repaired as the quirk options say (those
    a ``drop`` removes left out); ``before`` intervals came earlier in the file."""
    items = item.get("intervals", [])
    if not isinstance(items, list) or not all(isinstance(d, dict) for d in items):
        return items  # VideoIntervals.from_dict says what is wrong
    video = str(item.get("video", ""))
    out = []
    for k, data in enumerate(items, start=before + 1):
        cells = (data.get("onset"), data.get("apex"), data.get("offset"))
        if not all(_is_number(c) for c in cells[::2]) or not (cells[1] is None or _is_number(cells[1])):
            out.append(data)  # missing or not numbers: Interval.from_dict says what is wrong
            continue
        frames = ctx.frames0(k, video, cells, ("onset", "apex", "offset"))
        if frames is not None:
            out.append({**data, "onset": frames[0], "apex": frames[1], "offset": frames[2]})
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
