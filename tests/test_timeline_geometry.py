"""The timeline's geometry without a window: frame ↔ x, zoom and pan limits, ticks, lanes."""

from __future__ import annotations

import pytest

from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import ReviewModel
from napari_mespot.core.review.timeline import LABEL_W, LANE_H, RULER_H, TimelineGeometry, lanes_for


def geometry(n_frames=1000, width=LABEL_W + 500, fps=30.0) -> TimelineGeometry:
    g = TimelineGeometry(n_frames=n_frames, fps=fps, width=width)
    g.fit()
    return g


def test_fit_shows_the_whole_video_and_x_maps_back_to_frames():
    g = geometry()
    assert g.scale == pytest.approx(0.5) and g.start == 0  # 500 px for 1000 frames
    assert g.x_of(0) == LABEL_W and g.x_of(1000) == LABEL_W + 500
    assert g.frame_at(g.x_of(437.25)) == pytest.approx(437.25)


def test_zoom_keeps_the_frame_under_the_cursor_and_never_leaves_the_video():
    g = geometry()
    x = LABEL_W + 200  # frame 400 at fit
    g.zoom(4.0, x)
    assert g.scale == pytest.approx(2.0) and g.frame_at(x) == pytest.approx(400)
    g.zoom(100.0, x)
    assert g.scale == 40.0  # MAX_PX_PER_FRAME
    g.zoom(1e-6, x)
    assert (g.start, g.scale) == (0.0, pytest.approx(0.5))  # no further out than the video
    g.set_view(5000.0, 2.0)
    assert g.start + g.visible_frames == pytest.approx(1000)  # panned to the end, not past it
    g.set_view(-50.0)
    assert g.start == 0.0


def test_show_frames_centres_a_short_interval_with_margins():
    g = geometry()
    g.show_frames(100, 109)  # 10 frames → a 16-frame span, 3 frames of margin each side
    assert g.visible_frames == pytest.approx(16) and g.start == pytest.approx(97)


def test_resizing_a_fitted_view_refits_and_a_zoomed_one_keeps_its_zoom():
    g = geometry()
    g.resize(g.width, LABEL_W + 1000)
    assert g.scale == pytest.approx(1.0)
    g.set_view(200, 3.0)
    g.resize(g.width, LABEL_W + 600)
    assert (g.start, g.scale) == (200, 3.0)


def test_rows_and_lane_boxes():
    g = geometry()
    assert g.row_at(RULER_H - 1, 3) is None and g.row_at(RULER_H + 0.5, 3) == 0
    assert g.row_at(RULER_H + 2 * LANE_H + 1, 3) == 2 and g.row_at(RULER_H + 3 * LANE_H + 1, 3) is None
    assert g.lane_box(1) == (LABEL_W, RULER_H + LANE_H, 500, LANE_H)
    assert g.clamp_frame(-3.2) == 0 and g.clamp_frame(999.9) == 999 and g.clamp_frame(5000) == 999


@pytest.mark.parametrize(
    ("scale", "fps", "step", "as_time", "first_labels"),
    [
        (80.0, 30.0, 1, False, ["0", "1"]),  # 80 px a frame: every frame
        (20.0, 30.0, 5, False, ["0", "5"]),  # 5 frames = 100 px
        (1.0, 30.0, 150, True, ["0:00", "0:05"]),  # 5 s = 150 px (2 s would be 60)
        (6.0, 30.0, 15, True, ["0:00.0", "0:00.5"]),  # half-seconds at 90 px
        (1.0, 200.0, 100, True, ["0:00.0", "0:00.5"]),  # 200 fps: 0.5 s = 100 frames = 100 px
    ],
)
def test_ticks_are_at_least_80_px_apart_in_frames_or_round_seconds(scale, fps, step, as_time, first_labels):
    g = TimelineGeometry(n_frames=100_000, fps=fps, width=LABEL_W + 800, scale=scale)
    assert g.tick_step() == (step, as_time)
    ticks = g.ticks(0, 3 * step)
    assert [frame for frame, _ in ticks[:3]] == [0, step, 2 * step]
    assert [label for _, label in ticks[:2]] == first_labels


def test_lanes_order_truth_runs_corrected_and_visibility_is_two_searches():
    model = ReviewModel(fps=30, n_frames=1000)
    intervals = [Interval(10, 500, "mae", id="long"), Interval(100, 120, "me", id="short")]
    model.add_track("run", intervals, run="r")
    model.add_track("truth", [Interval(105, 115, "me", id="t")], kind="gt")
    model.accept("run", "short")
    lanes = lanes_for(model)
    assert [lane.kind for lane in lanes] == ["gt", "machine", "corrected"]
    run = lanes[1]
    assert run.ids == ["long", "short"]
    assert run.visible(400, 450).tolist() == [0]  # the long one still reaches 400
    assert run.visible(501, 900).tolist() == []
    # the accepted candidate is styled 'accepted' (ME row of the style table), the other 'candidate'
    assert run.style.tolist() == [1 * 6 + 1, 0 * 6 + 2]
    assert lanes_for(model, lanes)[1] is run  # an unchanged track keeps its arrays
