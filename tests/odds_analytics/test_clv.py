"""One CLV, defined once: an underdog at +400 (decimal 5.0) whose fair probability closes at 25 %.

By hand: implied probability paid 1 / 5.0 = 0.20, so CLV = 0.25 - 0.20 = +0.05 (+5 pp) in the recommendation,
the backtest and the bet ledger alike; the expected return on stake is 0.25 x 5.0 - 1 = +0.25 (+25 %), a
second figure, five times the CLV at this price (never called CLV).
"""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.fair import closing_fair_prices
from odds_analytics.ledger import ledger_report, paper_bet_rows, settlement_updates
from odds_analytics.recommend import recommend

TIP = pd.Timestamp("2024-01-10T00:30:00Z")
DECISION = TIP - pd.Timedelta(hours=3)
HOME, AWAY = "Detroit Pistons", "Boston Celtics"  # the home underdog at +400
CLV, EXP_RETURN = 0.05, 0.25


def _closing() -> pd.DataFrame:
    """Pinnacle's last quote 10 minutes before tip-off: 4.0 / 4/3, no margin, so fair 0.25 / 0.75."""
    return pd.DataFrame(
        {"event_id": "e1", "bookmaker": "pinnacle", "market": "h2h", "outcome": [HOME, AWAY], "point": np.nan,
         "price_decimal": [4.0, 4 / 3], "snapshot_time": TIP - pd.Timedelta(minutes=10), "commence_time": TIP,
         "source": "snapshots"}
    )  # fmt: skip


def test_recommendation_clv_is_probability_points_and_return_is_separate() -> None:
    predictions = pd.DataFrame({"event_id": ["e1"], "market": ["h2h"], "home_team": [HOME], "away_team": [AWAY],
                                "current": [0.22], "predicted_delta": [0.03]})  # fmt: skip
    quotes = pd.DataFrame({"event_id": ["e1"], "market": ["h2h"], "bookmaker": ["draftkings"], "value": [0.22],
                           "home_price": [5.0], "away_price": [1.2]})  # fmt: skip
    rec = recommend(predictions, quotes, min_edge=0.01).set_index("side").loc["home"]
    assert rec["best_price_decimal"] == 5.0
    assert rec["expected_clv"] == pytest.approx(CLV)
    assert rec["exp_return"] == pytest.approx(EXP_RETURN)
    assert bool(rec["recommended"])
    # the paper bet made from this pick stores the expected return under its own name
    pick = {**rec.to_dict(), "event_id": "e1", "market": "h2h", "side": "home", "decision_time": DECISION}
    rows, _ = paper_bet_rows([pick], default_stake=1.0, fee_rate=0.0)
    assert rows[0]["expected_return"] == pytest.approx(EXP_RETURN)


def test_backtest_clv_is_the_same_probability_points() -> None:
    events = pd.DataFrame({"event_id": ["e1"], "home_team": [HOME], "away_team": [AWAY], "commence_time": [TIP],
                           "status": ["final"], "home_score": [101], "away_score": [99]})  # fmt: skip
    config = BacktestConfig(strategy="flat", strategy_params={"side": "home", "market": "h2h"}, start="2024-01-09",
                            end="2024-01-10", decision_hours=[3], n_bootstrap=0, n_permutations=0)  # fmt: skip
    pairs = decision_pairs(events, config.decision_hours)
    odds = pd.DataFrame(
        {"request_index": 0, "event_id": "e1", "decision_time": DECISION, "bookmaker": "draftkings", "market": "h2h",
         "outcome": [HOME, AWAY], "point": np.nan, "price_decimal": [5.0, 1.2],
         "snapshot_time": DECISION - timedelta(minutes=30), "is_valid": True}
    )  # fmt: skip
    result = run_backtest_frames(config, events=events, odds=odds, closing=_closing(), pairs=pairs)
    bet = result.bets.iloc[0]
    assert bet["price_decimal"] == 5.0
    assert bet["close_prob"] == pytest.approx(0.25)
    assert bet["clv_prob"] == pytest.approx(CLV)
    assert result.metrics["clv_mean_pp"] == pytest.approx(CLV * 100)
    assert result.metrics["clv_bets"] == 1


def test_ledger_clv_is_the_same_probability_points() -> None:
    fair = closing_fair_prices(_closing(), basis="sharp_consensus", sharp_books=["pinnacle"])
    bets = pd.DataFrame({
        "id": [1], "event_id": ["e1"], "market": ["h2h"], "side": ["home"], "outcome": [HOME], "line": [None],
        "price_decimal": [5.0], "stake": [1.0], "close_prob": [np.nan], "result": [None], "commence_time": [TIP],
        "status": ["final"], "home_score": [101], "away_score": [99],
    })  # fmt: skip
    closes, results = settlement_updates(bets, fair, now=TIP + timedelta(hours=3))
    assert closes[0]["clv_prob"] == pytest.approx(CLV)
    ledger = bets.assign(
        source="paper", model=None, venue="draftkings", placed_at=DECISION, clv_prob=closes[0]["clv_prob"],
        result=results[0]["result"], profit=results[0]["profit"], expected_return=EXP_RETURN,
    )  # fmt: skip
    overall = ledger_report(ledger, now=TIP + timedelta(hours=4))["overall"]
    assert overall["clv_mean_pp"] == pytest.approx(CLV * 100)
    assert overall["clv_n"] == 1
    assert results[0]["profit"] == pytest.approx(4.0)  # won at 5.0: +4 units per unit
