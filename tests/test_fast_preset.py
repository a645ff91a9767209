"""``mespot spot --preset fast``: the preset brings its own shipped prototypes (DIS flow).

The video is synthetic seed 616161, used by this file only, to run the command; no score is
asserted on it (the fast preset's F1 is measured on the held-out seed 9000 by bench_spot.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from napari_mespot.cli import main
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import default_prototypes
from napari_mespot.core.synth.generator import SynthSettings, write_synthetic_dataset

SEED = 616161
TINY = SynthSettings(duration_s=4.0, size=(320, 240), n_me=1, n_mae=0, head_shakes=False)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fast")
    return run_to_end(write_synthetic_dataset(folder, TINY, seed=SEED, count=1))[0].path


@pytest.mark.slow
def test_the_fast_preset_spots_with_the_shipped_dis_prototypes(video, tmp_path, capsys):
    out, curves = tmp_path / "out.csv", tmp_path / "curves"
    assert main(["spot", str(video), "--preset", "fast", "--out", str(out), "--curves", str(curves)]) == 0
    with np.load(curves / f"{video.stem}.curves.npz", allow_pickle=False) as data:
        assert np.allclose(data["thresholds"], default_prototypes("fast").thresholds())
        assert not np.allclose(data["thresholds"], default_prototypes().thresholds())
    assert out.read_text().startswith("video,onset,apex,offset,type,aus,score,source,status")


def test_a_flow_the_prototypes_were_not_learnt_with_is_refused(video, tmp_path, capsys):
    out = tmp_path / "out.csv"
    assert main(["spot", str(video), "--preset", "fast", "--flow", "farneback", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "learnt with dis flow, the settings ask for farneback" in err
    assert main(["spot", str(video), "--preset", "recommended", "--flow", "dis", "--out", str(out)]) == 2
    assert "learnt with farneback flow, the settings ask for dis" in capsys.readouterr().err
    assert not out.exists()
