"""Imported open and close lines of past games (table `closing_lines` with `events`), for the drift prior.

    async with async_session_maker() as session:
        history = await read_line_history(session, before=datetime(2023, 10, 1, tzinfo=UTC))

Only sources that gave an opening line count (today the SportsbookReview file, `odds import closing-lines
--format sbr`): the prior needs the open and the close of one game from one source. The result is
`odds_analytics.prior.line_history`'s frame (day, home_team, away_team, market, open, close); which seasons
the prior may use is decided there (only those before each row's season).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import DateTime, Text, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.prior import PRIOR_MARKETS, line_history

__all__ = ["read_line_history"]

_HISTORY_SQL = """
SELECT ev.commence_time, ev.home_team, ev.away_team, c.source, c.kind, c.market, c.outcome, c.point
FROM closing_lines AS c
JOIN events AS ev ON ev.id = c.event_id
WHERE c.market = ANY(:markets) AND c.point IS NOT NULL AND c.kind IN ('open', 'close')
  AND ev.commence_time < :before
  AND EXISTS (
      SELECT 1 FROM closing_lines AS o
      WHERE o.event_id = c.event_id AND o.source = c.source AND o.kind = 'open' AND o.market = c.market
  )
"""
_COLUMNS = ["commence_time", "home_team", "away_team", "source", "kind", "market", "outcome", "point"]


async def read_line_history(
    session: AsyncSession, *, before: datetime, markets: Sequence[str] = PRIOR_MARKETS
) -> pd.DataFrame:
    """Open and close of every imported game that tipped off before `before` (one row per game, market)."""
    stmt = text(_HISTORY_SQL).bindparams(
        bindparam("markets", type_=ARRAY(Text)), bindparam("before", type_=DateTime(timezone=True))
    )
    result = await session.execute(stmt, {"markets": list(markets), "before": before})
    rows = pd.DataFrame(result.all(), columns=_COLUMNS)
    if rows.empty:
        return line_history(rows)
    rows["point"] = rows["point"].astype(float)
    return line_history(rows)
