"""Look-ahead-free reads of prices: as-of odds and closing lines (events, predictions and Polymarket asks:
`tasks/storage/event_reads.py`).

The one rule: a read "at t" only ever sees rows with `snapshot_time <= t` (never after). The closing line
of an event is each book's last snapshot *strictly before* tip-off. Every read is a single SQL statement
with bound values. Two ways to answer "each book's newest price at or before t":
- from `odds_states` (one index probe per (event, t) pair, see `tasks/storage/state_reads.py`): the batch
  reads `read_odds_at_times` / `read_closing_lines` when the markets asked are among the featured ones
  (h2h, spreads, totals: everything the backtest and the model read);
- from `odds` (one probe of `ix_odds_asof` per (pair, market, bookmaker)): the single-event read
  `read_odds_at_time`, the reference the states are tested against, and any other market.
Both return the same rows; `tests/tasks/storage/test_reads_states.py` shows it.

Two layers, as everywhere in `tasks/` (docs/DEVELOPMENT.md, "The tasks/ contract"):
- plain `async def read_x(..., *, session, ...)` functions (tests and benchmarks call them with a session);
- thin Prefect tasks `read_x_task` that open `async_session_maker()` and call `read_x` (flows call these).

Results are pandas DataFrames with fixed columns (`ODDS_COLUMNS`, `CLOSING_COLUMNS`), empty but typed
when nothing matches. Times are timezone-aware UTC.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals
from prefect import task
from prefect.cache_policies import NONE
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_models.db import async_session_maker
from odds_models.odds_states import STATE_MARKETS
from odds_models.settings import get_settings
from tasks.storage import state_reads

log = logging.getLogger(__name__)

__all__ = [
    "CLOSING_COLUMNS",
    "ODDS_COLUMNS",
    "as_frame",
    "aware_utc",
    "read_closing_lines",
    "read_closing_lines_task",
    "read_odds_at_time",
    "read_odds_at_time_task",
    "read_odds_at_times",
    "read_odds_at_times_split",
    "read_odds_at_times_task",
    "staleness_or_setting",
]

ODDS_COLUMNS = [
    "request_index",  # position of the (event, t) pair in the request (0 for the single form)
    "event_id",
    "decision_time",  # the t asked for
    "bookmaker",
    "market",
    "outcome",
    "description",
    "point",
    "price_decimal",
    "price_american",
    "snapshot_time",  # when this price was seen: always <= decision_time
    "snapshot_id",
]
CLOSING_COLUMNS = [
    "event_id",
    "bookmaker",  # a sportsbook key, or `import:<source>` for an imported closing line
    "market",
    "outcome",
    "description",
    "point",
    "price_decimal",
    "price_american",
    "snapshot_time",  # NULL for imported lines
    "commence_time",
    "source",  # snapshots | import
]
_UTC_COLUMNS = ("decision_time", "snapshot_time", "commence_time")


def as_frame(rows: Sequence[Any], columns: list[str]) -> pd.DataFrame:
    """A read's rows as a frame with fixed `columns`, its time columns as timezone-aware UTC."""
    df = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    for col in _UTC_COLUMNS:
        if col in df.columns:
            df[col] = pd.to_datetime(df[col], utc=True)
    return df


def aware_utc(t: datetime) -> datetime:
    """`t` in UTC; a naive time is refused (an as-of read cannot guess its zone)."""
    if t.tzinfo is None:
        raise ValueError(f"as-of reads need a timezone-aware time, got naive {t!r}")
    return t.astimezone(UTC)


def staleness_or_setting(max_staleness: timedelta | None) -> timedelta:
    """`max_staleness`, or the setting `max_staleness_minutes` when None."""
    if max_staleness is not None:
        return max_staleness
    return timedelta(minutes=get_settings().max_staleness_minutes)


