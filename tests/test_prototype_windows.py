"""Eq. 19–20 window stepping, open intervals at a window's end, and face segments."""

from __future__ import annotations

import numpy as np

from napari_mespot.core.spotters.base import SkippedSpan
from napari_mespot.core.spotters.prototype.windows import face_segments, frames_in, next_start, settle


def test_frames_in():
    assert frames_in(7.0, 30.0) == 210
    assert frames_in(1.0, 200.0) == 200
    assert frames_in(0.01, 30.0, minimum=3) == 3


def test_step_half_window_when_nothing_spotted():
    assert next_start(0, 210, None) == 105  # eq. 19
    assert next_start(400, 7, None) == 403  # odd N: N // 2


def test_step_after_last_interval():
    assert next_start(0, 210, 80) == 81  # eq. 20: S = end_last + 1
    assert next_start(300, 210, 350) == 351
    assert next_start(100, 210, 99) == 101  # always moves forward


def test_settle_reports_closed_and_defers_open_intervals():
    # Window 0..209, guard 30 (m), lead 15: (195, 205) ends after 179 -> open, deferred.
    plan = settle([(10, 20), (195, 205)], 0, 209, 210, guard=30, lead=15, final=False)
    assert plan.reported == ((10, 20),) and plan.deferred == ((195, 205),)
    assert plan.next_start == 21  # eq. 20 start comes before the deferred one
    plan = settle([(195, 205)], 0, 209, 210, guard=30, lead=15, final=False)
    assert plan.next_start == 105  # eq. 19, already early enough for 195
    plan = settle([(60, 200)], 0, 209, 210, guard=30, lead=15, final=False)
    assert plan.next_start == 45  # 60 - lead, so the next reference precedes the motion


def test_settle_reports_what_cannot_fit_and_everything_in_the_last_window():
    plan = settle([(10, 205)], 0, 209, 210, guard=30, lead=15, final=False)
    assert plan.reported == ((10, 205),) and plan.next_start == 206
    plan = settle([(195, 205)], 0, 209, 210, guard=30, lead=15, final=True)
    assert plan.reported == ((195, 205),)


def test_face_segments_skip_gaps_and_short_runs():
    found = np.array([0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1], dtype=bool)
    segments, skipped = face_segments(found, 4)
    assert segments == [(6, 10)]
    assert [(s.start, s.end) for s in skipped] == [(0, 0), (1, 3), (4, 5)]
    assert skipped[0] == SkippedSpan(0, 0, "no face found")
    assert "3 frames" in skipped[1].reason
