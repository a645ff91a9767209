"""Reading workbooks cell by cell, turning any corruption into a :class:`LabelFormatError`."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from napari_mespot.core.labels.base import format_error

Row = tuple[Any, ...]


def read_sheets(path: Path) -> dict[str, list[Row]]:
    """Every sheet of an xlsx file as lists of cell values (``None`` for empty cells).

    The whole file is parsed here, inside one guard: a damaged zip or XML part can surface as
    almost any exception type from ``zipfile``, ``xml`` or ``openpyxl``, and the documented
    contract of every reader is to raise only :class:`LabelFormatError`.
    """
    import openpyxl

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise format_error(path, f"cannot read ({exc.strerror or exc})") from exc
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        try:
            return {
                ws.title: [tuple(r) for r in ws.iter_rows(values_only=True)] for ws in workbook.worksheets
            }
        finally:
            workbook.close()
    except Exception as exc:  # see docstring: corruption has no single exception type
        raise format_error(path, f"not a readable xlsx workbook ({type(exc).__name__}: {exc})") from exc


def cell_text(value: Any) -> str:
    """A cell as text: integers without ``.0``, empty cells as ``''``."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def is_blank_row(row: Row) -> bool:
    return all(cell_text(v) == "" for v in row)


def column_letter(index: int) -> str:
    """0-based column index → spreadsheet letters (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def find_header(
    rows: list[Row], required: tuple[str, ...], search_rows: int = 40
) -> tuple[int, dict[str, int]] | None:
    """The first row holding every ``required`` name (case-insensitive) and its column map.

    SAMM-LV puts notes above the header, so the header is searched, not assumed.
    """
    wanted = {name.lower() for name in required}
    for i, row in enumerate(rows[:search_rows]):
        names: dict[str, int] = {}
        for j, v in enumerate(row):
            names.setdefault(cell_text(v).lower(), j)
        if wanted <= names.keys():
            return i, names
    return None


def sheet_with_header(path: Path, required: tuple[str, ...], what: str) -> tuple[str, list, tuple[int, dict]]:
    """The first sheet whose header row names every ``required`` column: (sheet, rows, header).

    Dataset workbooks put notes or title rows above the header, and not always on the first sheet.
    """
    for sheet, rows in read_sheets(path).items():
        header = find_header(rows, required)
        if header is not None:
            return sheet, rows, header
    raise format_error(path, f"no sheet has a header row with columns {', '.join(required)}; not a {what}")


def column_label(columns: dict[str, int], name: str) -> str:
    """``C (Onset)``: the spreadsheet letter of a header column and its name, for error messages."""
    return f"{column_letter(columns[name.lower()])} ({name})"


def data_rows(rows: list, header_index: int, columns: dict[str, int]):
    """The non-blank rows below the header as (1-based row number, cell lookup by column name).

    Rows are padded to the header's width, and a column the header lacks reads as ``None``,
    so optional columns need no special case in the readers.
    """
    width = max(columns.values()) + 1
    for i in range(header_index + 1, len(rows)):
        row = tuple(rows[i]) + (None,) * max(0, width - len(rows[i]))
        if is_blank_row(row):
            continue

        def cell(name: str, row=row):
            index = columns.get(name.lower())
            return None if index is None else row[index]

        yield i + 1, cell
