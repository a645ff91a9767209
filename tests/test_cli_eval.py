"""``mespot eval`` and ``mespot convert`` end to end."""

from __future__ import annotations

import json

import pytest

from napari_mespot.cli import main
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import read_labels, write_native_csv


@pytest.fixture
def gt_pred(tmp_path):
    gt = tmp_path / "gt.csv"
    write_native_csv(
        gt,
        {
            "a": [Interval(0, 9, "me"), Interval(100, 199, "mae")],
            "b": [Interval(0, 4, "me"), Interval(5, 9, "me")],
        },
    )
    pred = tmp_path / "pred.csv"
    # a: ME exact, MaE at IoU 0.4 (hit only at k ≤ 0.4); b: one prediction over both halves
    # (IoU 0.5 each); c: a video without ground truth
    pred.write_text(
        "vid,pred_onset,pred_offset,type\na,0,9,me\na,100,139,mae\nb,0,9,me\nc,0,9,mae\n", encoding="utf-8"
    )
    return gt, pred


def test_eval_table(gt_pred, capsys):
    gt, pred = gt_pred
    assert main(["eval", "--gt", str(gt), "--pred", str(pred)]) == 0
    out, err = capsys.readouterr()
    lines: dict[str, list[str]] = {}
    for line in out.splitlines():
        if line.strip():
            lines.setdefault(line.split()[0], line.split()[1:])
    # columns MaE, ME, Overall
    assert lines["TP"] == ["0", "2", "2"]
    assert lines["FP"] == ["2", "0", "2"]
    assert lines["FN"] == ["1", "1", "2"]
    assert lines["F1-score"] == ["0.0000", "0.8000", "0.5000"]  # ME 2·2/(2+3), overall 2·2/(4+4)
    assert "c" in err and "false positives" in err


def test_eval_json_has_every_number(gt_pred, capsys):
    gt, pred = gt_pred
    assert (
        main(["eval", "--gt", str(gt), "--pred", str(pred), "--matching", "megc2020", "--k", "0.4", "--json"])
        == 0
    )
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert "FP negative" in captured.err
    assert (report["k"], report["matching"]) == (0.4, "megc2020")
    # megc2020: the prediction over both halves of b hits both; MaE of a counts at k = 0.4
    assert report["me"] == {
        "n_gt": 3,
        "n_pred": 2,
        "tp": 3,
        "fp": -1,
        "fn": 0,
        "precision": 1.5,
        "recall": 1.0,
        "f1": pytest.approx(6 / 5),
    }
    assert (report["mae"]["tp"], report["mae"]["fp"], report["mae"]["fn"]) == (1, 1, 0)
    assert set(report["sweep"]) == {"0.3", "0.4", "0.5"}
    assert report["sweep"]["0.5"]["mae"]["tp"] == 0
    assert [v["video"] for v in report["videos"]] == ["a", "b", "c"]
    assert report["videos"][2]["overall"]["fp"] == 1
    assert report["pred_videos_not_in_gt"] == ["c"]


def test_eval_per_video_and_json_file(gt_pred, tmp_path, capsys):
    gt, pred = gt_pred
    out_json = tmp_path / "report.json"
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--per-video", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("b ") and line.split()[1:4] == ["1", "0", "1"] for line in out.splitlines())
    assert json.loads(out_json.read_text())["overall"]["tp"] == 2


def test_eval_types_by_duration(tmp_path, capsys):
    gt = tmp_path / "gt.csv"
    write_native_csv(gt, {"v": [Interval(0, 9, "me")]})
    pred = tmp_path / "p.csv"
    pred.write_text("vid,pred_onset,pred_offset\nv,0,9\n", encoding="utf-8")
    assert main(["eval", "--gt", str(gt), "--pred", str(pred), "--fps", "30", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["me"]["tp"] == 1
    assert (
        main(["eval", "--gt", str(gt), "--pred", str(pred), "--type-by", "duration", "--fps", "10", "--json"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["mae"]["fp"] == 1


def test_eval_on_the_real_cas_me2_file(fixtures_dir, tmp_path, capsys):
    gt = fixtures_dir / "labels" / "casme_sq_code_final.xlsx"
    sub = tmp_path / "sub.csv"
    assert main(["convert", str(gt), str(sub), "--to", "megc-csv"]) == 0
    assert "300 MaE + 57 ME" in capsys.readouterr().out
    assert main(["eval", "--gt", str(gt), "--pred", str(sub), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["overall"]["n_gt"], report["overall"]["tp"], report["overall"]["f1"]) == (357, 357, 1.0)
    repairs = report["gt_repairs"]
    assert sum(r["kind"] == "offset_zero" for r in repairs) == 44
    assert {
        "kind": "apex_outside",
        "row": 170,
        "video": "27_0101",
        "action": "apex cleared",
        "sheet": "CASFEcode_final",
    } in repairs


def test_convert_round_trip_and_formats(fixtures_dir, tmp_path, capsys):
    src = fixtures_dir / "labels" / "casme_sq_code_final.xlsx"
    assert main(["convert", str(src), str(tmp_path / "a.json")]) == 0
    assert main(["convert", str(tmp_path / "a.json"), str(tmp_path / "b.xlsx")]) == 0
    assert main(["convert", str(tmp_path / "b.xlsx"), str(tmp_path / "c.csv")]) == 0
    out = capsys.readouterr().out
    assert "(cas-me2-xlsx) from native-json" in out and "(native-csv) from cas-me2-xlsx" in out
    assert read_labels(tmp_path / "c.csv").counts() == {"mae": 300, "me": 57}
    samm = fixtures_dir / "labels" / "samm_lv_gt.xlsx"
    assert main(["convert", str(samm), str(tmp_path / "s.csv"), "--quirk", "onset_zero=drop"]) == 0
    assert "333 MaE + 159 ME" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "--gt", "missing.csv", "--pred", "missing.csv"],
        ["eval", "--gt", "x.csv", "--pred", "y.csv", "--k", "1.5"],
        ["convert", "in.csv", "out.txt"],
        ["convert", "in.csv", "out.csv", "--quirk", "nonsense"],
    ],
)
def test_user_errors_are_one_line(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.csv").write_text(
        "video,onset,apex,offset,type,aus,score,source,status\nv,0,,3,me,,,gt,candidate\n"
    )
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mespot {argv[0]}: error:") and "\n" not in err


def test_read_only_formats_are_not_offered_as_output(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "in.csv", "out.xlsx", "--to", "samm-lv-xlsx"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'samm-lv-xlsx'" in capsys.readouterr().err
