"""Events: copies of one expression from several runs are reviewed once and exported once."""

from __future__ import annotations

import pytest

from napari_mespot.cli import main
from napari_mespot.core.intervals import Interval
from napari_mespot.core.labels import read_labels
from napari_mespot.core.review.events import EventIndex, group_events
from napari_mespot.core.review.export import OverlapError, export_corrected, overlapping_kept
from napari_mespot.core.review.model import DUPLICATE_OF, ReviewError, ReviewModel
from napari_mespot.core.review.session import ReviewSession


def _run(name: str, *spans: tuple[int, int, str]) -> list[Interval]:
    return [Interval(on, off, kind, source=name, id=f"{name}-{on}") for on, off, kind in spans]


@pytest.fixture
def model() -> ReviewModel:
    """Three runs on one smile (the issue's 587–602, 590–597, 591–597), plus lone candidates."""
    m = ReviewModel(fps=30, n_frames=1000)
    m.add_track("a", _run("a", (100, 110, "me"), (587, 602, "mae")), run="a")
    m.add_track("b", _run("b", (590, 597, "me"), (800, 810, "me")), run="b")
    m.add_track("c", _run("c", (591, 597, "me"), (106, 120, "me")), run="c")
    return m


def _spans(event) -> list[tuple[str, int, int]]:
    return [(track, iv.onset, iv.offset) for track, iv in event.members]


def test_copies_that_chain_by_iou_form_one_event(model):
    # IoU on inclusive frames: a 587–602 (16 frames) vs b 590–597 (8): 8 shared / 16 = 0.5 → linked
    # (the threshold is inclusive); a vs c 591–597 (7): 7 / 16 = 0.4375 → not linked directly;
    # b vs c: 7 / 8 = 0.875 → linked. So a–b–c is one component. a 100–110 vs c 106–120:
    # 5 shared / (11 + 15 − 5) = 5/21 ≈ 0.24 → two events.
    index = EventIndex(model)
    assert [_spans(e) for e in index.events] == [
        [("a", 100, 110)],
        [("c", 106, 120)],
        [("a", 587, 602), ("b", 590, 597), ("c", 591, 597)],
        [("b", 800, 810)],
    ]
    smile = index.events[2]
    assert (smile.onset, smile.offset) == (587, 602)
    assert index.event_of("c", "c-591") is smile and index.event_of("b", "b-800") is index.events[3]
    assert index.event_of("a", "nope") is None


def test_a_stricter_iou_splits_the_chain(model):
    # At 0.6 the 0.5 link a–b breaks; b–c (0.875) holds.
    index = EventIndex(model, min_iou=0.6)
    assert [("a", 587, 602)] in [_spans(e) for e in index.events]
    assert [("b", 590, 597), ("c", 591, 597)] in [_spans(e) for e in index.events]
    with pytest.raises(ReviewError, match="IoU"):
        group_events([], 0.0)


def test_grouping_ignores_the_type_the_runs_gave():
    # 16 frames at 30 fps is a MaE by duration, 15 an ME: the same movement typed both ways.
    events = group_events([("a", Interval(10, 25, "mae", id="x")), ("b", Interval(11, 25, "me", id="y"))])
    assert len(events) == 1 and len(events[0].members) == 2


def test_the_representative_is_the_copy_that_agrees_best(model):
    # Summed IoU with the others: a 0.5 + 0.4375 = 0.9375; b 0.5 + 0.875 = 1.375; c 0.4375 + 0.875 = 1.3125.
    smile = EventIndex(model).events[2]
    assert smile.representative()[0] == "b"


def test_stepping_visits_each_event_once_and_skips_settled_ones(model):
    index = EventIndex(model)
    onsets, frame = [], -1
    while (event := index.next_event(frame)) is not None:
        onsets.append(event.onset)
        frame = event.onset
    assert onsets == [100, 106, 587, 800]  # six candidates, four events
    index.accept("c", "c-591")
    assert index.next_event(110).onset == 800  # the smile is settled
    assert index.next_event(110, unsettled_only=False).onset == 587
    assert index.next_event(800, step=-1).onset == 106


def test_accepting_one_copy_rejects_the_others_in_one_undoable_edit(model):
    index = EventIndex(model)
    n_log = len(model.log)
    kept = index.accept("b", "b-590")
    assert kept.status == "accepted" and kept.get_extra("origin") == "b/b-590"
    for track, iv_id in (("a", "a-587"), ("c", "c-591")):
        settled = model.decision_for(track, iv_id)
        assert settled.status == "rejected" and settled.get_extra(DUPLICATE_OF) == "b/b-590"
        assert model.find(track, iv_id).status == "candidate"  # machine output untouched
    assert len(model.log) == n_log + 1 and len(model.log[-1].changes) == 3
    assert [iv.onset for iv in model.kept()] == [590]
    assert model.undo()
    assert len(model.corrected) == 0 and not index.is_settled(index.event_of("b", "b-590"))
    assert model.redo()
    assert len(model.corrected) == 3


