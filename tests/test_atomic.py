"""Atomic writes: all or nothing, and files as readable as a plain open() would make them."""

from __future__ import annotations

import os
import stat

import pytest

from napari_mespot.core.atomic import atomic_write_text, atomic_writer


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "labels.csv"
    target.write_text("old content")
    with pytest.raises(RuntimeError), atomic_writer(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("crash in the middle")
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv"]


def test_written_file_has_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "out.csv", "a,b\n")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o644
    assert (tmp_path / "out.csv").read_text() == "a,b\n"


def test_a_folder_without_write_bits_counts_as_read_only_even_for_root(tmp_path):
    from napari_mespot.core.atomic import is_writable_dir

    assert is_writable_dir(tmp_path)
    tmp_path.chmod(0o555)
    try:
        assert not is_writable_dir(tmp_path)
    finally:
        tmp_path.chmod(0o755)
    assert not is_writable_dir(tmp_path / "missing")
