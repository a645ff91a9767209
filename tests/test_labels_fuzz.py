"""Fuzzed label files: a reader returns labels or raises LabelFormatError, nothing else."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import openpyxl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.labels import FORMATS, read_labels

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CELL = st.one_of(
    st.none(),
    st.integers(-5, 10_000),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.sampled_from(
        [
            "",
            "/",
            "-1",
            "0",
            "x",
            "4+L10",
            "Macro",
            "Micro - 1/2",
            "macro-expression",
            "micro-expression",
            "anger1_1",
            "006_1_1",
            "EP02_01f",
            "01",
            "s15",
            "1e999",
            "nan",
        ]
    ),
    st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=8),
)
CSV_FIELD = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "5",
            "-3",
            "me",
            "mae",
            "v",
            "1+2",
            "nan",
            "inf",
            "1e3",
            "{}",
            '{"a": 1}',
            "[]",
            "candidate",
            "9" * 5000,
        ]
    ),
    st.text(max_size=6),
)


def _read(path: Path, fmt: str | None) -> None:
    try:
        labels = read_labels(path, fmt, fps=30.0)
    except LabelFormatError:
        return
    for vi in labels:  # what was read is valid by construction
        for iv in vi.intervals:
            assert 0 <= iv.onset <= iv.offset


def _write_and_read(name: str, data: bytes | str, fmt: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass"))
        _read(path, fmt)


@FAST
@given(
    st.binary(max_size=300),
    st.sampled_from(["a.csv", "a.json", "a.xlsx", "a.txt"]),
    st.sampled_from([None, *FORMATS]),
)
def test_random_bytes(data, name, fmt):
    _write_and_read(name, data, fmt)


@FAST
@given(
    st.sampled_from(
        [
            "video,onset,apex,offset,type,aus,score,source,status,id,note,aus_raw,fps,subject,extra",
            "video,onset,apex,offset,type,aus,score,source,status",
            "vid,pred_onset,pred_offset,type",
            "vid,pred_onset,pred_offset",
        ]
    ),
    st.lists(st.lists(CSV_FIELD, min_size=0, max_size=16), max_size=5),
)
def test_csv_rows(header, rows):
    text = header + "\n" + "\n".join(",".join(json.dumps(f) if "," in f else f for f in row) for row in rows)
    _write_and_read("a.csv", text, None)


JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**20), st.floats(), st.text(max_size=5)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
INTERVAL_KEYS = [
    "onset",
    "offset",
    "apex",
    "type",
    "aus",
    "score",
    "source",
    "status",
    "note",
    "aus_raw",
    "id",
    "extra",
]


@FAST
@given(
    st.lists(
        st.fixed_dictionaries(
            {"video": st.one_of(st.text(max_size=4), JSON_VALUE)},
            optional={
                "fps": JSON_VALUE,
                "subject": JSON_VALUE,
                "intervals": st.lists(
                    st.dictionaries(
                        st.sampled_from(INTERVAL_KEYS),
                        st.one_of(st.integers(-2, 50), st.sampled_from(["me", "mae", "gt"]), JSON_VALUE),
                    ),
                    max_size=3,
                ),
            },
        ),
        max_size=3,
    ),
    st.one_of(st.just(1), JSON_VALUE),
)
def test_json_documents(videos, version):
    doc = {"format": "mespot-labels", "version": version, "videos": videos}
    _write_and_read("a.json", json.dumps(doc), None)


def _xlsx(sheets: dict[str, list[list]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.xlsx"
        wb.save(path)
        return path.read_bytes()


ROWS = st.lists(st.lists(CELL, max_size=10), max_size=5)


@SLOW
@given(ROWS, ROWS, ROWS)
def test_cas_me2_shaped_workbooks(main, rule1, rule2):
    good = [1, "anger1_1", 557, 572, 608, "4", "negative", "macro-expression", "anger"]
    data = _xlsx(
        {
            "CASFEcode_final": [good, *main],
            "naming rule1": [[15, "s15", 1], *rule1],
            "naming rule2": [[401, "anger1"], *rule2],
        }
    )
    _write_and_read("a.xlsx", data, None)


@SLOW
@given(ROWS, st.sampled_from(["samm-lv-xlsx", "casme2-xlsx"]))
def test_samm_and_casme2_shaped_workbooks(rows, fmt):
    if fmt == "samm-lv-xlsx":
        header = [
            "Subject",
            "Filename",
            "Inducement Code",
            "Onset",
            "Apex",
            "Offset",
            "Duration",
            "Type",
            "Action Units",
            "Notes",
        ]
        sheet = [["SAMM notes"], header, *rows]
    else:
        sheet = [
            ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units"],
            *rows,
        ]
    _write_and_read("a.xlsx", _xlsx({"Sheet1": sheet}), fmt)
