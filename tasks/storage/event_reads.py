"""Reads keyed by event that do not need the odds as-of machinery: events of a window, stored predictions,
and the Polymarket best asks of linked games at decision times.

Same rules and layers as `tasks/storage/reads.py` (which holds the as-of odds and closing-line reads): a read
"at t" sees only rows with `snapshot_time <= t`; plain `read_x(..., *, session)` functions and thin
`read_x_task` Prefect tasks; results are DataFrames with fixed columns (`POLYMARKET_COLUMNS`,
`EVENT_COLUMNS`, `PREDICTION_COLUMNS`), empty but typed when nothing matches, times timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import DateTime, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from tasks.storage.reads import as_frame, aware_utc, staleness_or_setting

__all__ = [
    "EVENT_COLUMNS",
    "POLYMARKET_COLUMNS",
    "PREDICTION_COLUMNS",
    "read_events_between",
    "read_events_between_task",
    "read_polymarket_asks_at_times",
    "read_polymarket_asks_at_times_task",
    "read_predictions",
    "read_predictions_task",
]

POLYMARKET_COLUMNS = [
    "request_index",
    "event_id",
    "decision_time",
    "market_id",
    "token_id",
    "outcome",  # the token's outcome label as Polymarket states it (usually a nickname)
    "snapshot_time",
    "best_ask",
    "best_bid",
    "price",
    # the market's fee terms as stored from Gamma (migration 0006)
    "fees_enabled",
    "fee_rate",
    "fee_exponent",
    "fee_taker_only",
    "fee_rebate_rate",
    "fee_type",
    # the token's newest stored order book at or before t (within the staleness window), else None
    "book_time",
    "asks",
]
EVENT_COLUMNS = [
    "event_id",
    "home_team",
    "away_team",
    "commence_time",
    "status",
    "home_score",
    "away_score",
]

# Polymarket: per linked event, each game-moneyline token's newest snapshot with a best ask, at or before t,
# with its market's fee terms and the token's newest stored order book at or before t (never after).
_PM_SQL = """
WITH req AS (
    SELECT (r.ord - 1)::int AS request_index, r.event_id, r.t
    FROM unnest(:event_ids, :times) WITH ORDINALITY AS r(event_id, t, ord)
),
tokens AS (
    SELECT req.request_index, req.event_id, req.t, m.id AS market_id, tok.token_id, tok.outcome,
           m.fees_enabled, m.fee_rate, m.fee_exponent, m.fee_taker_only, m.fee_rebate_rate, m.fee_type
    FROM req
    JOIN polymarket_events AS pe ON pe.event_id = req.event_id
    JOIN polymarket_markets AS m ON m.polymarket_event_id = pe.id
    CROSS JOIN LATERAL unnest(m.token_ids, m.outcomes) AS tok(token_id, outcome)
    WHERE m.market_type = 'moneyline' AND m.period = 'game'
)
SELECT tokens.request_index, tokens.event_id, tokens.t, tokens.market_id, tokens.token_id,
       tokens.outcome, s.snapshot_time, s.best_ask, s.best_bid, s.price, tokens.fees_enabled, tokens.fee_rate,
       tokens.fee_exponent, tokens.fee_taker_only, tokens.fee_rebate_rate, tokens.fee_type, b.snapshot_time,
       b.asks
