"""Dataset discovery on synthetic trees shaped like the real datasets (tiny generated images)."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import openpyxl
import pytest

from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.labels import Labels, write_labels
from napari_mespot.core.labels.datasets import (
    DatasetLayoutError,
    discover_cas_me2,
    discover_casme2,
    discover_samm_lv,
    loso_folds,
)


def _images(folder, names):
    folder.mkdir(parents=True)
    pixels = np.zeros((8, 8, 3), np.uint8)
    for name in names:
        assert cv2.imwrite(str(folder / name), pixels)


def _sheet(path, rows):
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)


@pytest.fixture
def cas_tree(tmp_path):
    root = tmp_path / "CASME_sq"
    _images(root / "rawpic" / "s15" / "15_0401girlcrashing", [f"img{n}.jpg" for n in range(1, 41)])
    _images(root / "rawpic" / "s15" / "15_0101disgustingteeth", [f"img{n}.jpg" for n in range(1, 21)])
    _images(root / "rawpic" / "s16" / "16_0101disgustingteeth", [f"img{n}.jpg" for n in range(1, 31)])
    labels = Labels(
        {
            "15_0401": VideoIntervals(
                "15_0401", (Interval(4, 30, "mae", 10), Interval(32, 36, "me")), 30.0, "s15"
            ),
            "16_0101": VideoIntervals("16_0101", (Interval(0, 5, "me", 2),), 30.0, "s16"),
            "19_0102": VideoIntervals("19_0102", (Interval(0, 5, "me"),), 30.0, "s19"),
        }
    )
    write_labels(root / "CAS(ME)^2code_final.xlsx", labels)
    return root


def test_cas_me2_pairs_labels_with_frames(cas_tree, caplog):
    with caplog.at_level(logging.WARNING):
        ds = discover_cas_me2(cas_tree)
    assert ds.labels_path.name == "CAS(ME)^2code_final.xlsx"
    assert [r.video for r in ds.records] == ["15_0101", "15_0401", "16_0101"]
    by_video = {r.video: r for r in ds.records}
    rec = by_video["15_0401"]
    assert (rec.subject, rec.n_frames, rec.fps, rec.first_number) == ("s15", 40, 30.0, 1)
    mae, me = rec.intervals
    assert (rec.frames[mae.onset].name, rec.frames[mae.apex].name, rec.frames[mae.offset].name) == (
        "img5.jpg",
        "img11.jpg",
        "img31.jpg",
    )
    assert me.type == "me" and rec.frames[me.onset].name == "img33.jpg"
    assert by_video["15_0101"].intervals == ()  # a video without expressions is still a video
    assert ds.missing == ("19_0102",)
    assert any("19_0102" in r.getMessage() for r in caplog.records)
    assert ds.counts() == {"me": 2, "mae": 1}


def test_loso_folds_hold_out_one_subject(cas_tree):
    ds = discover_cas_me2(cas_tree / "rawpic", labels=cas_tree / "CAS(ME)^2code_final.xlsx")
    folds = ds.folds()
    assert [f.subject for f in folds] == ["s15", "s16"]
    assert {r.video for r in folds[0].test} == {"15_0101", "15_0401"}
    assert {r.video for r in folds[0].train} == {"16_0101"}
    for fold in folds:
        assert not {r.video for r in fold.train} & {r.video for r in fold.test}
        assert len(fold.train) + len(fold.test) == len(ds.records)
    assert loso_folds([]) == []


def test_samm_lv_frame_numbers_in_file_names(tmp_path):
    root = tmp_path / "SAMM"
    _images(root / "SAMM_longvideos" / "006_1", [f"006_1_{n:04d}.jpg" for n in range(1, 61)])
    _images(root / "SAMM_longvideos" / "007_3", [f"007_3_{n:04d}.jpg" for n in range(1, 11)])
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
    ]
    _sheet(
        root / "SAMM_LongVideos_V2_Release.xlsx",
        [
            ["SAMM Long Videos Dataset - FACS Codes"],
            [],
            header,
            ["006", "006_1_1", 1, 10.4, 20, 50, 41, "Macro", "4+7"],
            ["006", "006_1_2", 1, 2, -1, 8, 7, "Micro - 1/2", "L12"],
            ["007", "007_3_1", 3, 3, 4, 80, 78, "Macro", "12"],  # past the last image
        ],
    )
    ds = discover_samm_lv(root)
    rec, other = ds.records
    assert (rec.video, rec.subject, rec.fps, rec.n_frames) == ("006_1", "006", 200.0, 60)
    macro, micro = sorted(rec.intervals, key=lambda iv: iv.type)
    assert rec.frames[macro.onset].name == "006_1_0010.jpg"  # 10.4 truncated as the baseline does
    assert rec.frames[macro.offset].name == "006_1_0050.jpg"
    assert (micro.apex, rec.frames[micro.onset].name) == (None, "006_1_0002.jpg")
    assert other.intervals == ()  # the interval past the last image is reported and skipped
    assert [f.subject for f in ds.folds()] == ["006", "007"]


def test_casme2_clip_folders_start_at_the_onset_image(tmp_path):
    root = tmp_path / "CASME2"
    _images(root / "CASME2_RAW_selected" / "sub01" / "EP02_01f", [f"img{n}.jpg" for n in range(46, 87)])
    _images(root / "CASME2_RAW_selected" / "sub02" / "EP01_11f", [f"img{n}.jpg" for n in range(46, 97)])
    header = [
        "Subject",
        "Filename",
        None,
        "OnsetFrame",
        "ApexFrame",
        "OffsetFrame",
        None,
        "Action Units",
        "Estimated Emotion",
    ]
    _sheet(
        root / "CASME2-coding-20190701.xlsx",
        [
            header,
            ["01", "EP02_01f", None, 46, 59, 86, None, 12, "happiness"],
            ["02", "EP01_11f", None, 46, 91, 96, None, "L15", "repression"],
        ],
    )
    ds = discover_casme2(root)
    assert [r.video for r in ds.records] == ["sub01/EP02_01f", "sub02/EP01_11f"]
    rec = ds.records[0]
    (iv,) = rec.intervals
    assert (iv.onset, iv.apex, iv.offset) == (0, 13, 40)
    assert (rec.frames[iv.apex].name, rec.first_number, rec.subject) == ("img59.jpg", 46, "sub01")
    assert iv.aus == (12,)
    assert ds.subjects() == ["sub01", "sub02"]


def test_layout_errors(tmp_path):
    with pytest.raises(DatasetLayoutError, match="no folders named like"):
        discover_cas_me2(tmp_path)
    _images(tmp_path / "sub01" / "EP01_01", ["img1.jpg"])
    with pytest.raises(DatasetLayoutError, match="no casme2-xlsx label workbook"):
        discover_casme2(tmp_path)
