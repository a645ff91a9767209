"""The agreement panel of the Compare dock, on two hand-written label files of the sample video
whose numbers and disagreements are worked out by hand below."""

from __future__ import annotations

import pytest

from napari_mespot._widgets.compare_dock import CompareDock
from napari_mespot._widgets.timeline import TimelineWidget
from napari_mespot._widgets.timeline_marks import DISAGREEMENT_COLOURS, DISAGREEMENT_H
from napari_mespot._widgets.video_review import GROUND_TRUTH, review_for
from napari_mespot.core.review.timeline import RULER_H

pytestmark = pytest.mark.gui

N_FRAMES = 720  # the sample video's
A_CSV = """video,onset,offset,type
synthetic_face,10,20,me
synthetic_face,100,159,mae
synthetic_face,300,309,me
"""
B_CSV = """video,onset,offset,type
synthetic_face,12,20,me
synthetic_face,100,159,me
synthetic_face,500,560,mae
"""
# Type-aware pairs at IoU >= 0.5: ME 10–20 with ME 12–20 (9 shared of 11: 0.82), onset |Δ| 2,
# offset |Δ| 0. MaE 100–159 (A) and ME 100–159 (B) are the same span typed differently; ME
# 300–309 only A marked; MaE 500–560 only B. F1 = 2·1 / (3 + 3).
F1, ONSET_MAE, OFFSET_MAE = 1 / 3, 2.0, 0.0
DISAGREEMENTS = [(100, 159, "type"), (300, 309, "only_a"), (500, 560, "only_b")]
# Frames (rows A, columns B; none/ME/MaE): ME/ME 12–20 = 9; A ME, B none: 10–11 and 300–309 = 12;
# A MaE, B ME: 100–159 = 60; A none, B MaE: 500–560 = 61; none/none: 720 − 142 = 578.
# Marginals A: none 578 + 61 = 639, ME 21, MaE 60; B: none 578 + 12 = 590, ME 69, MaE 61.
P_O = (578 + 9) / N_FRAMES
P_E = (639 * 590 + 21 * 69 + 60 * 61) / N_FRAMES**2
KAPPA = (P_O - P_E) / (1 - P_E)


@pytest.fixture
def compare(make_napari_viewer_proxy, qtbot, tmp_path):
    viewer = make_napari_viewer_proxy(show=True)
    layer = viewer.open_sample("napari-mespot", "synthetic_face")[0]
    (tmp_path / "a.csv").write_text(A_CSV, encoding="utf-8")
    (tmp_path / "b.csv").write_text(B_CSV, encoding="utf-8")
    timeline, dock = TimelineWidget(viewer), CompareDock(viewer)
    viewer.window.add_dock_widget(timeline, area="bottom")
    viewer.window.add_dock_widget(dock, area="right")
    qtbot.waitUntil(timeline.view.isVisible)
    dock.gt_file.value = tmp_path / "a.csv"
    dock.load_ground_truth()  # annotator A: the video's ground truth
    return viewer, review_for(layer), timeline.view, dock.agreement, tmp_path


def test_agreement_numbers_disagreements_and_the_timeline_strip(compare):
    viewer, review, view, panel, tmp_path = compare
    assert review.model.n_frames == N_FRAMES
    panel.a_combo.value = GROUND_TRUTH
    panel.b_file.value = tmp_path / "b.csv"
    panel.run()

    result = panel.result
    assert result.counts.f1 == pytest.approx(F1)
    assert (result.onset_mae, result.offset_mae) == (ONSET_MAE, OFFSET_MAE)
    assert result.kappa == pytest.approx(KAPPA)
    text = panel.summary.text()
    assert "F1 0.333" in text and "2.00 frames" in text and f"κ {KAPPA:.3f}" in text
    rows = [panel.disagreements.item(i).text() for i in range(panel.disagreements.count())]
    assert rows == [
        "typed differently: A MAE 100–159 · B ME 100–159 (IoU 1.00)",
        "only A: ME 300–309",
        "only B: MAE 500–560",
    ]

    panel.disagreements.itemClicked.emit(panel.disagreements.item(2))  # a click goes there
    assert viewer.dims.current_step[0] == 500

    assert view.disagreements == DISAGREEMENTS
    view.resize(1200, view.height())
    view.show_frames(480, 580)
    image = view.grab().toImage()
    got = image.pixelColor(round(view.x_of(530)), RULER_H - DISAGREEMENT_H // 2 - 1)
    want = DISAGREEMENT_COLOURS["only_b"]
    assert (
        max(abs(got.red() - want.red()), abs(got.green() - want.green()), abs(got.blue() - want.blue())) <= 8
    )


def test_a_file_of_other_videos_is_one_line_and_changes_nothing(compare):
    _, review, view, panel, tmp_path = compare
    other = tmp_path / "other.csv"
    other.write_text("video,onset,offset,type\nclip_a,1,5,me\nclip_b,1,5,me\n", encoding="utf-8")
    panel.a_combo.value = GROUND_TRUTH
    panel.b_file.value = other
    panel.run()
    assert panel.summary.text() == f"{other}: no labels for synthetic_face (it holds clip_a, clip_b)"
    assert panel.result is None and review.agreement is None and view.disagreements == []
