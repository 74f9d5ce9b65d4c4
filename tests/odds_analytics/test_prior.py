"""The open→close drift prior: history pairing, the fit, and the season boundary (no look-ahead)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from odds_analytics._synthetic_clv import simulate_line_history, simulate_market
from odds_analytics.features import build_dataset, decision_samples
from odds_analytics.prior import (
    add_prior_features,
    fit_drift_prior,
    line_history,
    schedule_context,
    season_of,
)

# the simulated market starts 2024-01-01: its rows belong to season 2023 (2023-24)
MARKET_START = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def market() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return simulate_market(n_games=30, seed=5, start=MARKET_START)


@pytest.fixture(scope="module")
def history_rows() -> pd.DataFrame:
    return simulate_line_history(seasons=(2019, 2020, 2021, 2022), games_per_season=300, b2b_away_drift=-1.5)


def _planted(rows: pd.DataFrame, season: int, day: date) -> pd.DataFrame:
    """`rows` plus extreme games in `season`: every close 7 points from its open, both markets."""
    extra = simulate_line_history(seasons=(season,), games_per_season=300, seed=9, b2b_away_drift=0.0)
    extra = extra[pd.to_datetime(extra["day"]) >= pd.Timestamp(day)]
    close = extra["kind"] == "close"
    spread_home = close & (extra["market"] == "spreads") & (extra["outcome"] == extra["home_team"])
    spread_away = close & (extra["market"] == "spreads") & (extra["outcome"] == extra["away_team"])
    extra.loc[spread_home, "point"] += 7.0
    extra.loc[spread_away, "point"] -= 7.0
    extra.loc[close & (extra["market"] == "totals"), "point"] -= 7.0
    return pd.concat([rows, extra], ignore_index=True)


def _dataset(market, history: pd.DataFrame | None, which: str = "spreads") -> pd.DataFrame:
    odds, events, closing = market
    samples = decision_samples(odds, events)
    return build_dataset(odds, events, samples, market=which, closing=closing, history=history)


def test_season_of_splits_in_august() -> None:
    assert season_of(date(2023, 7, 31)) == 2022
    assert season_of(date(2023, 8, 1)) == 2023
    assert season_of(date(2024, 6, 15)) == 2023
    assert season_of(MARKET_START) == 2023


def test_line_history_pairs_open_and_close_of_one_source() -> None:
    day = date(2020, 1, 5)
    base = {"day": day, "home_team": "Boston Celtics", "away_team": "Miami Heat"}
    rows = pd.DataFrame(
        [
            {
                **base,
                "source": "sbr",
                "kind": "open",
                "market": "spreads",
                "outcome": "Miami Heat",
                "point": 4.0,
            },
            {
                **base,
                "source": "sbr",
                "kind": "close",
                "market": "spreads",
                "outcome": "Miami Heat",
                "point": 5.5,
            },
            {**base, "source": "sbr", "kind": "open", "market": "totals", "outcome": "Over", "point": 220.0},
            # a close without an open (the Kaggle file gives only closes) pairs with nothing
            {
                **base,
                "source": "kaggle",
                "kind": "close",
                "market": "totals",
                "outcome": "Over",
                "point": 219.0,
            },
        ]
    )
    history = line_history(rows)
    assert len(history) == 1
    row = history.iloc[0]
    # the away team's +4 -> +5.5 is the home spread -4 -> -5.5
    assert (row["market"], row["open"], row["close"]) == ("spreads", -4.0, -5.5)


def test_schedule_context_counts_rest_and_series_from_earlier_games_only() -> None:
    games = pd.DataFrame(
        {
            "day": pd.to_datetime(["2023-04-20", "2023-04-22", "2023-04-23", "2023-01-10", "2023-01-12"]),
            "home_team": ["A", "B", "A", "C", "D"],
            "away_team": ["B", "A", "C", "D", "C"],
        }
    )
    ctx = schedule_context(games)
    assert np.isnan(ctx.loc[0, "rest_home"])  # A's first game
    assert ctx.loc[1, "rest_away"] == 2  # A played two days before
    assert ctx.loc[2, "rest_home"] == 1  # A on a back-to-back
    assert ctx["series"].tolist() == [0.0, 1.0, 0.0, 0.0, 0.0]  # January rematches are not a series


def test_prior_learns_the_back_to_back_drift(history_rows: pd.DataFrame) -> None:
    prior = fit_drift_prior(line_history(history_rows), "spreads", 2023)
    assert prior is not None
    assert prior.seasons == [2019, 2020, 2021, 2022]
    assert prior.coef["b2b_away"] < -0.5  # the simulated -1.5, shrunk by the ridge
    assert abs(prior.coef["b2b_home"]) < 0.3


@pytest.mark.parametrize("which", ["spreads", "totals"])
def test_prior_of_a_season_uses_only_the_seasons_before_it(
    market, history_rows: pd.DataFrame, which: str
) -> None:
    history = line_history(history_rows)
    base = _dataset(market, history, which)
    assert base["prior_drift"].notna().all()
    # extreme games in the rows' own season (before and after the rows) and in later seasons change nothing
    for season, day in ((2023, date(2023, 10, 20)), (2023, date(2024, 1, 1)), (2024, date(2024, 10, 20))):
        planted = line_history(_planted(history_rows, season, day))
        assert len(planted) > len(history)
        after = _dataset(market, planted, which)
        pd.testing.assert_series_equal(base["prior_drift"], after["prior_drift"])
        prior = fit_drift_prior(planted, which, 2023)
        assert prior is not None
        assert max(prior.seasons) == 2022
    # the same games planted in the season before do move it (the test can fail)
    earlier = _dataset(market, line_history(_planted(history_rows, 2022, date(2022, 10, 20))), which)
    assert not np.allclose(base["prior_drift"], earlier["prior_drift"])


def test_the_season_boundary_is_august_for_rows_and_history(market, history_rows: pd.DataFrame) -> None:
    """Planted games on 31 July 2023 belong to 2022-23 (they may move a 2023-24 row's prior); on 1 August 2023
    they belong to 2023-24 (they may not): the cut is by NBA season, not by calendar year."""
    base = _dataset(market, line_history(history_rows))
    extreme = _planted(history_rows, 2022, date(2022, 10, 20)).iloc[len(history_rows) :]
    for day, moves in ((date(2023, 7, 31), True), (date(2023, 8, 1), False)):
        planted = pd.concat([history_rows, extreme.assign(day=day)], ignore_index=True)
        assert len(line_history(planted)) > len(line_history(history_rows))
        after = _dataset(market, line_history(planted))
        assert (not np.allclose(base["prior_drift"], after["prior_drift"])) is moves, day


def test_rows_without_earlier_history_or_of_h2h_get_nan(market, history_rows: pd.DataFrame) -> None:
    only_later = line_history(
        history_rows.assign(day=pd.to_datetime(history_rows["day"]) + pd.DateOffset(years=5))
    )
    assert _dataset(market, only_later)["prior_drift"].isna().all()
    assert _dataset(market, None)["prior_drift"].isna().all()
    assert _dataset(market, line_history(history_rows), "h2h")["prior_drift"].isna().all()
    totals = _dataset(market, line_history(history_rows), "totals")
    assert totals["prior_drift"].notna().all()


def test_prior_scores_each_row_by_its_own_situation(market, history_rows: pd.DataFrame) -> None:
    data = _dataset(market, None)
    history = line_history(history_rows)
    scored = add_prior_features(data.assign(rest_days_away=1.0), history, market="spreads")
    rested = add_prior_features(data.assign(rest_days_away=3.0), history, market="spreads")
    # away on a back-to-back: the prior expects the home spread to drift down (toward the home side)
    assert (scored["prior_drift"] < rested["prior_drift"]).all()
