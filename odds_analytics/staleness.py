"""A price must be current to be used: the staleness bound at the decision time (pure).

The same rule for every venue (sportsbooks and Polymarket), in backtests and in live picks: a quote whose
`snapshot_time` is more than `max_age` before the decision is not used, neither to bet nor in the fair price
it is compared with. A quote exactly `max_age` old is used. The bound is the setting
`MAX_QUOTE_AGE_MINUTES` (default 90; `BacktestConfig.max_quote_age_minutes`); it is much shorter than the
read's own window (`MAX_STALENESS_MINUTES`, 24 h, which the model's features still use), so the backtest can
count what the bound removes.

    >>> import pandas as pd
    >>> q = pd.DataFrame({"snapshot_time": pd.to_datetime(["2024-01-01T10:29Z", "2024-01-01T10:30Z"]),
    ...                   "decision_time": pd.to_datetime(["2024-01-01T12:00Z"] * 2)})
    >>> kept, removed = fresh_quotes(q, pd.Timedelta(minutes=90))
    >>> len(kept), removed
    (1, 1)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_MAX_QUOTE_AGE_MINUTES", "fresh_quotes"]

DEFAULT_MAX_QUOTE_AGE_MINUTES = 90.0


def fresh_quotes(
    quotes: pd.DataFrame,
    max_age: timedelta | pd.Timedelta,
    decision_time: datetime | pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, int]:
    """The quotes no older than `max_age` at their decision, and how many were removed.

    The decision is the `decision_time` column, or the one `decision_time` given for every row. Times are
    UTC-aware. A quote after its decision is not touched here (the as-of reads and `build_quotes` drop it).
    """
    if quotes is None or quotes.empty:
        return quotes, 0
    snap = pd.to_datetime(quotes["snapshot_time"], utc=True)
    if decision_time is None:
        decided = pd.to_datetime(quotes["decision_time"], utc=True)
    else:
        decided = pd.Timestamp(decision_time)
        if decided.tzinfo is None:
            raise ValueError("decision_time must be timezone-aware (UTC)")
    age = (decided - snap).to_numpy()
    keep = age <= np.timedelta64(pd.Timedelta(max_age).value, "ns")
    removed = int((~keep).sum())
    return (quotes if removed == 0 else quotes[keep]), removed
