"""``mespot batch`` keeps results honest (issue 15, items 2, 3, 8, 11 and 13's bad model).

A result is kept under the settings that made it: a rerun with other settings refuses (or, with
``--force``, redoes) instead of relabelling. ``--workers`` below 1 is refused instead of
hanging; a faceless or too-short video is a failure with its reason; a 0-byte result is not
"done"; dask's own logging stays out of the terminal; a bad model fails before the cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from napari_mespot.core.labels import read_labels
from napari_mespot.core.media.video import open_video
from napari_mespot.core.media.writer import write_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes
from napari_mespot.jobs.batch import MANIFEST, BatchError, find_videos, run_batch

pytestmark = pytest.mark.slow


@pytest.fixture
def au12(tmp_path):
    """The shipped AU12 prototype alone: real, and quick to spot with."""
    path = tmp_path / "au12.npz"
    default_prototypes().select([12]).save(path)
    return path


@pytest.fixture
def videos(fixtures_dir, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(fixtures_dir / "video" / "single_face.mp4", folder / "face.mp4")
    return folder


def _batch(*args, timeout=300):
    cmd = [sys.executable, "-m", "napari_mespot.cli", "batch", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def test_a_rerun_with_other_settings_refuses_then_redoes_with_force(videos, au12, tmp_path):
    out = tmp_path / "out"
    options = {"prototypes": str(au12), "settings": PRESETS["paper"]}
    first = run_to_end(run_batch(find_videos(videos), out, options=options, workers=1))
    assert first.done == ["face"]
    again = run_to_end(run_batch(find_videos(videos), out, options=options, workers=1))
    assert again.skipped == ["face"] and again.done == []

    other = {"prototypes": str(au12), "settings": PRESETS["recommended"]}
    with pytest.raises(BatchError, match="other settings") as info:
        run_to_end(run_batch(find_videos(videos), out, options=other, workers=1))
    assert "--force" in str(info.value) and "face" in str(info.value)
    recorded = json.loads((out / MANIFEST).read_text())
    assert recorded["videos"]["face"]["settings"]["boundaries"] == "peak-points"  # not relabelled

    redone = run_to_end(run_batch(find_videos(videos), out, options=other, workers=1, force=True))
    assert redone.done == ["face"] and redone.skipped == []
    recorded = json.loads((out / MANIFEST).read_text())
    assert recorded["videos"]["face"]["settings"]["boundaries"] == "valleys"


def test_another_model_counts_as_other_settings(videos, au12, tmp_path):
    out = tmp_path / "out"
    run_to_end(run_batch(find_videos(videos), out, options={"prototypes": str(au12)}, workers=1))
    au4 = tmp_path / "au4.npz"
    default_prototypes().select([4]).save(au4)
    with pytest.raises(BatchError, match="other settings"):
        run_to_end(run_batch(find_videos(videos), out, options={"prototypes": str(au4)}, workers=1))


@pytest.mark.parametrize("workers", ["0", "-1"])
def test_workers_below_one_are_refused_not_a_hang(videos, tmp_path, workers):
    result = _batch(videos, "--out", tmp_path / "out", "--workers", workers, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "--workers" in result.stderr and "Traceback" not in result.stderr
    with pytest.raises(BatchError, match="workers"):
        run_to_end(run_batch(find_videos(videos), tmp_path / "out2", workers=0))


def test_faceless_and_too_short_videos_fail_with_their_reason(fixtures_dir, videos, au12, tmp_path):
    shutil.copy(fixtures_dir / "video" / "no_face.mp4", videos / "empty_room.mp4")
    with open_video(videos / "face.mp4") as clip:
        frames = np.asarray(clip[0:10])
    write_video(videos / "blink.mp4", frames, fps=30.0)
    report = run_to_end(run_batch(find_videos(videos), tmp_path / "out", options={"prototypes": str(au12)}))
    assert report.done == ["face"]
    assert sorted(report.failed) == ["blink", "empty_room"]
    assert "no face" in report.failed["empty_room"] and "50 pixels" in report.failed["empty_room"]
    assert "10 frames" in report.failed["blink"] and "50 pixels" not in report.failed["blink"]
    assert not (tmp_path / "out" / "empty_room.csv").exists()


def test_an_empty_result_file_is_not_done(videos, au12, tmp_path):
    out = tmp_path / "out"
    options = {"prototypes": str(au12)}
    run_to_end(run_batch(find_videos(videos), out, options=options, workers=1))
    (out / "face.csv").write_bytes(b"")
    report = run_to_end(run_batch(find_videos(videos), out, options=options, workers=1))
    assert report.done == ["face"] and report.skipped == []
    assert read_labels(out / "face.csv").format == "native-csv"


def test_dask_logging_stays_out_of_the_terminal(videos, au12, tmp_path):
    result = _batch(videos, "--out", tmp_path / "out", "--prototypes", au12, "--workers", 1)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "CommClosedError" not in result.stderr
    assert "Scheduler" not in result.stderr and "mespot: warning:" not in result.stderr
    assert "1 done" in result.stdout
    verbose = _batch(videos, "--out", tmp_path / "out2", "--prototypes", au12, "--workers", 1, "--verbose")
    assert verbose.returncode == 0 and "Scheduler" in verbose.stderr


def test_a_bad_model_fails_before_the_cluster_starts(videos, tmp_path):
    model = tmp_path / "truncated.npz"
    default_prototypes().save(model)
    model.write_bytes(model.read_bytes()[:500])
    result = _batch(videos, "--out", tmp_path / "out", "--model", model, "--workers", 1)
    assert result.returncode == 2
    assert str(model) in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out" / MANIFEST).exists()
