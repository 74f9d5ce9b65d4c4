"""As-of reads from `odds_states` (see `odds_models/odds_states.py`): one index probe per (event, t) pair.

For each requested (event, t), the state row with the greatest `snapshot_time <= t` (`< t` for the close) holds
every (market, bookmaker)'s newest rows at or before t. The query returns that row's arrays in a form numpy
decodes without one Python object per value: numbers as `array_send` bytes (big-endian, fixed width: NULL
points and American prices become NaN first), text as one `\\x1f`-joined string per array. The elements are
then filtered here, vectorised, exactly as the per-combination read filters `odds`:
- staleness: element `snapshot_time >= t - max_staleness` (the whole state is skipped in SQL when older);
- validity: rows flagged `is_valid = false` are dropped, with no fallback to an older price of that book;
- markets / bookmakers;
- one row per (pair, market, bookmaker, outcome, description): the greatest snapshot_id (two sources stored
  at the same instant), which the array order puts first.

Strings come back as categoricals (sorted categories, so they sort like the text) or as plain strings.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SeparatorInData", "StateElements", "read_state_elements"]

_SEP = "\x1f"
_TEXT = ("markets", "bookmakers", "outcomes", "descriptions")
_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in microseconds since 1970 (timestamptz binary origin)
_ARRAY_HEADER = 20  # ndim, flags, element type, then (length, lower bound) of the one dimension

_TEMPLATE = """
WITH req AS (
    {req}
)
SELECT req.request_index, req.event_id, req.t, cardinality(s.markets),
       array_to_string(s.markets, E'\\x1f'), array_to_string(s.bookmakers, E'\\x1f'),
       array_to_string(s.outcomes, E'\\x1f'), array_to_string(s.descriptions, E'\\x1f'),
       array_send(array_replace(s.points, NULL, 'NaN')), array_send(s.prices),
       array_send(array_replace(s.prices_american::float8[], NULL, 'NaN')), array_send(s.valid),
       array_send(s.snapshot_times), array_send(s.snapshot_ids)
