"""``--quirk`` reaches every format that can carry the defect, and the plain CSV a user has reads
(issue 15, item 9; item 12's duplicated rows).

The native CSV and JSON can hold an apex outside its interval and fractional frames, the MEGC
CSV fractional frames: each is repaired as ``--quirk`` says and logged, or refused with
``=error``, exactly as in the dataset workbooks. The native CSV needs only
``video,onset,offset``; the rest is optional.
"""

from __future__ import annotations

import json

import pytest

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.labels import QuirkOptions, read_labels


def _frames(labels, video="v"):
    return [(iv.onset, iv.apex, iv.offset) for iv in labels.videos[video].intervals]


@pytest.fixture
def native_csv(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text(
        "video,onset,apex,offset,type,aus,score,source,status\n"
        "v,10,25,20,me,12,,gt,candidate\n"  # apex after the offset (CAS(ME)²'s defect)
        "v,40,45,50,me,4,,gt,candidate\n"
    )
    return path


@pytest.fixture
def native_json(tmp_path):
    path = tmp_path / "labels.json"
    interval = {"onset": 10, "apex": 25, "offset": 20, "type": "me"}
    document = {"format": "mespot-labels", "version": 1, "videos": [{"video": "v", "intervals": [interval]}]}
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize("fixture", ["native_csv", "native_json"])
def test_apex_outside_follows_the_quirk_option_in_native_files(request, fixture, caplog):
    path = request.getfixturevalue(fixture)
    with caplog.at_level("WARNING"):
        cleared = read_labels(path)
    assert _frames(cleared)[0] == (10, None, 20)
    assert "apex outside" in caplog.text and str(path) in caplog.text
    assert _frames(read_labels(path, quirks=QuirkOptions(apex_outside="extend")))[0] == (10, 25, 25)
    dropped = read_labels(path, quirks=QuirkOptions(apex_outside="drop")).videos
    assert all(iv.onset != 10 for iv in (dropped["v"].intervals if "v" in dropped else ()))
    with pytest.raises(LabelFormatError, match="apex"):
        read_labels(path, quirks=QuirkOptions(apex_outside="error"))


def test_fractional_frames_follow_the_quirk_option_in_csv_formats(tmp_path):
    native = tmp_path / "native.csv"
    native.write_text("video,onset,offset,type\nv,10.6,20.2,me\n")
    megc = tmp_path / "megc.csv"
    megc.write_text("vid,pred_onset,pred_offset,type\nv,10.6,20.2,me\n")
    for path in (native, megc):
        assert _frames(read_labels(path))[0] == (10, None, 20)  # the baseline's int()
        assert _frames(read_labels(path, quirks=QuirkOptions(fractional="widen")))[0] == (10, None, 21)
        with pytest.raises(LabelFormatError, match="fractional"):
            read_labels(path, quirks=QuirkOptions(fractional="error"))


def test_the_cli_quirk_option_reaches_the_native_csv(cli, native_csv, tmp_path):
    code, _, err = cli("convert", native_csv, tmp_path / "out.json", "--quirk", "apex_outside=error")
    assert code == 2 and "apex" in err and "Traceback" not in err
    code, _, err = cli("convert", native_csv, tmp_path / "out.json", "--quirk", "apex_outside=extend")
    assert code == 0, err
    assert _frames(read_labels(tmp_path / "out.json"))[0] == (10, 25, 25)


def test_the_common_user_csv_reads(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("video,onset,apex,offset,type,aus\nclip,3,5,8,me,1+2\nclip,30,40,90,mae,12\n")
    labels = read_labels(path)
    assert labels.format == "native-csv"
    assert [(iv.onset, iv.apex, iv.offset, iv.type, iv.aus) for iv in labels.videos["clip"].intervals] == [
        (3, 5, 8, "me", (1, 2)),
        (30, 40, 90, "mae", (12,)),
    ]
    assert {iv.source for iv in labels.videos["clip"].intervals} == {"gt"}


def test_the_minimal_csv_types_by_duration_with_an_fps(tmp_path, cli):
    path = tmp_path / "minimal.csv"
    path.write_text("video,onset,offset\nclip,0,9\nclip,20,79\n")
    with pytest.raises(LabelFormatError, match="fps"):
        read_labels(path)
    typed = read_labels(path, fps=30.0)  # 10 frames = 0.33 s → ME; 60 frames = 2 s → MaE
    assert [iv.type for iv in typed.videos["clip"].intervals] == ["me", "mae"]
    code, out, err = cli("eval", "--gt", path, "--pred", path, "--fps", 30)
    assert code == 0, err
    assert "1.0000" in out
    missing = tmp_path / "no_offset.csv"
    missing.write_text("video,onset\nclip,0\n")
    with pytest.raises(LabelFormatError, match="offset"):
        read_labels(missing)


def test_duplicated_rows_are_scored_with_a_warning(tmp_path, cli):
    gt = tmp_path / "gt.csv"
    gt.write_text("video,onset,offset,type\nclip,10,20,me\nclip,10,20,me\nclip,50,90,mae\n")
    pred = tmp_path / "pred.csv"
    pred.write_text("video,onset,offset,type\nclip,10,20,me\n")
    code, _, err = cli("eval", "--gt", gt, "--pred", pred)
    assert code == 0
    assert "duplicate" in err and "rows 2, 3" in err and str(gt) in err
