"""The keyboard workflow on the real docks: navigate, accept, reject, edit, AUs, loop, undo/redo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QTableWidget

from napari_mespot._widgets.review_keys import SHORTCUTS, ReviewKeysWidget, actions_for
from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.video_review import review_for
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import CORRECTED

pytestmark = pytest.mark.gui

MACHINE = "prototype 1"
SHIFT, CTRL = Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier


@pytest.fixture
def docks(make_napari_viewer_proxy, qtbot):
    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    model = review_for(layer).model
    model.add_track(
        MACHINE,
        [
            Interval(60, 70, "me", apex=64, source="prototype", id="c1"),
            Interval(120, 180, "mae", apex=140, source="prototype", id="c2"),
            Interval(300, 310, "me", source="prototype", id="c3"),
        ],
        run=MACHINE,
    )
    timeline = TimelineWidget(viewer)
    panel = ReviewKeysWidget(viewer)
    viewer.window.add_dock_widget(timeline, area="bottom", name="timeline")
    viewer.window.add_dock_widget(panel, area="right", name="review")
    qtbot.waitUntil(timeline.view.isVisible)
    viewer.dims.set_current_step(0, 0)  # napari opens a stack at its middle frame
    return viewer, model, timeline.view, panel


def frame(viewer) -> int:
    return viewer.dims.current_step[0]


def test_next_accept_reject_previous(docks, qtbot):
    viewer, model, view, _ = docks
    qtbot.keyClick(view, Qt.Key.Key_N)
    assert model.selection == (MACHINE, "c1") and frame(viewer) == 60
    qtbot.keyClick(view, Qt.Key.Key_A)
    assert model.decision_for(MACHINE, "c1").status == "accepted"
    qtbot.keyClick(view, Qt.Key.Key_N)
    assert model.selection == (MACHINE, "c2") and frame(viewer) == 120
    qtbot.keyClick(view, Qt.Key.Key_R)
    assert model.decision_for(MACHINE, "c2").status == "rejected"
    qtbot.keyClick(view, Qt.Key.Key_N)
    assert model.selection == (MACHINE, "c3")
    qtbot.keyClick(view, Qt.Key.Key_N, SHIFT)  # c1 and c2 are decided: nothing unreviewed before
    assert model.selection == (MACHINE, "c3")
    assert "no unreviewed candidate before" in viewer.status
    assert [iv.status for iv in model.kept()] == ["accepted"]


def test_set_onset_apex_offset_at_the_current_frame(docks, qtbot):
    viewer, model, view, _ = docks
    qtbot.keyClick(view, Qt.Key.Key_N)
    qtbot.keyClick(view, Qt.Key.Key_N)  # c2: 120–180, apex 140
    viewer.dims.set_current_step(0, 125)
    qtbot.keyClick(view, Qt.Key.Key_Q)
    viewer.dims.set_current_step(0, 170)
    qtbot.keyClick(view, Qt.Key.Key_E)
    viewer.dims.set_current_step(0, 150)
    qtbot.keyClick(view, Qt.Key.Key_W)
    decided = model.decision_for(MACHINE, "c2")
    assert (decided.onset, decided.apex, decided.offset, decided.status) == (125, 150, 170, "edited")
    viewer.dims.set_current_step(0, 175)
    qtbot.keyClick(view, Qt.Key.Key_W)  # an apex after the offset is refused, with a message
    assert model.decision_for(MACHINE, "c2").apex == 150
    assert "apex" in viewer.status
    qtbot.keyClick(view, Qt.Key.Key_T)
    assert model.decision_for(MACHINE, "c2").type == "me"
    assert model.find(MACHINE, "c2") == Interval(120, 180, "mae", apex=140, source="prototype", id="c2")


def test_undo_and_redo_keys(docks, qtbot):
    viewer, model, view, _ = docks
    qtbot.keyClick(view, Qt.Key.Key_N)
    qtbot.keyClick(view, Qt.Key.Key_A)
    qtbot.keyClick(view, Qt.Key.Key_T)
    assert model.decision_for(MACHINE, "c1").type == "mae"
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert model.decision_for(MACHINE, "c1").type == "me"
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL)
    assert model.decision_for(MACHINE, "c1") is None
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL | SHIFT)
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert model.decision_for(MACHINE, "c1").type == "mae"
    qtbot.keyClick(view, Qt.Key.Key_Z, CTRL | SHIFT)
    assert "nothing to redo" in viewer.status


def test_new_interval_aus_and_delete(docks, qtbot):
    viewer, model, view, panel = docks
    viewer.dims.set_current_step(0, 400)
    qtbot.keyClick(view, Qt.Key.Key_M)
    (added,) = model.corrected.intervals.values()
    assert (added.onset, added.offset, added.type, added.status) == (400, 408, "me", "added")
    assert model.selection == (CORRECTED, added.id)
    qtbot.keyClick(view, Qt.Key.Key_U)
    assert panel.window().focusWidget() is panel.aus  # hasFocus() needs an active window
    panel.aus.clear()
    qtbot.keyClicks(panel.aus, "4+L12")
    qtbot.keyClick(panel.aus, Qt.Key.Key_Return)
    edited = model.find(CORRECTED, added.id)
    assert (edited.aus, edited.aus_raw) == ((4, 12), "4+L12")
    assert "AUs 4+12" in panel.current.text()
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert len(model.corrected) == 0 and model.selection is None


def test_delete_on_a_candidate_undoes_its_decision(docks, qtbot):
    viewer, model, view, _ = docks
    qtbot.keyClick(view, Qt.Key.Key_N)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert "no decision" in viewer.status and len(model.corrected) == 0
    qtbot.keyClick(view, Qt.Key.Key_R)
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    assert model.decision_for(MACHINE, "c1") is None and model.selection == (MACHINE, "c1")


def test_loop_plays_the_interval_and_slow_motion_is_slower(docks, qtbot):
    viewer, _, view, panel = docks
    actions = actions_for(viewer)
    qtbot.keyClick(view, Qt.Key.Key_N)  # c1: 60–70
    qtbot.keyClick(view, Qt.Key.Key_L)
    assert actions.looping
    seen: set[int] = set()
    viewer.dims.events.current_step.connect(lambda e: seen.add(e.value[0]))
    qtbot.waitUntil(lambda: {60, 70} <= seen and len(seen) >= 11, timeout=5000)
    assert seen <= set(range(60, 71))  # never leaves the interval
    normal = actions._loop.interval()
    qtbot.keyClick(view, Qt.Key.Key_L)
    assert not actions.looping
    panel.slow.setValue(0.25)
    qtbot.keyClick(view, Qt.Key.Key_L, SHIFT)
    assert actions.looping and actions._loop.interval() == pytest.approx(4 * normal, abs=2)
    qtbot.keyClick(view, Qt.Key.Key_L)
    assert not actions.looping


def test_keys_reach_the_actions_from_napari_canvas_and_the_panel(docks, qtbot):
    viewer, model, _, panel = docks
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_N)
    assert model.selection == (MACHINE, "c1")
    qtbot.keyClick(panel, Qt.Key.Key_A)
    assert model.decision_for(MACHINE, "c1").status == "accepted"


def test_help_panel_lists_every_shortcut(docks):
    _, _, _, panel = docks
    table = panel.findChild(QTableWidget)
    rows = {(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())}
    assert rows == {(s.key, s.help) for s in SHORTCUTS}
    assert len({s.key for s in SHORTCUTS}) == len(SHORTCUTS)


def test_the_docs_list_every_shortcut():
    docs = (Path(__file__).resolve().parents[1] / "docs" / "review.md").read_text(encoding="utf-8")
    for shortcut in SHORTCUTS:
        assert f"| `{shortcut.key}` | {shortcut.help} |" in docs, shortcut.key


def test_arrow_keys_on_the_timeline_step_frames_for_the_edit_keys(docks, qtbot):
    viewer, model, view, _ = docks
    viewer.dims.set_current_step(0, 100)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Left)
    assert frame(viewer) == 101
    qtbot.keyClick(view, Qt.Key.Key_N)  # c2, onset 120
    for _ in range(3):
        qtbot.keyClick(view, Qt.Key.Key_Right)
    qtbot.keyClick(view, Qt.Key.Key_Q)
    assert model.decision_for(MACHINE, "c2").onset == 123


def test_key_edits_are_autosaved_to_the_session(docks, qtbot):
    viewer, _, view, _ = docks
    qtbot.keyClick(view, Qt.Key.Key_N)
    qtbot.keyClick(view, Qt.Key.Key_A)
    saved = json.loads(actions_for(viewer).review.session.path.read_text(encoding="utf-8"))
    assert [entry["action"] for entry in saved["log"]] == ["accept"]
    assert saved["log"][0]["origin"] == f"{MACHINE}/c1"


# -- the keys from the start, without a review dock ----------------------------------------------

CANDIDATES = (
    Interval(60, 70, "me", apex=64, source="prototype", id="c1"),
    Interval(120, 180, "mae", apex=140, source="prototype", id="c2"),
)


@pytest.fixture
def sample_copy(tmp_path):
    """The synthetic sample clip, copied so its session sidecar lies beside it in a temp folder."""
    import shutil

    from napari_mespot.core.media.samples import SYNTHETIC_VIDEO, sample_path

    return Path(shutil.copy(sample_path(SYNTHETIC_VIDEO), tmp_path / "clip.mp4"))


def press_on_canvas(viewer, qtbot, *keys) -> None:
    canvas = viewer.window._qt_viewer.canvas.native
    canvas.setFocus()
    for key in keys:
        qtbot.keyClick(canvas, *key) if isinstance(key, tuple) else qtbot.keyClick(canvas, key)


def test_keys_work_on_a_restored_session_with_no_dock_open(make_napari_viewer_proxy, qtbot, sample_copy):
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.review.session import ReviewSession

    with open_video(sample_copy) as video:  # an earlier napari session spotted this video
        session = ReviewSession.open(video)
        session.model.add_track(MACHINE, CANDIDATES, run=MACHINE)
        session.save()
    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open(str(sample_copy), plugin="napari-mespot")[0]
    viewer.dims.set_current_step(0, 0)
    assert not viewer.window.dock_widgets  # no review dock (nor any other) is open

    press_on_canvas(viewer, qtbot, Qt.Key.Key_N, Qt.Key.Key_A, Qt.Key.Key_N, Qt.Key.Key_R)

    model = review_for(layer).model
    assert model.decision_for(MACHINE, "c1").status == "accepted"
    assert model.decision_for(MACHINE, "c2").status == "rejected"
    assert frame(viewer) == 120
    saved = json.loads(session.path.read_text(encoding="utf-8"))
    assert [entry["action"] for entry in saved["log"]] == ["accept", "reject"]


def test_keys_bind_when_a_review_appears_for_a_hand_added_layer(make_napari_viewer_proxy, qtbot, sample_copy):
    """A video layer napari-mespot's reader never saw (a script's ``add_image``) gets the keys
    once a track is made for it: before, N is not a viewer key at all."""
    from napari.utils.key_bindings import coerce_keybinding

    from napari_mespot.core.media.video import open_video

    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.add_image(open_video(sample_copy), rgb=True, contrast_limits=[0, 255])
    assert coerce_keybinding("N") not in viewer.keymap
    review_for(layer).model.add_track(MACHINE, CANDIDATES, run=MACHINE)
    viewer.dims.set_current_step(0, 100)

    press_on_canvas(viewer, qtbot, Qt.Key.Key_N, Qt.Key.Key_T)

    assert review_for(layer).model.decision_for(MACHINE, "c2").type == "me"  # T: MaE → ME


def test_several_docks_share_one_binding(make_napari_viewer_proxy, qtbot):
    from napari_mespot._widgets.interval_table import IntervalTableWidget

    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    actions = actions_for(viewer)
    bound = dict(viewer.keymap)
    for dock in (TimelineWidget(viewer), IntervalTableWidget(viewer), ReviewKeysWidget(viewer)):
        viewer.window.add_dock_widget(dock)
        assert dock.actions is actions
    assert actions_for(viewer) is actions and dict(viewer.keymap) == bound
    assert len(bound) == len(SHORTCUTS)
    review_for(layer).model.add_track(MACHINE, CANDIDATES, run=MACHINE)
    viewer.dims.set_current_step(0, 0)
    press_on_canvas(viewer, qtbot, Qt.Key.Key_N)
    assert review_for(layer).model.selection == (MACHINE, "c1")  # one step, not one per dock


def test_review_keys_take_no_key_napari_uses(make_napari_viewer_proxy):
    """With an image layer active, none of napari's active keys is a review key, and binding
    ours changes none of napari's."""
    import numpy as np
    from napari.utils.key_bindings import coerce_keybinding

    viewer = make_napari_viewer_proxy()
    viewer.add_image(np.zeros((5, 8, 8), np.uint8))
    handler = viewer.window._qt_viewer._key_map_handler
    napari_keys = dict(handler.active_keymap)
    ours = {coerce_keybinding(s.napari_key) for s in SHORTCUTS}
    assert napari_keys and not ours & set(napari_keys)
    actions_for(viewer)
    after = handler.active_keymap
    assert set(after) == set(napari_keys) | ours
    assert all(after[key].__func__ is napari_keys[key].__func__ for key in napari_keys)


def test_a_key_bound_by_someone_else_is_left_to_them(make_napari_viewer_proxy, qtbot, sample_copy):
    viewer = make_napari_viewer_proxy()
    calls = []
    viewer.bind_key("T", lambda v: calls.append("theirs"))
    layer = viewer.open(str(sample_copy), plugin="napari-mespot")[0]
    review_for(layer).model.add_track(MACHINE, CANDIDATES, run=MACHINE)
    actions = actions_for(viewer)
    assert [s.key for s in actions.unbound] == ["T"]
    handler = viewer.window._qt_viewer._key_map_handler
    handler.press_key("T")
    assert calls == ["theirs"]
    viewer.dims.set_current_step(0, 0)
    handler.press_key("N")
    assert review_for(layer).model.selection == (MACHINE, "c1")
    # The review panel says so, and the key still works there.
    panel = ReviewKeysWidget(viewer)
    table = panel.findChild(QTableWidget)
    row = [s.key for s in SHORTCUTS].index("T")
    assert "the viewer already uses this key" in table.item(row, 1).text()
    qtbot.keyClick(panel, Qt.Key.Key_T)
    assert review_for(layer).model.decision_for(MACHINE, "c1").type == "mae"
