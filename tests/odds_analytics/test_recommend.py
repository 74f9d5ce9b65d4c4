"""Recommendations: both sides scored, best venue, Polymarket at its ask with fees, expected CLV and return."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy.stats import norm

from odds_analytics.recommend import polymarket_decimal, recommend, side_close_probability, side_values

HOME, AWAY = "Boston Celtics", "Miami Heat"


def _pred(market: str, current: float, delta: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["e"],
            "market": [market],
            "home_team": [HOME],
            "away_team": [AWAY],
            "current": [current],
            "predicted_delta": [delta],
        }
    )


def _quotes(market: str, rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [("e", market, book, value, hp, ap) for book, value, hp, ap in rows],
        columns=["event_id", "market", "bookmaker", "value", "home_price", "away_price"],
    )


def test_h2h_scores_both_sides_and_picks_polymarket_when_its_ask_is_best() -> None:
    quotes = _quotes("h2h", [("draftkings", 0.6, 1.60, 2.40), ("fanduel", 0.6, 1.62, 2.35)])
    asks = pd.DataFrame({"event_id": ["e", "e"], "outcome": [HOME, AWAY], "best_ask": [0.60, 0.38]})
    recs = recommend(_pred("h2h", 0.60, 0.03), quotes, polymarket_asks=asks, fee_rate=0.0, min_edge=0.01)
    assert set(recs["side"]) == {"home", "away"}
    home = recs.set_index("side").loc["home"]
    away = recs.set_index("side").loc["away"]
    assert home["best_venue"] == "polymarket"  # 1/0.60 = 1.667 beats 1.62
    assert home["expected_clv"] == pytest.approx(0.63 - 0.60)  # probability points
    assert home["exp_return"] == pytest.approx(0.63 / 0.60 - 1)  # return on stake
    assert bool(home["recommended"])
    assert away["best_venue"] == "polymarket"  # 1/0.38 = 2.63 beats 2.40
    assert away["expected_clv"] == pytest.approx(0.37 - 0.38)
    assert away["exp_return"] == pytest.approx(0.37 / 0.38 - 1)
    assert away["expected_clv"] < 0
    assert not bool(away["recommended"])


def test_polymarket_fee_can_flip_the_venue() -> None:
    quotes = _quotes("h2h", [("draftkings", 0.6, 1.64, 2.40)])
    asks = pd.DataFrame({"event_id": ["e"], "outcome": [HOME], "best_ask": [0.60]})
    no_fee = recommend(_pred("h2h", 0.6, 0.0), quotes, polymarket_asks=asks, fee_rate=0.0)
    with_fee = recommend(_pred("h2h", 0.6, 0.0), quotes, polymarket_asks=asks, fee_rate=0.05)
    assert no_fee.set_index("side").loc["home", "best_venue"] == "polymarket"
    assert with_fee.set_index("side").loc["home", "best_venue"] == "draftkings"
    assert polymarket_decimal(0.5, 0.02) == pytest.approx(1 / 0.51)


def test_spread_side_probabilities_mirror() -> None:
    # home -5.5 when the close is predicted at -6.5: one point better than the close
    p_home = side_close_probability("spreads", "home", -5.5, -6.5)
    p_away = side_close_probability("spreads", "away", 5.5, -6.5)
    assert p_home == pytest.approx(norm.cdf(1 / 12.5))
    assert p_away == pytest.approx(1 - p_home)
    assert side_close_probability("totals", "over", 220.5, 222.5) > 0.5
    assert side_close_probability("totals", "under", 220.5, 222.5) < 0.5


def test_spread_recommendation_follows_the_predicted_move() -> None:
    quotes = _quotes("spreads", [("draftkings", -5.5, 1.91, 1.91), ("fanduel", -6.0, 1.95, 1.87)])
    toward_home = recommend(_pred("spreads", -5.75, -1.5), quotes, min_edge=0.0).set_index("side")
    toward_away = recommend(_pred("spreads", -5.75, 1.5), quotes, min_edge=0.0).set_index("side")
    assert toward_home.loc["home", "expected_clv"] > toward_home.loc["away", "expected_clv"]
    assert toward_away.loc["away", "expected_clv"] > toward_away.loc["home", "expected_clv"]
    assert toward_home.loc["home", "best_point"] == -5.5  # the shorter spread for the home side
    assert toward_away.loc["away", "best_point"] == 6.0  # more points for the away side
    # each side reads in its own orientation: the away team's point now and at the predicted close
    assert toward_home.loc["away", "current"] == 5.75
    assert toward_home.loc["away", "predicted_close"] == 7.25
    assert toward_home.loc["home", "predicted_close"] == -7.25


def test_no_change_prediction_keeps_the_edge_of_the_price_now() -> None:
    quotes = _quotes("totals", [("draftkings", 221.5, 1.91, 1.91)])
    recs = recommend(_pred("totals", 221.5, 0.0), quotes).set_index("side")
    assert set(recs.index) == {"over", "under"}
    assert recs.loc["over", "expected_clv"] == pytest.approx(0.5 - 1 / 1.91)
    assert recs.loc["over", "exp_return"] == pytest.approx(0.5 * 1.91 - 1)
    assert recs.loc["over", "exp_return"] == pytest.approx(recs.loc["over", "edge_now"])


def test_side_values_orient_each_outcome() -> None:
    assert side_values("h2h", HOME, AWAY, 0.6, 0.05) == [
        ("home", HOME, 0.6, pytest.approx(0.65)),
        ("away", AWAY, pytest.approx(0.4), pytest.approx(0.35)),
    ]
    assert side_values("spreads", HOME, AWAY, -5.5, -1.0)[1] == ("away", AWAY, 5.5, 6.5)
    assert [v[3] for v in side_values("totals", HOME, AWAY, 220.5, 1.5)] == [222.0, 222.0]
