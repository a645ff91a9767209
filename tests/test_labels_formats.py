"""Label formats: AU normalisation, detection, frame conventions and error messages."""

from __future__ import annotations

import openpyxl
import pytest

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import (
    Labels,
    QuirkOptions,
    detect_format,
    parse_au_string,
    read_labels,
    read_native_csv,
    write_labels,
    write_native_csv,
)


@pytest.mark.parametrize(
    ("raw", "codes"),
    [
        ("4+10+14", (4, 10, 14)),
        (4, (4,)),
        (12.0, (12,)),
        ("12+6", (6, 12)),
        ("L12", (12,)),
        ("R4+R10", (4, 10)),
        ("A7C+ref(10A)+A12B", (7, 10, 12)),
        ("T18+39", (18, 39)),
        ("4(B/C)+7B", (4, 7)),
        ("1D/E+2D/E+15D/E+17D/E ", (1, 2, 15, 17)),
        ("12A or 14A", (12, 14)),
        ("4B+12(B/C)+17B+(23/24) ", (4, 12, 17, 23, 24)),
        ("subject do 2x  R2(C and then B)", (2,)),
        ("80 (big swallow) ", (80,)),
        ("Chewing", ()),
        ("4+glare", (4,)),
        ("", ()),
        (None, ()),
        ("1" * 5000, ()),
    ],
)
def test_au_strings_are_normalised(raw, codes):
    assert parse_au_string(raw) == codes


def _workbook(path, sheets: dict[str, list[list]]) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)


def _cas(path, main_rows, rule1=None, rule2=None):
    rule1 = rule1 if rule1 is not None else [[15, "s15", 1]] * len(main_rows)
    rule2 = rule2 if rule2 is not None else [[401, "anger1"], [102, "disgust2"]]
    _workbook(path, {"CASFEcode_final": main_rows, "naming rule1": rule1, "naming rule2": rule2})


GOOD = [1, "anger1_1", 557, 572, 608, "4+10", "negative", "macro-expression", "anger"]


def test_cas_me2_minimal_file(tmp_path):
    path = tmp_path / "code.xlsx"
    _cas(path, [GOOD, [1, "disgust2_1", 10, 0, 12, "L12", "", "micro-expression", ""]])
    labels = read_labels(path)
    assert labels.format == "cas-me2-xlsx"
    assert [iv.onset for iv in labels.videos["15_0401"].intervals] == [556]
    (iv,) = labels.videos["15_0102"].intervals
    assert (iv.onset, iv.apex, iv.offset, iv.type, iv.aus, iv.aus_raw) == (9, None, 11, "me", (12,), "L12")


@pytest.mark.parametrize(
    ("row", "where"),
    [
        ([1, "anger1_1", "x", 572, 608, 4, "", "macro-expression", ""], "row 1, column 'C (onset)'"),
        ([1, "anger1_1", 557, 572, 500, 4, "", "macro-expression", ""], "row 1, column 'E (offset)'"),
        ([1, "anger1_1", 557, 572, 608, 4, "", "macro", ""], "row 1, column 'H (type)'"),
        ([9, "anger1_1", 557, 572, 608, 4, "", "macro-expression", ""], "row 1, column 'A (subject)'"),
        ([1, "happy9_1", 557, 572, 608, 4, "", "macro-expression", ""], "row 1, column 'B (clip)'"),
        ([1, "anger1_1", -5, 572, 608, 4, "", "macro-expression", ""], "row 1, column 'C (onset)'"),
        ([1, "anger1_1", 557, 572, None, 4, "", "macro-expression", ""], "row 1, column 'E (offset)'"),
        ([1, "anger1_1", 557, 572], "row 1, column 'H (type)'"),
    ],
)
def test_cas_me2_errors_name_file_sheet_row_column(tmp_path, row, where):
    path = tmp_path / "code.xlsx"
    _cas(path, [row])
    with pytest.raises(LabelFormatError) as err:
        read_labels(path, "cas-me2-xlsx")
    assert str(path) in str(err.value)
    assert f"sheet 'CASFEcode_final', {where}" in str(err.value)


def test_cas_me2_unknown_sheet(tmp_path):
    path = tmp_path / "code.xlsx"
    _workbook(path, {"CASFEcode_final": [GOOD], "naming rule1": [[15, "s15", 1]]})
    with pytest.raises(LabelFormatError, match="no sheet 'naming rule2'"):
        read_labels(path, "cas-me2-xlsx")


def test_samm_missing_column_and_bad_filename(tmp_path):
    path = tmp_path / "samm.xlsx"
    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type"]
    _workbook(path, {"S": [["notes"], header[:5] + header[6:], ["006", "006_1_1", 1, 5, 6, 7, 3, "Macro"]]})
    with pytest.raises(LabelFormatError, match="Offset"):
        read_labels(path, "samm-lv-xlsx")
    _workbook(path, {"S": [["SAMM notes"], [], header, ["006", "0061", 1, 5, 6, 7, 3, "Macro"]]})
    assert detect_format(path) == "samm-lv-xlsx"
    with pytest.raises(LabelFormatError, match=r"sheet 'S', row 4, column 'B \(Filename\)'"):
        read_labels(path)


