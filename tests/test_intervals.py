"""The Interval model and per-video interval sets."""

from __future__ import annotations

import json

import pytest

from napari_mespot.core.intervals import (
    Interval,
    VideoIntervals,
    iou,
    overlap,
    overlap_index,
    retype_by_duration,
    type_by_duration,
)


def test_validation():
    with pytest.raises(ValueError, match="before onset"):
        Interval(10, 9)
    with pytest.raises(ValueError, match="onset must be >= 0"):
        Interval(-1, 3)
    with pytest.raises(ValueError, match="apex"):
        Interval(0, 5, apex=6)
    with pytest.raises(ValueError, match="integer"):
        Interval(0.5, 3)
    with pytest.raises(ValueError, match="integer"):
        Interval(0, 3, apex=1.5)
    with pytest.raises(ValueError, match="type"):
        Interval(0, 3, "micro")
    with pytest.raises(ValueError, match="status"):
        Interval(0, 3, status="done")


def test_conversions_and_hashability():
    iv = Interval(3.0, 5, apex=4.0, aus=[12, 4], score=1, extra={"b": 2, "a": "x"})
    assert (iv.onset, iv.apex, iv.aus, iv.score) == (3, 4, (12, 4), 1.0)
    assert type(iv.onset) is int and type(iv.score) is float
    assert iv.extra == (("a", "x"), ("b", "2"))
    assert iv.get_extra("b") == "2" and iv.get_extra("missing") == ""
    assert len({iv, iv.evolve()}) == 1  # the id is kept, so the copy is equal
    assert iv.evolve(offset=9).offset == 9 and iv.evolve(offset=9).id == iv.id


def test_length_overlap_iou_inclusive():
    a, b = Interval(0, 9), Interval(5, 14)
    assert (a.length, overlap(a, b), iou(a, b)) == (10, 5, pytest.approx(5 / 15))
    assert overlap(Interval(0, 4), Interval(5, 9)) == 0
    assert iou(Interval(3, 3), Interval(3, 3)) == 1.0
    assert a.duration(30.0) == pytest.approx(1 / 3)


def test_overlap_index_is_relative_to_the_shorter():
    long, short = Interval(0, 99), Interval(10, 19)
    assert overlap_index(long, short) == 1.0  # contained
    assert iou(long, short) == pytest.approx(0.1)
    assert overlap_index(Interval(0, 9), Interval(7, 26)) == pytest.approx(3 / 10)


def test_type_by_duration_boundary():
    assert type_by_duration(15, 30.0) == "me"  # exactly 0.5 s
    assert type_by_duration(16, 30.0) == "mae"
    assert type_by_duration(100, 200.0) == "me"
    with pytest.raises(ValueError):
        type_by_duration(5, 0)
    ivs = retype_by_duration([Interval(0, 14, "mae", id="a"), Interval(0, 15, "me", id="b")], 30.0)
    assert [(iv.id, iv.type) for iv in ivs] == [("a", "me"), ("b", "mae")]


def test_dict_round_trip_through_json():
    iv = Interval(3, 40, "mae", 10, (4, 7), 0.25, "vovnet", "edited", "n", "4+7B", "abc", {"clip": "x_1"})
    data = json.loads(json.dumps(iv.to_dict()))
    assert Interval.from_dict(data) == iv
    assert Interval.from_dict({"onset": 1, "offset": 2}).type == "me"
    for bad in (
        {"onset": "1", "offset": 2},
        {"onset": 1, "offset": 2, "aus": 4},
        {"offset": 2},
        {"onset": 1, "offset": 2, "extra": []},
    ):
        with pytest.raises((TypeError, KeyError, ValueError)):
            Interval.from_dict(bad)


def test_video_intervals():
    vi = VideoIntervals(
        "v", (Interval(50, 60, "mae"), Interval(0, 5, "me"), Interval(20, 22, "me")), 30, "s1"
    )
    assert [iv.onset for iv in vi.intervals] == [0, 20, 50]  # kept in time order
    assert vi.fps == 30.0 and vi.counts() == {"me": 2, "mae": 1}
    assert [iv.onset for iv in vi.of_type("me")] == [0, 20]
    assert vi.retyped(fps=10.0).counts() == {"me": 1, "mae": 2}  # 6 frames at 10 fps = 0.6 s → MaE
    assert vi.retyped(fps=100.0).counts() == {"me": 3, "mae": 0}
    assert VideoIntervals.from_dict(json.loads(json.dumps(vi.to_dict()))) == vi
    with pytest.raises(ValueError, match="needs an fps"):
        VideoIntervals("v", (Interval(0, 1),)).retyped()
    with pytest.raises(ValueError, match="fps"):
        VideoIntervals("v", fps=0)
