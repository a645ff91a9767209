"""The progress record every long core task yields (docs/architecture.md §3).

A long task is a generator: it yields :class:`Progress` and returns its result. The CLI drives
it with a terminal bar; the GUI wraps it in napari's ``thread_worker`` and cancels it by closing
the generator, so a task must leave nothing half-written when ``GeneratorExit`` arrives.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TypeVar

R = TypeVar("R")


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None = None
    message: str = ""

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


def run_to_end(gen: Generator[Progress, None, R]) -> R:
    """Run a long task with nobody watching its progress (scripts, workers, tests); its result."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def shifted(gen: Generator[Progress, None, R], done: int, total: int | None, message: str
            ) -> Generator[Progress, None, R]:
    """``gen``'s progress moved on by ``done`` steps of a larger task of ``total``, and its result.

    For a long task made of parts (``result = yield from shifted(part, done, total, "part 2/3")``);
    closing it closes ``gen``.
    """
    try:
        while True:
            try:
                p = next(gen)
            except StopIteration as stop:
                return stop.value
            yield Progress(done + p.done, total, message)
    finally:
        gen.close()
