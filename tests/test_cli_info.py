"""``mespot --help`` and ``mespot info``: facts about a video, and one clear line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from napari_mespot.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "napari_mespot.cli", *args], capture_output=True, text=True, timeout=120
    )


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "info" in result.stdout


def test_info_reports_the_real_clip(fixtures_dir, capsys):
    assert main(["info", "--json", str(fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4")]) == 0
    info = json.loads(capsys.readouterr().out)
    # Facts stated in the fixtures' README: 640×360, 472 frames, 23.98 fps, H.264.
    assert (info["width"], info["height"], info["frames"], info["codec"]) == (640, 360, 472, "h264")
    assert info["fps"] == pytest.approx(23.976, abs=0.01)
    assert info["duration_s"] == pytest.approx(472 / 23.976, abs=0.05)
    assert info["keyframe_interval"]["max"] >= 1


def test_info_human_readable(fixtures_dir, capsys):
    assert main(["info", str(fixtures_dir / "video" / "face_noface.mov")]) == 0
    out = capsys.readouterr().out
    assert "169" in out and "hevc" in out and "960×540" in out


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.mp4", "no such file"),
        (lambda d: (d / "text.mp4").write_text("hello") and d / "text.mp4", "not a readable video"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "no images"),
    ],
    ids=["missing", "not-a-video", "empty-folder"],
)
def test_info_bad_input_is_one_line_and_nonzero(tmp_path, make, message):
    path = make(tmp_path)
    result = run_cli("info", str(path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and str(path) in lines[0]


def test_info_truncated_video(fixtures_dir, tmp_path):
    data = (fixtures_dir / "video" / "single_face.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    result = run_cli("info", str(cut))
    assert result.returncode == 2 and "cut.mp4" in result.stderr
    assert "Traceback" not in result.stderr
