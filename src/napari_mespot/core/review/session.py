"""The review session sidecar: ``<video>.mespot.json`` beside the video (docs/architecture.md §4).

It holds the video's identity, the fps, every track, the edit log and (from version 2) the undo
and redo stacks as positions in the log, so closing napari loses no Ctrl+Z. A version 1 file
still opens: its stacks are replayed from the log, whose undo and redo entries that version
named "undo …" and "redo …".

With autosave on, the file is rewritten atomically (temp file + fsync + rename) after every
edit, before the edit returns — so a killed process loses nothing it acknowledged, and a reader
never sees half a file. A sidecar written for another video is refused, and a sidecar that cannot be read is
reported and left untouched, never overwritten.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from napari_mespot.core.atomic import atomic_write_text, is_writable_dir
from napari_mespot.core.errors import MespotError
from napari_mespot.core.media.samples import is_sample
from napari_mespot.core.media.source import VideoIdentity, VideoSource
from napari_mespot.core.review.model import Edit, ReviewError, ReviewModel, Track

FORMAT = "napari-mespot session"
VERSION = 2
SUFFIX = ".mespot.json"


class SessionError(MespotError):
    """A sidecar that cannot be used: unreadable, from a newer version, or for another video."""


def sidecar_path(video_path: str | os.PathLike) -> Path:
    """``clip.mp4`` → ``clip.mp4.mespot.json``; an image folder ``EP01`` → ``EP01.mespot.json``."""
    path = Path(video_path)
    return path.parent / (path.name + SUFFIX)


def user_sessions_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "napari-mespot" / "sessions"


def session_path_for(video: VideoSource, beside_video: bool = True) -> Path:
    """Where ``video``'s session lives: beside the video, or — when that folder is read-only
    (a dataset on a read-only share) or ``beside_video`` is false (the shipped samples) — in the
    user's data folder, named by the video's content so it is found again."""
    beside = sidecar_path(video.path)
    beside_video = beside_video and not is_sample(video.path)
    if beside_video and (beside.exists() or is_writable_dir(beside.parent)):
        return beside
    identity = video.identity()
    return user_sessions_dir() / f"{Path(video.path).name}.{identity.content_hash[:16]}{SUFFIX}"


def _check_frames(path: Path, model: ReviewModel) -> None:
    """Every interval of every track lies within the video: one past its end can only come from
    an edited file, and would be exported (and drawn) as if the video were longer."""
    last = model.n_frames - 1
    for track in model.tracks.values():
        for iv in track.sorted():
            if iv.offset > last:
                raise SessionError(
                    f"{path}: track {track.name!r}, interval {iv.id} (frames {iv.onset}–{iv.offset}) "
                    f"ends after the video's last frame {last}; the file was edited or is for another video"
                )


def replayed_history(log: list[Edit]) -> tuple[list[int], list[int]]:
    """The undo and redo stacks (log positions) that a version 1 log leads to.

    That version logged an undo as "undo <action>" and a redo as "redo <action>" and every
    other entry as an edit made; replaying the log through the stacks rebuilds them.
    """
    undo: list[int] = []
    redo: list[int] = []
    for i, edit in enumerate(log):
        if edit.action.startswith("undo ") and undo:
            redo.append(undo.pop())
        elif edit.action.startswith("redo ") and redo:
            undo.append(redo.pop())
        else:
            undo.append(i)
            redo.clear()
    return undo, redo


class ReviewSession:
    """A :class:`ReviewModel` bound to its video and its sidecar file."""

    def __init__(
        self, path: Path, identity: VideoIdentity, model: ReviewModel, autosave: bool = True
    ) -> None:
        self.path = path
        self.identity = identity
        self.model = model
        self.autosave = autosave
        # Plain functions, not bound methods: psygnal holds bound methods weakly, and a session
        # must keep saving for as long as anyone edits its model.
        model.events.changed.connect(lambda *_: self._on_change())
        model.events.tracks_changed.connect(lambda *_: self._on_change())

    @classmethod
    def open(
        cls, video: VideoSource, path: str | os.PathLike | None = None, autosave: bool = True
    ) -> ReviewSession:
        """The session of ``video``: restored from its sidecar when there is one, else a new one."""
        path = Path(path) if path is not None else session_path_for(video)
        identity = video.identity()
        if path.exists():
            return cls._load(path, identity, autosave)
        return cls(path, identity, ReviewModel(video.fps, len(video)), autosave)

    @classmethod
    def read(cls, path: str | os.PathLike) -> ReviewSession:
        """A sidecar on its own, without its video (to export labels where the often licensed
        video is not at hand): read-only, identified by the video it records."""
        return cls._load(Path(path), None, autosave=False)

    def save(self) -> None:
        atomic_write_text(self.path, json.dumps(self.to_dict(), indent=1))

    def to_dict(self) -> dict[str, Any]:
        ident = self.identity
        undo, redo = self.model.history()
        return {
            "format": FORMAT,
            "version": VERSION,
            "video": {
                "path": ident.path,
                "size_bytes": ident.size_bytes,
                "n_frames": ident.n_frames,
                "content_hash": ident.content_hash,
            },
            "fps": self.model.fps,
            "tracks": [t.to_dict() for t in self.model.tracks.values()],
            "log": [e.to_dict() for e in self.model.log],
            "undo": undo,
            "redo": redo,
        }

    @classmethod
    def _load(cls, path: Path, identity: VideoIdentity | None, autosave: bool) -> ReviewSession:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise SessionError(
                f"{path}: the session file is damaged (not UTF-8 text at byte {exc.start}); it was left "
                "as it is — move it away to start a new session"
            ) from None
        except json.JSONDecodeError as exc:
            raise SessionError(
                f"{path}: the session file is damaged (line {exc.lineno}, column {exc.colno}: "
                f"{exc.msg}); it was left as it is — move it away to start a new session"
            ) from None
        except OSError as exc:
            raise SessionError(f"{path}: cannot read the session file ({exc.strerror})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise SessionError(f"{path}: not a napari-mespot session file")
        version = data.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise SessionError(f"{path}: the session file is malformed (version {version!r} is not 1, 2, …)")
        if version > VERSION:
            raise SessionError(
                f"{path}: session version {version} was written by a newer napari-mespot "
                f"(this one reads up to {VERSION}); update napari-mespot to open it"
            )
        try:
            saved = VideoIdentity(**data["video"])
            fps = data["fps"]
            if isinstance(fps, bool) or not isinstance(fps, int | float) or not fps > 0 or math.isinf(fps):
                raise ValueError(f"fps must be a finite number > 0, got {fps!r}")
            model = ReviewModel(float(fps), saved.n_frames)
            for track_data in data["tracks"]:
                model.tracks[track_data["name"]] = Track.from_dict(track_data)
            log = [Edit.from_dict(e) for e in data["log"]]
            stacks = (data["undo"], data["redo"]) if version >= 2 else replayed_history(log)
            model.restore_history(log, *stacks)
        except (KeyError, TypeError, ValueError, ReviewError) as exc:
            raise SessionError(
                f"{path}: the session file is malformed ({type(exc).__name__}: {exc})"
            ) from None
        _check_frames(path, model)
        if identity is None:
            identity = saved
        elif not saved.same_file(identity):
            raise SessionError(
                f"{path}: this session belongs to another video ({saved.path}, {saved.n_frames} frames, "
                f"content {saved.content_hash[:12]}), not to {identity.path} ({identity.n_frames} frames, "
                f"content {identity.content_hash[:12]}); refusing to mix their annotations"
            )
        return cls(path, identity, model, autosave)

    def _on_change(self) -> None:
        if self.autosave:
            self.save()
