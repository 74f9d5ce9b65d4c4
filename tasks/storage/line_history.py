"""Imported open and close lines of past games (table `closing_lines` with `events`), for the drift prior.

    async with async_session_maker() as session:
        history = await read_line_history(session=session, before=datetime(2023, 10, 1, tzinfo=UTC))

Only games with an opening and a closing line from one source count (today the SportsbookReview file,
`odds import closing-lines --format sbr`; the Kaggle file gives closes only). The game date is the
US/Eastern date of tip-off, as the imports match games. The result is
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

# one side per game is enough (the home spread, the Over): line_history pairs open and close per source
_HISTORY_SQL = """
SELECT (ev.commence_time AT TIME ZONE 'America/New_York')::date AS day, ev.home_team, ev.away_team,
       c.source, c.kind, c.market, c.outcome, c.point
FROM closing_lines AS c
JOIN events AS ev ON ev.id = c.event_id
WHERE c.kind IN ('open', 'close') AND c.point IS NOT NULL AND ev.commence_time < :before
  AND ((c.market = 'spreads' AND c.outcome = ev.home_team) OR (c.market = 'totals' AND c.outcome = 'Over'))
  AND c.market = ANY(:markets)
"""
_COLUMNS = ["day", "home_team", "away_team", "source", "kind", "market", "outcome", "point"]


async def read_line_history(
    *, session: AsyncSession, before: datetime, markets: Sequence[str] = PRIOR_MARKETS
) -> pd.DataFrame:
    """Open and close of every imported game that tipped off before `before` (one row per game, market)."""
    stmt = text(_HISTORY_SQL).bindparams(
        bindparam("markets", type_=ARRAY(Text)), bindparam("before", type_=DateTime(timezone=True))
    )
    result = await session.execute(stmt, {"markets": list(markets), "before": before})
    rows = pd.DataFrame(result.all(), columns=_COLUMNS)
    rows["point"] = rows["point"].astype(float)
    return line_history(rows)
