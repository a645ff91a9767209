"""Timeline redraw cost on a long video: 30 000 frames, 500 intervals per track.

Four lanes (ground truth, two spotter runs of 500 candidates each, the corrected track with a
decision on every other candidate of the first run) in a 1600-pixel-wide timeline. Measured:
a frame step of the playhead (what happens on every frame while scrubbing or playing: the
playhead moves and the view pages on when it leaves), the lanes drawn again at several zoom
levels (a zoom, a pan, a resize), a repaint from the lane cache, an edit (the model's signal
recolours the lanes, then they are drawn again), and the interval table's rebuild after an
edit. Target: under 16 ms per frame step (60 Hz).
Prints a Markdown section on stdout.

    python bench/bench_timeline.py      # Qt's offscreen platform when there is no display
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qtpy.QtWidgets import QApplication

from napari_mespot._widgets.interval_table import COLUMNS, IntervalFilter, IntervalTableModel
from napari_mespot._widgets.timeline_view import TimelineView
from napari_mespot.core.intervals import Interval
from napari_mespot.core.review.model import ReviewModel

N_FRAMES = 30_000
PER_TRACK = 500
FPS = 30.0
WIDTH = 1600
TARGET_MS = 16.0


def random_track(rng: np.random.Generator, source: str) -> list[Interval]:
    onsets = np.sort(rng.choice(N_FRAMES - 200, PER_TRACK, replace=False))
    out = []
    for k, onset in enumerate(onsets.tolist()):
        length = int(rng.integers(4, 120))
        apex = onset + length // 3
        kind = "me" if length <= FPS / 2 else "mae"
        aus = tuple(sorted(rng.choice([1, 2, 4, 6, 12, 14, 15, 17], 2, replace=False).tolist()))
        out.append(
            Interval(
                onset,
                onset + length - 1,
                kind,
                apex=apex,
                aus=aus,
                score=float(rng.random()),
                source=source,
                id=f"{source}-{k}",
            )
        )
    return out


def build_model() -> ReviewModel:
    rng = np.random.default_rng(7)
    model = ReviewModel(FPS, N_FRAMES)
    model.add_track("ground truth", random_track(rng, "gt"), kind="gt")
    model.add_track("prototype 1", random_track(rng, "prototype"), run="prototype 1")
    model.add_track("vovnet 1", random_track(rng, "vovnet"), run="vovnet 1")
    for k, interval in enumerate(model.tracks["prototype 1"].sorted()[::2]):
        (model.accept if k % 3 else model.reject)("prototype 1", interval.id)
    return model


def timed(action, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        action()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def frame_steps(app: QApplication, view: TimelineView, start: int, n: int) -> list[float]:
    """Per-step time of moving the playhead one frame and painting what changed."""
    view.set_playhead(start)
    app.processEvents()
    frames = iter(range(start + 1, start + 1 + n))

    def step() -> None:
        view.set_playhead(next(frames))
        app.processEvents()

    return timed(step, n)


def row(name: str, times: list[float]) -> str:
    median = statistics.median(times)
    p95 = float(np.percentile(times, 95))
    verdict = "✓" if p95 < TARGET_MS else "✗"
    return f"| {name} | {len(times)} | {median:.2f} | {p95:.2f} | {max(times):.2f} | {verdict} |"


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    model = build_model()
    # the scene as measured from the start (the edit rows add decisions as they go)
    lanes, corrected = len(model.tracks), len(model.corrected)
    intervals = sum(len(track) for track in model.tracks.values())
    view = TimelineView()
    view.resize(WIDTH, view.sizeHint().height())
    view.show()
    view.set_model(model)
    view.model.select("prototype 1", model.tracks["prototype 1"].sorted()[10].id)
    app.processEvents()
    rows = []

    def redraw() -> None:  # what a zoom, a pan or a resize costs: the lanes are drawn again
        view._invalidate()
        view.repaint()

    view.fit()
    app.processEvents()
    rows.append(row("frame step, whole video in view", frame_steps(app, view, 1000, 600)))
    rows.append(row("lanes redrawn, whole video in view", timed(redraw, 100)))
    rows.append(row("repaint from the lane cache (expose)", timed(view.repaint, 100)))
    view.set_view(12_000, WIDTH / (60 * FPS))
    app.processEvents()
    rows.append(row("frame step, 1 min in view (pages when leaving)", frame_steps(app, view, 12_000, 3600)))
    rows.append(row("lanes redrawn, 1 min in view", timed(redraw, 100)))
    view.set_view(20_000, 20.0)
    app.processEvents()
    rows.append(row("lanes redrawn, 80 frames in view", timed(redraw, 100)))
    view.fit()
    candidates = iter(model.tracks["vovnet 1"].sorted())

    def edit() -> None:
        model.accept("vovnet 1", next(candidates).id)
        view.repaint()

    rows.append(row("accept a candidate (lanes rebuilt + repaint)", timed(edit, 100)))

    table = IntervalTableModel(print)
    table.set_model(model)
    proxy = IntervalFilter()
    proxy.setSourceModel(table)
    proxy.sort(COLUMNS.index("score"))

    def table_edit() -> None:  # what the interval table dock does on every edit
        model.accept("vovnet 1", next(candidates).id)
        table.refresh()

    model.events.changed.disconnect(view._rebuild)
    rows.append(row(f"interval table: edit, {len(table.rows)} rows rebuilt + sorted", timed(table_edit, 50)))

    print(
        f"Timeline of {N_FRAMES} frames, {lanes} lanes ({intervals} intervals in all: {PER_TRACK} per "
        f"machine/ground-truth track + {corrected} corrected at the start), {WIDTH} px wide, "
        f"Qt platform {app.platformName()}. Times in ms; target: p95 < {TARGET_MS:g} ms.\n"
    )
    print("| operation | n | median | p95 | max | < 16 ms |")
    print("|---|---:|---:|---:|---:|:-:|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
