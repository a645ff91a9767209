"""Shared test fixtures: the real media in ../shared/fixtures and small generated videos."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"the shared fixtures are missing: expected {FIXTURES} beside the project")
    return FIXTURES


@pytest.fixture(scope="module")
def one_torch_thread():
    """One torch intra-op thread for a module: on the shared 2-core machines OpenMP barriers
    stall for milliseconds, which the many small ops of the flow ports feel most."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fresh_plugins(monkeypatch):
    """Core's registries back to the built-ins and the plugin manager not yet loaded, so a test
    can install plugins as a new process would find them; both are put back afterwards."""
    from napari_mespot import plugins
    from napari_mespot.core import registry

    saved = registry.REGISTRIES.copy()
    registry.REGISTRIES.restore(registry.builtin_registries())
    plugins.plugin_manager.cache_clear()
    yield
    plugins.plugin_manager.cache_clear()
    registry.REGISTRIES.restore(saved)


@pytest.fixture(autouse=True)
def _user_data_in_tmp(tmp_path_factory, monkeypatch):
    """Sessions and landmark caches of read-only videos go to the user's folders: one per test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def scripted_video(tmp_path):
    """An 11 s synthetic face video with two smiles (AU12) and a frown (AU4) at known frames,
    no distractors but sensor noise; returns (path, ground-truth intervals)."""
    from napari_mespot.core.media.writer import write_video
    from napari_mespot.core.synth.generator import SynthScene, SynthSettings
    from napari_mespot.core.synth.schedule import scripted_expression

    fps = 30.0
    settings = SynthSettings(
        duration_s=11.0, n_me=0, n_mae=0, head_drift=False, head_shakes=False, blinks=False, flicker=False
    )
    expressions = [
        scripted_expression(45, 30, (12,), 5.0, fps),
        scripted_expression(150, 40, (12,), 6.0, fps),
        scripted_expression(250, 24, (4,), 4.0, fps),
    ]
    scene = SynthScene(settings, 11, expressions=expressions)
    path = write_video(tmp_path / "clip.mp4", scene.frames(), fps=fps)
    return path, scene.intervals


@pytest.fixture
def cli(capsys):
    """``mespot ARGS`` run in-process as a user runs it: returns (exit code, stdout, stderr).

    Usage errors end in argparse's ``SystemExit``; their code is returned like any other.
    """
    from napari_mespot.cli import main

    def run(*args) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def clip(fixtures_dir, tmp_path):
    """A copy of the 72-frame one-face clip in a folder of its own (its landmark cache and its
    review session land beside it)."""
    import shutil

    folder = tmp_path / "videos"
    folder.mkdir()
    path = folder / "clip.mp4"
    shutil.copy(fixtures_dir / "video" / "single_face.mp4", path)
    return path


@pytest.fixture
def clip_sidecar(clip):
    """The review session of :func:`clip` with one added interval, saved beside it."""
    from napari_mespot.core.media.video import open_video
    from napari_mespot.core.review.session import ReviewSession

    with open_video(clip) as video:
        session = ReviewSession.open(video)
    session.model.add(3, 8, aus=(12,))
    return session.path