FROM tokens
CROSS JOIN LATERAL (
    SELECT p.snapshot_time, p.best_ask, p.best_bid, p.price
    FROM polymarket_price_snapshots AS p
    WHERE p.market_id = tokens.market_id
      AND p.token_id = tokens.token_id
      AND p.best_ask IS NOT NULL
      AND p.snapshot_time <= tokens.t
      AND p.snapshot_time >= tokens.t - CAST(:staleness AS interval)
    ORDER BY p.snapshot_time DESC
    LIMIT 1
) AS s
LEFT JOIN LATERAL (
    SELECT o.snapshot_time, o.asks
    FROM polymarket_orderbook_snapshots AS o
    WHERE o.token_id = tokens.token_id
      AND o.market_id = tokens.market_id
      AND o.snapshot_time <= tokens.t
      AND o.snapshot_time >= tokens.t - CAST(:staleness AS interval)
    ORDER BY o.snapshot_time DESC
    LIMIT 1
) AS b ON TRUE
ORDER BY tokens.request_index, tokens.market_id, tokens.token_id
"""


async def read_polymarket_asks_at_times(
    pairs: Iterable[tuple[str, datetime]],
    *,
    session: AsyncSession,
    max_staleness: timedelta | None = None,
) -> pd.DataFrame:
    """For every (event_id, t) pair with a linked Polymarket game, each moneyline token's best ask at or
    before t (newest snapshot that has an ask, within staleness). Returns `POLYMARKET_COLUMNS`."""
    pair_list = [(event_id, aware_utc(t)) for event_id, t in pairs]
    if not pair_list:
        return as_frame([], POLYMARKET_COLUMNS)
    stmt = text(_PM_SQL).bindparams(
        bindparam("event_ids", type_=ARRAY(Text)),
        bindparam("times", type_=ARRAY(DateTime(timezone=True))),
    )
    params = {
        "event_ids": [p[0] for p in pair_list],
        "times": [p[1] for p in pair_list],
        "staleness": staleness_or_setting(max_staleness),
    }
    result = await session.execute(stmt, params)
    frame = as_frame(result.all(), POLYMARKET_COLUMNS)
    frame["book_time"] = pd.to_datetime(frame["book_time"], utc=True)
    return frame


_EVENTS_SQL = """
SELECT id, home_team, away_team, commence_time, status, home_score, away_score
FROM events
WHERE commence_time >= :start AND commence_time < :end AND sport_key = :sport
ORDER BY commence_time, id
"""


async def read_events_between(
    start: datetime | date, end: datetime | date, *, session: AsyncSession, sport_key: str | None = None
) -> pd.DataFrame:
    """Events whose tip-off is in [start, end) (dates are UTC midnights), with status and scores."""
    lo = _day_start(start)
    hi = _day_start(end)
    params = {"start": lo, "end": hi, "sport": sport_key or get_settings().odds_api_sport}
    result = await session.execute(text(_EVENTS_SQL), params)
    return as_frame(result.all(), EVENT_COLUMNS)


_PREDICTIONS_SQL = """
SELECT p.event_id, p.market, p.outcome, p.decision_time, p.predicted_close, p.predicted_delta,
       p.current_value, m.name AS model_name, m.version AS model_version
FROM predictions AS p
JOIN models AS m ON m.id = p.model_id
WHERE p.event_id = ANY(:event_ids) {model_filter}
ORDER BY p.event_id, p.market, p.outcome, p.decision_time, m.created_at DESC
"""
PREDICTION_COLUMNS = [
    "event_id", "market", "outcome", "decision_time", "predicted_close", "predicted_delta", "current_value",
    "model_name", "model_version",
]  # fmt: skip


async def read_predictions(
    event_ids: Sequence[str], *, session: AsyncSession, model_name: str | None = None
) -> pd.DataFrame:
    """Stored model predictions of events (optionally of one model name). The backtest uses only those
    made at or before each decision time (`decision_time` column). Returns `PREDICTION_COLUMNS`."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return as_frame([], PREDICTION_COLUMNS)
    sql = _PREDICTIONS_SQL.format(model_filter="AND m.name = :model_name" if model_name else "")
    stmt = text(sql).bindparams(bindparam("event_ids", type_=ARRAY(Text)))
    params: dict[str, Any] = {"event_ids": ids}
    if model_name:
        params["model_name"] = model_name
    result = await session.execute(stmt, params)
    return as_frame(result.all(), PREDICTION_COLUMNS)


def _day_start(value: datetime | date) -> datetime:
    if isinstance(value, datetime):
        return aware_utc(value)
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


# --------------------------------------------------------------------------------------------------------
# Prefect tasks (thin: open a session, call one reader)
# --------------------------------------------------------------------------------------------------------


@task(cache_policy=NONE, task_run_name="read-polymarket-asks")
async def read_polymarket_asks_at_times_task(
    pairs: list[tuple[str, datetime]], *, max_staleness: timedelta | None = None
) -> pd.DataFrame:
    """Best asks of linked Polymarket moneyline tokens at or before t, for many (event, t) pairs."""
    async with async_session_maker() as session:
        return await read_polymarket_asks_at_times(pairs, session=session, max_staleness=max_staleness)


@task(cache_policy=NONE, task_run_name="read-events-between")
async def read_events_between_task(start: datetime | date, end: datetime | date) -> pd.DataFrame:
    """Events with tip-off in [start, end)."""
    async with async_session_maker() as session:
        return await read_events_between(start, end, session=session)


@task(cache_policy=NONE, task_run_name="read-predictions")
async def read_predictions_task(event_ids: list[str], model_name: str | None = None) -> pd.DataFrame:
    """Stored CLV-model predictions of the given events."""
    async with async_session_maker() as session:
        return await read_predictions(event_ids, session=session, model_name=model_name)
