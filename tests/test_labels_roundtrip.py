"""Round trips native ↔ MEGC CSV ↔ CAS(ME)² xlsx keep everything each format can carry."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_mespot.core.intervals import STATUSES, Interval, VideoIntervals
from napari_mespot.core.labels import Labels, format_aus, parse_au_string, read_labels, write_labels

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# printable text without control characters (xlsx cannot hold them) and without edge spaces,
# which spreadsheet cells do not keep
WORD = st.text(st.characters(categories=("L", "N", "P", "Zs"), max_codepoint=0x2FFF), max_size=12).map(
    str.strip
)


@st.composite
def intervals(draw, dataset_fields: bool) -> Interval:
    onset = draw(st.integers(0, 10_000))
    offset = onset + draw(st.integers(0, 400))
    apex = draw(st.one_of(st.none(), st.integers(onset, offset)))
    aus = tuple(sorted(draw(st.sets(st.integers(1, 99), max_size=4))))
    raw = draw(st.one_of(st.sampled_from(["", format_aus(aus), "+".join(f"L{a}B" for a in aus)]), WORD))
    values = dict(
        onset=onset, offset=offset, type=draw(st.sampled_from(["me", "mae"])), apex=apex, aus=aus, aus_raw=raw
    )
    if dataset_fields:
        extra = {k: draw(WORD) for k in ("emotion", "self_report")}
        values["extra"] = {k: v for k, v in extra.items() if v}
    else:
        values.update(
            score=draw(st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False))),
            source=draw(st.sampled_from(["gt", "prototype", "vovnet", "annotator"])),
            status=draw(st.sampled_from(STATUSES)),
            note=draw(st.text(max_size=20)),
            extra=draw(st.dictionaries(st.text(min_size=1, max_size=5), st.text(max_size=8), max_size=2)),
        )
    return Interval(**values)


@st.composite
def label_sets(draw, dataset_fields: bool = False) -> Labels:
    ids = draw(
        st.sets(
            st.tuples(st.integers(1, 40), st.sampled_from([101, 102, 401, 502, 1234])), min_size=1, max_size=4
        )
    )
    videos = {}
    for number, code in ids:
        video = f"{number:02d}_{code:04d}"
        ivs = tuple(draw(st.lists(intervals(dataset_fields), max_size=5)))
        fps = 30.0 if dataset_fields else draw(st.one_of(st.none(), st.sampled_from([23.976, 30.0, 200.0])))
        videos[video] = VideoIntervals(video, ivs, fps, f"s{number:02d}")
    return Labels(videos)


def _through(labels: Labels, name: str, fmt: str | None = None) -> Labels:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        write_labels(path, labels, fmt)
        return read_labels(path)


def _carried(labels: Labels, fields: tuple[str, ...]) -> dict[str, list[tuple]]:
    return {
        v: sorted(tuple(repr(getattr(iv, f)) for f in fields) for iv in vi.intervals)
        for v, vi in labels.videos.items()
        if vi.intervals
    }


@SETTINGS
@given(label_sets())
def test_native_csv_and_json_keep_everything(labels):
    assert _through(labels, "labels.json").videos == labels.videos
    # a CSV has one row per interval: a video without intervals has no row to live in
    assert _through(labels, "labels.csv").videos == {v: vi for v, vi in labels.videos.items() if vi.intervals}


MEGC_FIELDS = ("onset", "offset", "type")


@SETTINGS
@given(label_sets())
def test_megc_csv_keeps_frames_and_types(labels):
    back = _through(labels, "sub.csv", "megc-csv")
    assert _carried(back, MEGC_FIELDS) == _carried(labels, MEGC_FIELDS)


CAS_FIELDS = ("onset", "apex", "offset", "type", "aus")


@SETTINGS
@given(label_sets(dataset_fields=True))
def test_cas_me2_xlsx_keeps_what_it_carries(labels):
    back = _through(labels, "code_final.xlsx")
    assert _carried(back, CAS_FIELDS) == _carried(labels, CAS_FIELDS)

    def rows(ls: Labels, raw) -> list[tuple]:
        return sorted(
            (
                v,
                iv.onset,
                repr(iv.apex),
                iv.offset,
                iv.type,
                raw(iv),
                iv.get_extra("emotion"),
                iv.get_extra("self_report"),
            )
            for v, vi in ls.videos.items()
            for iv in vi.intervals
        )

    # the raw AU string is written when it says what the codes say, else the codes are
    def written(iv: Interval) -> str:
        return iv.aus_raw if iv.aus_raw and parse_au_string(iv.aus_raw) == iv.aus else format_aus(iv.aus)

    assert rows(back, lambda iv: iv.aus_raw) == rows(labels, written)
    for video, vi in back.videos.items():
        assert (vi.fps, vi.subject) == (30.0, labels.videos[video].subject)
    # a second write of what was read reproduces it exactly, clip names included
    again = _through(back, "again.xlsx")
    assert _carried(again, (*CAS_FIELDS, "aus_raw", "extra")) == _carried(
        back, (*CAS_FIELDS, "aus_raw", "extra")
    )


@SETTINGS
@given(label_sets(dataset_fields=True))
def test_chain_native_megc_cas_native(labels):
    cas = _through(_through(labels, "a.csv"), "b.xlsx")
    megc = _through(cas, "c.csv", "megc-csv")
    native = _through(megc, "d.json")
    assert _carried(native, MEGC_FIELDS) == _carried(labels, MEGC_FIELDS)
    assert _carried(cas, CAS_FIELDS) == _carried(labels, CAS_FIELDS)
