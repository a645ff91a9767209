"""``mespot batch``: many videos on a dask cluster, resumable, failures isolated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from napari_mespot.core.labels import read_labels
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import Prototype, PrototypeSet
from napari_mespot.jobs.batch import MANIFEST, find_videos, plan, run_batch

pytestmark = pytest.mark.slow


@pytest.fixture
def prototypes(tmp_path):
    field = np.zeros((160, 260, 2), np.float32)
    field[40:120, 20:80] = (-0.5, -1.0)
    field[40:120, 180:240] = (0.5, -1.0)
    path = tmp_path / "au12.npz"
    PrototypeSet((Prototype(12, "mouth", field, count=1, threshold=1.0),)).save(path)
    return str(path)


def make_videos(fixtures_dir, folder, n):
    folder.mkdir()
    data = (fixtures_dir / "video" / "single_face.mp4").read_bytes()
    for k in range(n):
        (folder / f"clip{k:02d}.mp4").write_bytes(data)
    return folder


def test_a_corrupt_video_is_reported_and_the_others_finish(fixtures_dir, tmp_path, prototypes):
    videos = make_videos(fixtures_dir, tmp_path / "videos", 3)
    (videos / "broken.mp4").write_bytes(b"\x00" * 5000)
    out = tmp_path / "out"
    report = run_to_end(run_batch(find_videos(videos), out, options={"prototypes": prototypes}, workers=2))
    assert sorted(report.done) == ["clip00", "clip01", "clip02"]
    assert list(report.failed) == ["broken"] and "not a readable video" in report.failed["broken"]
    manifest = json.loads((out / MANIFEST).read_text())["videos"]
    assert manifest["broken"]["status"] == "failed" and manifest["clip01"]["status"] == "done"
    for name in report.done:
        labels = read_labels(out / f"{name}.csv")
        assert list(labels.videos) == [name]
    # Same content, same result.
    first, second = (read_labels(out / f"clip0{k}.csv").videos[f"clip0{k}"].intervals for k in (0, 1))
    assert [(iv.onset, iv.offset) for iv in first] == [(iv.onset, iv.offset) for iv in second]


def test_killed_midway_then_rerun_finishes_only_the_rest(fixtures_dir, tmp_path, prototypes):
    videos = make_videos(fixtures_dir, tmp_path / "videos", 6)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "napari_mespot.cli", "batch", str(videos), "--out", str(out)]
    cmd += ["--prototypes", prototypes, "--workers", "1"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    done_before = []
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / MANIFEST).exists():
            entries = json.loads((out / MANIFEST).read_text())["videos"]
            done_before = [k for k, v in entries.items() if v["status"] == "done"]
            if len(done_before) >= 2:
                break
        time.sleep(0.2)
    assert proc.poll() is None, "the batch finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 2 <= len(done_before) < 6

    report = run_to_end(run_batch(find_videos(videos), out, options={"prototypes": prototypes}, workers=1))
    assert set(report.skipped) >= set(done_before)
    assert sorted(report.skipped + report.done) == [f"clip{k:02d}" for k in range(6)]
    assert not set(report.done) & set(report.skipped)
    for k in range(6):
        assert read_labels(out / f"clip{k:02d}.csv").videos  # every file whole and readable


def test_settings_are_resolved_once_as_mespot_spot_would(tmp_path, capsys):
    """A batch spots with the method's default preset, as ``mespot spot`` does; a preset or a
    field it does not have fails before any video is sent."""
    from dataclasses import replace

    from napari_mespot.cli import main
    from napari_mespot.core.spotters.prototype import PRESETS
    from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET
    from napari_mespot.jobs.batch import BatchError, job_settings

    assert job_settings("prototype", {}) == PRESETS[DEFAULT_PRESET]
    assert job_settings("prototype", {"preset": "fast"}) == PRESETS["fast"]
    one_thread = replace(PRESETS[DEFAULT_PRESET], threads=1)
    assert job_settings("prototype", {"settings": {"threads": 1}}) == one_thread
    given = replace(PRESETS["paper"], window_s=5.0)
    assert job_settings("prototype", {"settings": given}) is given
    with pytest.raises(BatchError, match="no preset 'nope'"):
        job_settings("prototype", {"preset": "nope"})
    with pytest.raises(BatchError, match=r"no setting\(s\) \['bogus'\]"):
        job_settings("prototype", {"settings": {"bogus": 1}})
    (tmp_path / "a.mp4").write_bytes(b"")
    assert main(["batch", str(tmp_path), "--out", str(tmp_path / "out"), "--preset", "nope"]) != 0
    assert "no preset 'nope'" in capsys.readouterr().err
    assert not (tmp_path / "out" / MANIFEST).exists()


def test_names_stay_unique_and_lists_are_read(tmp_path):
    a, b = tmp_path / "s1" / "EP01.mp4", tmp_path / "s2" / "EP01.mp4"
    jobs = plan([a, b], tmp_path / "out")
    assert [j.name for j in jobs] == ["s1_EP01", "s2_EP01"]
    listing = tmp_path / "videos.txt"
    listing.write_text("# my videos\ns1/EP01.mp4\n\n/abs/other.mov  # absolute\n")
    assert find_videos(listing) == [tmp_path / "s1" / "EP01.mp4", Path("/abs/other.mov")]
