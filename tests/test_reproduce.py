"""``mespot reproduce``: whole protocols on synthetic trees shaped like CASME II and CAS(ME)².

The trees hold synthetic faces (core.synth) with exact ground truth, written in the datasets'
folder layouts and label workbooks. The fast tests drive the leave-one-subject-out runner with a
stand-in method (fold isolation, resuming, cancelling, scoring); the slow ones run both
protocols end to end with the real prototype spotter.
"""

from __future__ import annotations

import json

import cv2
import openpyxl
import pytest

from napari_mespot.cli import main
from napari_mespot.core.errors import MespotError
from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.labels import Labels, read_labels, write_labels
from napari_mespot.core.labels.datasets import DatasetLayoutError, discover_cas_me2
from napari_mespot.core.metrics import evaluate
from napari_mespot.core.progress import Progress, run_to_end
from napari_mespot.core.reproduce import (
    PAPER_PROTOTYPE,
    discover,
    format_table,
    loso,
    open_record,
    run_loso,
    score,
    start_run,
    to_label_frames,
)
from napari_mespot.core.spotters.base import SpotResult
from napari_mespot.core.synth.generator import SynthScene, SynthSettings, scripted_expression

FPS = 30.0
LONG = SynthSettings(
    duration_s=6.0,
    size=(320, 240),
    shake_amplitude_px=(1.5, 3.0),
    drift_px=1.0,
    shakes_per_minute=6.0,
)
CLIP = SynthSettings(
    duration_s=1.2,
    size=(320, 240),
    head_drift=False,
    head_shakes=False,
    blinks=False,
    noise_sigma=1.0,
    flicker=False,
)
SUBJECTS = (15, 16, 17)


def _write_frames(folder, frames, first=1):
    folder.mkdir(parents=True)
    for k, frame in enumerate(frames):
        path = folder / f"img{first + k}.jpg"
        assert cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])


def _cas_me2_tree(root):
    """rawpic/sNN/NN_0101happy/img<n>.jpg, one 6 s video per subject, + a code_final workbook.

    Each video: an AU12 ME, an AU4+AU12 MaE and an AU15 MaE, with blinks, head shakes, drift,
    flicker and noise in between.
    """
    videos = {}
    for i, number in enumerate(SUBJECTS):
        me = scripted_expression(30 + 7 * i, 12, (12,), 1.5, FPS)  # 0.4 s: ME
        mae = scripted_expression(100 - 5 * i, 36, (4, 12), 3.5, FPS)  # 1.2 s: MaE
        # AU15 has no prototype in the paper protocol (one CASME II clip): it cannot be spotted there
        sad = scripted_expression(150, 22, (15,), 3.0, FPS)
        scene = SynthScene(LONG, (2024, number), expressions=[me, mae, sad])
        _write_frames(root / "rawpic" / f"s{number}" / f"{number}_0101happy", scene.frames())
        # label frames are image number - 1; the folders start at img1
        video = f"{number}_0101"
        videos[video] = VideoIntervals(video, tuple(scene.intervals), FPS, f"s{number}")
    write_labels(root / "CAS(ME)^2code_final.xlsx", Labels(videos), "cas-me2-xlsx")
    return root


def _casme2_tree(root):
    """subNN/EPxx_yy/img<n>.jpg clips starting at img46, + the coding workbook's real header."""
    wb = openpyxl.Workbook()
    ws = wb.active
    header = ["Subject", "Filename", None, "OnsetFrame", "ApexFrame", "OffsetFrame", None, "Action Units"]
    ws.append([*header, "Estimated Emotion", "Objective Classes"])
    rows = [  # AU12 and AU4 three times each (kept with --min-count 3), AU15 once (dropped)
        ("01", "EP01_01", "12", 0),
        ("01", "EP02_03", "L4", 1),
        ("02", "EP05_01", "12", 2),
        ("02", "EP06_02", "4", 3),
        ("03", "EP07_01", "R12", 4),
        ("03", "EP08_01", "4+15", 5),
    ]
    first = 46
    for subject, name, aus, seed in rows:
        codes = tuple(int(a.lstrip("LR")) for a in aus.split("+"))
        ex = scripted_expression(4, 24, codes, 2.5, FPS)
        scene = SynthScene(CLIP, seed, expressions=[ex])
        _write_frames(root / "CASME2_RAW_selected" / f"sub{subject}" / name, scene.frames(), first)
        onset, apex, offset = (first + f for f in (ex.onset, ex.apex, ex.offset))
        ws.append([subject, name, None, onset, apex, offset, None, aus, "happiness", 1])
    wb.save(root / "CASME2-coding-20190701.xlsx")
    return root


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    base = tmp_path_factory.mktemp("datasets")
    return _casme2_tree(base / "CASME2"), _cas_me2_tree(base / "CASME_sq")