# The as-of query, shared by the decision reads and the closing-line read. `req` is the list of (event, t)
# pairs. It never scans an event's whole history per pair (that took 111 s on a 10-million-row season):
# 1. `combos` lists each event's (market, bookmaker) pairs with a loose index scan over `ix_odds_asof`
#    (a recursive CTE that jumps from one (market, bookmaker) to the next: ~40 index probes per event);
# 2. per pair and combo, ONE backward probe of `ix_odds_asof` returns the rows of the newest snapshot with
#    snapshot_time in [t - staleness, t] (`ORDER BY snapshot_time DESC FETCH FIRST 1 ROWS WITH TIES`: all
#    outcomes of that snapshot, nothing older). The comparison is `<= t` (`< t` for the close): a price
#    stamped one microsecond after the decision does not exist for it. Rows flagged `is_valid = false` in
#    that snapshot are dropped afterwards (the book's current price is bad: no fallback to a staler one);
# 3. `pick` is MATERIALIZED and the probe is LATERAL, so the planner cannot turn it into a merge join
#    over the whole index (it did). DISTINCT ON keeps one row per outcome when two sources (live poll and
#    historical backfill) stored the same book at the same instant.
_ASOF_TEMPLATE = """
WITH RECURSIVE req AS (
    {req}
),
ev AS (
    SELECT DISTINCT event_id FROM req
),
combos AS (
    SELECT f.event_id, f.market, f.bookmaker
    FROM ev
    CROSS JOIN LATERAL (
        SELECT o.event_id, o.market, o.bookmaker FROM odds AS o
        WHERE o.event_id = ev.event_id
        ORDER BY o.event_id, o.market, o.bookmaker
        LIMIT 1
    ) AS f
    UNION ALL
    SELECT n.event_id, n.market, n.bookmaker
    FROM combos AS c
    CROSS JOIN LATERAL (
        SELECT o.event_id, o.market, o.bookmaker FROM odds AS o
        WHERE o.event_id = c.event_id AND (o.market, o.bookmaker) > (c.market, c.bookmaker)
        ORDER BY o.event_id, o.market, o.bookmaker
        LIMIT 1
    ) AS n
),
pick AS MATERIALIZED (
    SELECT req.request_index, req.event_id, req.t, c.market, c.bookmaker
    FROM req
    JOIN combos AS c ON c.event_id = req.event_id
    WHERE {combo_filters}
)
SELECT DISTINCT ON (pick.request_index, o.market, o.bookmaker, o.outcome, o.description)
       {columns}
FROM pick
CROSS JOIN LATERAL (
    SELECT * FROM odds AS x
    WHERE x.event_id = pick.event_id AND x.market = pick.market AND x.bookmaker = pick.bookmaker
      AND x.snapshot_time {cmp} pick.t {staleness}
    ORDER BY x.snapshot_time DESC
    FETCH FIRST 1 ROWS WITH TIES
) AS o
WHERE o.is_valid
ORDER BY pick.request_index, o.market, o.bookmaker, o.outcome, o.description, o.snapshot_id DESC
"""
_PAIRS_REQ = """SELECT (r.ord - 1)::int AS request_index, r.event_id, r.t
    FROM unnest(:event_ids, :times) WITH ORDINALITY AS r(event_id, t, ord)"""
_ASOF_COLUMNS = """pick.request_index, pick.event_id, pick.t, o.bookmaker, o.market, o.outcome, o.description,
       o.point, o.price_decimal, o.price_american, o.snapshot_time, o.snapshot_id"""


def _combo_filters(markets: Sequence[str] | None, bookmakers: Sequence[str] | None) -> str:
    parts = ["TRUE"]
    if markets:
        parts.append("c.market = ANY(:markets)")
    if bookmakers:
        parts.append("c.bookmaker = ANY(:bookmakers)")
    return " AND ".join(parts)


_ASOF_SQL = _ASOF_TEMPLATE.format(
    req=_PAIRS_REQ,
    cmp="<=",
    staleness="AND x.snapshot_time >= pick.t - CAST(:staleness AS interval)",
    columns=_ASOF_COLUMNS,
    combo_filters="{filters}",
)


def _with_filters(
    params: dict[str, Any], markets: Sequence[str] | None, bookmakers: Sequence[str] | None
) -> dict[str, Any]:
    """`params` plus the `markets` / `bookmakers` values that `_combo_filters` names, when given."""
    if markets:
        params["markets"] = list(markets)
    if bookmakers:
        params["bookmakers"] = list(bookmakers)
    return params


def _from_states(markets: Sequence[str] | None) -> bool:
    """The batch reads answer from `odds_states` when every market asked is one it holds."""
    return markets is not None and len(markets) > 0 and set(markets) <= set(STATE_MARKETS)


