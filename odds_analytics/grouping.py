"""Vectorised group-by on sorted rows: the few primitives the fair-price and backtest code needs, in numpy.

pandas' multi-key `sort_values` / `groupby` / `merge` factorise every key column on every call; on a season's
half-million price rows that overhead, not the arithmetic, was most of the backtest. Here the keys are turned
into integer codes once (`sort_codes`), rows are sorted once (`lexsort`, skipped when already in order) and
each group is a contiguous run (`runs`). The results equal pandas' on the same data: codes sort like
`sort_values` (categoricals by category order, text lexically, NaN last); medians are taken as pandas takes
them (middle value, or the mean of the two middle values).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "first_valid",
    "group_median",
    "is_sorted",
    "lexsort",
    "run_ids",
    "runs",
    "sort_codes",
]


def sort_codes(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """int64 codes ordered as `sort_values` orders the values (missing values last): group keys and sort keys."""
    series = values if isinstance(values, pd.Series) else pd.Series(values)
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy(dtype=np.int64)
    elif series.dtype.kind in "iub":
        return series.to_numpy(dtype=np.int64)
    elif series.dtype.kind == "M":
        codes = series.to_numpy(dtype="datetime64[us]").view(np.int64)
        return np.where(series.isna().to_numpy(), np.iinfo(np.int64).max, codes)
    else:
        codes, _ = pd.factorize(series, sort=True, use_na_sentinel=True)
        codes = codes.astype(np.int64)
    return np.where(codes < 0, np.iinfo(np.int64).max, codes)


def is_sorted(keys: Sequence[np.ndarray]) -> bool:
    """Whether rows are in lexicographic order of `keys` (first key primary)."""
    n = len(keys[0]) if keys else 0
    if n < 2:
        return True
    undecided = np.ones(n - 1, dtype=bool)
    for key in keys:
        a, b = key[:-1], key[1:]
        if (undecided & (a > b)).any():
            return False
        undecided &= a == b
        if not undecided.any():
            return True
    return True


def lexsort(keys: Sequence[np.ndarray]) -> np.ndarray | None:
    """Stable order of rows by `keys` (first key primary), or None when they are already in that order."""
    if is_sorted(keys):
        return None
    return np.lexsort(tuple(reversed(list(keys))))


def runs(keys: Sequence[np.ndarray]) -> np.ndarray:
    """Start positions of the runs of equal `keys` in sorted rows."""
    n = len(keys[0]) if keys else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def run_ids(starts: np.ndarray, n: int) -> np.ndarray:
    """Group number of each of `n` sorted rows, from the run starts."""
    ids = np.zeros(n, dtype=np.int64)
    if len(starts) > 1:
        ids[starts[1:]] = 1
    return np.cumsum(ids)


def group_median(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """NaN-skipping median of each run of sorted rows (NaN for a run without values), as pandas computes it:
    the middle value, or the mean of the two middle values.

    Runs of equal length are sorted together as the rows of one matrix: no sort over all the rows.
    """
    n = len(values)
    size = np.diff(np.append(starts, n))
    out = np.full(len(starts), np.nan)
    for length in np.unique(size).tolist():
        which = np.flatnonzero(size == length)
        block = np.sort(values[starts[which][:, None] + np.arange(length)], axis=1)  # NaN sort last
        count = length - np.isnan(block).sum(axis=1)
        has = count > 0
        rows = np.arange(len(which))[has]
        lo = block[rows, (count[has] - 1) // 2]
        hi = block[rows, count[has] // 2]
        out[which[has]] = np.where((count[has] % 2) == 1, lo, (lo + hi) / 2)
    return out


def first_valid(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per run of sorted rows: the first non-NaN value (NaN when none), like groupby `first`."""
    n = len(values)
    position = np.where(np.isnan(values), n, np.arange(n))
    first = np.minimum.reduceat(position, starts) if len(starts) else np.zeros(0, dtype=np.int64)
    out = np.full(len(starts), np.nan)
    found = first < n
    out[found] = values[first[found]]
    return out
