"""``mespot spot`` over several videos keeps finished work (issue 15, item 10).

Every input and output name is checked before any video is spotted; a video that fails while
being spotted is listed with its reason, the others' intervals are written, and the exit code
is 1.
"""

from __future__ import annotations

import shutil

import pytest

from napari_mespot.core.labels import read_labels


@pytest.fixture
def folder(fixtures_dir, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("one", "two"):
        shutil.copy(fixtures_dir / "video" / "single_face.mp4", folder / f"{name}.mp4")
    shutil.copy(fixtures_dir / "video" / "no_face.mp4", folder / "empty_room.mp4")
    return folder


def _caches(folder):
    return sorted(folder.rglob("*.mespot-landmarks-*"))


@pytest.mark.slow
def test_a_failing_video_leaves_the_others_written(cli, folder, tmp_path):
    out = tmp_path / "out.csv"
    videos = [folder / "one.mp4", folder / "empty_room.mp4", folder / "two.mp4"]
    code, stdout, err = cli("spot", *videos, "--out", out)
    assert code == 1, err
    assert "Traceback" not in err
    assert "empty_room" in err and "no face" in err
    assert set(read_labels(out).videos) <= {"one", "two"}
    assert f"intervals: {out}" in stdout
    assert "one: " in stdout and "two: " in stdout  # both were spotted and summarised


def test_an_unreadable_input_is_found_before_any_spotting(cli, folder, tmp_path):
    broken = folder / "broken.mp4"
    broken.write_bytes(b"\x00" * 4000)
    code, _, err = cli("spot", folder / "one.mp4", broken, "--out", tmp_path / "out.csv")
    assert code == 2 and "broken.mp4" in err and len(err.strip().splitlines()) == 1
    assert _caches(folder) == [] and not (tmp_path / "out.csv").exists()


def test_two_videos_with_one_name_are_refused_before_any_spotting(cli, folder, tmp_path):
    other = folder / "elsewhere"
    other.mkdir()
    shutil.copy(folder / "one.mp4", other / "one.mp4")
    code, _, err = cli("spot", folder / "one.mp4", other / "one.mp4", "--out", tmp_path / "out.csv")
    assert code == 2 and "one" in err and len(err.strip().splitlines()) == 1
    assert _caches(folder) == []
