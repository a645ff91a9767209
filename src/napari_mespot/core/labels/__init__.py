"""Readers and writers of the label formats of docs/architecture.md §5, behind one registry.

``read_labels(path)`` picks the format from the extension and, where one extension serves several
formats (``.csv``, ``.xlsx``), from the file's header or sheets; ``format=`` overrides. Every reader
returns :class:`Labels` (per-video :class:`~napari_mespot.core.intervals.VideoIntervals` with fps
and subject, plus the quirk repairs made) and raises only :class:`LabelFormatError`.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.labels._xlsx import find_header, read_sheets
from napari_mespot.core.labels.aus import format_aus, parse_au_string
from napari_mespot.core.labels.base import Labels, LabelSet, Quirk, QuirkOptions
from napari_mespot.core.labels.casme_ii import read_casme2_xlsx
from napari_mespot.core.labels.casme_sq import read_cas_me2_xlsx, write_cas_me2_xlsx
from napari_mespot.core.labels.megc import read_megc_csv, write_megc_csv
from napari_mespot.core.labels.native import (
    load_native_csv,
    read_native_csv,
    save_native_csv,
    write_native_csv,
)
from napari_mespot.core.labels.native_json import read_native_json, write_native_json
from napari_mespot.core.labels.samm import read_samm_lv_xlsx

__all__ = [
    "FORMATS",
    "LabelFormat",
    "LabelSet",
    "Labels",
    "Quirk",
    "QuirkOptions",
    "detect_format",
    "format_aus",
    "output_format",
    "parse_au_string",
    "read_labels",
    "read_native_csv",
    "write_labels",
    "write_native_csv",
]

Reader = Callable[[Path, QuirkOptions, "float | None"], Labels]
Writer = Callable[[Path, Labels], None]


@dataclass(frozen=True)
class LabelFormat:
    name: str
    description: str
    extensions: tuple[str, ...]
    reader: Reader
    writer: Writer | None = None


FORMATS: dict[str, LabelFormat] = {
    f.name: f
    for f in (
        LabelFormat(
            "native-csv",
            "mespot CSV (every field)",
            (".csv",),
            lambda p, q, fps: load_native_csv(p, q, fps),
            save_native_csv,
        ),
        LabelFormat(
            "native-json",
            "mespot JSON (every field)",
            (".json",),
            lambda p, q, fps: read_native_json(p, q),
            write_native_json,
        ),
        LabelFormat(
            "megc-csv",
            "MEGC submission CSV vid,pred_onset,pred_offset,type",
            (".csv",),
            lambda p, q, fps: read_megc_csv(p, fps, q),
            write_megc_csv,
        ),
        LabelFormat(
            "cas-me2-xlsx",
            "CAS(ME)² code_final workbook",
            (".xlsx",),
            lambda p, q, fps: read_cas_me2_xlsx(p, q),
            write_cas_me2_xlsx,
        ),
        LabelFormat(
            "samm-lv-xlsx",
            "SAMM Long Videos ground truth",
            (".xlsx",),
            lambda p, q, fps: read_samm_lv_xlsx(p, q),
        ),
        LabelFormat(
            "casme2-xlsx", "CASME II coding workbook", (".xlsx",), lambda p, q, fps: read_casme2_xlsx(p, q)
        ),
    )
}


def _format(name: str) -> LabelFormat:
    if name not in FORMATS:
        raise LabelFormatError(f"unknown label format {name!r} (known: {', '.join(FORMATS)})")
    return FORMATS[name]


def detect_format(path: str | os.PathLike) -> str:
    """The format of an existing file: by extension, then by its header row or sheet names."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "native-json"
    if suffix == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as fh:
                header = [h.strip() for h in next(csv.reader(io.StringIO(fh.readline())), [])]
        except (OSError, UnicodeDecodeError) as exc:
            raise LabelFormatError(f"{path}: cannot read ({exc})") from None
        return "megc-csv" if "pred_onset" in header else "native-csv"
    if suffix in (".xlsx", ".xlsm"):
        sheets = read_sheets(path)
        if "CASFEcode_final" in sheets or {"naming rule1", "naming rule2"} <= sheets.keys():
            return "cas-me2-xlsx"
        for rows in sheets.values():
            if find_header(rows, ("Filename", "OnsetFrame")) is not None:
                return "casme2-xlsx"
            if find_header(rows, ("Filename", "Onset", "Offset")) is not None:
                return "samm-lv-xlsx"
        raise LabelFormatError(
            f"{path}: cannot tell which workbook format this is; pass --format "
            "(cas-me2-xlsx, samm-lv-xlsx, casme2-xlsx)"
        )
    raise LabelFormatError(
        f"{path}: unknown label file extension {suffix or '(none)'!r}; pass --format ({', '.join(FORMATS)})"
    )


def read_labels(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    quirks: QuirkOptions | None = None,
    fps: float | None = None,
) -> Labels:
    """Read any supported label file.

    ``quirks`` chooses the repairs of dataset defects (each one logged) in every format that can
    carry them; ``fps`` types rows without a type (native and MEGC CSV) by duration.
    """
    path = Path(path)
    if not path.is_file():
        raise LabelFormatError(f"{path}: no such label file")
    fmt = _format(format or detect_format(path))
    return fmt.reader(path, quirks or QuirkOptions(), fps)


def output_format(path: str | os.PathLike, format: str | None = None, *, option: str = "--to") -> str:
    """The format a file will be written in: ``format`` or the default for its extension.

    ``option`` is how the caller's user names the format (``convert --to``, ``export --format``).
    """
    path = Path(path)
    if format:
        return _format(format).name
    defaults = {".csv": "native-csv", ".json": "native-json", ".xlsx": "cas-me2-xlsx"}
    if path.suffix.lower() not in defaults:
        raise LabelFormatError(
            f"{path}: cannot choose an output format for extension {path.suffix!r}; pass {option}"
        )
    return defaults[path.suffix.lower()]


def write_labels(path: str | os.PathLike, labels: Labels, format: str | None = None) -> str:
    """Write ``labels`` atomically; returns the format used."""
    fmt = _format(output_format(path, format))
    if fmt.writer is None:
        writable = ", ".join(n for n, f in FORMATS.items() if f.writer is not None)
        raise LabelFormatError(f"format {fmt.name!r} can be read but not written (writable: {writable})")
    fmt.writer(Path(path), labels)
    return fmt.name
