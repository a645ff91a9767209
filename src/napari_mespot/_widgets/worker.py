"""A core generator (docs/architecture.md §3: long work yields ``Progress``) run in napari's
``thread_worker``, its errors left to the dock that started it.

The dock connects ``yielded`` (progress), ``returned`` (the result), ``errored`` (one line in the
dock) and ``finished``, all of which napari delivers on the main thread; ``quit()`` cancels at
the generator's next yield.
"""

from __future__ import annotations

from napari.qt.threading import thread_worker

from napari_mespot.core.errors import MespotError


class JobError(MespotError):
    """An unexpected ``RuntimeError`` of a dock job, carried as one line: superqt's worker takes a
    ``RuntimeError`` for "the worker was deleted" and ends without a signal, which would leave
    the dock waiting for ever (torch reports most of its failures as ``RuntimeError``)."""


@thread_worker(ignore_errors=True)  # the dock reports errors (errored), not napari's event loop
def run_job(body, *args):
    """Run the generator ``body(*args)`` in a worker thread."""
    try:
        return (yield from body(*args))
    except RuntimeError as exc:
        raise JobError(f"RuntimeError: {exc}") from exc
