"""Process-wide settings applied once start-up is over: `freeze_startup_objects`.

Start-up leaves ~210,000 objects the cyclic garbage collector tracks and that live as long as the process:
the modules, classes and functions of pandas, scipy, SQLAlchemy, SQLModel and Prefect (Prefect alone ~75,000;
docs/BACKTESTING_GUIDE.md §7.3). Python 3.11 collects its oldest generation when the objects promoted to it
since the last full collection exceed a quarter of the survivors of that collection, and a full collection
walks every tracked object of the process: 0.1-0.3 s with that start-up heap, paid at whichever moment of the
run the quarter happens to be crossed (in the benchmark's season backtest: in the 1x process's timed backtest,
in the 2x and 4x processes' staged one; `BENCH_GC_TRACE=1 uv run python benchmarks/gc_freeze_ab.py` shows it).
`gc.freeze()` moves the objects alive at that moment to a permanent generation the collector never walks, so a
full collection then costs in proportion to what the work itself keeps alive.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["freeze_startup_objects"]

_lock = threading.Lock()
_frozen = False


def freeze_startup_objects() -> bool:
    """Freeze the objects alive now out of the collector's walks (`gc.freeze()`), once per process.

    Call it where start-up ends and the work begins: the imports done, nothing per-run allocated yet (the start
    of a flow run; a benchmark's measured process after its imports). Only the first call freezes, later ones
    return False: a long-running process (a served scheduler, `odds demo` running flows one after the other)
    freezes its start-up once and never a run's leftovers, so nothing a run leaves in a cycle is kept for good.
    What is frozen was going to live as long as the process anyway (modules, classes, functions, settings);
    the few start-up objects that were garbage in a cycle are kept (a one-time, bounded cost)."""
    global _frozen  # noqa: PLW0603 - once per process, like the collector itself
    with _lock:
        if _frozen:
            return False
        gc.freeze()
        _frozen = True
        return True
