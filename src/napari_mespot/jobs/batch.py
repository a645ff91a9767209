"""Spotting over many videos on dask.distributed: one task per video, resumable, failures isolated.

Scaling out is dask's job, not ours: a local cluster by default, an existing scheduler address
for a real one. Each task opens its video, spots it and writes ``<out>/<video>.csv`` atomically
on the worker; the client records every outcome in ``<out>/manifest.json`` (also atomic) as soon
as it arrives. So a killed batch leaves only whole result files and a manifest of what finished;
running it again skips the videos marked done whose result file is there and readable, and a
video that fails (corrupt file, no usable face, too short) is reported with its reason while the
others go on.

A result is recorded with the settings that made it (method, settings, the model file's content
hash, fps): a rerun with other settings refuses to touch those results, or redoes them when
forced, and never relabels them as made with the new settings. The model is loaded once on the
client before the cluster starts, so a bad model is one error, not one per video.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
import time
from collections import Counter
from collections.abc import Generator, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from napari_mespot.core.atomic import atomic_write_text
from napari_mespot.core.errors import MespotError
from napari_mespot.core.media.video import VIDEO_EXTENSIONS, is_video_path
from napari_mespot.core.progress import Progress, run_to_end

MANIFEST = "manifest.json"


class BatchError(MespotError):
    """A batch that cannot start (no videos, an unreachable scheduler, an unreadable list)."""


@dataclass(frozen=True)
class BatchJob:
    """One video of a batch and the file its result goes to."""

    video: str
    name: str
    output: str


@dataclass
class BatchReport:
    """What a batch run did: done now, skipped (done before), failed with their errors."""

    out_dir: str
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def find_videos(source: str | Path) -> list[Path]:
    """The videos of a batch: a folder (video files and image-sequence folders below it, in name
    order) or a text file with one path per line (``#`` starts a comment)."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() not in VIDEO_EXTENSIONS:
        try:
            lines = source.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise BatchError(f"{source}: cannot read the video list ({exc})") from None
        paths = [Path(line.split("#", 1)[0].strip()) for line in lines]
        return [p if p.is_absolute() else source.parent / p for p in paths if str(p) not in ("", ".")]
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise BatchError(f"{source}: no such folder or video list")
    files = [p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS]
    folders = [d for d in source.rglob("*") if d.is_dir() and is_video_path(d)]
    if not files and not folders and is_video_path(source):
        return [source]  # the folder is itself one image sequence
    return sorted(files + folders)


def plan(videos: Iterable[Path], out_dir: Path) -> list[BatchJob]:
    """One job per video, named by its stem; stems that repeat get their folder's name first."""
    videos = list(videos)
    stems = [v.stem if v.suffix else v.name for v in videos]
    counts = Counter(stems)
    used: set[str] = set()
    jobs = []
    for video, stem in zip(videos, stems, strict=True):
        base = stem if counts[stem] == 1 else f"{video.parent.name}_{stem}"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        jobs.append(BatchJob(str(video), name, str(out_dir / f"{name}.csv")))
    return jobs


def load_manifest(out_dir: Path) -> dict[str, dict[str, Any]]:
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BatchError(f"{path}: unreadable manifest ({exc}); move it away to start over") from None
    return dict(data.get("videos", {}))


def _save_manifest(out_dir: Path, entries: dict[str, dict[str, Any]], method: dict[str, Any]) -> None:
    document = {"format": "napari-mespot batch manifest", "version": 1, "method": method, "videos": entries}
    atomic_write_text(out_dir / MANIFEST, json.dumps(document, indent=1, sort_keys=True))


def spot_one(job: BatchJob, method: str, options: dict[str, Any]) -> dict[str, Any]:
    """Run on a worker: spot one video and write its CSV. Never raises: errors are returned,
    so one bad video cannot stop the batch. A video of which no frame could be analysed (no
    face, a face too briefly) fails with that reason and gets no CSV: "0 intervals" would
    read as "no expression"."""
    started = time.perf_counter()
    try:
        import cv2

        cv2.setNumThreads(1)  # one task per core: the cluster, not OpenCV, spreads the work
        result = _spot(job, method, options)
        reason = result.unusable_reason()
        if reason:
            return {"status": "failed", "error": reason}
        from napari_mespot.core.labels import Labels, write_labels

        labels = Labels({job.name: result.video_intervals()}, "native-csv")
        write_labels(job.output, labels, "native-csv")
        return {
            "status": "done",
            "intervals": len(result.intervals),
            "frames": result.n_frames,
            "seconds": round(time.perf_counter() - started, 3),
        }
    except Exception as exc:  # isolate every failure to its own video
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def _spot(job: BatchJob, method: str, options: dict[str, Any]):
    """Spot one video with the registered spotter ``method`` (looked up on the worker, where
    entry-point plugins load themselves)."""
    from napari_mespot.core.media.video import open_video
    from napari_mespot.plugins import get_spotter

    spotter = get_spotter(method)
    model = options.get("model") or options.get("prototypes")  # the prototype method's spelling
    with open_video(job.video, fps=options.get("fps")) as video:
        return run_to_end(spotter.run(video, model, options["settings"], name=job.name))


def job_settings(method: str, options: Mapping[str, Any]) -> Any:
    """The settings every video of the batch is spotted with, resolved once on the driver.

    ``options["settings"]`` is either the method's settings object (what ``mespot batch``
    builds from its options, as ``mespot spot`` does) or a mapping of fields applied over
    ``options["preset"]`` — the method's default preset when none is named, so a batch and
    ``mespot spot`` with the same options spot alike. A bad preset or field fails here, before
    any task is sent.
    """
    from napari_mespot.core.spotters.base import settings_from_mapping
    from napari_mespot.plugins import get_spotter

    spotter = get_spotter(method)
    given = options.get("settings") or {}
    if isinstance(given, spotter.settings):
        return given
    try:
        base = spotter.base_settings(options.get("preset"))
        return settings_from_mapping(spotter.settings, given, base=base)
    except ValueError as exc:
        raise BatchError(str(exc)) from None


def run_batch(
    videos: Iterable[Path],
    out_dir: str | Path,
    method: str = "prototype",
    options: dict[str, Any] | None = None,
    *,
    scheduler: str | None = None,
    workers: int = 2,
    force: bool = False,
    cluster_logs: bool = False,
) -> Generator[Progress, None, BatchReport]:
    """Spot every video on a dask cluster with the registered spotter ``method``; yields
    progress per finished video.

    ``options``: ``model`` (the method's model file; ``prototypes`` is the prototype method's
    spelling; default: the method's shipped model), ``preset`` and ``settings`` (see
    :func:`job_settings`; default: the method's default preset) and ``fps`` (of image folders).
    Results in ``out_dir`` made with other settings are a :class:`BatchError` unless ``force``,
    which redoes them. ``cluster_logs`` lets a local cluster's processes log as dask does;
    otherwise they log errors only. Closing the generator cancels the outstanding tasks and
    shuts a local cluster down; what finished stays recorded.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    from napari_mespot.core.atomic import check_output_folder
    from napari_mespot.plugins import get_spotter, spotters

    if method not in spotters():
        raise BatchError(f"unknown method {method!r}; available: {', '.join(spotters())}")
    if not scheduler and workers < 1:
        raise BatchError(f"workers must be at least 1, got {workers}")

    out = check_output_folder(out_dir)
    options = dict(options or {})
    options["settings"] = job_settings(method, options)
    model = options.get("model") or options.get("prototypes")
    get_spotter(method).load_model(model, options["settings"])  # a bad model fails here, once
    record = settings_record(method, options)
    jobs = plan(videos, out)
    if not jobs:
        raise BatchError("no videos to process")
    out.mkdir(parents=True, exist_ok=True)
    entries = load_manifest(out)
    todo, report = _todo(jobs, entries, record, force, BatchReport(str(out)))
    method_record = {"method": method, **{k: str(v) for k, v in options.items()}}
    started = time.perf_counter()
    yield Progress(len(report.skipped), len(jobs), f"{len(report.skipped)} done before")
    if not todo:
        return report

    cluster = None
    try:
        if scheduler:
            client = Client(scheduler, timeout="20s")
        else:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=False if cluster_logs else logging.ERROR,
            )
            client = Client(cluster)
    except OSError as exc:
        if cluster is not None:
            cluster.close()
        raise BatchError(f"cannot reach the dask scheduler {scheduler or '(local)'}: {exc}") from None
    futures = {client.submit(spot_one, job, method, options, pure=False): job for job in todo}
    try:
        for future in as_completed(futures):
            job = futures[future]
            outcome = future.result()
            outcome.update(video=job.video, output=job.output, finished=dt.datetime.now(dt.UTC).isoformat())
            outcome.update(record)
            entries[job.name] = outcome
            _save_manifest(out, entries, method_record)
            if outcome["status"] == "done":
                report.done.append(job.name)
            else:
                report.failed[job.name] = outcome["error"]
            finished = len(report.done) + len(report.failed) + len(report.skipped)
            yield Progress(finished, len(jobs), job.name)
    finally:
        for future in futures:
            future.cancel()
        client.close()
        if cluster is not None:
            cluster.close()
    report.seconds = time.perf_counter() - started
    return report


def report_dict(report: BatchReport) -> dict[str, Any]:
    return asdict(report)


def settings_record(method: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """What made a result, as recorded with it: method, settings, the model file (by content,
    so an edited file with the same name counts as another model), fps, and a key of all four."""
    from napari_mespot.plugins import get_spotter

    settings = options["settings"]
    if dataclasses.is_dataclass(settings):
        settings = dataclasses.asdict(settings)
    settings = json.loads(json.dumps(settings, sort_keys=True, default=str))
    model = options.get("model") or options.get("prototypes")
    model = model or get_spotter(method).default_model_path(options["settings"])
    model_record = None
    if model is not None:
        digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()
        model_record = {"file": Path(model).name, "sha256": digest}
    record = {"method": method, "settings": settings, "model": model_record, "fps": options.get("fps")}
    key = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    return {**record, "key": key}


def _todo(
    jobs: list[BatchJob], entries: Mapping[str, dict[str, Any]], record: Mapping[str, Any], force: bool,
    report: BatchReport,
) -> tuple[list[BatchJob], BatchReport]:
    """The jobs to run now; the rest are done already (under these settings) and skipped. A
    result made with other settings is redone with ``force`` and refused otherwise."""
    todo, other = [], []
    for job in jobs:
        entry = entries.get(job.name, {})
        finished = entry.get("status") == "done" and _readable_result(Path(job.output))
        if finished and entry.get("key") == record["key"]:
            report.skipped.append(job.name)
            continue
        if finished and not force:
            other.append((job.name, entry))
        todo.append(job)
    if other:
        names = ", ".join(name for name, _ in other[:5]) + (" …" if len(other) > 5 else "")
        raise BatchError(
            f"{report.out_dir} holds results of {len(other)} video(s) made with other settings "
            f"({names}; {_difference(other[0][1], record)}); pass --force to redo them with these "
            "settings, or choose another --out"
        )
    return todo, report


def _readable_result(path: Path) -> bool:
    """Whether a result file is there and whole (a 0-byte or damaged file is not a result)."""
    from napari_mespot.core.labels.native import load_native_csv

    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        load_native_csv(path)
    except MespotError:
        return False
    return True


def _difference(entry: Mapping[str, Any], record: Mapping[str, Any]) -> str:
    """What differs between the settings an entry was made with and ``record``, in a few words."""
    if "key" not in entry:
        return "recorded without its settings by an earlier napari-mespot"
    changes = []
    for name in ("method", "model", "fps"):
        if entry.get(name) != record.get(name):
            changes.append(f"{name} {entry.get(name)} → {record.get(name)}")
    old, new = entry.get("settings") or {}, record["settings"]
    for name in sorted({*old, *new}):
        if old.get(name) != new.get(name):
            changes.append(f"{name} {old.get(name)!r} → {new.get(name)!r}")
    return "; ".join(changes[:4]) or "other settings"