async def read_odds_at_times(
    pairs: Iterable[tuple[str, datetime]],
    *,
    session: AsyncSession,
    markets: Sequence[str] | None = None,
    bookmakers: Sequence[str] | None = None,
    max_staleness: timedelta | None = None,
    categorical: bool = False,
) -> pd.DataFrame:
    """For every (event_id, t) pair, each bookmaker's latest price per market at or before t (one query).

    A book whose newest snapshot is older than `max_staleness` (default: setting `max_staleness_minutes`)
    is left out for that pair. Returns `ODDS_COLUMNS`; `request_index` is the pair's position. With
    `markets` among h2h/spreads/totals the answer comes from `odds_states` (one probe per pair); otherwise
    (`None` = every market) from `odds`. `categorical=True` returns bookmaker, market, outcome and
    description as categoricals (what the backtest engine groups on); the values are the same.
    """
    pair_list = [(event_id, aware_utc(t)) for event_id, t in pairs]
    if not pair_list:
        return as_frame([], ODDS_COLUMNS)
    staleness = staleness_or_setting(max_staleness)
    if _from_states(markets):
        try:
            return await _odds_from_states(
                pair_list, markets, bookmakers, staleness, session=session, categorical=categorical
            )
        except state_reads.SeparatorInData as exc:
            log.warning("%s: reading from odds instead", exc)
    frame = await _odds_from_odds(pair_list, markets, bookmakers, staleness, session=session)
    return _categorical(frame) if categorical else frame