# -- the runner with a stand-in method ---------------------------------------------------------


class Echo:
    """Spots each test video's ground truth shifted by ``shift`` frames; records every fit."""

    name = "echo"

    def __init__(self, shift=0):
        self.shift = shift
        self.fits = []

    def settings(self):
        return {"shift": self.shift}

    def fit(self, train, fold_dir):
        subjects = sorted({r.subject for r in train})
        self.fits.append(subjects)
        yield from ()
        return {"trained_on": subjects}

    def describe(self, model):
        return dict(model)

    def spot(self, model, record):
        import numpy as np

        yield Progress(0, 1, "spotting")
        ivs = tuple(
            iv.evolve(
                onset=min(iv.onset + self.shift, record.n_frames - 1),
                offset=min(iv.offset + self.shift, record.n_frames - 1),
                apex=None,
                source="echo",
            )
            for iv in record.intervals
        )
        return SpotResult(
            record.video,
            "echo",
            record.fps,
            record.n_frames,
            ivs,
            (),
            np.zeros((0, record.n_frames)),
            np.zeros(0),
        )


def _fake_tree(root, subjects=("s01", "s02", "s03"), first=1):
    """A CAS(ME)²-shaped tree of blank 8x8 images (the runner never decodes them)."""
    import numpy as np

    videos = {}
    for i, subject in enumerate(subjects):
        number = int(subject[1:])
        folder = root / "rawpic" / subject / f"{number:02d}_0102stimulus"
        folder.mkdir(parents=True)
        for n in range(first, first + 60):
            cv2.imwrite(str(folder / f"img{n}.jpg"), np.zeros((8, 8, 3), np.uint8))
        video = f"{number:02d}_0102"
        ivs = (
            Interval(first + 4 + i, first + 30, "mae", first + 9, (12,)),
            Interval(first + 40, first + 47, "me"),
        )
        # label frames are image numbers - 1
        videos[video] = VideoIntervals(
            video,
            tuple(
                iv.evolve(
                    onset=iv.onset - 1, offset=iv.offset - 1, apex=None if iv.apex is None else iv.apex - 1
                )
                for iv in ivs
            ),
            FPS,
            subject,
        )
    write_labels(root / "code_final.xlsx", Labels(videos), "cas-me2-xlsx")
    return discover("cas-me2", root)


def test_every_subject_is_held_out_once_and_never_trained_on(tmp_path):
    dataset = _fake_tree(tmp_path / "cas")
    method = Echo(shift=4)
    out = tmp_path / "out"
    outcome = run_to_end(loso(dataset, method, out))
    folds = outcome.run.folds
    assert [f.subject for f in folds] == ["s01", "s02", "s03"]
    for fold in folds:
        assert fold.subject not in fold.train_subjects
        assert set(fold.train_subjects) | {fold.subject} == {"s01", "s02", "s03"}
        assert fold.model["trained_on"] == list(fold.train_subjects)
    assert sorted(v for f in folds for v in f.test_videos) == sorted(r.video for r in dataset.records)
    assert method.fits == [["s02", "s03"], ["s01", "s03"], ["s01", "s02"]]
    # the written files read back with core.labels and score as the report says
    gt = read_labels(dataset.labels_path)
    pred = read_labels(out / "predictions.csv")
    assert read_labels(out / "predictions_megc.csv").label_set().keys() == pred.label_set().keys()
    report = json.loads((out / "report.json").read_text())
    for k, numbers in report["sweep"].items():
        ev = evaluate(gt.videos, pred.videos, float(k))
        for t in ("me", "mae", "overall"):
            assert numbers[t] == getattr(ev, t).to_dict()
    assert report["results"]["overall"]["n_gt"] == 6
    # shifted by 4 frames, a 27-frame MaE keeps IoU 23/31 = 0.74, an 8-frame ME 4/12 = 0.33
    sweep = report["sweep"]
    assert (sweep["0.5"]["mae"]["tp"], sweep["0.5"]["me"]["tp"], sweep["0.5"]["me"]["fp"]) == (3, 0, 3)
    assert sweep["0.3"]["me"]["tp"] == 3
    folds_file = json.loads((out / "thresholds.json").read_text())
    assert folds_file["s02"]["train_subjects"] == ["s01", "s03"]
    # and `mespot eval` on the written ground truth and predictions agrees
    argv = ["eval", "--gt", str(out / "ground_truth.csv"), "--pred", str(out / "predictions.csv")]
    assert main([*argv, "--json", str(tmp_path / "eval.json")]) == 0
    scored = json.loads((tmp_path / "eval.json").read_text())
    assert scored["sweep"] == {
        k: {t: v[t] for t in ("me", "mae", "overall")} for k, v in report["sweep"].items()
    }


