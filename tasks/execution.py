"""What recommendations need to price Polymarket at the stake and to size each pick.

`execution_inputs` reads the stored books of the games being scored (as of the decision, no older than
`MAX_QUOTE_AGE_MINUTES`, the staleness bound of every quote: `odds_analytics.staleness`) and returns the
keyword arguments of `odds_analytics.recommend.recommend`:
`polymarket_books` (each book mapped to its side), `stake_policy` (bankroll, `KELLY_FRACTION`,
`MAX_STAKE_FRACTION`) and `default_fee_terms` (`POLYMARKET_DEFAULT_FEE_*`, used and flagged when Gamma
states no fee terms for a market).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.execution import FeeTerms
from odds_analytics.staking import StakePolicy
from odds_analytics.venues import polymarket_sides
from odds_models.errors import BadArgument
from odds_models.settings import get_settings
from tasks.storage.books import read_polymarket_books_at_times

__all__ = ["execution_inputs", "stake_policy"]


def stake_policy(bankroll: float | None = None) -> StakePolicy:
    """The staking policy of the settings, with `bankroll` (dollars) instead of `BANKROLL` when given."""
    settings = get_settings()
    try:
        return StakePolicy(
            bankroll=settings.bankroll if bankroll is None else bankroll,
            kelly_fraction=settings.kelly_fraction,
            max_stake_fraction=settings.max_stake_fraction,
        )
    except ValueError as exc:
        raise BadArgument(f"--bankroll: {exc}") from None


async def execution_inputs(
    *,
    session: AsyncSession,
    pairs: Sequence[tuple[str, datetime]],
    events: pd.DataFrame,
    bankroll: float | None = None,
) -> dict[str, Any]:
    """`recommend(...)` keyword arguments for the (event_id, decision_time) pairs; `events`: event_id,
    home_team, away_team."""
    settings = get_settings()
    books = await read_polymarket_books_at_times(
        session=session, pairs=pairs, max_staleness=timedelta(minutes=settings.max_quote_age_minutes)
    )
    default = FeeTerms(
        enabled=True,
        rate=settings.polymarket_default_fee_rate,
        exponent=settings.polymarket_default_fee_exponent,
        assumed=True,
    )
    return {
        "polymarket_books": polymarket_sides(books, events),
        "stake_policy": stake_policy(bankroll),
        "default_fee_terms": default,
    }
