"""Regenerate docs/real_clip_curves.png: the real fixture clip's matching curves, before and now.

``WolfgangLanger_Pexels.mp4`` (a real face: sad, crying with a hand over the mouth, surprised,
laughing) spotted twice:

- top: the former default (``recommended`` without unreliable spans: absolute thresholds in the
  matching index's units, learnt on synthetic faces) — the curves run far above the
  thresholds, and the frames where the hand covers the face are spotted like any other;
- bottom: the default now (``robust``): each AU's curve in units of the clip's noise floor
  against relative thresholds, the span the reliability check rejects hatched (nothing is
  spotted there), the spotted intervals shaded.

Qt-free (a bare matplotlib Figure, no GUI backend): ``python docs/real_clip_curves.py``. The
video is copied to a temporary folder so the landmark cache is not written into the fixtures.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from matplotlib.figure import Figure

from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.prototype import PRESETS, default_prototypes, spot
from napari_mespot.core.spotters.prototype.settings import DEFAULT_PRESET

ROOT = Path(__file__).resolve().parents[1]
VIDEO = ROOT.parent / "shared" / "fixtures" / "video" / "WolfgangLanger_Pexels.mp4"
TYPE_COLOURS = {"me": "#e4572e", "mae": "#4c72b0"}


def _spot(path: Path, settings):
    with open_video(path) as video:
        return run_to_end(spot(video, default_prototypes(settings.shipped_prototypes), settings))


def _panel(ax, result, title: str, hatch: bool) -> None:
    frames = range(result.n_frames)
    for k, label in enumerate(result.curve_labels):
        (line,) = ax.plot(frames, result.curves[k], lw=1.0, label=label)
        ax.axhline(result.thresholds[k], color=line.get_color(), lw=0.8, ls="--")
    for iv in result.intervals:
        ax.axvspan(iv.onset, iv.offset + 1, color=TYPE_COLOURS.get(iv.type, "grey"), alpha=0.15, lw=0)
    if hatch:
        for s in result.unreliable:
            ax.axvspan(s.start, s.end + 1, facecolor="none", edgecolor="#f0a030", hatch="\\\\", lw=0)
            ax.text(
                (s.start + s.end) / 2,
                0.5,
                "unreliable:\n" + s.reason.split(" (")[0],
                ha="center",
                va="top",
                transform=ax.get_xaxis_transform(),
                fontsize=8,
                color="#a06010",
            )
    ax.set_xlim(0, result.n_frames - 1)
    ax.set_title(title, fontsize=10, loc="left")
    ax.legend(loc="upper right", fontsize=7, ncols=8)


def main(out: Path = ROOT / "docs" / "real_clip_curves.png") -> None:
    former = replace(PRESETS["recommended"], reliability=False)
    now = PRESETS[DEFAULT_PRESET]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(shutil.copy(VIDEO, tmp))
        before, after = _spot(path, former), _spot(path, now)
    fig = Figure(figsize=(11, 6.5), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    _panel(
        top,
        before,
        f"former default (recommended, absolute θ): {len(before.intervals)} intervals; "
        "dashed: θ_j in the matching index's units",
        hatch=False,
    )
    top.set_ylabel("matching index")
    _panel(
        bottom,
        after,
        f"default now ({DEFAULT_PRESET}): curves in units of the clip's noise floor, dashed: "
        f"relative θ_j; {len(after.intervals)} intervals (shaded)",
        hatch=True,
    )
    bottom.set_ylabel("× noise floor")
    bottom.set_xlabel(f"frame ({after.fps:.3g} fps)")
    fig.suptitle(
        f"{VIDEO.name}: eq. 24 compares each curve's rise within ±1 s with its dashed θ_j", fontsize=10
    )
    fig.savefig(out, dpi=110)
    print(f"written: {out}")


if __name__ == "__main__":
    main()
