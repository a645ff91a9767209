"""Whole evaluation protocols on dataset roots: the AU-prototype paper's, and generic LOSO.

- :func:`prototype_paper` — He et al. (ECAI 2023): prototypes learnt on *all* of CASME II (AUs
  kept when seen in ≥ ``min_count`` clips, 10 in the paper), spotting and scoring on CAS(ME)².
  The paper does not say how θ_j was chosen; choosing it on CAS(ME)² itself would tune on the
  test videos, so here θ_j is chosen by leave-one-subject-out over CAS(ME)²: calibrated on the
  other subjects' videos, applied to the held-out subject's (docs/architecture.md §2.3).
- :func:`loso` — leave-one-subject-out of a trainable method on one dataset: everything the
  method learns (for the prototype method: the prototypes *and* θ_j) comes from the training
  subjects of the fold.

Both are generators (progress, then a :class:`ProtocolOutcome`), write into an output folder and
resume a run found there (see :mod:`.runner`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from napari_mespot.core.errors import MespotError
from napari_mespot.core.labels import QuirkOptions
from napari_mespot.core.labels.datasets import Dataset, discover_cas_me2, discover_casme2, discover_samm_lv
from napari_mespot.core.metrics import Evaluation
from napari_mespot.core.progress import Progress
from napari_mespot.core.reproduce.methods import (
    CalibratedPrototypes,
    ProtocolMethod,
    record_clips,
    settings_dict,
)
from napari_mespot.core.reproduce.report import (
    PAPER_PROTOTYPE,
    build_report,
    format_table,
    score,
    write_outputs,
)
from napari_mespot.core.reproduce.runner import LosoRun, run_loso, start_run
from napari_mespot.core.spotters.prototype import PrototypeSet, PrototypeSettings, learn_prototypes

DISCOVER: dict[str, Callable[..., Dataset]] = {
    "cas-me2": discover_cas_me2,
    "samm": discover_samm_lv,
    "casme2": discover_casme2,
}
PROTOTYPES_FILE = "prototypes.npz"


@dataclass(frozen=True)
class ProtocolOutcome:
    """A finished protocol: the folds, the scores per k, the report and the files written."""

    run: LosoRun
    results: dict[float, Evaluation]
    report: dict[str, Any]
    table: str
    paths: dict[str, Path]


def discover(name: str, root: str | os.PathLike, labels=None, quirks: QuirkOptions | None = None) -> Dataset:
    """The dataset ``name`` under ``root``; a missing root is a one-line error, as a bad layout."""
    if name not in DISCOVER:
        raise MespotError(f"unknown dataset {name!r} (known: {', '.join(DISCOVER)})")
    if not Path(root).is_dir():
        raise MespotError(f"{root}: no such dataset folder")
    dataset = DISCOVER[name](root, labels, quirks)
    if not dataset.records:
        raise MespotError(f"{root}: no {name} video folder found")
    return dataset


def _finish(
    protocol: str,
    config: dict[str, Any],
    run: LosoRun,
    out: Path,
    matching: str,
    paper: dict | None = None,
    extra: dict[str, Any] | None = None,
) -> ProtocolOutcome:
    results = score(run, matching)
    table = format_table(results, 0.5, paper)
    report = build_report(protocol, config, run, results, k=0.5, paper=paper, extra=extra)
    paths = write_outputs(out, run, report, table)
    return ProtocolOutcome(run, results, report, table, paths)


def casme2_prototypes(
    dataset: Dataset, out: Path, *, min_count: int, flow_method: str, head_motion: bool
) -> Generator[Progress, None, PrototypeSet]:
    """Eq. 18 over every CASME II clip with an apex (``out/prototypes.npz``, reused on resume)."""
    path = out / PROTOTYPES_FILE
    if path.is_file():
        return PrototypeSet.load(path)
    clips = record_clips(dataset.records)
    if not clips:
        raise MespotError(f"{dataset.root}: no CASME II clip with an apex and AUs")
    prototypes = yield from learn_prototypes(
        clips,
        min_count=min_count,
        flow_method=flow_method,
        head_motion=head_motion,
        provenance={
            "source": "casme2",
            "root": str(dataset.root),
            "coding": dataset.labels_path.name,
            "rows_without_clip": len(dataset.missing),
        },
    )
    prototypes.save(path)
    return prototypes


def prototype_paper(
    casme2_root: str | os.PathLike,
    cas_me2_root: str | os.PathLike,
    out: str | os.PathLike,
    *,
    casme2_coding: str | os.PathLike | None = None,
    cas_me2_labels: str | os.PathLike | None = None,
    settings: PrototypeSettings | None = None,
    min_count: int = 10,
    learn_flow: str = "farneback",
    matching: str = "one-to-one",
    quirks: QuirkOptions | None = None,
) -> Generator[Progress, None, ProtocolOutcome]:
    """The AU-prototype paper's experiment (see the module docstring); files go into ``out``."""
    settings = settings or PrototypeSettings()
    out = Path(out)
    casme2 = discover("casme2", casme2_root, casme2_coding, quirks)
    cas = discover("cas-me2", cas_me2_root, cas_me2_labels, quirks)
    config = {
        "protocol": "prototype-paper",
        "casme2": {"root": str(Path(casme2_root).resolve()), "coding": str(casme2.labels_path.resolve())},
        "cas_me2": {"root": str(Path(cas_me2_root).resolve()), "labels": str(cas.labels_path.resolve())},
        "min_count": min_count,
        "learn_flow": learn_flow,
        "learn_head_motion": settings.head_motion,
        "matching": matching,
        "quirks": dataclasses.asdict(quirks or QuirkOptions()),
        "spot_settings": settings_dict(settings),
    }
    start_run(out, config)
    prototypes = yield from casme2_prototypes(
        casme2, out, min_count=min_count, flow_method=learn_flow, head_motion=settings.head_motion != "off"
    )
    method = CalibratedPrototypes(prototypes, settings, out / "margins")
    run = yield from run_loso(cas, method, out)
    extra = {
        "prototypes": {
            "file": PROTOTYPES_FILE,
            "aus": list(prototypes.aus),
            "counts": {p.label: p.count for p in prototypes.prototypes},
            "provenance": dict(prototypes.provenance),
        },
        "casme2_clips": len(casme2.records),
        "seeds": "none: every step is deterministic",
    }
    return _finish("prototype-paper", config, run, out, matching, PAPER_PROTOTYPE, extra)


def loso(
    dataset: Dataset,
    method: ProtocolMethod,
    out: str | os.PathLike,
    *,
    matching: str = "one-to-one",
    config: dict[str, Any] | None = None,
    paper: dict | None = None,
    protocol: str = "loso",
) -> Generator[Progress, None, ProtocolOutcome]:
    """Leave-one-subject-out of ``method`` over ``dataset`` (see the module docstring); with
    ``paper`` (published numbers), the table sets them beside ours."""
    out = Path(out)
    config = {
        "protocol": protocol,
        "dataset": dataset.name,
        "root": str(dataset.root.resolve()),
        "labels": str(dataset.labels_path.resolve()),
        "method": method.name,
        "method_settings": method.settings(),
        "matching": matching,
        **(config or {}),
    }
    start_run(out, config)
    run = yield from run_loso(dataset, method, out)
    seeds = config["method_settings"].get("seed", "none: every step is deterministic")
    return _finish(protocol, config, run, out, matching, paper, extra={"seeds": seeds})
