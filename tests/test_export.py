"""Export of the corrected track (core, ``mespot export``, the dock's button), read back by the readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from napari_mespot.cli import main
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import read_labels
from napari_mespot.core.media.video import open_video
from napari_mespot.core.review.export import ExportError, export_corrected, load_session
from napari_mespot.core.review.session import ReviewSession, sidecar_path


@pytest.fixture
def session_file(fixtures_dir, tmp_path):
    """A session of a 72-frame clip: one accepted, one rejected, one edited, one added, one undecided."""
    video_path = tmp_path / "15_0101.mp4"
    video_path.write_bytes((fixtures_dir / "video" / "single_face.mp4").read_bytes())
    with open_video(video_path) as video:
        session = ReviewSession.open(video)
    model = session.model
    model.add_track(
        "prototype 1",
        [
            Interval(2, 8, "me", apex=5, aus=(4,), score=0.9, source="prototype", id="a"),
            Interval(10, 14, "me", source="prototype", id="r"),
            Interval(20, 50, "mae", apex=30, aus=(12,), source="prototype", id="e"),
            Interval(60, 66, "me", source="prototype", id="u"),
        ],
        run="prototype 1",
    )
    model.accept("prototype 1", "a")
    model.reject("prototype 1", "r")
    model.edit("prototype 1", "e", onset=22, aus=(6, 12))
    model.add(55, 58, aus=(1, 2))
    return video_path, sidecar_path(video_path)


def _frames(labels, video="15_0101"):
    return [(iv.onset, iv.offset, iv.type) for iv in labels.videos[video].intervals]


KEPT = [(2, 8, "me"), (22, 50, "mae"), (55, 58, "me")]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("out.csv", "native-csv"),
        ("out.json", "native-json"),
        ("megc.csv", "megc-csv"),
        ("out.xlsx", "cas-me2-xlsx"),
    ],
)
def test_every_format_reads_back_the_kept_intervals(session_file, tmp_path, name, fmt):
    _, sidecar = session_file
    session = load_session(sidecar)
    out = tmp_path / name
    report = export_corrected(session.model, out, "15_0101", fmt)
    assert report.n_written == 3 and report.format == fmt
    labels = read_labels(out, fmt, fps=session.model.fps)
    assert _frames(labels) == KEPT
    if fmt.startswith("native"):
        by_onset = {iv.onset: iv for iv in labels.videos["15_0101"].intervals}
        assert [by_onset[o].status for o in (2, 22, 55)] == ["accepted", "edited", "added"]
        assert by_onset[22].aus == (6, 12) and by_onset[55].aus == (1, 2)
        assert by_onset[2].score == pytest.approx(0.9)
    if fmt == "cas-me2-xlsx":
        assert [iv.aus for iv in labels.videos["15_0101"].intervals] == [(4,), (6, 12), (1, 2)]


def test_all_statuses_also_writes_rejected(session_file, tmp_path):
    model = load_session(session_file[1]).model
    out = tmp_path / "all.csv"
    export_corrected(model, out, "15_0101", all_statuses=True)
    statuses = sorted(iv.status for iv in read_labels(out).videos["15_0101"].intervals)
    assert statuses == ["accepted", "added", "edited", "rejected"]


def test_an_existing_file_is_never_replaced_without_force(session_file, tmp_path):
    model = load_session(session_file[1]).model
    out = tmp_path / "out.csv"
    out.write_text("precious\n")
    with pytest.raises(ExportError, match="already exists"):
        export_corrected(model, out, "15_0101")
    assert out.read_text() == "precious\n"
    export_corrected(model, out, "15_0101", force=True)
    assert _frames(read_labels(out)) == KEPT


def test_a_session_is_found_from_its_video(session_file):
    video_path, sidecar = session_file
    assert load_session(video_path).path == sidecar
    assert len(load_session(video_path).model.kept()) == 3


def test_cli_writes_and_reports(session_file, tmp_path, capsys):
    _, sidecar = session_file
    out = tmp_path / "sub.csv"
    assert main(["export", str(sidecar), "--out", str(out), "--format", "megc-csv"]) == 0
    assert "3 interval(s)" in capsys.readouterr().out
    assert _frames(read_labels(out, fps=30.0)) == KEPT
    assert main(["export", str(sidecar), "--out", str(out), "--format", "megc-csv"]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--force" in err
    assert main(["export", str(sidecar), "--out", str(out), "--all-statuses", "--force"]) == 0
    assert len(read_labels(out).videos["15_0101"].intervals) == 4


def test_cli_video_name_option(session_file, tmp_path, capsys):
    video_path, _ = session_file
    out = tmp_path / "named.csv"
    assert main(["export", str(video_path), "--out", str(out), "--video-name", "s15/clip"]) == 0
    assert list(read_labels(out).videos) == ["s15/clip"]


def test_cli_help_names_every_writable_format():
    from napari_mespot.commands.export import FORMATS_HELP
    from napari_mespot.core.review.export import EXPORT_FORMATS

    assert sorted(FORMATS_HELP.replace(" or ", ", ").split(", ")) == sorted(EXPORT_FORMATS)


def _cli_error(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("mespot export: error: ") and err.count("\n") == 1, err
    return err


def test_cli_user_errors_are_one_line(session_file, tmp_path, capsys):
    video_path, sidecar = session_file
    assert "no such session" in _cli_error(["export", str(tmp_path / "nope.json"), "--out", "x.csv"], capsys)
    damaged = tmp_path / "damaged.mespot.json"
    damaged.write_text('{"format": "napari-mespot session", "version": 1, "video": ')
    assert "damaged" in _cli_error(["export", str(damaged), "--out", str(tmp_path / "d.csv")], capsys)
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    assert "not a napari-mespot session" in _cli_error(["export", str(other), "--out", "o.csv"], capsys)
    assert "extension" in _cli_error(["export", str(sidecar), "--out", str(tmp_path / "out.txt")], capsys)
    assert "unknown label format" in _cli_error(
        ["export", str(sidecar), "--out", str(tmp_path / "o.csv"), "--format", "csv"], capsys
    )
    assert "can be read but not written" in _cli_error(
        ["export", str(sidecar), "--out", str(tmp_path / "o.xlsx"), "--format", "samm-lv-xlsx"], capsys
    )
    assert "15_0101" in _cli_error(
        ["export", str(sidecar), "--out", str(tmp_path / "x.xlsx"), "--video-name", "clip"], capsys
    )
    assert not (tmp_path / "x.xlsx").exists()
    fresh = tmp_path / "fresh.mp4"
    fresh.write_bytes(video_path.read_bytes()[:-1] + b"\0")
    assert "no review session" in _cli_error(["export", str(fresh), "--out", str(tmp_path / "f.csv")], capsys)


@pytest.mark.gui
def test_the_dock_button_exports_and_refuses_to_overwrite(
    make_napari_viewer_proxy, qtbot, tmp_path, monkeypatch
):
    from qtpy.QtCore import Qt

    from napari_mespot._widgets.export_panel import ExportWidget
    from napari_mespot._widgets.video_review import review_for

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    viewer = make_napari_viewer_proxy()
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    model = review_for(layer).model
    model.add_track("prototype 1", [Interval(300, 320, "me", source="prototype", id="c")], run="prototype 1")
    model.accept("prototype 1", "c")
    model.add(500, 560, type="mae")
    widget = ExportWidget(viewer)
    assert widget.video_name.text() == "synthetic_face"
    widget.format.setCurrentIndex(widget.format.findData("native-json"))
    # the sample's session lives in the user's hidden data folder; its export default does not
    assert Path(widget.path.text()) == tmp_path / "home" / "synthetic_face.corrected.json"
    out = tmp_path / "labels.csv"
    widget.format.setCurrentIndex(widget.format.findData("megc-csv"))
    widget.path.setText(str(out))
    qtbot.mouseClick(widget.button, Qt.MouseButton.LeftButton)
    assert _frames(read_labels(out, fps=30.0), "synthetic_face") == [(300, 320, "me"), (500, 560, "mae")]
    out.write_text("precious\n")
    qtbot.mouseClick(widget.button, Qt.MouseButton.LeftButton)
    assert "already exists" in widget.result.text() and out.read_text() == "precious\n"
    widget.overwrite.setChecked(True)
    widget.format.setCurrentIndex(widget.format.findData("native-csv"))
    assert widget.path.text() == str(out)
    qtbot.mouseClick(widget.button, Qt.MouseButton.LeftButton)
    assert [iv.status for iv in read_labels(out).videos["synthetic_face"].intervals] == ["accepted", "added"]
