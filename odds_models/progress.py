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

__all__ = ["Listener", "Step", "listening", "step"]


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

    def advance(self, detail: str | None = None, n: int = 1) -> None:
        """Count `n` more units done; `detail` names the last one (a file, a fold, a simulated time)."""
        self.done += n
        for listener in _current():
            listener.advanced(self, detail)

    def set_total(self, total: int) -> None:
        """The total once it is known (after listing a folder, say)."""
        self.total = total


def _current() -> list[Listener]:
    with _lock:
        return list(_listeners)


@contextmanager
def step(label: str, total: int | None = None, unit: str = "") -> Iterator[Step]:
    """A long step, reported to the listeners from its start to its end (even when it raises)."""
    current = Step(label, total, unit)
    for listener in _current():
        listener.started(current)
    try:
        yield current
    finally:
        for listener in _current():
            listener.finished(current)


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
