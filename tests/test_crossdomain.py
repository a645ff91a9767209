"""The cross-domain protocol: its sets, its counts and its table, and one small run end to end."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from napari_mespot.core.errors import LabelFormatError
from napari_mespot.core.intervals import Interval, VideoIntervals
from napari_mespot.core.labels import Labels, write_labels
from napari_mespot.core.labels.unreliable import (
    UnreliableSpan,
    read_unreliable_csv,
    starting_inside,
    write_unreliable_csv,
)
from napari_mespot.core.metrics import evaluate
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.reproduce.crossdomain import EvalSet, Outcome, Protocol, format_tables, real_set, run
from napari_mespot.core.synth.generator import SynthSettings
from napari_mespot.core.synth.warped import WarpedSettings


def test_unreliable_spans_round_trip_and_bad_rows_name_their_place(tmp_path):
    spans = {"b.mp4": [UnreliableSpan(5, 9, "occlusion")], "a": [UnreliableSpan(0, 0), UnreliableSpan(3, 4)]}
    path = tmp_path / "u.csv"
    write_unreliable_csv(path, spans)
    assert path.read_text().splitlines()[:2] == ["video,start,end,reason,region", "a,0,0,,"]
    assert read_unreliable_csv(path) == {"a": [UnreliableSpan(0, 0), UnreliableSpan(3, 4)], **spans}
    path.write_text("video,start,end,reason\nv,4,x,hand\n")
    with pytest.raises(LabelFormatError, match=r"u\.csv: row 2, column 'end'"):
        read_unreliable_csv(path)
    path.write_text("video,start,end\nv,9,4\n")
    with pytest.raises(LabelFormatError, match="row 2"):
        read_unreliable_csv(path)
    path.write_text("video,begin,end\n")
    with pytest.raises(LabelFormatError, match="missing column"):
        read_unreliable_csv(path)


def test_a_region_span_covers_only_what_that_region_shows(tmp_path):
    path = tmp_path / "u.csv"
    path.write_text("video,start,end,reason,region\nv,10,20,hand over the mouth,mouth\nv,30,40,hand,\n")
    spans = read_unreliable_csv(path)["v"]
    assert spans == [UnreliableSpan(10, 20, "hand over the mouth", "mouth"), UnreliableSpan(30, 40, "hand")]
    brows, smile = Interval(12, 30, "mae", aus=(1, 2)), Interval(15, 30, "mae", aus=(1, 12))
    unnamed, before = Interval(20, 25, "me"), Interval(9, 25, "mae", aus=(12,))
    assert starting_inside([brows, smile, unnamed, before], spans) == [smile, unnamed]
    assert starting_inside([Interval(30, 31, "me", aus=(1,))], spans)  # a whole-face span hides everything
    write_unreliable_csv(path, {"v": spans})
    assert read_unreliable_csv(path) == {"v": spans}
    # A file from before the column still reads (whole-face spans); a misspelt region is named.
    path.write_text("video,start,end,reason\nv,1,2,hand\n")
    assert read_unreliable_csv(path) == {"v": [UnreliableSpan(1, 2, "hand")]}
    path.write_text("video,start,end,reason,region\nv,1,2,hand,eyes\n")
    with pytest.raises(LabelFormatError, match=r"row 2, column 'region'.*'eyes'.*eye or mouth"):
        read_unreliable_csv(path)


def test_the_region_names_are_the_spotters_and_the_aus_fall_where_its_prototypes_do():
    from napari_mespot.core.face.regions import EYE, MOUTH
    from napari_mespot.core.labels.aus import REGION_AUS
    from napari_mespot.core.spotters.prototype import default_prototypes

    assert set(REGION_AUS) == {EYE.name, MOUTH.name} and not REGION_AUS["eye"] & REGION_AUS["mouth"]
    for p in default_prototypes("robust").prototypes:
        assert p.au in REGION_AUS[p.region], p.label


def _real_files(tmp_path: Path, names: list[str]) -> tuple[Path, Path, Path]:
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in names:
        (videos / name).write_bytes(b"")
    labels = tmp_path / "labels.csv"
    write_labels(labels, Labels({"clip.mp4": VideoIntervals("clip.mp4", (Interval(3, 40, "mae"),), 24.0),
                                 "other": VideoIntervals("other", (Interval(1, 9, "me"),), 30.0)}))
    spans = tmp_path / "unreliable.csv"
    write_unreliable_csv(spans, {"clip.mp4": [UnreliableSpan(10, 20, "occlusion")],
                                 "empty.mp4": [UnreliableSpan(0, 50, "out_of_frame")]})
    return labels, spans, videos


def test_the_real_set_takes_labelled_and_unreliable_videos_by_name_or_stem(tmp_path):
    labels, spans, videos = _real_files(tmp_path, ["clip.mp4", "other.mov", "empty.mp4", "notes.txt"])
    found = real_set(Protocol(real_labels=labels, real_unreliable=spans, real_videos=videos))
    assert not found.skipped
    assert found.videos == {"clip.mp4": videos / "clip.mp4", "other": videos / "other.mov",
                            "empty.mp4": videos / "empty.mp4"}
    assert sorted(found.truth) == ["clip.mp4", "other"]
    assert found.unreliable["empty.mp4"] == [UnreliableSpan(0, 50, "out_of_frame")]


def test_the_real_set_says_why_it_is_skipped(tmp_path):
    labels, spans, videos = _real_files(tmp_path, ["clip.mp4"])
    missing = real_set(Protocol(real_labels=labels, real_unreliable=spans, real_videos=videos))
    assert "'empty.mp4', 'other'" in missing.skipped
    assert not missing.videos
    absent = real_set(Protocol(real_labels=tmp_path / "nope.csv", real_videos=videos))
    assert absent.skipped == f"{tmp_path / 'nope.csv'} not found"


def test_the_table_reports_f1_the_drop_and_starts_in_unreliable_spans():
    gt1 = {"g1": VideoIntervals("g1", (Interval(10, 20, "me"), Interval(40, 80, "mae")), 30.0)}
    gt2 = {"g2": VideoIntervals("g2", (Interval(10, 20, "me"), Interval(40, 80, "mae")), 30.0)}
    sets = {"gen1": EvalSet("gen1", {"g1": Path("g1.mp4")}, gt1),
            "gen2": EvalSet("gen2", {"g2": Path("g2.mp4")}, gt2, {"g2": [UnreliableSpan(100, 120)]}),
            "real": EvalSet("real", skipped="not here")}
    # gen1: both found (F1 1); gen2: the MaE found, the ME missed, two false alarms in the
    # unreliable span and one outside: TP 1, pred 4, GT 2 -> F1 = 2/6.
    pred = {"gen1": {"g1": [Interval(10, 20, "me"), Interval(40, 80, "mae")]},
            "gen2": {"g2": [Interval(41, 80, "mae"), Interval(100, 104, "me"), Interval(120, 140, "mae"),
                            Interval(121, 125, "me")]}}
    outcome = Outcome("tiny", sets, predictions={"s": pred},
                      scores={"s": {n: evaluate(sets[n].truth, pred[n]) for n in ("gen1", "gen2")}})
    assert outcome.in_unreliable("s", "gen2") == 2
    assert outcome.in_unreliable("s", "gen1") is None
    table = format_tables(outcome)
    row = next(line for line in table.splitlines() if line.startswith("| s |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "1.00 / 1.00 / 1.00"
    assert cells[2] == "0.33 / 0.00 / 0.67"  # ME: 0 of 1 GT, 2 pred; MaE: 1 TP of 1 GT, 2 pred
    assert cells[4] == "**+0.67**"
    assert cells[6] == "2 / –"
    assert "skipped: not here" in table


def test_a_type_without_ground_truth_shows_its_false_positives():
    from napari_mespot.core.reproduce.crossdomain import _f1s

    truth = {"v": VideoIntervals("v", (Interval(0, 40, "mae"),), 24.0)}
    ev = evaluate(truth, {"v": [Interval(0, 40, "mae"), Interval(50, 55, "me")]})
    assert _f1s(ev) == "0.67 / – (1 FP) / 1.00"


@pytest.mark.slow
def test_a_small_protocol_runs_end_to_end_and_reuses_its_videos(tmp_path):
    protocol = Protocol(
        gen1_count=1, gen1=SynthSettings(duration_s=8.0, size=(320, 240), n_me=1, n_mae=1),
        gen2_count=1, gen2=WarpedSettings(duration_s=8.0, size=(320, 240), n_me=1, n_mae=1),
        gen2_fast_count=0, spotters=("prototype fast",))
    outcome = run_to_end(run(protocol, tmp_path))
    assert sorted(outcome.scores["prototype fast"]) == ["gen1", "gen2"]
    assert outcome.sets["real"].skipped
    for name in ("gen1", "gen2"):
        assert outcome.scores["prototype fast"][name].overall.n_gt == 2
    folders = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and p.name.startswith("gen"))
    assert len(folders) == 2 and not any(f.endswith(".partial") for f in folders)
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("gen*/*.mp4")}
    again = run_to_end(run(replace(protocol, spotters=()), tmp_path))
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("gen*/*.mp4")} == stamps
    assert again.seconds["generate"] < outcome.seconds["generate"]
    assert "| prototype fast |" in format_tables(outcome)
