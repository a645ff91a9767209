"""The prototype file: round trip, layout (2×h×w float32, no pickles) and clear errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_mespot.core.spotters.prototype import Prototype, PrototypeError, PrototypeSet
from napari_mespot.core.spotters.prototype.prototypes import AU_REGIONS, PAPER_AUS


def _set() -> PrototypeSet:
    rng = np.random.default_rng(0)
    return PrototypeSet(
        (
            Prototype(1, "eye", rng.normal(size=(240, 280, 2)).astype(np.float32), 12, 40.5),
            Prototype(12, "mouth", rng.normal(size=(160, 260, 2)).astype(np.float32), 30, None),
        ),
        flow_method="dis",
        flow_params={"preset": "fast"},
        head_motion=True,
        provenance={"source": "unit test", "seeds": [1, 2]},
        calibration={"rule": "by hand"},
    )


def test_round_trip(tmp_path):
    original = _set()
    path = original.save(tmp_path / "p.npz")
    loaded = PrototypeSet.load(path)
    assert loaded.aus == (1, 12)
    for a, b in zip(original.prototypes, loaded.prototypes, strict=True):
        assert (a.au, a.region, a.count, a.threshold) == (b.au, b.region, b.count, b.threshold)
        assert b.field.dtype == np.float32 and np.array_equal(a.field, b.field)
    assert loaded.regions == original.regions
    assert (loaded.flow_method, dict(loaded.flow_params), loaded.head_motion) == (
        "dis",
        {"preset": "fast"},
        True,
    )
    assert loaded.provenance == {"source": "unit test", "seeds": [1, 2]}
    assert loaded.calibration == {"rule": "by hand"}
    assert np.isnan(loaded.thresholds()[1]) and loaded.thresholds()[0] == 40.5


def test_layout_is_plain_arrays(tmp_path):
    path = _set().save(tmp_path / "p.npz")
    with np.load(path, allow_pickle=False) as data:
        assert data["field_AU1"].shape == (2, 240, 280) and data["field_AU1"].dtype == np.float32
        assert data["field_AU12"].shape == (2, 160, 260)
        # x component first: the stored plane 0 is the field's [..., 0].
        assert np.array_equal(data["field_AU12"][0], _set()[12].field[..., 0])
        meta = json.loads(str(data["meta"]))
    assert meta["format_version"] == 1 and meta["prototypes"][0]["count"] == 12


def test_with_thresholds_and_select():
    s = _set().with_thresholds({12: 7.0}, {"rule": "test"})
    assert s[12].threshold == 7.0 and s[1].threshold == 40.5 and s.calibration == {"rule": "test"}
    assert s.select([12]).aus == (12,)
    with pytest.raises(PrototypeError, match="AUs without a prototype"):
        s.with_thresholds({4: 1.0})


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(PrototypeError, match="no such prototype file"):
        PrototypeSet.load(tmp_path / "missing.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(PrototypeError, match="not a prototype file"):
        PrototypeSet.load(junk)
    path = _set().save(tmp_path / "p.npz")
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    meta["format_version"] = 99
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp_path / "future.npz", **arrays)
    with pytest.raises(PrototypeError, match="format 99"):
        PrototypeSet.load(tmp_path / "future.npz")


def test_field_shape_must_fit_its_region():
    with pytest.raises(PrototypeError, match="needs"):
        PrototypeSet((Prototype(1, "eye", np.zeros((160, 260, 2), np.float32), 1),))


def test_paper_aus_have_the_paper_regions():
    assert [AU_REGIONS[a] for a in PAPER_AUS] == ["eye"] * 4 + ["mouth"] * 4
