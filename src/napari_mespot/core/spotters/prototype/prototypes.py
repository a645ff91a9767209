"""AU prototypes (paper eq. 18) and the prototype file.

A :class:`PrototypeSet` holds, per AU, the mean onset→apex flow field M_j in that AU's region,
how many clips were averaged, and optionally the calibrated peak threshold θ_j. It also records
everything a field's meaning depends on — the region geometry it lives in, the flow method and
its parameters, whether head motion was removed — so spotting can use exactly the same
preprocessing, plus where it came from (provenance) and how the thresholds were chosen.

File format (``.npz``, read with ``allow_pickle=False``): one ``field_AU<j>`` array per AU,
2 × h × w float32 (x component first), and ``meta``, a JSON string with the rest
(``format_version``, ``prototypes``, ``regions``, ``flow``, ``head_motion``, ``provenance``,
``calibration``).
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from napari_mespot.core.atomic import atomic_write_bytes
from napari_mespot.core.errors import MespotError
from napari_mespot.core.face.regions import EYE, MOUTH, RegionSpec
from napari_mespot.core.spotters.prototype.normalise import curve_unit

FORMAT_VERSION = 1

#: The region each FACS AU moves, for choosing where a learnt AU's prototype lives. The paper
#: uses eye {1, 2, 4, 7} and mouth {12, 14, 15, 17}; the rest follow FACS anatomy: brow, lid and
#: cheek AUs (and the nose wrinkler, whose root lies between the eyes, inside the eye region)
#: belong to the eye region, lip and jaw AUs to the mouth region.
AU_REGIONS: dict[int, str] = {
    **dict.fromkeys((1, 2, 4, 5, 6, 7, 9, 41, 42, 43, 44, 45, 46), "eye"),
    **dict.fromkeys((10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 22, 23, 24, 25, 26, 27, 28), "mouth"),
}
#: The paper's AU set (AUs occurring at least 10 times in CASME II).
PAPER_AUS: tuple[int, ...] = (1, 2, 4, 7, 12, 14, 15, 17)
DEFAULT_REGIONS: tuple[RegionSpec, ...] = (EYE, MOUTH)


def prototype_norms(prototypes: PrototypeSet) -> np.ndarray:
    """‖M_j‖ (the Euclidean norm over both flow components) of every prototype, in order."""
    return np.array([float(np.sqrt(np.sum(p.field.astype(np.float64) ** 2))) for p in prototypes.prototypes])


class PrototypeError(MespotError):
    """A prototype file that cannot be read, or prototypes that cannot be learnt or used."""


@dataclass(frozen=True)
class Prototype:
    """One AU's prototype: the (h, w, 2) mean flow field in ``region`` pixels."""

    au: int
    region: str
    field: np.ndarray
    count: int
    threshold: float | None = None

    @property
    def label(self) -> str:
        return f"AU{self.au}"

    def magnitude(self) -> np.ndarray:
        """The heatmap H_j = sqrt(Mx² + My²) of eq. 32."""
        return np.hypot(self.field[..., 0], self.field[..., 1])


