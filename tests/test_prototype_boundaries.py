"""Our boundary options of ``boundaries="valleys"``: a noise band and a local floor (eq. 24's m)."""

from __future__ import annotations

import numpy as np

from napari_mespot.core.spotters.prototype.peaks import widen_to_valleys

#: A run at frames 10..11 on top of a plateau (5) left by an earlier expression (frames 0..2
#: are the window's low), with ripples of 0.3 on both slopes.
CURVE = np.array([0, 0, 0, 5, 5, 5, 5, 5, 6.3, 6, 10, 10, 7, 7.3, 5, 5, 5, 5, 5, 5, 5, 1, 0, 0], float)


def test_without_options_the_first_ripple_stops_each_side():
    assert widen_to_valleys(CURVE, 10, 11) == (9, 12)


def test_a_noise_band_walks_over_ripples_smaller_than_it():
    # Ripples of 0.3 < 1: the sides walk over them and along the plateau (not within 1 of the
    # window's floor, 0) and stop at the first frame within the band: 0 at frame 2, 1 at 21.
    assert widen_to_valleys(CURVE, 10, 11, noise=1.0) == (2, 21)
    # A band of 0.2 is smaller than the ripples: they stop the walk as before.
    assert widen_to_valleys(CURVE, 10, 11, noise=0.2) == (9, 12)


def test_a_local_floor_bounds_the_run_where_it_leaves_the_plateau():
    # Within 3 frames of the run the floor is the plateau (5): each side ends at its first frame
    # within the band of it (≤ 6): frame 9 (6) on the left; on the right the ripple to 7.3 is
    # walked over and frame 14 (5) ends it — the run's own rise, not the earlier expression's.
    assert widen_to_valleys(CURVE, 10, 11, noise=1.0, reach=3) == (9, 14)
    # Level 0.5 of the local height (10 − 5) stops higher up: at 7.5 and below.
    assert widen_to_valleys(CURVE, 10, 11, level=0.5, noise=1.0, reach=3) == (9, 12)
