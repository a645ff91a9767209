"""VoVNet leaves out the spans it cannot trust, as the prototype spotter's robust preset does.

Frames whose landmarks jump, whose head moves too fast or whose eyes stay closed too long are
reported as ``unreliable``; no interval starts in one and an interval running into one ends
before it. The paper's protocol (``reliability=False``) keeps every interval.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from napari_mespot.core.face.cache import landmarks_for_video
from napari_mespot.core.face.landmarks import MediaPipeFaceMesh
from napari_mespot.core.face.reliability import JUMP
from napari_mespot.core.media.video import open_video
from napari_mespot.core.progress import run_to_end
from napari_mespot.core.spotters.vovnet import SpotSettings, spot
from napari_mespot.core.spotters.vovnet.decode import Detections
from napari_mespot.core.spotters.vovnet.spotter import to_intervals


def test_no_interval_starts_in_an_unreliable_span_and_none_runs_into_one():
    dets = Detections(
        torch.tensor([[10.0, 30.0], [45.0, 60.0], [70.0, 90.0], [95.0, 99.0]]),
        torch.tensor([0.9, 0.9, 0.9, 0.9]),
        torch.tensor([1, 1, 1, 1]),
    )
    curves = np.zeros((2, 120), np.float32)
    unreliable = np.zeros(120, bool)
    unreliable[50:56] = True  # inside the second detection: it starts before, so it is cut
    unreliable[65:72] = True  # covers the third detection's onset: dropped
    unreliable[96:110] = True  # one frame of the fourth is left: too short for an interval
    kept = to_intervals(dets, np.array([0.5, 0.5]), curves, np.ones(120, bool), 0.5, unreliable=unreliable)
    assert [(iv.onset, iv.offset) for iv in kept] == [(10, 30), (45, 49)]
    everything = to_intervals(dets, np.array([0.5, 0.5]), curves, np.ones(120, bool), 0.5)
    assert [(iv.onset, iv.offset) for iv in everything] == [(10, 30), (45, 60), (70, 90), (95, 99)]


def test_a_landmark_jump_is_reported_and_the_papers_protocol_has_none(clip, tmp_path):
    with open_video(clip) as video:
        landmarks = run_to_end(landmarks_for_video(video, MediaPipeFaceMesh()))
        points = landmarks.points.copy()
        points[40] += 0.3 * (points[40, 263] - points[40, 33])  # one frame's mesh off by 0.3 IOD
        jumped = dataclasses.replace(landmarks, points=points)
        settings = SpotSettings(device="cpu", cache_dir=str(tmp_path / "cache"))
        out = run_to_end(spot(video, settings=settings, landmarks=jumped))
        paper = run_to_end(
            spot(video, settings=dataclasses.replace(settings, reliability=False), landmarks=jumped)
        )
    # frame 40 and its neighbours (each is off the midpoint of 40 and the other), padded 0.1 s;
    # the leap there and back may also read as a head moving too fast just around it
    jumps = [s for s in out.unreliable if s.reason == JUMP]
    assert jumps and min(s.start for s in jumps) <= 39 and max(s.end for s in jumps) >= 41
    assert all(s.start >= 25 and s.end <= 55 for s in out.unreliable)
    assert not any(s.start <= iv.onset <= s.end for s in out.unreliable for iv in out.intervals)
    assert paper.unreliable == ()