def test_predictions_are_written_in_the_label_files_frames(tmp_path):
    """Folders numbered from img46 (as CASME II clips): positions and label frames differ by 45."""
    dataset = _fake_tree(tmp_path / "cas", first=46)
    record = dataset.records[0]
    assert record.intervals[0].onset == 4  # position in the folder
    assert to_label_frames(record, record.intervals)[0].onset == 49  # img50 -> frame 49
    out = tmp_path / "out"
    run_to_end(loso(dataset, Echo(), out))
    gt, pred = read_labels(dataset.labels_path), read_labels(out / "predictions.csv")
    assert evaluate(gt.videos, pred.videos).overall.f1 == 1.0


def test_an_interrupted_run_resumes_at_the_first_unfinished_fold(tmp_path):
    dataset = _fake_tree(tmp_path / "cas")
    out = tmp_path / "out"
    gen = loso(dataset, Echo(), out)
    for p in gen:  # cancel while the second fold is running
        if "fold s02" in p.message:
            gen.close()
            break
    assert (out / "folds" / "s01" / "fold.json").is_file()
    assert not (out / "folds" / "s02" / "fold.json").exists()
    assert not list(out.rglob("*.tmp")) and not (out / "report.json").exists()
    method = Echo()
    outcome = run_to_end(loso(dataset, method, out))
    assert outcome.run.resumed == ("s01",)
    assert method.fits == [["s01", "s03"], ["s01", "s02"]]  # only the unfinished folds were fitted
    with pytest.raises(MespotError, match="holds a run with other settings"):
        run_to_end(loso(dataset, Echo(shift=1), out))


def test_a_damaged_fold_file_is_reported_not_trusted(tmp_path):
    dataset = _fake_tree(tmp_path / "cas")
    out = tmp_path / "out"
    run_to_end(loso(dataset, Echo(), out))
    (out / "folds" / "s02" / "fold.json").write_text("{not json")
    with pytest.raises(MespotError, match=r"s02.fold\.json: unreadable fold result"):
        run_to_end(loso(dataset, Echo(), out))


