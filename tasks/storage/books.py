"""Look-ahead-free read of the stored Polymarket books a bet would fill against, with each market's fee terms.

For every (event_id, t) pair with a linked Polymarket game: each token of the game's moneyline, spread and
total markets (period `game`) with its newest stored order book at or before t (never after), no older
than the staleness bound. The fee columns are the market's as last stated by Gamma (migration 0006; fee
terms are read as they are now, they are not versioned). One SQL statement, values bound.

    async with async_session_maker() as session:
        books = await read_polymarket_books_at_times(
            session=session, pairs=[(event_id, now)], max_staleness=timedelta(hours=2)
        )
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import DateTime, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.venues import BOOK_COLUMNS

__all__ = ["read_polymarket_books_at_times"]

_BOOKS_SQL = """
WITH req AS (
    SELECT (r.ord - 1)::int AS request_index, r.event_id, r.t
    FROM unnest(:event_ids, :times) WITH ORDINALITY AS r(event_id, t, ord)
),
tokens AS (
    SELECT req.request_index, req.event_id, req.t, m.id AS market_id, m.market_type, m.team, m.line,
           tok.token_id, tok.outcome, m.fees_enabled, m.fee_rate, m.fee_exponent, m.fee_taker_only,
           m.fee_rebate_rate, m.fee_type
    FROM req
    JOIN polymarket_events AS pe ON pe.event_id = req.event_id
    JOIN polymarket_markets AS m ON m.polymarket_event_id = pe.id
    CROSS JOIN LATERAL unnest(m.token_ids, m.outcomes) AS tok(token_id, outcome)
    WHERE m.market_type IN ('moneyline', 'spread', 'total') AND m.period = 'game'
)
SELECT tokens.request_index, tokens.event_id, tokens.t, tokens.market_id, tokens.market_type, tokens.team,
       tokens.line, tokens.token_id, tokens.outcome, b.snapshot_time, b.asks, b.best_ask, tokens.fees_enabled,
       tokens.fee_rate, tokens.fee_exponent, tokens.fee_taker_only, tokens.fee_rebate_rate, tokens.fee_type
FROM tokens
CROSS JOIN LATERAL (
    SELECT o.snapshot_time, o.asks, o.best_ask
    FROM polymarket_orderbook_snapshots AS o
    WHERE o.token_id = tokens.token_id
      AND o.market_id = tokens.market_id
      AND o.snapshot_time <= tokens.t
      AND o.snapshot_time >= tokens.t - CAST(:staleness AS interval)
    ORDER BY o.snapshot_time DESC
    LIMIT 1
) AS b
ORDER BY tokens.request_index, tokens.market_id, tokens.token_id
"""


def _aware(t: datetime) -> datetime:
    if t.tzinfo is None:
        raise ValueError(f"{t.isoformat()} has no time zone")
    return t.astimezone(UTC)


async def read_polymarket_books_at_times(
    *, session: AsyncSession, pairs: Iterable[tuple[str, datetime]], max_staleness: timedelta
) -> pd.DataFrame:
    """`odds_analytics.venues.BOOK_COLUMNS`: one row per (pair, game token) that has a book in
    [t − max_staleness, t]; `asks` is the stored list of `{"price", "size"}` levels."""
    pair_list = [(event_id, _aware(t)) for event_id, t in pairs]
    if not pair_list:
        return pd.DataFrame(columns=BOOK_COLUMNS)
    stmt = text(_BOOKS_SQL).bindparams(
        bindparam("event_ids", type_=ARRAY(Text)),
        bindparam("times", type_=ARRAY(DateTime(timezone=True))),
    )
    params = {"event_ids": [p[0] for p in pair_list], "times": [p[1] for p in pair_list],
              "staleness": max_staleness}  # fmt: skip
    rows = (await session.execute(stmt, params)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=BOOK_COLUMNS)
    for column in ("decision_time", "snapshot_time"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame
