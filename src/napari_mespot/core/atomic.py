"""Atomic file writes: a reader never sees a half-written file, a crash never loses the old one.

Write to a temporary file in the same folder, fsync it, then rename over the target (rename is
atomic on POSIX within one file system) and fsync the folder so the rename itself survives.

The output policy every command that writes follows (:func:`check_output`,
:func:`check_output_folder`), checked before the work starts so that nothing is computed for an
output that cannot be written: never write onto one of the command's own inputs; never replace
an existing file unless asked to (``--force``); refuse a destination that cannot be written in
one line naming it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from napari_mespot.core.errors import OutputError


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; on success it replaces ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        with open(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    with atomic_writer(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_writer(path, "wb") as fh:
        fh.write(data)


def is_writable_dir(folder: str | os.PathLike) -> bool:
    """Whether files should be written into ``folder``.

    Its permission bits decide, even for root (who ``os.access`` says may write anywhere):
    a folder marked read-only — a dataset share, shared test fixtures — is left untouched.
    """
    try:
        st = os.stat(folder)
    except OSError:
        return False
    if os.geteuid() == 0:
        return bool(st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return os.access(folder, os.W_OK)


def check_output(
    path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike | None] = (), force: bool = False
) -> Path:
    """``path`` if a file may be written there now; :class:`OutputError` saying why not otherwise.

    An input of the command is refused even with ``force``: replacing it would destroy what the
    result was computed from, which no option should make easy.
    """
    target = Path(path)
    for source in inputs:
        if source is not None and same_file(target, source):
            raise OutputError(f"{target} is also an input of this command; write the result to another file")
    if target.is_dir():
        raise OutputError(f"{target} is a folder; give a file name to write to")
    if (target.exists() or target.is_symlink()) and not force:
        raise OutputError(f"{target} already exists; choose another name or pass --force to replace it")
    _check_parent(target)
    return target


def check_output_folder(folder: str | os.PathLike) -> Path:
    """``folder`` if files may be written into it (created on demand); :class:`OutputError` if not."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} exists and is not a folder")
    _check_parent(folder / "_")
    return folder


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (through links and relative spellings too)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): compare where they would be
        return Path(a).resolve() == Path(b).resolve()


def _check_parent(target: Path) -> None:
    """The nearest existing folder above ``target`` must be a folder we may write into."""
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise OutputError(f"cannot write {target}: {ancestor} is a file, not a folder")
    if not is_writable_dir(ancestor):
        raise OutputError(f"cannot write {target}: the folder {ancestor} is not writable")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
