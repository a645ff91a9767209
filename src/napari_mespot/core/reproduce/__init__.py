"""Reproducible evaluation protocols on dataset roots (``mespot reproduce``).

:func:`prototype_paper` runs the AU-prototype paper's experiment (prototypes from CASME II,
spotting and scoring on CAS(ME)², thresholds chosen by leave-one-subject-out); :func:`loso`
runs leave-one-subject-out of any :class:`ProtocolMethod` on one dataset (a registered spotter
without a training step through :class:`FixedModelMethod`). Both resume an
interrupted run from its output folder and write predictions, per-fold thresholds and a JSON
report with every number.
"""

from __future__ import annotations

from napari_mespot.core.reproduce.fixed import FixedModelMethod
from napari_mespot.core.reproduce.methods import (
    CalibratedPrototypes,
    LearntPrototypes,
    ProtocolMethod,
    open_record,
)
from napari_mespot.core.reproduce.protocols import DISCOVER, ProtocolOutcome, discover, loso, prototype_paper
from napari_mespot.core.reproduce.report import PAPER_PROTOTYPE, format_table, paper_vovnet, score
from napari_mespot.core.reproduce.runner import FoldResult, LosoRun, run_loso, start_run, to_label_frames

__all__ = [
    "DISCOVER",
    "PAPER_PROTOTYPE",
    "CalibratedPrototypes",
    "FixedModelMethod",
    "FoldResult",
    "LearntPrototypes",
    "LosoRun",
    "ProtocolMethod",
    "ProtocolOutcome",
    "discover",
    "format_table",
    "loso",
    "open_record",
    "paper_vovnet",
    "prototype_paper",
    "run_loso",
    "score",
    "start_run",
    "to_label_frames",
]