def test_a_folder_with_foreign_images_is_refused(tmp_path):
    """Frame indices must mean the same in the folder and in the record: no stray images."""
    import numpy as np

    dataset = _fake_tree(tmp_path / "cas")
    record = dataset.records[0]
    cv2.imwrite(str(record.frames[0].parent / "thumbnail.jpg"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(DatasetLayoutError, match="holds 61 images but 60 follow the dataset's naming"):
        open_record(record)


def test_one_subject_is_not_a_protocol(tmp_path):
    dataset = _fake_tree(tmp_path / "cas", subjects=("s01",))
    start_run(tmp_path / "out", {})
    with pytest.raises(MespotError, match="at least two subjects"):
        run_to_end(run_loso(dataset, Echo(), tmp_path / "out"))


def test_table_puts_the_papers_numbers_beside_ours(tmp_path):
    dataset = _fake_tree(tmp_path / "cas")
    outcome = run_to_end(loso(dataset, Echo(), tmp_path / "out"))
    text = format_table(score(outcome.run), 0.5, PAPER_PROTOTYPE)
    assert "paper" in text and "0.4337" in text and "0.2857" in text and "0.4162" in text
    assert "0.4670" in text and "0.5245" in text


# -- errors ------------------------------------------------------------------------------------


def test_missing_and_wrong_roots_are_one_line_errors(tmp_path, capsys, trees):
    casme2, cas = trees
    cases = [
        (["loso", "--dataset", "cas-me2", "--root", str(tmp_path / "nowhere")], "no such dataset folder"),
        (["loso", "--dataset", "cas-me2", "--root", str(casme2)], "no folders named like"),
        (["loso", "--dataset", "samm", "--root", str(cas)], "no folders named like"),
        (
            ["prototype-paper", "--casme2", str(cas), "--cas-me2", str(cas)],
            "no folders named like",
        ),
        (
            ["prototype-paper", "--casme2", str(casme2), "--cas-me2", str(tmp_path / "none")],
            "no such dataset folder",
        ),
        (["loso", "--dataset", "cas-me2", "--root", str(cas), "--threshold", "12=3"], "--threshold"),
    ]
    for argv, message in cases:
        assert main(["reproduce", *argv, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("mespot reproduce: error:") and message in err and "\n" not in err


# -- end to end with the prototype spotter ------------------------------------------------------


def _subject_of(video):
    return f"s{video.split('_')[0]}"


@pytest.mark.slow
def test_prototype_paper_protocol_end_to_end(trees, tmp_path, capsys):
    casme2, cas = trees
    out = tmp_path / "paper"
    argv = [
        "reproduce",
        "prototype-paper",
        "--casme2",
        str(casme2),
        "--cas-me2",
        str(cas),
        "--out",
        str(out),
        "--min-count",
        "3",
        "--flow",
        "dis",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    # prototypes from CASME II: AU4 and AU12 (three clips each); AU15 (one clip) dropped
    assert report["prototypes"]["aus"] == [4, 12]
    assert report["prototypes"]["provenance"]["dropped_aus"] == {"15": 1}
    # every CAS(ME)² subject held out exactly once; θ never chosen on the held-out subject
    assert [f["subject"] for f in report["folds"]] == ["s15", "s16", "s17"]
    for fold in report["folds"]:
        calibrated_on = fold["model"]["calibration"]["videos"]
        assert calibrated_on and fold["subject"] not in {_subject_of(v) for v in calibrated_on}
        assert sorted(fold["train_subjects"] + [fold["subject"]]) == ["s15", "s16", "s17"]
        assert set(fold["model"]["thresholds"]) == {"AU4", "AU12"}
    # the numbers are those of an independent evaluation of the written predictions
    gt = read_labels(cas / "CAS(ME)^2code_final.xlsx")
    pred = read_labels(out / "predictions.csv")
    megc = read_labels(out / "predictions_megc.csv", fps=FPS)
    assert {v: [(i.onset, i.offset, i.type) for i in vi.intervals] for v, vi in megc.videos.items()} == {
        v: [(i.onset, i.offset, i.type) for i in vi.intervals] for v, vi in pred.videos.items()
    }
    for k in ("0.3", "0.4", "0.5"):
        ev = evaluate(gt.videos, pred.videos, float(k))
        for t in ("me", "mae", "overall"):
            assert report["sweep"][k][t] == getattr(ev, t).to_dict()
    ev = evaluate(gt.videos, pred.videos, 0.5)
    assert f"{'F1-score':<13}{ev.mae.f1:>9.4f}{0.4337:>9.4f}{ev.me.f1:>9.4f}" in printed
    assert report["results"]["overall"]["n_gt"] == 9
    assert report["paper"]["table3"]["overall"]["f1"] == 0.4162
    spotter = report["config"]["spot_settings"]  # the paper's preset unless told otherwise
    assert (spotter["boundaries"], spotter["head_motion"], spotter["window_s"]) == ("peak-points", "off", 7.0)
    assert {"python", "numpy", "napari-mespot"} <= report["versions"].keys()
    thresholds = json.loads((out / "thresholds.json").read_text())
    assert sorted(thresholds) == ["s15", "s16", "s17"]
    rows = (out / "thresholds.csv").read_text().splitlines()
    assert rows[0] == "fold,threshold,value" and len(rows) == 1 + 3 * 2  # 3 folds x (AU4, AU12)
    fold, au, value = rows[1].split(",")
    assert float(value) == thresholds[fold]["thresholds"][au]
    # resuming reruns nothing and gives the same numbers
    assert main(argv) == 0
    assert "resumed: folds s15, s16, s17" in capsys.readouterr().out
    assert json.loads((out / "report.json").read_text())["sweep"] == report["sweep"]


@pytest.mark.slow
def test_loso_prototype_protocol_end_to_end(trees, tmp_path, capsys):
    _, cas = trees
    out = tmp_path / "loso"
    argv = [
        "reproduce",
        "loso",
        "--dataset",
        "cas-me2",
        "--root",
        str(cas),
        "--method",
        "prototype",
        "--min-count",
        "2",
        "--flow",
        "dis",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    dataset = discover_cas_me2(cas)
    assert [f["subject"] for f in report["folds"]] == dataset.subjects()
    for fold in report["folds"]:
        subject = fold["subject"]
        # prototypes learnt and θ calibrated on the two other subjects only
        assert {_subject_of(v) for v in fold["model"]["calibration"]["videos"]} == set(fold["train_subjects"])
        assert {_subject_of(v) for v in fold["model"]["learnt_from"]} == set(fold["train_subjects"])
        assert subject not in fold["train_subjects"] and len(fold["train_subjects"]) == 2
        assert (out / "folds" / subject / "prototypes.npz").is_file()
        assert fold["model"]["au_counts"] == {"AU4": 2, "AU12": 4, "AU15": 2}
    gt = read_labels(dataset.labels_path)
    pred = read_labels(out / "predictions.csv")
    ev = evaluate(gt.videos, pred.videos, 0.5)
    assert report["results"]["overall"] == ev.overall.to_dict()
    assert report["results"]["me"] == ev.me.to_dict() and report["results"]["mae"] == ev.mae.to_dict()
    assert "paper" not in printed and f"{ev.overall.f1:.4f}" in printed


@pytest.mark.slow
def test_loso_vovnet_protocol_end_to_end(trees, tmp_path, capsys):
    """A compact VoVNet per fold (1 CPU thread, 2 epochs): the protocol, not the model, is tested."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    _, cas = trees
    out = tmp_path / "vovnet"
    argv = [
        "reproduce",
        "loso",
        "--dataset",
        "cas-me2",
        "--root",
        str(cas),
        "--method",
        "vovnet",
        "--small",
        "--input-size",
        "32",
        "--flow",
        "dis",
        "--epochs",
        "2",
        "--batch-size",
        "4",
        "--train-window",
        "64",
        "--train-stride",
        "32",
        "--device",
        "cpu",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert [f["subject"] for f in report["folds"]] == ["s15", "s16", "s17"]
    for fold in report["folds"]:
        model = fold["model"]
        seen = {_subject_of(v) for v in model["train_videos"] + model["val_videos"]}
        assert seen == set(fold["train_subjects"]) and fold["subject"] not in seen
        assert (out / "folds" / fold["subject"] / "checkpoint.pt").is_file()
    assert report["config"]["method_settings"]["train"]["epochs"] == 2 and report["seeds"] == 0
    gt = read_labels(cas / "CAS(ME)^2code_final.xlsx")
    pred = read_labels(out / "predictions.csv")  # may hold no row: 2 epochs teach the model little
    ev = evaluate(gt.videos, pred.videos, 0.5)
    assert report["results"]["overall"] == ev.overall.to_dict()
    assert f"{ev.overall.f1:.4f}" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize(
    ("flag", "paper_f1", "table"), [([], "0.2745", "Table 4"), (["--no-flow"], "0.2620", "Table 5")]
)
def test_reproduce_vovnet_sets_the_papers_table_beside_ours(trees, tmp_path, capsys, flag, paper_f1, table):
    """The paper's protocol command: LOSO with the VoVNet spotter, the paper's CAS(ME)² F1 (its
    Table 4, or Table 5's no-flow row for the ablation) printed beside ours."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    _, cas = trees
    out = tmp_path / "vovnet"
    options = "--small --input-size 32 --flow dis --epochs 1 --batch-size 4 --train-window 64"
    argv = ["reproduce", "vovnet", "--dataset", "cas-me2", "--root", str(cas), *options.split()]
    argv += ["--train-stride", "32", "--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    argv += ["--out", str(out), "--quiet", *flag]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["protocol"] == "vovnet"
    assert report["config"]["method_settings"]["data"]["flow"] == (not flag)
    assert [f["subject"] for f in report["folds"]] == ["s15", "s16", "s17"]
    assert "ours    paper" in printed and table in printed
    overall_f1 = next(line for line in printed.splitlines() if line.startswith("F1-score")).split()
    assert overall_f1[-1] == paper_f1  # the paper's overall F1, beside ours
    gt = read_labels(cas / "CAS(ME)^2code_final.xlsx")
    ev = evaluate(gt.videos, read_labels(out / "predictions.csv").videos, 0.5)
    assert report["results"]["overall"] == ev.overall.to_dict() and overall_f1[-2] == f"{ev.overall.f1:.4f}"
