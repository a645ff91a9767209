"""The contract every spotter fulfils, whatever its method.

A spotter is a generator ``spot(video, ...) -> Generator[Progress, None, SpotResult]``: it yields
:class:`~napari_mespot.core.progress.Progress` (so the CLI shows a bar and the GUI can cancel by
closing it) and returns a :class:`SpotResult`. The result carries not only the intervals but
also *why* they were spotted — the per-frame curves the method thresholded and the thresholds
themselves — so a reviewer can see a near miss as well as a hit, and what was *not* looked at
(frames without a face, with the reason), so a silent gap is never mistaken for "no expression",
and what it looked at but does not trust (``unreliable``: a hand over the face, say), so an
empty stretch there reads as "could not tell", not as "nothing happened".
"""

from __future__ import annotations

import dataclasses
import io
import json
import typing
import zipfile
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from napari_mespot.core.atomic import atomic_write_bytes, atomic_write_text
from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.intervals import runs as runs  # re-exported: every spotter finds spans with it
from napari_mespot.core.progress import Progress


class CurvesFileError(MespotError):
    """A saved curves file that cannot be read back (missing, damaged, not a curves file)."""


def video_name(video: Any) -> str:
    """A result's default video name: the file's stem (``video`` for an array)."""
    path = getattr(video, "path", None)
    return Path(path).stem if path is not None else "video"


#: Why frames without a face are skipped.
NO_FACE = "no face found"
#: What to try when a whole video has no face. Measured on the real fixture clip shrunk inside a
#: 640×480 frame: MediaPipe Face Mesh found the face 53 px wide in every frame, 38 px wide in none.
NO_FACE_HINT = "faces narrower than about 50 pixels are not found: crop or zoom a wide shot around the face"


