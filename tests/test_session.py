"""The session sidecar: autosaved, restored on reopening, safe against a killed process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.media.video import open_video
from napari_mespot.core.review.session import ReviewSession, SessionError, sidecar_path


@pytest.fixture
def video_copy(fixtures_dir, tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes((fixtures_dir / "video" / "single_face.mp4").read_bytes())
    return path


def test_edits_are_restored_when_the_video_is_reopened(video_copy):
    with open_video(video_copy) as video:
        session = ReviewSession.open(video)
        session.model.add_track("prototype", [Interval(10, 20, "me", source="prototype", id="c1")])
        accepted = session.model.accept("prototype", "c1")
        added = session.model.add(40, 60, aus=(12,))
    assert sidecar_path(video_copy).name == "clip.mp4.mespot.json"
    with open_video(video_copy) as video:
        restored = ReviewSession.open(video).model
    assert restored.corrected.intervals == {accepted.id: accepted, added.id: added}
    assert restored.find("prototype", "c1").status == "candidate"
    assert [e.action for e in restored.log] == ["accept", "add"]


def test_undo_and_redo_survive_a_reopen(video_copy):
    with open_video(video_copy) as video:
        model = ReviewSession.open(video).model
        model.add_track("prototype", [Interval(10, 20, "me", source="prototype", id="c1")])
        model.accept("prototype", "c1")
        model.edit("prototype", "c1", offset=25)
        added = model.add(40, 60)
        model.undo()  # the add: now on the redo stack
    with open_video(video_copy) as video:
        restored = ReviewSession.open(video).model
    assert restored.redo() and restored.corrected.intervals[added.id] == added
    assert restored.undo() and restored.undo()  # the add, then the edit
    assert restored.decision_for("prototype", "c1").offset == 20
    assert restored.undo() and restored.decision_for("prototype", "c1") is None
    assert not restored.undo()  # nothing before the accept


def test_a_version_1_sidecar_opens_with_its_history_replayed(video_copy):
    with open_video(video_copy) as video:
        model = ReviewSession.open(video).model
        first = model.add(1, 5)
        second = model.add(10, 15)
        model.undo()
        model.redo()
        model.undo()
    sidecar = sidecar_path(video_copy)
    data = json.loads(sidecar.read_text())
    for key in ("undo", "redo"):
        del data[key]  # what version 1 wrote: the log alone
    sidecar.write_text(json.dumps({**data, "version": 1}))
    with open_video(video_copy) as video:
        restored = ReviewSession.open(video).model
    assert restored.redo() and second.id in restored.corrected.intervals
    assert restored.undo() and restored.undo()
    assert first.id not in restored.corrected.intervals and not restored.undo()


def test_undo_positions_outside_the_log_are_a_damaged_session(video_copy):
    with open_video(video_copy) as video:
        ReviewSession.open(video).model.add(1, 5)
    sidecar = sidecar_path(video_copy)
    sidecar.write_text(sidecar.read_text().replace('"undo": [\n  0\n ]', '"undo": [7]'))
    with open_video(video_copy) as video, pytest.raises(SessionError, match=r"positions \[7\] are not in"):
        ReviewSession.open(video)


def test_a_moved_video_keeps_its_session(video_copy, tmp_path):
    with open_video(video_copy) as video:
        ReviewSession.open(video).model.add(1, 5)
    moved = tmp_path / "moved" / "clip.mp4"
    moved.parent.mkdir()
    video_copy.rename(moved)
    sidecar_path(video_copy).rename(sidecar_path(moved))
    with open_video(moved) as video:
        assert len(ReviewSession.open(video).model.corrected) == 1


def test_a_session_of_another_video_is_refused(video_copy, fixtures_dir):
    with open_video(video_copy) as video:
        ReviewSession.open(video).model.add(1, 5)
    with (
        open_video(fixtures_dir / "video" / "no_face.mp4") as other,
        pytest.raises(SessionError, match="belongs to another video"),
    ):
        ReviewSession.open(other, path=sidecar_path(video_copy))


def test_a_damaged_sidecar_is_reported_and_left_untouched(video_copy):
    sidecar = sidecar_path(video_copy)
    sidecar.write_text('{"format": "napari-mespot session", "version": 1, "tracks": [')
    before = sidecar.read_bytes()
    with open_video(video_copy) as video, pytest.raises(SessionError, match=r"damaged .*line 1"):
        ReviewSession.open(video)
    assert sidecar.read_bytes() == before


def test_a_newer_version_is_refused(video_copy):
    sidecar_path(video_copy).write_text(json.dumps({"format": "napari-mespot session", "version": 99}))
    with open_video(video_copy) as video, pytest.raises(SessionError, match="newer napari-mespot"):
        ReviewSession.open(video)


@pytest.mark.slow
def test_killing_the_process_loses_no_acknowledged_edit(video_copy):
    """A child edits and prints an acknowledgement after each edit returns; we kill it mid-way."""
    child = textwrap.dedent(
        f"""
        import sys, time
        from napari_mespot.core.review.session import ReviewSession
        from napari_mespot.core.media.video import open_video
        session = ReviewSession.open(open_video({str(video_copy)!r}))
        for i in range(1000):
            iv = session.model.add(i % 60, i % 60 + 3, note=f"edit {{i}}")
            print(iv.note, flush=True)
            time.sleep(0.002)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True)
    acknowledged = []
    for line in proc.stdout:
        acknowledged.append(line.strip())
        if len(acknowledged) == 40:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with open_video(video_copy) as video:
        notes = {iv.note for iv in ReviewSession.open(video).model.corrected}
    missing = [note for note in acknowledged if note not in notes]
    assert not missing, f"acknowledged edits lost after the kill: {missing}"


def test_a_read_only_folder_puts_the_session_in_the_user_data_dir(video_copy, tmp_path, monkeypatch):
    """The folder's permission answer is faked: chmod does not stop root, who runs CI."""
    import napari_mespot.core.review.session as session_module

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(session_module, "is_writable_dir", lambda path: Path(path) != video_copy.parent)
    with open_video(video_copy) as video:
        ReviewSession.open(video).model.add(1, 5)
    assert not sidecar_path(video_copy).exists()
    with open_video(video_copy) as video:
        session = ReviewSession.open(video)
    assert session.path.is_relative_to(tmp_path / "data" / "napari-mespot" / "sessions")
    assert len(session.model.corrected) == 1