FROM req
CROSS JOIN LATERAL (
    SELECT s.markets, s.bookmakers, s.outcomes, s.descriptions, s.points, s.prices, s.prices_american, s.valid,
           s.snapshot_times, s.snapshot_ids
    FROM odds_states AS s
    WHERE s.event_id = req.event_id AND s.snapshot_time {cmp} req.t {window}
    ORDER BY s.snapshot_time DESC
    LIMIT 1
) AS s
"""
PAIRS_REQ = """SELECT (r.ord - 1)::int AS request_index, r.event_id, r.t
    FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS r(event_id, t, ord)"""
EVENTS_REQ = """SELECT (row_number() OVER (ORDER BY id) - 1)::int AS request_index, id AS event_id,
           commence_time AS t
    FROM events WHERE id = ANY($1::text[])"""

# The decision read (at or before t, within the staleness window) and the close (strictly before tip-off).
ASOF_SQL = _TEMPLATE.format(req=PAIRS_REQ, cmp="<=", window="AND s.snapshot_time >= req.t - $3::interval")
CLOSE_SQL = _TEMPLATE.format(req=EVENTS_REQ, cmp="<", window="")


class SeparatorInData(ValueError):
    """A text value contains the `\\x1f` separator: the caller reads from `odds` instead."""


@dataclass
class StateElements:
    """The filtered elements of the states read, one entry per price row, in request then array order."""

    request_index: np.ndarray
    event_id: np.ndarray  # object (str)
    t: np.ndarray  # datetime64[us], UTC
    columns: dict[str, Any]  # bookmaker, market, outcome, description, point, price_decimal, ...

    def __len__(self) -> int:
        return len(self.request_index)


_NUMBERS_CHUNK = 2048  # payloads joined at once: ~1-2 MB, reused from the heap instead of one fresh buffer


def _numbers(blobs: list[bytes], dtype: str) -> np.ndarray:
    """Concatenated `array_send` payloads of fixed-width, NULL-free arrays → one numpy array.

    Joined chunk by chunk: one joined buffer for all the payloads (~20 MB per column at four seasons) cost
    more per pair the larger it was (fresh memory, beyond the caches); chunks keep the cost per pair flat."""
    item = np.dtype(dtype)
    record = np.dtype([("length", ">i4"), ("value", item)])
    parts = []
    for start in range(0, len(blobs), _NUMBERS_CHUNK):
        chunk = blobs[start : start + _NUMBERS_CHUNK]
        data = np.frombuffer(b"".join(b[_ARRAY_HEADER:] for b in chunk), dtype=record)
        if len(data) and not (data["length"] == item.itemsize).all():
            raise ValueError("odds_states: unexpected array layout (a NULL in a numeric array?)")
        parts.append(data["value"])
    return np.concatenate(parts) if parts else np.zeros(0, dtype=item)


def _codes(texts: list[str], counts: np.ndarray, categories: dict[str, int]) -> np.ndarray:
    """Integer codes (first-seen order in `categories`) of every element of the joined text arrays.

    States repeat the same arrays (same books, same teams) again and again: each distinct joined string is
    split once.
    """
    cache: dict[str, np.ndarray] = {}
    parts = []
    for text, n in zip(texts, counts.tolist(), strict=True):
        codes = cache.get(text)
        if codes is None:
            values = text.split(_SEP)
            if len(values) != n:
                raise SeparatorInData("a text value of odds_states contains the separator \\x1f")
            codes = np.fromiter((categories.setdefault(v, len(categories)) for v in values), np.int32, n)
            cache[text] = codes
        parts.append(codes)
    return np.concatenate(parts) if parts else np.zeros(0, np.int32)


def _categorical(codes: np.ndarray, categories: dict[str, int]) -> pd.Categorical:
    """Codes in first-seen order → a categorical with sorted categories (sorts like the strings)."""
    names = sorted(categories)
    rank = np.empty(len(categories), dtype=np.int32)
    for position, name in enumerate(names):
        rank[categories[name]] = position
    return pd.Categorical.from_codes(rank[codes] if len(codes) else codes, categories=names, validate=False)


async def read_state_elements(
    connection: Any,
    sql: str,
    args: Sequence[Any],
    *,
    markets: Sequence[str],
    bookmakers: Sequence[str] | None,
    max_staleness: timedelta | None,
) -> StateElements:
    """Run `ASOF_SQL` / `CLOSE_SQL` on an asyncpg connection and decode, filter and de-duplicate the rows.

    The cyclic garbage collector is paused from the fetch to the end of the decoding: the rows (one asyncpg
    record per pair, 24,600 for four seasons) are garbage-collector-tracked objects that would otherwise
    survive its young collections while alive and be promoted, triggering full collections, each of which
    walks every object of the process (~220,000 after the imports: 0.1-0.3 s). How many happen then grows
    with the size of the read (none for a season, one or more for four). The records create no cycles; they
    are freed by reference counting before the collector resumes.
    """
    with _gc_paused():
        records = await connection.fetch(sql, *args)
        elements = _decode(records, markets=markets, bookmakers=bookmakers, max_staleness=max_staleness)
        del records
    return elements


_gc_lock = threading.Lock()
_gc_pauses = 0
_gc_was_enabled = False


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector (nested and concurrent pauses, from coroutines or threads: the last
    one out restores the state the first one found)."""
    global _gc_pauses, _gc_was_enabled  # noqa: PLW0603 - one process-wide pause count, like the collector
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def _decode(
    fetched: Sequence[Any],
    *,
    markets: Sequence[str],
    bookmakers: Sequence[str] | None,
    max_staleness: timedelta | None,
) -> StateElements:
    records = sorted((r for r in fetched if r[3]), key=lambda r: r[0])
    counts = np.fromiter((r[3] for r in records), np.int64, len(records))
    req = np.fromiter((r[0] for r in records), np.int64, len(records))
    request_index = np.repeat(req, counts)
    t_state = pd.DatetimeIndex([r[2] for r in records], tz="UTC").tz_localize(None).as_unit("us").to_numpy()
    t = np.repeat(t_state, counts)
    text = {}
    for position, name in enumerate(_TEXT, start=4):
        categories: dict[str, int] = {}
        text[name] = (_codes([r[position] for r in records], counts, categories), categories)
    point = _numbers([r[8] for r in records], ">f8").astype(np.float64)
    price = _numbers([r[9] for r in records], ">f8").astype(np.float64)
    american = _numbers([r[10] for r in records], ">f8").astype(np.float64)
    valid = _numbers([r[11] for r in records], "?").astype(bool)
    snapshot_us = _numbers([r[12] for r in records], ">i8").astype(np.int64) + _PG_EPOCH_US
    snapshot_time = snapshot_us.astype("datetime64[us]")
    snapshot_id = _numbers([r[13] for r in records], ">i8").astype(np.int64)

    keep = valid.copy()
    if max_staleness is not None:
        keep &= snapshot_time >= t - np.timedelta64(int(max_staleness / timedelta(microseconds=1)), "us")
    keep &= snapshot_time <= t  # the states already guarantee it: checked again, it costs nothing
    for name, wanted in (("markets", markets), ("bookmakers", bookmakers)):
        if wanted is not None:
            codes, categories = text[name]
            allowed = np.zeros(len(categories) + 1, dtype=bool)
            allowed[[categories[v] for v in wanted if v in categories]] = True
            keep &= allowed[codes]
    idx = np.flatnonzero(keep)
    # DISTINCT ON (pair, market, bookmaker, outcome, description): duplicates are adjacent, best first.
    if len(idx) > 1:
        same = request_index[idx[1:]] == request_index[idx[:-1]]
        for name in _TEXT:
            codes = text[name][0]
            same &= codes[idx[1:]] == codes[idx[:-1]]
        idx = idx[np.concatenate([[True], ~same])]
    event_ids = np.repeat(np.array([r[1] for r in records], dtype=object), counts)
    columns: dict[str, Any] = {
        single: _categorical(text[name][0][idx], text[name][1])
        for name, single in zip(_TEXT, ("market", "bookmaker", "outcome", "description"), strict=True)
    }
    columns.update(point=point[idx], price_decimal=price[idx], price_american=american[idx],
                   snapshot_time=snapshot_time[idx], snapshot_id=snapshot_id[idx])  # fmt: skip
    return StateElements(request_index[idx], event_ids[idx], t[idx], columns)