@dataclass(frozen=True)
class SkippedSpan:
    """Frames ``start..end`` (inclusive) that were not analysed, and why."""

    start: int
    end: int
    reason: str

    @property
    def length(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class SpotResult:
    """What one spotter run on one video found, and the evidence for it.

    ``curves`` is (V, n_frames) float32: curve ``v`` (named ``curve_labels[v]``) at every frame,
    NaN where it was not computed (skipped frames). A frame is compared against
    ``thresholds[v]`` by the method's own rule (see the method's docstring); ``raw_curves`` holds
    the same curves before the method's smoothing, when it has any. ``windows`` lists the
    analysed spans as inclusive (start, end) frame pairs. ``skipped`` are the frames not
    analysed; ``unreliable`` the frames the method found it cannot trust and never spots in
    (each with its reason; a method without such a check leaves it empty). ``settings`` is the
    method's settings object, recorded so a result can always be reproduced (a plain mapping when
    the result was read back from a curves file). ``curve_unit`` says what the curves and
    thresholds measure ("matching index", "class score"), for the plots' axes and the
    thresholds' labels.
    """

    video: str
    method: str
    fps: float
    n_frames: int
    intervals: tuple[Interval, ...]
    curve_labels: tuple[str, ...]
    curves: np.ndarray
    thresholds: np.ndarray
    raw_curves: np.ndarray | None = None
    windows: tuple[tuple[int, int], ...] = ()
    skipped: tuple[SkippedSpan, ...] = ()
    unreliable: tuple[SkippedSpan, ...] = ()
    settings: Any = None
    device: str = "cpu"
    notes: tuple[str, ...] = field(default_factory=tuple)
    curve_unit: str = ""

    def __post_init__(self) -> None:
        v = len(self.curve_labels)
        if self.curves.shape != (v, self.n_frames):
            raise ValueError(f"curves must be ({v}, {self.n_frames}), got {self.curves.shape}")
        if self.thresholds.shape != (v,):
            raise ValueError(f"thresholds must be ({v},), got {self.thresholds.shape}")
        if self.raw_curves is not None and self.raw_curves.shape != self.curves.shape:
            raise ValueError("raw_curves must have the shape of curves")

    @classmethod
    def for_video(
        cls, video: Any, method: str, intervals: Sequence[Interval], name: str | None = None, **evidence: Any
    ) -> SpotResult:
        """The result of ``method`` on ``video`` (a source, or an array with ``fps``): its name
        (default: the file stem), frame rate and frame count come from the video, the intervals
        in time order; ``evidence`` is the other fields (curves, thresholds, windows, …)."""
        ordered = tuple(sorted(intervals, key=lambda iv: (iv.onset, iv.offset)))
        return cls(
            video=name or video_name(video),
            method=method,
            fps=float(video.fps),
            n_frames=len(video),
            intervals=ordered,
            **evidence,
        )

    def video_intervals(self) -> VideoIntervals:
        """The intervals with the fps they need (what label writers and metrics take)."""
        return VideoIntervals(self.video, self.intervals, self.fps)

    def analysed_fraction(self) -> float:
        """Share of the frames that were analysed (1.0 when nothing was skipped)."""
        skipped = sum(s.length for s in self.skipped)
        return 1.0 - skipped / self.n_frames if self.n_frames else 0.0

    def unusable_reason(self) -> str | None:
        """Why no frame of the video could be analysed (``None`` when some were).

        Such a run found nothing because it looked at nothing: "0 intervals" would read as "no
        expression", so the CLI and batch report it as a failure with this reason instead.
        """
        if self.analysed_fraction() > 0:
            return None
        spans = "; ".join(f"frames {s.start}-{s.end}: {s.reason}" for s in self.skipped[:3])
        more = f"; and {len(self.skipped) - 3} more span(s)" if len(self.skipped) > 3 else ""
        hint = f"; {NO_FACE_HINT}" if self.skipped and all(s.reason == NO_FACE for s in self.skipped) else ""
        return f"no frame could be analysed ({spans or 'the video has no frames'}{more}){hint}"

    def settings_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-ready values."""
        if dataclasses.is_dataclass(self.settings):
            return json.loads(json.dumps(dataclasses.asdict(self.settings), default=str))
        return dict(self.settings or {})

    def save_curves(self, folder: str | Path) -> tuple[Path, Path]:
        """Write ``<video>.curves.npz`` (everything, for tools) and ``<video>.curves.csv``
        (frame, time and one column per curve, for spreadsheets) into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        stem = Path(self.video).name
        meta = {
            "video": self.video,
            "method": self.method,
            "fps": self.fps,
            "device": self.device,
            "curve_unit": self.curve_unit,
            "notes": list(self.notes),
            "settings": self.settings_dict(),
            "skipped": [dataclasses.asdict(s) for s in self.skipped],
            "unreliable": [dataclasses.asdict(s) for s in self.unreliable],
        }
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            curves=self.curves.astype(np.float32),
            raw_curves=(self.raw_curves if self.raw_curves is not None else self.curves).astype(np.float32),
            thresholds=self.thresholds.astype(np.float64),
            curve_labels=np.array(self.curve_labels, dtype=str),
            windows=np.array(self.windows, dtype=np.int64).reshape(-1, 2),
            meta=np.array(json.dumps(meta, sort_keys=True)),
        )
        npz = folder / f"{stem}.curves.npz"
        atomic_write_bytes(npz, buf.getvalue())
        text = io.StringIO()
        header = ",".join(("frame", "time_s", *self.curve_labels))
        frames = np.arange(self.n_frames)
        table = np.column_stack([frames, frames / self.fps, self.curves.T])
        np.savetxt(text, table, delimiter=",", header=header, comments="", fmt="%.6g")
        csv = folder / f"{stem}.curves.csv"
        atomic_write_text(csv, text.getvalue())
        return npz, csv

    @classmethod
    def load_curves(cls, path: str | Path, intervals: Sequence[Interval]) -> SpotResult:
        """The result saved by :meth:`save_curves` into ``path`` (the ``.curves.npz``), with
        ``intervals`` (the file keeps the evidence, the caller the intervals — a review session
        keeps them as a track). ``settings`` come back as a mapping.

        Raises :class:`CurvesFileError`, one line naming the file, when it is missing or damaged.
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                curves = data["curves"]
                evidence = {
                    "curve_labels": tuple(str(label) for label in data["curve_labels"]),
                    "curves": curves,
                    "thresholds": data["thresholds"],
                    "raw_curves": data["raw_curves"],
                    "windows": tuple((int(a), int(b)) for a, b in data["windows"]),
                }
            return cls(
                video=meta["video"],
                method=meta["method"],
                fps=float(meta["fps"]),
                n_frames=curves.shape[-1],
                intervals=tuple(intervals),
                skipped=tuple(SkippedSpan(**span) for span in meta["skipped"]),
                unreliable=tuple(SkippedSpan(**span) for span in meta.get("unreliable", ())),
                settings=meta["settings"],
                device=meta["device"],
                notes=tuple(meta.get("notes", ())),
                curve_unit=meta.get("curve_unit", ""),
                **evidence,
            )
        except FileNotFoundError:
            raise CurvesFileError(f"{path}: the run's curves file is missing") from None
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise CurvesFileError(f"{path}: cannot read the run's curves ({exc})") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise CurvesFileError(
                f"{path}: not a curves file of a spotter run ({type(exc).__name__}: {exc})"
            ) from None


@dataclass(frozen=True)
class Spotter:
    """One spotting method as every dispatcher (CLI, spot dock, batch, reproduce) runs it.

    The CLI, the dock and batch never name a method: they look its :class:`Spotter` up in the
    plugin registry (:func:`napari_mespot.plugins.spotters`) and use only these fields.

    - ``settings``: the method's frozen settings dataclass; every field has a default, so
      ``settings()`` is a valid run and the dock can build its form from the fields.
    - ``spot(video, model, settings, *, name=None)``: the spotting generator — yields
      :class:`~napari_mespot.core.progress.Progress`, returns a :class:`SpotResult` whose
      ``method`` is the registered name. ``name`` is the result's video name (default: file stem).
    - ``load_model(path, settings)``: the model to spot with, read from ``path``; ``None`` means
      the method's default model. A method without a model returns ``None``.
    - ``default_model_path(settings)``: the file ``load_model(None, settings)`` reads, which the
      dock's model field shows while no other file is chosen (``None``: no file). It takes the
      settings because a preset may name its own default model (the prototype ``fast`` preset
      its DIS prototypes).
    - ``model_label`` / ``model_filter``: what the model file is called in the dock ("prototypes",
      "checkpoint") and its file-dialog pattern; an empty label means the method takes no file.
    - ``presets``: named settings (``default_preset`` names the one used when none is chosen);
      empty when the method has none.
    - ``choices``: settings fields the dock offers as a list (``None`` among them = "default");
      ``hidden``: fields the dock leaves at their default (memory knobs, provider names).
    """

    settings: type
    spot: Callable[..., Generator[Progress, None, SpotResult]]
    load_model: Callable[[str | None, Any], Any]
    default_model_path: Callable[[Any], Path | None] = field(default=lambda settings: None)
    model_label: str = ""
    model_filter: str = ""
    presets: Mapping[str, Any] = field(default_factory=dict)
    default_preset: str = ""
    choices: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    hidden: Sequence[str] = ()

    def __post_init__(self) -> None:
        if not dataclasses.is_dataclass(self.settings):
            raise TypeError(f"a spotter's settings must be a dataclass, got {self.settings!r}")
        if self.default_preset and self.default_preset not in self.presets:
            raise ValueError(f"default preset {self.default_preset!r} is not among {sorted(self.presets)}")

    def base_settings(self, preset: str | None = None) -> Any:
        """The settings of ``preset`` (default: the method's default preset, else the defaults)."""
        preset = preset or self.default_preset
        if not preset:
            return self.settings()
        if preset not in self.presets:
            known = ", ".join(self.presets) or "none"
            raise ValueError(f"no preset {preset!r} for this method (its presets: {known})")
        return self.presets[preset]

    def run(
        self, video: Any, model_path: str | None = None, settings: Any = None, *, name: str | None = None
    ) -> Generator[Progress, None, SpotResult]:
        """Load the model of ``model_path`` (``None``: the default) and spot ``video`` with it.

        Loading happens inside the generator, so a GUI worker loads it off the main thread.
        """
        settings = self.base_settings() if settings is None else settings
        model = self.load_model(model_path, settings)
        return (yield from self.spot(video, model, settings, name=name))


def settings_from_mapping(cls: type, values: Mapping[str, Any], base: Any = None) -> Any:
    """Build the settings dataclass ``cls`` from a mapping (over ``base``, an instance of it,
    when given), rejecting unknown keys by name.

    Lets the CLI, the GUI and a saved result all construct settings the same way, with a
    readable error instead of ``TypeError: unexpected keyword``.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{cls.__name__} has no setting(s) {unknown}; known: {sorted(known)}")
    return dataclasses.replace(base, **values) if base is not None else cls(**values)


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _parse_value(text: str, hint: Any) -> Any:
    """``text`` as a value of the type ``hint`` (bool, int, float, str, optional, else JSON)."""
    args = typing.get_args(hint)
    if type(None) in args:
        if text.strip().lower() in ("none", "default", ""):
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is bool:
        word = text.strip().lower()
        if word not in _TRUE + _FALSE:
            raise ValueError(f"expected true or false, got {text!r}")
        return word in _TRUE
    if hint in (int, float):
        return hint(text)
    if hint is str:
        return text
    return json.loads(text)  # mappings and sequences, e.g. {"me": 0.4}


def settings_with(base: Any, pairs: Sequence[str]) -> Any:
    """``base`` (a settings dataclass instance) with ``FIELD=VALUE`` pairs applied.

    Each value is read as its field's declared type, so any method's settings can be set from
    the command line (``--set window_stride=16``) without the CLI knowing the method.
    """
    cls = type(base)
    hints = typing.get_type_hints(cls)
    changes: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ValueError(f"expected FIELD=VALUE, got {pair!r}")
        if key not in hints or key not in {f.name for f in dataclasses.fields(cls)}:
            known = ", ".join(f.name for f in dataclasses.fields(cls))
            raise ValueError(f"{cls.__name__} has no setting {key!r}; known: {known}")
        try:
            changes[key] = _parse_value(text, hints[key])
        except (ValueError, json.JSONDecodeError) as exc:
            raise ValueError(f"{key}={text}: {exc}") from None
    return dataclasses.replace(base, **changes)