@dataclass(frozen=True)
class PrototypeSet:
    """The prototypes of several AUs plus the preprocessing they assume (see the module doc)."""

    prototypes: tuple[Prototype, ...]
    regions: tuple[RegionSpec, ...] = DEFAULT_REGIONS
    flow_method: str = "farneback"
    flow_params: Mapping[str, Any] = field(default_factory=dict)
    head_motion: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict)
    calibration: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        specs = {r.name: r for r in self.regions}
        seen = set()
        for p in self.prototypes:
            if p.au in seen:
                raise PrototypeError(f"AU{p.au} has two prototypes")
            seen.add(p.au)
            if p.region not in specs:
                raise PrototypeError(f"AU{p.au}: region {p.region!r} is not one of {sorted(specs)}")
            w, h = specs[p.region].size
            if p.field.shape != (h, w, 2):
                raise PrototypeError(
                    f"AU{p.au}: field is {p.field.shape}, region {p.region} needs ({h}, {w}, 2)"
                )

    @property
    def aus(self) -> tuple[int, ...]:
        return tuple(p.au for p in self.prototypes)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.prototypes)

    def __getitem__(self, au: int) -> Prototype:
        for p in self.prototypes:
            if p.au == au:
                return p
        raise KeyError(f"no prototype for AU{au}")

    def __len__(self) -> int:
        return len(self.prototypes)

    def used_regions(self) -> tuple[RegionSpec, ...]:
        """The region specs at least one prototype lives in (the only ones worth a flow)."""
        needed = {p.region for p in self.prototypes}
        return tuple(r for r in self.regions if r.name in needed)

    @property
    def threshold_unit(self) -> str:
        """What θ_j measure: the curves' unit under the settings they were calibrated with
        (the noise floor for a normalised calibration, else the matching index)."""
        return curve_unit(self.calibration.get("settings", {}).get("normalise", "off"))

    def thresholds(self) -> np.ndarray:
        """θ_j per prototype, NaN where none is set."""
        return np.array([np.nan if p.threshold is None else p.threshold for p in self.prototypes])

    def with_thresholds(
        self, thresholds: Mapping[int, float], calibration: Mapping[str, Any] | None = None
    ) -> PrototypeSet:
        """A copy with θ_j replaced for the AUs in ``thresholds`` (and the calibration record)."""
        unknown = set(thresholds) - set(self.aus)
        if unknown:
            raise PrototypeError(f"thresholds for AUs without a prototype: {sorted(unknown)}")
        protos = tuple(
            replace(p, threshold=float(thresholds[p.au])) if p.au in thresholds else p
            for p in self.prototypes
        )
        return replace(self, prototypes=protos, calibration=dict(calibration or self.calibration))

    def select(self, aus: Iterable[int]) -> PrototypeSet:
        """Only the prototypes of ``aus`` (in this set's order)."""
        wanted = set(aus)
        missing = wanted - set(self.aus)
        if missing:
            raise PrototypeError(f"no prototype for AU(s) {sorted(missing)}; available: {list(self.aus)}")
        return replace(self, prototypes=tuple(p for p in self.prototypes if p.au in wanted))

    # -- file ------------------------------------------------------------------------------------

    def meta(self) -> dict[str, Any]:
        return {
            "format_version": FORMAT_VERSION,
            "prototypes": [
                {"au": p.au, "region": p.region, "count": p.count, "threshold": p.threshold}
                for p in self.prototypes
            ],
            "regions": [
                {
                    "name": r.name,
                    "anchors": list(r.anchors),
                    "gammas": list(r.gammas),
                    "size": list(r.size),
                    "center": r.center,
                }
                for r in self.regions
            ],
            "flow": {"method": self.flow_method, "params": dict(self.flow_params)},
            "head_motion": self.head_motion,
            "provenance": dict(self.provenance),
            "calibration": dict(self.calibration),
        }

    def save(self, path: str | os.PathLike) -> Path:
        """Write the set atomically as ``.npz`` (see the module docstring for the layout)."""
        path = Path(path)
        arrays = {
            f"field_{p.label}": np.ascontiguousarray(p.field.transpose(2, 0, 1), np.float32)
            for p in self.prototypes
        }
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array(json.dumps(self.meta(), sort_keys=True)), **arrays)
        try:
            atomic_write_bytes(path, buf.getvalue())
        except OSError as exc:
            raise PrototypeError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> PrototypeSet:
        """Read a file written by :meth:`save`; :class:`PrototypeError` on anything else."""
        path = Path(path)
        if not path.is_file():
            raise PrototypeError(f"{path}: no such prototype file")
        with path.open("rb") as fh:
            if fh.read(4) != b"PK\x03\x04":  # a zip archive, as every .npz
                raise PrototypeError(f"{path}: not a prototype file (a .npz archive of napari-mespot)")
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                fields = {k: np.array(data[k]) for k in data.files if k.startswith("field_")}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise PrototypeError(f"{path}: damaged or truncated prototype file ({exc})") from None
        try:
            return cls._from_meta(meta, fields)
        except PrototypeError as exc:
            raise PrototypeError(f"{path}: {exc}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise PrototypeError(f"{path}: malformed prototype file ({exc!r})") from None

    @classmethod
    def _from_meta(cls, meta: Mapping[str, Any], fields: Mapping[str, np.ndarray]) -> PrototypeSet:
        version = meta["format_version"]
        if version != FORMAT_VERSION:
            raise PrototypeError(
                f"prototype file format {version} is not supported (expected {FORMAT_VERSION})"
            )
        regions = tuple(
            RegionSpec(
                r["name"],
                (r["anchors"][0], r["anchors"][1]),
                tuple(float(g) for g in r["gammas"]),
                (int(r["size"][0]), int(r["size"][1])),
                r["center"],
            )
            for r in meta["regions"]
        )
        protos = []
        for p in meta["prototypes"]:
            au = int(p["au"])
            arr = fields[f"field_AU{au}"]
            if arr.ndim != 3 or arr.shape[0] != 2:
                raise ValueError(f"field_AU{au} must be 2 x h x w, got {arr.shape}")
            if not np.isfinite(arr).all():
                raise PrototypeError(f"field_AU{au} holds values that are not finite numbers (NaN or inf)")
            threshold = None if p["threshold"] is None else float(p["threshold"])
            if threshold is not None and not (math.isfinite(threshold) and threshold > 0):
                raise PrototypeError(f"AU{au}: threshold must be a finite number > 0, got {threshold}")
            protos.append(
                Prototype(
                    au,
                    p["region"],
                    np.ascontiguousarray(arr.transpose(1, 2, 0), np.float32),
                    int(p["count"]),
                    threshold,
                )
            )
        return cls(
            tuple(protos),
            regions,
            meta["flow"]["method"],
            dict(meta["flow"]["params"]),
            bool(meta["head_motion"]),
            dict(meta["provenance"]),
            dict(meta["calibration"]),
        )

    def describe(self) -> str:
        """A human-readable summary (what ``mespot prototypes show`` prints)."""
        lines = [
            f"{len(self)} AU prototypes; flow {self.flow_method} {dict(self.flow_params) or ''}".rstrip()
            + f"; learnt with head-motion compensation {'on' if self.head_motion else 'off'}",
            "regions: " + ", ".join(f"{r.name} {r.size[0]}x{r.size[1]}" for r in self.regions),
        ]
        for p in self.prototypes:
            mag = p.magnitude()
            theta = "not calibrated" if p.threshold is None else f"{p.threshold:.4g}"
            lines.append(
                f"  {p.label:>5}  {p.region:<5}  clips {p.count:>4}  |M| max {mag.max():.3g} "
                f"mean {mag.mean():.3g}  threshold {theta}"
            )
        for key, title in (("provenance", "provenance"), ("calibration", "calibration")):
            value = getattr(self, key)
            if value:
                lines.append(f"{title}: {json.dumps(dict(value), sort_keys=True, default=str)}")
        return "\n".join(lines)
