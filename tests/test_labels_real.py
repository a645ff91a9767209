"""The three public ground-truth files: dataset counts, frame conversion, every quirk reported."""

from __future__ import annotations

import logging

import openpyxl
import pytest

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.labels import QuirkOptions, detect_format, read_labels


@pytest.fixture(scope="module")
def labels_dir(fixtures_dir):
    return fixtures_dir / "labels"


def _raw_rows(path, header_rows=0):
    """Data rows read straight from openpyxl, with their spreadsheet row numbers."""
    ws = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    return [(i, row) for i, row in enumerate(ws.iter_rows(values_only=True), start=1) if i > header_rows]


def _find(labels, video, onset):
    return next(iv for iv in labels.videos[video].intervals if iv.onset == onset)


def test_cas_me2_counts_and_conversion(labels_dir, caplog):
    path = labels_dir / "casme_sq_code_final.xlsx"
    assert detect_format(path) == "cas-me2-xlsx"
    with caplog.at_level(logging.WARNING, logger="napari_mespot.labels"):
        labels = read_labels(path)
    assert labels.counts() == {"mae": 300, "me": 57}
    assert len(labels.subjects()) == 22
    assert all(vi.fps == 30.0 for vi in labels)
    # row 1: subject 1 (= s15), anger1_1 (= video code 401), 557 572 608, AUs 4+10+14
    first = _find(labels, "15_0401", 556)
    assert (first.apex, first.offset, first.type, first.aus, first.aus_raw) == (
        571,
        607,
        "mae",
        (4, 10, 14),
        "4+10+14",
    )
    assert labels.videos["15_0401"].subject == "s15"
    assert first.get_extra("clip") == "anger1_1" and first.get_extra("self_report") == "anger"
    # row 3: anger2_1 2155 2163 0 → offset = apex (the MEGC baseline's repair)
    repaired = _find(labels, "15_0402", 2154)
    assert (repaired.apex, repaired.offset) == (2162, 2162)
    # row 170: subject 11 (= s27) disgust1_5 1221 1230 1224: offset < apex → apex cleared
    inverted = _find(labels, "27_0101", 1220)
    assert (inverted.apex, inverted.offset) == (None, 1223)

    raw = _raw_rows(path)
    offset_zero = [i for i, r in raw if r[4] == 0]
    before_apex = [i for i, r in raw if r[4] != 0 and r[4] < r[3]]
    assert len(offset_zero) == 44 and before_apex == [170, 242, 262]
    messages = [r.getMessage() for r in caplog.records]
    zero_msg = next(m for m in messages if "offset 0" in m)
    assert "44 row(s)" in zero_msg and "rows " + ", ".join(map(str, offset_zero)) in zero_msg
    assert any("rows 170, 242, 262" in m and "apex_outside" in m for m in messages)
    assert any("rows 309" in m and "apex not annotated" in m for m in messages)
    assert {q.kind for q in labels.quirks} == {"offset_zero", "apex_outside", "apex_missing"}


def test_cas_me2_quirk_options(labels_dir):
    path = labels_dir / "casme_sq_code_final.xlsx"
    dropped = read_labels(path, quirks=QuirkOptions(offset_zero="drop"))
    assert dropped.counts() == {"mae": 256, "me": 57}
    extended = read_labels(path, quirks=QuirkOptions(apex_outside="extend"))
    iv = _find(extended, "27_0101", 1220)
    assert (iv.apex, iv.offset) == (1229, 1229)
    with pytest.raises(LabelFormatError, match=r"sheet 'CASFEcode_final', row 3, column 'E \(offset\)'"):
        read_labels(path, quirks=QuirkOptions(offset_zero="error"))


def test_samm_lv_counts_and_quirks(labels_dir, caplog):
    path = labels_dir / "samm_lv_gt.xlsx"
    assert detect_format(path) == "samm-lv-xlsx"
    with caplog.at_level(logging.WARNING, logger="napari_mespot.labels"):
        labels = read_labels(path)
    assert labels.counts() == {"mae": 343, "me": 159}
    assert len(labels.subjects()) == 30
    assert all(vi.fps == 200.0 for vi in labels)
    # row 11: 006_1_1 566.4 647.6 743.2 Macro 4(B/C)+7B → truncated like the baseline's int()
    iv = _find(labels, "006_1", 565)
    assert (iv.apex, iv.offset, iv.type, iv.aus, iv.aus_raw) == (646, 742, "mae", (4, 7), "4(B/C)+7B")
    assert labels.videos["006_1"].subject == "006"

    raw = _raw_rows(path, header_rows=10)
    onset_zero = [i for i, r in raw if r[3] == 0]
    apex_missing = [i for i, r in raw if r[4] == -1]
    assert (len(onset_zero), len(apex_missing)) == (10, 6)
    messages = [r.getMessage() for r in caplog.records]
    assert any("rows " + ", ".join(map(str, onset_zero)) in m and "onset_zero" in m for m in messages)
    assert any("rows " + ", ".join(map(str, apex_missing)) in m and "apex_missing" in m for m in messages)
    assert any("fractional" in m and "rows 11, 18" in m for m in messages)
    # row 143: 011_6_10 onset 0, apex 3323.0, offset 4123.4 → starts at the first frame
    first_frame = next(iv for iv in labels.videos["011_6"].intervals if iv.get_extra("clip") == "011_6_10")
    assert first_frame.onset == 0
    assert (first_frame.apex, first_frame.offset) == (3322, 4122)


def test_samm_fractional_options(labels_dir):
    path = labels_dir / "samm_lv_gt.xlsx"
    rounded = read_labels(path, quirks=QuirkOptions(fractional="round"))
    iv = next(iv for iv in rounded.videos["006_1"].intervals if iv.get_extra("clip") == "006_1_1")
    assert (iv.onset, iv.apex, iv.offset) == (565, 647, 742)
    widened = read_labels(path, quirks=QuirkOptions(fractional="widen"))
    iv = next(iv for iv in widened.videos["006_1"].intervals if iv.get_extra("clip") == "006_1_1")
    assert (iv.onset, iv.offset) == (565, 743)
    with pytest.raises(LabelFormatError, match=r"row 11\b"):
        read_labels(path, quirks=QuirkOptions(fractional="error"))
    assert read_labels(path, quirks=QuirkOptions(onset_zero="drop")).counts() == {"mae": 333, "me": 159}


def test_casme2_clips_subjects_aus(labels_dir, caplog):
    path = labels_dir / "casme2_coding_20190701.xlsx"
    assert detect_format(path) == "casme2-xlsx"
    with caplog.at_level(logging.WARNING, logger="napari_mespot.labels"):
        labels = read_labels(path)
    assert len(labels) == 255 and labels.n_intervals() == 255
    assert len(labels.subjects()) == 26
    assert labels.counts() == {"me": 255, "mae": 0}
    (first,) = labels.videos["sub01/EP02_01f"].intervals
    assert (first.onset, first.apex, first.offset, first.aus) == (45, 58, 85, (12,))
    assert first.get_extra("emotion") == "happiness"
    (no_apex,) = labels.videos["sub04/EP12_01f"].intervals
    assert (no_apex.apex, no_apex.aus, no_apex.aus_raw) == (None, (4, 7, 10), "4+7+L10")
    assert any("rows 31" in r.getMessage() for r in caplog.records)