def test_a_copy_already_decided_keeps_its_decision(model):
    model.edit("a", "a-587", onset=590, type="me")  # the annotator corrected one copy by hand
    EventIndex(model).accept("c", "c-591")
    assert model.decision_for("a", "a-587").status == "edited"
    assert model.decision_for("b", "b-590").status == "rejected"
    # ... and the export names the two kept copies that now overlap
    assert [(x.onset, y.onset) for x, y in overlapping_kept(model.corrected)] == [(590, 591)]


def test_deciding_on_a_settled_copy_clears_duplicate_of(model):
    EventIndex(model).accept("b", "b-590")
    again = model.accept("a", "a-587")
    assert again.status == "accepted" and again.get_extra(DUPLICATE_OF) == ""
    edited = model.edit("c", "c-591", note="separate blink")
    assert edited.get_extra(DUPLICATE_OF) == ""


def test_the_settling_edit_survives_a_reopen(model, tmp_path):
    from napari_mespot.core.media.source import VideoIdentity

    identity = VideoIdentity(path="clip.mp4", size_bytes=1, n_frames=1000, content_hash="0" * 64)
    session = ReviewSession(tmp_path / "clip.mp4.mespot.json", identity, model)
    EventIndex(model).accept("b", "b-590")
    reopened = ReviewSession.read(session.path).model
    statuses = sorted((iv.get_extra("origin"), iv.status) for iv in reopened.corrected)
    assert statuses == [("a/a-587", "rejected"), ("b/b-590", "accepted"), ("c/c-591", "rejected")]
    assert [len(e.changes) for e in reopened.log] == [3]


def test_export_refuses_overlapping_kept_intervals_of_one_type_naming_them(model, tmp_path):
    for track, iv_id in (("a", "a-587"), ("b", "b-590"), ("c", "c-591"), ("a", "a-100"), ("c", "c-106")):
        model.accept(track, iv_id)  # candidate by candidate, as before events
    out = tmp_path / "labels.csv"
    with pytest.raises(OverlapError) as caught:
        export_corrected(model, out, "clip")
    # MaE 587–602 overlaps the two ME copies, but only same-type pairs count: ME 590–597 with
    # ME 591–597 (7 shared frames) and ME 100–110 with ME 106–120 (5 shared frames).
    assert [(a.onset, b.onset) for a, b in caught.value.pairs] == [(100, 106), (590, 591)]
    message = str(caught.value)
    assert "100–110" in message and "106–120" in message and "7 frame(s)" in message
    assert "--allow-overlaps" in message and not out.exists()
    report = export_corrected(model, out, "clip", allow_overlaps=True)
    assert report.n_written == 5


def test_after_event_review_only_overlaps_below_the_event_iou_remain(model, tmp_path):
    index = EventIndex(model)
    for event in index.events:
        track, candidate = event.representative()
        index.accept(track, candidate.id)
    out = tmp_path / "labels.csv"
    with pytest.raises(OverlapError) as caught:
        export_corrected(model, out, "clip")
    # the smile's three copies are one kept interval now; 100–110 and 106–120 (IoU 5/21, two
    # events) still overlap, and the annotator must say whether they are one expression
    assert [(a.onset, b.onset) for a, b in caught.value.pairs] == [(100, 106)]
    model.reject("c", "c-106")
    export_corrected(model, out, "clip")
    frames = [(iv.onset, iv.offset) for iv in read_labels(out).videos["clip"].intervals]
    assert frames == [(100, 110), (590, 597), (800, 810)]


def test_cli_export_allow_overlaps(tmp_path, capsys):
    from napari_mespot.core.media.source import VideoIdentity

    m = ReviewModel(fps=30, n_frames=100)
    m.add_track("a", _run("a", (10, 20, "me")))
    m.add_track("b", _run("b", (12, 22, "me")))
    m.accept("a", "a-10")
    m.accept("b", "b-12")
    identity = VideoIdentity(path="clip.mp4", size_bytes=1, n_frames=100, content_hash="0" * 64)
    sidecar = tmp_path / "clip.mp4.mespot.json"
    ReviewSession(sidecar, identity, m).save()
    out = tmp_path / "out.csv"
    assert main(["export", str(sidecar), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "10–20" in err and "12–22" in err and not out.exists()
    assert main(["export", str(sidecar), "--out", str(out), "--allow-overlaps"]) == 0
    assert len(read_labels(out).videos["clip"].intervals) == 2
