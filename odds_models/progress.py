"""Progress of long steps (files imported, folds trained, demo ticks), for whoever shows it.

Code that loops over files, folds or stages reports here; the `odds` command installs a listener that draws a
bar on stderr when it is a terminal and prints one counter line per step otherwise (`odds_cli/common.py`).
Without a listener (a flow run by a worker, a notebook, a test) every call is a no-op, so reporting costs
nothing and never changes what a function returns.

    with progress.step("import oddsapi", total=len(files), unit="files") as step:
        for path in files:
            ...
            step.advance(path.name)

Listeners are process-wide (Prefect may run a task in a worker thread, where a context variable set by the
command would not be seen); install one with `listening(listener)`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

__all__ = ["Listener", "Step", "begin", "listening", "step"]


class Listener(Protocol):
    """Receives the steps of this process. Must be thread-safe and must not raise."""

    def started(self, step: Step) -> None: ...

    def advanced(self, step: Step, detail: str | None) -> None: ...

    def finished(self, step: Step) -> None: ...


_listeners: list[Listener] = []
_lock = threading.Lock()


class Step:
    """One long step: `done` of `total` (None when unknown) `unit`s."""

    def __init__(self, label: str, total: int | None, unit: str) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.done = 0
        self._finished = False

    def advance(self, detail: str | None = None, n: int = 1) -> None:
        """Count `n` more units done; `detail` names the last one (a file, a fold, a simulated time).
        A step with a total ends at its last unit."""
        self.done += n
        for listener in _current():
            listener.advanced(self, detail)
        if self.total is not None and self.done >= self.total:
            self.finish()

    def finish(self) -> None:
        """End the step (once; later calls do nothing)."""
        if self._finished:
            return
        self._finished = True
        for listener in _current():
            listener.finished(self)

    def set_total(self, total: int) -> None:
        """The total once it is known (after listing a folder, say)."""
        self.total = total


def _current() -> list[Listener]:
    with _lock:
        return list(_listeners)


def begin(label: str, total: int | None = None, unit: str = "") -> Step:
    """Start a step without a with-block (a flow's numbered stages, a loop inside a long function): it ends
    at its last unit, at `finish()`, or when the command's listener closes."""
    current = Step(label, total, unit)
    for listener in _current():
        listener.started(current)
    if total == 0:
        current.finish()
    return current


@contextmanager
def step(label: str, total: int | None = None, unit: str = "") -> Iterator[Step]:
    """A long step, reported to the listeners from its start to its end (even when it raises)."""
    current = begin(label, total, unit)
    try:
        yield current
    finally:
        current.finish()


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Install `listener` for the block."""
    with _lock:
        _listeners.append(listener)
    try:
        yield listener
    finally:
        with _lock:
            _listeners.remove(listener)
