"""One output policy for every command that writes (issue 15, items 1 and 7).

No command writes onto one of its own inputs (not even with ``--force``); none replaces an
existing file without ``--force``; an output that cannot be written is one line *before* the
work starts, never a traceback after it. Each case is run as a user runs it, on real files.
"""

from __future__ import annotations

import os

import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import Labels, write_labels

SENTINEL = b"precious: hours of work\n"


@pytest.fixture
def labels(tmp_path):
    """A ground truth and a prediction in native CSV."""
    gt, pred = tmp_path / "gt.csv", tmp_path / "pred.csv"
    write_labels(gt, Labels.from_label_set({"clip": [Interval(5, 9, "me"), Interval(20, 60, "mae")]}, 30.0))
    write_labels(pred, Labels.from_label_set({"clip": [Interval(5, 10, "me")]}, 30.0))
    return gt, pred


def _landmark_caches(clip) -> list:
    return sorted(clip.parent.glob(f"{clip.name}.mespot-landmarks-*"))


def _one_line_error(code: int, err: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


# -- 1. a command never writes onto its own input -------------------------------------------------


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_spot_refuses_to_write_over_its_video(cli, clip, force):
    before = clip.read_bytes()
    code, _, err = cli("spot", clip, "--out", clip, *force)
    _one_line_error(code, err)
    assert "input" in err and str(clip) in err
    assert clip.read_bytes() == before
    assert _landmark_caches(clip) == []  # refused before any work


def test_flow_refuses_to_write_over_its_video(cli, clip):
    before = clip.read_bytes()
    code, _, err = cli("flow", clip, "--ref", 0, "--frame", 1, "--out", clip, "--force")
    _one_line_error(code, err)
    assert clip.read_bytes() == before


@pytest.mark.parametrize("target", ["gt", "pred"])
def test_eval_refuses_to_write_its_json_over_an_input(cli, labels, target):
    gt, pred = labels
    victim = gt if target == "gt" else pred
    before = victim.read_bytes()
    code, _, err = cli("eval", "--gt", gt, "--pred", pred, "--json", victim, "--force")
    _one_line_error(code, err)
    assert victim.read_bytes() == before


def test_convert_onto_its_input_is_refused_even_with_force(cli, labels):
    gt, _ = labels
    before = gt.read_bytes()
    code, _, err = cli("convert", gt, gt, "--force")
    _one_line_error(code, err)
    assert gt.read_bytes() == before


def test_export_refuses_to_write_over_its_sidecar(cli, clip_sidecar):
    before = clip_sidecar.read_bytes()
    code, _, err = cli("export", clip_sidecar, "--out", clip_sidecar, "--format", "native-json", "--force")
    _one_line_error(code, err)
    assert clip_sidecar.read_bytes() == before


# -- 1. an existing file is replaced only with --force, the same word everywhere ------------------


def _commands(clip, labels, clip_sidecar, existing, tmp_path):
    gt, pred = labels
    protos = tmp_path / "protos.npz"
    from napari_mespot.core.spotters.prototype import default_prototypes

    default_prototypes().save(protos)
    return {
        "spot": ["spot", clip, "--out", existing],
        "flow": ["flow", clip, "--ref", 0, "--frame", 1, "--out", existing],
        "eval": ["eval", "--gt", gt, "--pred", pred, "--json", existing],
        "convert": ["convert", gt, existing],
        "export": ["export", clip_sidecar, "--out", existing],
        "prototypes learn": ["prototypes", "learn", "--synthetic", 1, "--count", 1, "--out", existing],
        "prototypes calibrate": ["prototypes", "calibrate", protos, clip, "--gt", gt, "--out", existing],
        "vovnet spot": ["vovnet", "spot", clip, "--out", existing],
        "agree": ["agree", gt, pred, "--json", existing],
    }


@pytest.mark.parametrize(
    "command",
    [
        "spot",
        "flow",
        "eval",
        "convert",
        "export",
        "prototypes learn",
        "prototypes calibrate",
        "vovnet spot",
        "agree",
    ],
)
def test_an_existing_output_needs_force(cli, clip, labels, clip_sidecar, tmp_path, command):
    existing = tmp_path / "existing.csv"
    existing.write_bytes(SENTINEL)
    argv = _commands(clip, labels, clip_sidecar, existing, tmp_path)[command]
    code, _, err = cli(*argv)
    _one_line_error(code, err)
    assert "already exists" in err and "--force" in err
    assert existing.read_bytes() == SENTINEL
    assert _landmark_caches(clip) == []  # refused before any work


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_magnify_writes_neither_over_its_video_nor_over_a_clip_without_force(cli, clip, tmp_path, force):
    before = clip.read_bytes()
    code, _, err = cli("magnify", clip, "--from", 0, "--to", 5, "--out", clip, *force)
    _one_line_error(code, err)
    assert clip.read_bytes() == before
    existing = tmp_path / "magnified.mp4"
    existing.write_bytes(SENTINEL)
    code, _, err = cli("magnify", clip, "--from", 0, "--to", 5, "--out", existing)
    _one_line_error(code, err)
    assert "--force" in err and existing.read_bytes() == SENTINEL


def test_convert_replaces_with_force(cli, labels, tmp_path):
    gt, _ = labels
    out = tmp_path / "out.json"
    out.write_bytes(SENTINEL)
    code, _, err = cli("convert", gt, out, "--force")
    assert code == 0, err
    assert b"mespot-labels" in out.read_bytes()


def test_synth_and_demo_do_not_replace_existing_files(cli, tmp_path):
    folder = tmp_path / "synth"
    folder.mkdir()
    (folder / "ground_truth.csv").write_bytes(SENTINEL)
    code, _, err = cli("synth", folder, "--duration", 1, "--quiet")
    _one_line_error(code, err)
    assert "--force" in err and (folder / "ground_truth.csv").read_bytes() == SENTINEL
    assert not list(folder.glob("*.mp4"))
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "intervals.csv").write_bytes(SENTINEL)
    code, _, err = cli("demo", "--out", demo, "--quiet")
    _one_line_error(code, err)
    assert (demo / "intervals.csv").read_bytes() == SENTINEL