def test_casme2_apex_slash_option(tmp_path):
    path = tmp_path / "casme2.xlsx"
    header = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units"]
    _workbook(path, {"Sheet1": [header, ["04", "EP12_01f", None, 261, "/", 321, None, "4+7+L10"]]})
    assert read_labels(path).videos["sub04/EP12_01f"].intervals[0].apex is None
    with pytest.raises(LabelFormatError, match=r"row 2\b"):
        read_labels(path, quirks=QuirkOptions(apex_missing="error"))
    assert len(read_labels(path, quirks=QuirkOptions(apex_missing="drop"))) == 0


def test_native_csv_errors(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("video,onset\nv,1\n")
    with pytest.raises(LabelFormatError, match="missing column"):
        read_native_csv(path)
    path.write_text("video,onset,offset\nv,1,2\n")  # readable, but nothing says its type
    with pytest.raises(LabelFormatError, match=r"row 2, column 'type'.*fps"):
        read_native_csv(path)
    write_native_csv(path, {"v": [Interval(3, 9, "me")]})
    text = path.read_text().replace(",3,", ",three,")
    path.write_text(text)
    with pytest.raises(LabelFormatError, match=r"row 2, column 'onset'"):
        read_native_csv(path)


def test_megc_csv_reading(tmp_path):
    path = tmp_path / "pred.csv"
    path.write_text("vid,pred_onset,pred_offset,type\nsub01,10,20,me\nsub01,30,100,mae\n")
    assert detect_format(path) == "megc-csv"
    labels = read_labels(path)
    assert [(iv.onset, iv.offset, iv.type) for iv in labels.videos["sub01"].intervals] == [
        (10, 20, "me"),
        (30, 100, "mae"),
    ]
    path.write_text("vid,pred_onset,pred_offset\nv,0,9\nv,0,29\n")
    with pytest.raises(LabelFormatError, match="fps"):
        read_labels(path)
    typed = read_labels(path, fps=30.0)  # 10 frames = 0.33 s → ME, 30 frames = 1 s → MaE
    assert [iv.type for iv in typed.videos["v"].intervals] == ["me", "mae"]
    path.write_text("vid,pred_onset,pred_offset,type\nv,9,3,me\n")
    with pytest.raises(LabelFormatError, match=r"row 2, column 'pred_offset'"):
        read_labels(path)


def test_unknown_extensions_and_formats(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x")
    with pytest.raises(LabelFormatError, match="--format"):
        read_labels(path)
    with pytest.raises(LabelFormatError, match="unknown label format"):
        read_labels(path, "excel")
    with pytest.raises(LabelFormatError, match="can be read but not written"):
        write_labels(tmp_path / "b.xlsx", Labels(), "samm-lv-xlsx")
    with pytest.raises(LabelFormatError, match="15_0101"):
        write_labels(tmp_path / "b.xlsx", Labels.from_label_set({"myvideo": [Interval(0, 3)]}))
    with pytest.raises(LabelFormatError, match="no such label file"):
        read_labels(tmp_path / "missing.csv")


def test_quirk_option_parsing():
    assert QuirkOptions.parse(["offset-zero=drop", "fractional=round"]) == QuirkOptions(
        offset_zero="drop", fractional="round"
    )
    with pytest.raises(ValueError):
        QuirkOptions.parse(["offset_zero"])
    with pytest.raises(ValueError):
        QuirkOptions(fractional="floor")


def test_native_json_refuses_other_documents(tmp_path):
    path = tmp_path / "a.json"
    path.write_text('{"format": "other"}')
    with pytest.raises(LabelFormatError, match="not a mespot label file"):
        read_labels(path)
    path.write_text('{"format": "mespot-labels", "version": 2, "videos": []}')
    with pytest.raises(LabelFormatError, match="unsupported version 2"):
        read_labels(path)
    path.write_text(
        '{"format": "mespot-labels", "version": 1, "videos": [{"video": "v", "intervals": [{"onset": 5}]}]}'
    )
    with pytest.raises(LabelFormatError, match=r"videos\[0\]: missing key .offset."):
        read_labels(path)
    path.write_text('{"format": "mespot-labels", "version": 1, "videos": [{"video": "v"}, {"video": "v"}]}')
    with pytest.raises(LabelFormatError, match="appears twice"):
        read_labels(path)


def test_dataset_workbooks_warn_about_duplicated_rows(tmp_path, caplog):
    """A row copied twice in a coding workbook is two expressions to find: said, naming the rows."""
    cas = tmp_path / "code.xlsx"
    _cas(cas, [GOOD, GOOD, [1, "disgust2_1", 10, 0, 12, "L12", "", "micro-expression", ""]])
    samm = tmp_path / "samm.xlsx"
    header = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration", "Type"]
    row = ["006", "006_1_1", 1, 5, 6, 7, 3, "Micro - 1/2"]
    _workbook(samm, {"S": [header, row, ["006", "006_1_1", 1, 40, 50, 60, 21, "Macro"], row]})
    with caplog.at_level("WARNING"):
        assert len(read_labels(cas).videos["15_0401"].intervals) == 2
        assert len(read_labels(samm).videos["006_1"].intervals) == 3
    warned = [r.getMessage() for r in caplog.records if "duplicate" in r.getMessage()]
    assert len(warned) == 2
    assert str(cas) in warned[0] and "rows 1, 2" in warned[0] and "556–607" in warned[0]
    assert str(samm) in warned[1] and "rows 2, 4" in warned[1]