async def read_odds_at_times_split(
    pairs: Iterable[tuple[str, datetime]],
    *,
    connections: int = 2,
    markets: Sequence[str] | None = None,
    bookmakers: Sequence[str] | None = None,
    max_staleness: timedelta | None = None,
    categorical: bool = False,
) -> pd.DataFrame:
    """`read_odds_at_times` over `connections` sessions at once, the pairs split into contiguous blocks.

    Same rows, in the same order, under the same `request_index` values as the single query. The server's
    share of the read (the probes and the arrays' encoding) then runs on as many backends, in parallel on two
    cores. Each block is a run of consecutive pairs, so the parts' rows concatenate in request order: no
    sort and no reordering copy of the joined frame (with the pairs dealt out by event, that reordering
    cost ~0.06 ms per game more at four seasons than at one, in a profile).
    """
    pair_list = list(pairs)
    size = -(-len(pair_list) // max(1, connections))
    groups = [list(range(i, min(i + size, len(pair_list)))) for i in range(0, len(pair_list), max(1, size))]

    async def part(indices: list[int]) -> pd.DataFrame:
        async with async_session_maker() as session:
            frame = await read_odds_at_times(
                [pair_list[i] for i in indices], session=session, markets=markets, bookmakers=bookmakers, max_staleness=max_staleness, categorical=categorical,
            )  # fmt: skip
        lookup = np.asarray(indices, dtype=np.int64)
        return frame.assign(request_index=lookup[frame["request_index"].to_numpy(dtype=np.int64)])

    if len(groups) <= 1:
        return await part(groups[0] if groups else [])
    frames = await asyncio.gather(*(part(g) for g in groups))
    data: dict[str, Any] = {}
    for col in ODDS_COLUMNS:
        if categorical and col in _STRING_COLUMNS:  # the parts' categories differ: their sorted union
            data[col] = union_categoricals([f[col].array for f in frames], sort_categories=True)
        else:
            data[col] = pd.concat([f[col] for f in frames], ignore_index=True).array
    out = pd.DataFrame(data)
    request_index = out["request_index"].to_numpy()
    if len(request_index) > 1 and (np.diff(request_index) < 0).any():  # not expected: blocks come in order
        out = out.take(np.argsort(request_index, kind="stable")).reset_index(drop=True)
    return out


async def _odds_from_odds(
    pairs: list[tuple[str, datetime]],
    markets: Sequence[str] | None,
    bookmakers: Sequence[str] | None,
    staleness: timedelta,
    *,
    session: AsyncSession,
) -> pd.DataFrame:
    params = _with_filters(
        {"event_ids": [p[0] for p in pairs], "times": [p[1] for p in pairs], "staleness": staleness},
        markets,
        bookmakers,
    )
    sql = _ASOF_SQL.format(filters=_combo_filters(markets, bookmakers))
    return await _fetch_frame(sql, params, ODDS_COLUMNS, session=session)


_STRING_COLUMNS = ("bookmaker", "market", "outcome", "description")


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    for col in _STRING_COLUMNS:
        frame[col] = frame[col].astype("category")
    return frame


async def _raw(*, session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


def _elements_frame(elements: state_reads.StateElements, categorical: bool, **extra: Any) -> pd.DataFrame:
    data: dict[str, Any] = dict(extra)
    for name, values in elements.columns.items():
        if name in _STRING_COLUMNS and not categorical:
            data[name] = pd.array(np.asarray(values), dtype="str")
        elif name == "snapshot_time":
            data[name] = pd.DatetimeIndex(values).tz_localize(UTC)
        else:
            data[name] = values
    return pd.DataFrame(data)


async def _odds_from_states(
    pairs: list[tuple[str, datetime]],
    markets: Sequence[str] | None,
    bookmakers: Sequence[str] | None,
    staleness: timedelta,
    *,
    session: AsyncSession,
    categorical: bool,
) -> pd.DataFrame:
    args = ([p[0] for p in pairs], [p[1] for p in pairs], staleness)
    elements = await state_reads.read_state_elements(
        await _raw(session=session), state_reads.ASOF_SQL, args, markets=list(markets or ()), bookmakers=bookmakers,
        max_staleness=staleness,
    )  # fmt: skip
    frame = _elements_frame(
        elements, categorical, request_index=elements.request_index,
        event_id=pd.array(elements.event_id, dtype="str"),
        decision_time=pd.DatetimeIndex(elements.t).tz_localize(UTC),
    )  # fmt: skip
    return frame[ODDS_COLUMNS]


# Typed positional parameters for the driver-level fetch below.
_PG_TYPES = {
    "event_ids": "text[]",
    "times": "timestamptz[]",
    "staleness": "interval",
    "markets": "text[]",
    "bookmakers": "text[]",
}
_NAMED = re.compile(r"CAST\(:(\w+) AS \w+\)|(?<![:\w]):(\w+)\b")


async def _fetch_frame(
    sql: str, params: dict[str, Any], columns: list[str], *, session: AsyncSession
) -> pd.DataFrame:
    """Run `sql` (named `:params`) on the session's asyncpg connection and build the frame from its records.

    Large as-of reads return ~0.5 million rows; going through asyncpg directly (values still bound as
    typed parameters) skips SQLAlchemy's per-row processing, about a second and a half per season.
    """
    order: list[str] = []

    def positional(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}::{_PG_TYPES[name]}"

    raw_sql = _NAMED.sub(positional, sql)
    records = await (await _raw(session=session)).fetch(raw_sql, *[params[name] for name in order])
    return as_frame([tuple(r) for r in records], columns)


async def read_odds_at_time(
    event_id: str,
    t: datetime,
    *,
    session: AsyncSession,
    markets: Sequence[str] | None = None,
    bookmakers: Sequence[str] | None = None,
    max_staleness: timedelta | None = None,
) -> pd.DataFrame:
    """One event's prices at t: each bookmaker's latest snapshot per market with snapshot_time <= t.

    Always read from `odds` (one probe per market and bookmaker): the reference the batch read from
    `odds_states` is compared with.
    """
    return await _odds_from_odds(
        [(event_id, aware_utc(t))], markets, bookmakers, staleness_or_setting(max_staleness), session=session
    )


# Imported closing lines (`closing_lines`, kind close), in `CLOSING_COLUMNS`.
_IMPORTED_CLOSES_SQL = """
SELECT c.event_id, 'import:' || c.source, c.market, c.outcome, '', c.point, c.price_decimal,
       c.price_american, NULL::timestamptz, ev.commence_time, 'import'
FROM closing_lines AS c
JOIN events AS ev ON ev.id = c.event_id
WHERE c.event_id = ANY(:event_ids) AND c.kind = 'close' {closing_filter}
"""
# The close: the as-of query at t = tip-off with a strict `<` and no staleness bound, plus imported lines.
_CLOSING_SQL = (
    "WITH snap AS ("
    + _ASOF_TEMPLATE.format(
        req="""SELECT (row_number() OVER (ORDER BY id) - 1)::int AS request_index, id AS event_id,
                      commence_time AS t
               FROM events WHERE id = ANY(:event_ids)""",
        cmp="<",
        staleness="",
        columns="""o.event_id, o.bookmaker, o.market, o.outcome, o.description, o.point, o.price_decimal,
                   o.price_american, o.snapshot_time, pick.t AS commence_time, 'snapshots' AS source""",
        combo_filters="{filters}",
    )
    + """)
SELECT event_id, bookmaker, market, outcome, description, point, price_decimal, price_american, snapshot_time,
       commence_time, source
FROM snap
UNION ALL"""
    + _IMPORTED_CLOSES_SQL
)


async def read_closing_lines(
    event_ids: Sequence[str],
    *,
    session: AsyncSession,
    markets: Sequence[str] | None = None,
    bookmakers: Sequence[str] | None = None,
    categorical: bool = False,
) -> pd.DataFrame:
    """Closing lines of events: each book's last snapshot strictly before tip-off, plus imported closes.

    Imported lines (table `closing_lines`, kind `close`) come back with bookmaker `import:<source>`,
    source `import` and no snapshot_time; the caller decides which to trust (see
    `odds_analytics.fair.closing_fair_prices`). Returns `CLOSING_COLUMNS`. Read from `odds_states` when the
    markets are among h2h/spreads/totals (one probe per event), from `odds` otherwise.
    """
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return as_frame([], CLOSING_COLUMNS)
    if _from_states(markets):
        try:
            return await _closing_from_states(ids, markets, bookmakers, categorical, session=session)
        except state_reads.SeparatorInData as exc:
            log.warning("%s: reading from odds instead", exc)
    closing_filter = "AND c.market = ANY(:markets)" if markets else ""
    sql = _CLOSING_SQL.format(filters=_combo_filters(markets, bookmakers), closing_filter=closing_filter)
    params = _with_filters({"event_ids": ids}, markets, bookmakers)
    frame = await _fetch_frame(sql, params, CLOSING_COLUMNS, session=session)
    return _categorical(frame) if categorical else frame


async def _closing_from_states(
    ids: list[str],
    markets: Sequence[str] | None,
    bookmakers: Sequence[str] | None,
    categorical: bool,
    *,
    session: AsyncSession,
) -> pd.DataFrame:
    elements = await state_reads.read_state_elements(
        await _raw(session=session), state_reads.CLOSE_SQL, (ids,), markets=list(markets or ()), bookmakers=bookmakers,
        max_staleness=None,
    )  # fmt: skip
    snaps = _elements_frame(
        elements, categorical, event_id=pd.array(elements.event_id, dtype="str"),
        commence_time=pd.DatetimeIndex(elements.t).tz_localize(UTC), source="snapshots",
    )  # fmt: skip
    imported = await _fetch_frame(
        _IMPORTED_CLOSES_SQL.format(closing_filter="AND c.market = ANY(:markets)"), {"event_ids": ids, "markets": list(markets or ())}, CLOSING_COLUMNS, session=session,
    )  # fmt: skip
    frame = pd.concat([snaps[CLOSING_COLUMNS], imported], ignore_index=True) if len(imported) else snaps
    frame = frame[CLOSING_COLUMNS]
    if categorical and len(imported):
        frame = _categorical(frame)
    return frame


# --------------------------------------------------------------------------------------------------------
# Prefect tasks (thin: open a session, call one reader)
# --------------------------------------------------------------------------------------------------------


@task(cache_policy=NONE, task_run_name="read-odds-at-time")
async def read_odds_at_time_task(
    event_id: str,
    t: datetime,
    *,
    markets: list[str] | None = None,
    bookmakers: list[str] | None = None,
    max_staleness: timedelta | None = None,
) -> pd.DataFrame:
    """Each bookmaker's latest price per market for one event at or before t."""
    async with async_session_maker() as session:
        return await read_odds_at_time(
            event_id, t, session=session, markets=markets, bookmakers=bookmakers, max_staleness=max_staleness
        )


@task(cache_policy=NONE, task_run_name="read-odds-at-times")
async def read_odds_at_times_task(
    pairs: list[tuple[str, datetime]],
    *,
    markets: list[str] | None = None,
    bookmakers: list[str] | None = None,
    max_staleness: timedelta | None = None,
    categorical: bool = False,
) -> pd.DataFrame:
    """Each bookmaker's latest price per market at or before t, for many (event, t) pairs (one query per
    connection, two connections)."""
    return await read_odds_at_times_split(
        pairs, markets=markets, bookmakers=bookmakers, max_staleness=max_staleness, categorical=categorical
    )


@task(cache_policy=NONE, task_run_name="read-closing-lines")
async def read_closing_lines_task(
    event_ids: list[str],
    *,
    markets: list[str] | None = None,
    bookmakers: list[str] | None = None,
    categorical: bool = False,
) -> pd.DataFrame:
    """Each book's last snapshot before tip-off, plus imported closing lines."""
    async with async_session_maker() as session:
        return await read_closing_lines(
            event_ids, session=session, markets=markets, bookmakers=bookmakers, categorical=categorical
        )
