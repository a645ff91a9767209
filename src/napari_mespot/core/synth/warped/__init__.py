"""The warped generator: a second synthetic face-video generator, designed apart from the first.

It exists to test spotting on faces and footage the shipped models were not made on, so it
shares nothing with :mod:`napari_mespot.core.synth`'s face model, schedule or motion:

- identities are morphs of two real portraits with a new skin tone, backdrop and lens softness
  (:mod:`.identity`), placed at a random size and position in the frame;
- expressions are FACS-like action units defined as displacements of Face Mesh landmarks and
  carried to the skin by a thin-plate spline (:mod:`.action_units`, :mod:`.tps`), several units
  per expression with staggered time courses and off-centre apexes (:mod:`.timeline`);
- distractors: blinks, slow head rotation in and out of the image plane, quick head shakes,
  talking, a hand over the face, lighting steps and gradients, sensor noise and compression
  (:mod:`.events`, :mod:`.hand`);
- any frame rate (30 and 200 fps are what it is used at): everything is timed in seconds.

:func:`write_warped_dataset` writes videos with ``ground_truth.csv`` and the distractor and
unreliable-span files; :class:`WarpedScene` renders frames in memory. The same seed always
gives the same video.
"""

from napari_mespot.core.synth.warped.dataset import (
    DISTRACTORS_CSV,
    GROUND_TRUTH_CSV,
    UNRELIABLE_CSV,
    VIDEOS_CSV,
    WarpedResult,
    video_name,
    write_warped_dataset,
    write_warped_video,
)
from napari_mespot.core.synth.warped.scene import WarpedScene
from napari_mespot.core.synth.warped.settings import WarpedSettings

#: The generator's name on the command line (``mespot synth --generator warped``).
GENERATOR = "warped"

__all__ = [
    "DISTRACTORS_CSV",
    "GENERATOR",
    "GROUND_TRUTH_CSV",
    "UNRELIABLE_CSV",
    "VIDEOS_CSV",
    "WarpedResult",
    "WarpedScene",
    "WarpedSettings",
    "video_name",
    "write_warped_dataset",
    "write_warped_video",
]