def test_spot_curves_do_not_replace_existing_curve_files(cli, clip, tmp_path):
    curves = tmp_path / "curves"
    curves.mkdir()
    (curves / "clip.curves.csv").write_bytes(SENTINEL)
    code, _, err = cli("spot", clip, "--out", tmp_path / "out.csv", "--curves", curves)
    _one_line_error(code, err)
    assert (curves / "clip.curves.csv").read_bytes() == SENTINEL
    assert not (tmp_path / "out.csv").exists()


# -- 7. an output that cannot be written is one line, before the work ------------------------------


def _unwritable(tmp_path, kind):
    if kind == "read-only folder":
        folder = tmp_path / "readonly"
        folder.mkdir()
        folder.chmod(0o555)
        return folder / "out.csv"
    if kind == "path under a file":
        (tmp_path / "a_file").write_text("x")
        return tmp_path / "a_file" / "out.csv"
    folder = tmp_path / "a_folder"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("kind", ["read-only folder", "path under a file", "a folder as OUT"])
def test_spot_checks_its_output_before_spotting(cli, clip, tmp_path, kind):
    out = _unwritable(tmp_path, kind)
    try:
        code, _, err = cli("spot", clip, "--out", out)
    finally:
        os.chmod(tmp_path / "readonly", 0o755) if (tmp_path / "readonly").exists() else None
    _one_line_error(code, err)
    assert str(out) in err or str(out.parent) in err
    assert _landmark_caches(clip) == []


@pytest.mark.parametrize("kind", ["read-only folder", "path under a file", "a folder as OUT"])
@pytest.mark.parametrize("command", ["flow", "eval", "convert", "export"])
def test_every_writing_command_reports_unwritable_outputs_in_one_line(
    cli, clip, labels, clip_sidecar, tmp_path, kind, command
):
    out = _unwritable(tmp_path, kind)
    argv = _commands(clip, labels, clip_sidecar, out, tmp_path)[command]
    try:
        code, _, err = cli(*argv)
    finally:
        os.chmod(tmp_path / "readonly", 0o755) if (tmp_path / "readonly").exists() else None
    _one_line_error(code, err)


def test_debug_shows_the_traceback(cli, clip):
    code, _, err = cli("--debug", "spot", clip, "--out", clip)
    assert code == 2 and "Traceback" in err and "input" in err
