"""A price must be current to be used: 89 and 90 minutes old at the decision are used, 91 is not.

The same bound for sportsbooks and Polymarket, in the backtest engine and in the live pick path.
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.clv_training import bettable_prices
from odds_analytics.staleness import fresh_quotes

TIP = pd.Timestamp("2024-01-10T00:30:00Z")
DECISION = TIP - pd.Timedelta(hours=3)
HOME, AWAY = "Boston Celtics", "Miami Heat"


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {"event_id": ["e1"], "home_team": [HOME], "away_team": [AWAY], "commence_time": [TIP],
         "status": ["final"], "home_score": [110], "away_score": [100]}
    )  # fmt: skip


def _book_odds(age_minutes: float, *, pairs: pd.DataFrame) -> pd.DataFrame:
    """Two books' h2h quotes at one snapshot `age_minutes` before the 3 h decision (as-of read rows)."""
    snap = DECISION - pd.Timedelta(minutes=age_minutes)
    rows = []
    for book, home, away in (("pinnacle", 1.80, 2.10), ("draftkings", 1.95, 1.95)):
        rows += [(book, HOME, home), (book, AWAY, away)]
    frame = pd.DataFrame(rows, columns=["bookmaker", "outcome", "price_decimal"])
    return frame.assign(
        request_index=int(pairs["request_index"].iloc[0]), event_id="e1", decision_time=DECISION,
        snapshot_time=snap, market="h2h", point=np.nan, is_valid=True,
    )  # fmt: skip


def _closing() -> pd.DataFrame:
    close = TIP - pd.Timedelta(minutes=10)
    return pd.DataFrame(
        {"event_id": "e1", "bookmaker": "pinnacle", "market": "h2h", "outcome": [HOME, AWAY], "point": np.nan,
         "price_decimal": [1.70, 2.25], "snapshot_time": close, "commence_time": TIP, "source": "snapshots"}
    )  # fmt: skip


@pytest.mark.parametrize(("age", "used"), [(89, True), (90, True), (91, False)])
def test_fresh_quotes_boundary(age: int, used: bool) -> None:
    quotes = pd.DataFrame(
        {"snapshot_time": [DECISION - pd.Timedelta(minutes=age)], "decision_time": [DECISION]}
    )
    kept, removed = fresh_quotes(quotes, timedelta(minutes=90))
    assert (len(kept), removed) == ((1, 0) if used else (0, 1))
    kept, removed = fresh_quotes(quotes.drop(columns="decision_time"), timedelta(minutes=90), DECISION)
    assert len(kept) == int(used)
    with pytest.raises(ValueError, match="timezone-aware"):
        fresh_quotes(quotes, timedelta(minutes=90), DECISION.tz_localize(None))


@pytest.mark.parametrize(("age", "used"), [(89, True), (90, True), (91, False)])
def test_backtest_bets_only_current_prices(age: int, used: bool) -> None:
    events = _events()
    config = BacktestConfig(strategy="flat", strategy_params={"side": "home", "market": "h2h"},
                            start="2024-01-09", end="2024-01-10", decision_hours=[3], include_polymarket=True,
                            n_bootstrap=0, n_permutations=0)  # fmt: skip
    pairs = decision_pairs(events, config.decision_hours)
    odds = _book_odds(age, pairs=pairs)
    asks = pd.DataFrame(
        {"request_index": pairs["request_index"].iloc[0], "event_id": "e1", "decision_time": DECISION,
         "outcome": [HOME, AWAY], "snapshot_time": DECISION - pd.Timedelta(minutes=age), "best_ask": [0.45, 0.50]}
    )  # fmt: skip
    result = run_backtest_frames(config, events=events, odds=odds, closing=_closing(), pairs=pairs,
                                 polymarket=asks)  # fmt: skip
    counts = result.counts
    assert counts["quotes_read"] == 6  # four book prices, two Polymarket asks
    assert counts["stale_quotes"] == (0 if used else 6)
    assert counts["decisions_without_current_price"] == (0 if used else 1)
    assert len(result.bets) == int(used)
    if used:  # the home side at its best current price: Polymarket's ask 0.45 (decimal 2.22)
        assert result.bets["venue"].iloc[0] == "polymarket"


@pytest.mark.parametrize(("age", "used"), [(89, True), (90, True), (91, False)])
def test_live_picks_use_only_current_prices(age: int, used: bool) -> None:
    events = _events().rename(columns={})
    snap = DECISION - pd.Timedelta(minutes=age)
    odds = pd.DataFrame(
        {"event_id": "e1", "snapshot_time": snap, "bookmaker": ["pinnacle"] * 2 + ["draftkings"] * 2,
         "market": "h2h", "outcome": [HOME, AWAY] * 2, "point": np.nan, "price_decimal": [1.80, 2.10, 1.95, 1.95]}
    )  # fmt: skip
    asks = pd.DataFrame({"event_id": "e1", "outcome": [HOME, AWAY], "best_ask": [0.45, 0.50],
                         "snapshot_time": snap, "decision_time": DECISION})  # fmt: skip
    quotes, fresh_asks, stale = bettable_prices(
        odds,
        events,
        asks,
        DECISION.to_pydatetime(),
        devig_method="multiplicative",
        max_age=timedelta(minutes=90),
    )
    assert len(quotes) == (2 if used else 0)  # one two-way quote per book
    assert fresh_asks is not None
    assert len(fresh_asks) == (2 if used else 0)
    assert stale == (0 if used else 4)
