"""Every number a user gives is checked at the boundary (issue 15, items 4, 5, 6, 12 and 13).

CLI options, flow parameters, model files, checkpoints and review sidecars: a non-finite or
out-of-range number is one line naming the option, file or field and the valid range, never a
traceback, a segfault or a silently changed result. Damaged caches are rebuilt, damaged models
are one line, and the messages say what is true.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from napari_mespot.core.media.samples import SYNTHETIC_VIDEO, sample_path
from napari_mespot.core.media.video import open_video
from napari_mespot.core.media.writer import write_video
from napari_mespot.core.spotters.prototype import default_prototypes


def _one_line(code, err, *words):
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2, err  # argparse adds its usage
    message = err.strip().splitlines()[-1]
    for word in words:
        assert word in message, message
    return message


def _mespot(*args, timeout=120):
    cmd = [sys.executable, "-m", "napari_mespot.cli", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# -- 4. flow parameters ---------------------------------------------------------------------------


def test_a_negative_winsize_is_an_error_not_a_segfault(clip, tmp_path):
    out = tmp_path / "f.npy"
    result = _mespot("flow", clip, "--ref", 0, "--frame", 1, "--param", "winsize=-3", "--out", out)
    _one_line(result.returncode, result.stderr, "winsize")
    assert not out.exists()


@pytest.mark.parametrize(
    ("method", "param"),
    [
        ("farneback", "winsize=0"),
        ("farneback", "winsize=abc"),
        ("farneback", "winsize=7.5"),
        ("farneback", "pyr_scale=2"),
        ("farneback", "pyr_scale=nan"),
        ("farneback", "levels=-1"),
        ("farneback", "iterations=0"),
        ("farneback", "poly_sigma=0"),
        ("dis", "preset=99"),
        ("tvl1", "nscales=0"),
        ("tvl1", "scale_step=1.5"),
        ("tvl1", "theta=0"),
        ("tvl1", "median_filtering=4"),
    ],
)
def test_flow_parameters_are_checked_with_their_range(cli, clip, tmp_path, method, param):
    out = tmp_path / "f.npy"
    argv = ["flow", clip, "--method", method, "--ref", 0, "--frame", 1, "--param", param, "--out", out]
    code, _, err = cli(*argv)
    _one_line(code, err, param.split("=")[0])
    assert not out.exists()


def test_learnt_prototypes_take_the_same_checks(cli, tmp_path):
    code, _, err = cli(
        "prototypes", "learn", "--synthetic", 1, "--flow-param", "winsize=0", "--out", tmp_path / "p.npz"
    )
    _one_line(code, err, "winsize")


# -- 5. VoVNet on a clip of a few frames ----------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("n", [1, 3])
def test_vovnet_on_a_clip_of_a_few_frames(cli, tmp_path, n):
    with open_video(sample_path(SYNTHETIC_VIDEO)) as sample:
        frames = np.asarray(sample[0:n])
    clip = write_video(tmp_path / f"short{n}.mp4", frames, fps=30.0)
    out = tmp_path / "out.csv"
    code, _, err = cli("spot", "--method", "vovnet", clip, "--out", out)
    assert "Traceback" not in err
    if code == 0:
        from napari_mespot.core.labels import read_labels

        videos = read_labels(out).videos
        assert all(iv.offset < n for iv in (videos[clip.stem].intervals if clip.stem in videos else ()))
    else:
        assert code == 1 and f"short{n}" in err and "frames" in err


# -- 6. damaged caches and models -----------------------------------------------------------------


@pytest.mark.slow
def test_a_truncated_landmark_cache_is_reported_once_deleted_and_rebuilt(cli, clip):
    assert cli("landmarks", "-q", clip)[0] == 0
    (cache,) = clip.parent.glob("clip.mp4.mespot-landmarks-*.npz")
    cache.write_bytes(cache.read_bytes()[:1000])
    code, _, err = cli("landmarks", "-q", clip)
    assert code == 0, err
    assert err.count(cache.name) == 1 and "Traceback" not in err
    with np.load(cache, allow_pickle=False) as data:  # rebuilt whole
        assert data["points"].shape[0] == 72
    code, _, err = cli("landmarks", "-q", clip)
    assert code == 0 and cache.name not in err


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_a_damaged_prototype_model_is_one_line(cli, clip, tmp_path, damage):
    model = tmp_path / "model.npz"
    if damage == "truncated":
        default_prototypes().save(model)
        model.write_bytes(model.read_bytes()[:700])
    else:
        model.write_text("AU12 0.5 0.5\n")
    code, _, err = cli("spot", clip, "--model", model, "--out", tmp_path / "out.csv")
    message = _one_line(code, err, str(model))
    assert "pickle" not in message  # item 13: a text file holds no pickled objects


def test_a_checkpoint_with_objects_is_refused_without_advice_to_unpickle(cli, clip, tmp_path):
    import argparse

    import torch

    bad = tmp_path / "objects.pt"
    torch.save({"format": "napari-mespot/vovnet", "payload": argparse.Namespace(x=1)}, bad)
    code, _, err = cli("spot", "--method", "vovnet", "--model", bad, clip, "--out", tmp_path / "o.csv")
    message = _one_line(code, err, str(bad), "objects")
    assert "weights_only" not in message and "Re-running" not in message
    assert "still be loaded" not in message and "corrupt" not in message


# -- 12. numbers in options ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-30", "0"])
def test_fps_must_be_finite_and_positive(cli, clip, tmp_path, value):
    _one_line(*cli("info", clip, "--fps", value)[::2], "--fps")
    code, _, err = cli("spot", clip, "--fps", value, "--out", tmp_path / "o.csv")
    _one_line(code, err, "--fps")


@pytest.mark.parametrize("option", ["--window", "--radius", "--delta", "--cutoff"])
@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_spot_options_must_be_finite_and_in_range(cli, clip, tmp_path, option, value):
    code, _, err = cli("spot", clip, option, value, "--out", tmp_path / "o.csv")
    _one_line(code, err, option)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1.0])
@pytest.mark.parametrize(
    "field", ["window_s", "search_radius_s", "me_max_s", "min_segment_s", "lowpass_cutoff_hz", "fusion_delta"]
)
def test_the_settings_the_dock_builds_refuse_bad_numbers(field, value):
    from napari_mespot.core.spotters.prototype import PrototypeSettings

    with pytest.raises(ValueError, match=field):
        PrototypeSettings(**{field: value})


@pytest.mark.parametrize("value", [float("nan"), 0.0, 1.5])
def test_vovnet_settings_refuse_thresholds_that_are_not_scores(value):
    from napari_mespot.core.spotters.vovnet.settings import SpotSettings

    with pytest.raises(ValueError, match="thresholds"):
        SpotSettings(thresholds={"me": value})


@pytest.mark.slow
def test_a_cutoff_at_or_above_nyquist_is_refused_not_ignored(cli, clip, tmp_path):
    code, _, err = cli("spot", clip, "--cutoff", 15, "--out", tmp_path / "o.csv")  # 30 fps: Nyquist 15 Hz
    assert code == 1 and "Nyquist" in err and "Traceback" not in err
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("where", ["field", "threshold"])
def test_a_model_with_nan_numbers_is_refused(cli, clip, tmp_path, where):
    model = tmp_path / "nan.npz"
    default_prototypes().save(model)
    with np.load(model, allow_pickle=False) as data:
        arrays = {k: np.array(data[k]) for k in data.files}
    meta = json.loads(str(arrays["meta"]))
    if where == "field":
        arrays["field_AU12"][0, 10, 10] = np.nan
    else:
        meta["prototypes"][0]["threshold"] = float("nan")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(model, **arrays)
    code, _, err = cli("spot", clip, "--model", model, "--out", tmp_path / "o.csv")
    _one_line(code, err, str(model))


@pytest.mark.parametrize(
    ("key", "value"), [("window", -5), ("window", 0), ("thresholds", {"me": "NaN", "mae": 0.5})]
)
def test_a_checkpoint_with_bad_numbers_is_refused(cli, clip, tmp_path, key, value):
    import torch

    from napari_mespot.core.spotters.vovnet import default_checkpoint_path

    blob = torch.load(default_checkpoint_path(), map_location="cpu", weights_only=True)
    config = json.loads(blob["config"])
    config[key] = value
    blob["config"] = json.dumps(config)
    bad = tmp_path / "bad.pt"
    torch.save(blob, bad)
    code, _, err = cli("spot", "--method", "vovnet", "--model", bad, clip, "--out", tmp_path / "o.csv")
    _one_line(code, err, str(bad), key.rstrip("s"))


# -- 12. sidecars ----------------------------------------------------------------------------------


def _rewrite(clip_sidecar, change):
    doc = json.loads(clip_sidecar.read_text())
    change(doc)
    clip_sidecar.write_text(json.dumps(doc))


@pytest.mark.parametrize(
    ("damage", "word"),
    [
        (lambda p: p.write_bytes(p.read_bytes().replace(b'"fps"', b'"fps\xff\xfe"')), "UTF-8"),
        (lambda p: _rewrite(p, lambda d: d.update(fps=float("nan"))), "fps"),
        (lambda p: _rewrite(p, lambda d: d.update(fps=-30)), "fps"),
        (lambda p: _rewrite(p, lambda d: d.update(version="1")), "version"),
        (lambda p: _rewrite(p, lambda d: d.update(version=1.5)), "version"),
    ],
)
def test_a_damaged_sidecar_is_one_line(cli, clip_sidecar, tmp_path, damage, word):
    damage(clip_sidecar)
    code, _, err = cli("export", clip_sidecar, "--out", tmp_path / "out.csv")
    message = _one_line(code, err, str(clip_sidecar), word)
    assert "newer" not in message


def test_an_interval_past_the_end_of_the_video_is_not_exported_silently(cli, clip_sidecar, tmp_path):
    def past_the_end(doc):
        corrected = next(t for t in doc["tracks"] if t["name"] == "corrected")
        corrected["intervals"][0]["offset"] = 500  # the clip has 72 frames

    _rewrite(clip_sidecar, past_the_end)
    code, _, err = cli("export", clip_sidecar, "--out", tmp_path / "out.csv")
    _one_line(code, err, "500", "71")
    assert not (tmp_path / "out.csv").exists()


# -- 13. words that say what is true ---------------------------------------------------------------


def test_export_names_its_own_format_option(cli, clip_sidecar, tmp_path):
    code, _, err = cli("export", clip_sidecar, "--out", tmp_path / "out.txt")
    message = _one_line(code, err, "--format")
    assert "--to" not in message


def test_the_truncated_file_warning_counts_the_frames_that_decode(fixtures_dir, tmp_path, caplog):
    source = fixtures_dir / "video" / "WolfgangLanger_Pexels.mp4"
    data = source.read_bytes()
    clip = tmp_path / "cut.mp4"
    clip.write_bytes(data[: len(data) * 2 // 3])
    with caplog.at_level("WARNING"), open_video(clip) as cut:
        n = len(cut)
        last = cut[n - 1]  # every frame the clip claims decodes
    assert last.shape == (360, 640, 3)
    (warning,) = [r.getMessage() for r in caplog.records if "truncated" in r.getMessage()]
    assert f"only {n} " in warning


def test_mediapipe_log_lines_stay_out_of_the_terminal(clip):
    result = _mespot("landmarks", "-q", "--no-cache", clip)
    assert result.returncode == 0, result.stderr
    assert "XNNPACK" not in result.stderr and "inference_feedback_manager" not in result.stderr
    assert "absl" not in result.stderr
