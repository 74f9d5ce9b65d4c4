"""The vectorised fair prices and backtest engine (issue 17) give exactly today's answers: compared value for value
with the pandas reference (`tests/support/fair_reference.py`) on messy random books, as text and as categoricals, and the
engine gives the same bets and metrics whichever dtype its input has."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from odds_analytics import grouping
from odds_analytics.backtest import BET_COLUMNS, BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.backtest.synthetic import asof_reference, generate_season
from odds_analytics.fair import closing_fair_prices, devig_books, fair_prices
from tests.support.fair_reference import devig_books as devig_books_reference
from tests.support.fair_reference import fair_prices_reference

TEXT = ("bookmaker", "market", "outcome")


def _messy_books(seed: int, *, categorical: bool) -> pd.DataFrame:
    """Books at different lines, one-sided markets, bad prices, missing points, three-way markets, shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for request in range(60):
        for market in (
            ("h2h", "spreads", "totals", "threeway") if request % 6 == 0 else ("h2h", "spreads", "totals")
        ):
            base = float(rng.choice([-3.5, -2.5, 1.5, 220.5]))
            for book in rng.choice(list("abcdefg"), size=int(rng.integers(1, 7)), replace=False):
                line = base + float(rng.choice([0.0, 0.0, 0.0, 0.5, -0.5, 1.0]))
                outcomes = ["Home", "Away", "Draw"] if market == "threeway" else ["Home", "Away"]
                if rng.random() < 0.1:
                    outcomes = outcomes[:1]
                for outcome in outcomes:
                    point = (
                        np.nan if market in ("h2h", "threeway") else (line if outcome == "Home" else -line)
                    )
                    if rng.random() < 0.05:
                        point = np.nan
                    price = rng.choice(
                        [round(rng.uniform(1.2, 4.0), 3), 1.0, np.nan, 0.5], p=[0.94, 0.02, 0.02, 0.02]
                    )
                    rows.append((request, str(book), market, outcome, point, float(price)))
    df = pd.DataFrame(
        rows, columns=["request_index", "bookmaker", "market", "outcome", "point", "price_decimal"]
    )
    if categorical:
        df = df.astype(dict.fromkeys(TEXT, "category"))
    return df.sample(frac=1, random_state=seed).reset_index(drop=True)


def _plain(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    frame = frame.astype({c: object for c in frame.columns if frame[c].dtype.kind == "O" or str(frame[c].dtype)
                          in ("str", "category")})  # fmt: skip
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("categorical", [False, True], ids=["text", "categorical"])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("method", ["multiplicative", "additive", "power", "shin"])
def test_fair_prices_equal_the_pandas_reference(seed: int, categorical: bool, method: str) -> None:
    odds = _messy_books(seed, categorical=categorical)
    rows = ["request_index", "bookmaker", "market", "outcome", "price_decimal"]
    got, want = devig_books(odds, method), devig_books_reference(odds, method)
    pd.testing.assert_frame_equal(_plain(got, rows), _plain(want, rows)[got.columns], check_exact=True)
    fair = ["request_index", "market", "outcome"]
    for basis in ("consensus", "sharp"):
        got = fair_prices(odds, basis=basis, method=method, sharp_books=["c", "a"])
        want = fair_prices_reference(odds, basis=basis, method=method, sharp_books=("c", "a"))
        assert len(got) > 150
        pd.testing.assert_frame_equal(_plain(got, fair), _plain(want, fair)[got.columns], check_exact=True,
                                      check_dtype=False)  # fmt: skip


def test_grouping_primitives_by_hand() -> None:
    assert grouping.lexsort([np.array([0, 0, 1]), np.array([1, 2, 0])]) is None  # already in order
    order = grouping.lexsort([np.array([1, 0, 0]), np.array([0, 2, 1])])
    assert order is not None
    assert order.tolist() == [2, 1, 0]
    starts = grouping.runs([np.array([0, 0, 1, 1, 1, 2])])
    assert starts.tolist() == [0, 2, 5]
    values = np.array([0.3, np.nan, 0.1, 0.5, 0.2, np.nan])
    median = grouping.group_median(values, starts)
    assert median[0] == 0.3
    assert median[1] == pytest.approx(0.2)  # (0.1, 0.2, 0.5)
    assert np.isnan(median[2])
    assert grouping.first_valid(np.array([np.nan, 2.0, 3.0, np.nan, np.nan, np.nan]), starts).tolist()[
        :2
    ] == [2.0, 3.0]
    codes = grouping.sort_codes(pd.Series(["b", None, "a"]))
    assert codes[2] < codes[0] < codes[1]  # text sorts lexically, missing last


def test_engine_gives_the_same_bets_on_text_and_categorical_input() -> None:
    season = generate_season(n_events=40, seed=4, first_hours=24, interval_minutes=60,
                             books=("pinnacle", "lowvig", "draftkings", "fanduel", "betmgm"))  # fmt: skip
    cfg = BacktestConfig(strategy="basic_ev", strategy_params={"min_edge": 0.0}, start="2024-10-01",
                         end="2024-12-31", decision_hours=[1, 3, 12], include_polymarket=False, n_bootstrap=300,
                         n_permutations=300, staking="kelly")  # fmt: skip
    pairs = decision_pairs(season.events, cfg.decision_hours)
    odds = asof_reference(season.odds, pairs, timedelta(hours=24))
    odds["price_american"] = np.nan
    odds["snapshot_id"] = 1
    close = season.odds.merge(season.events[["event_id", "commence_time"]], on="event_id")
    close = close[close["snapshot_time"] == close.groupby("event_id")["snapshot_time"].transform("max")]
    close = close.assign(description="", price_american=np.nan, source="snapshots")
    cats = dict.fromkeys(["bookmaker", "market", "outcome", "description"], "category")
    results = []
    for o, c in ((odds, close), (odds.astype(cats), close.astype(cats))):
        for strategy in ("basic_ev", "line_shopping", "flat"):
            params = {"side": "favorite", "market": "spreads"} if strategy == "flat" else {}
            run = cfg.model_copy(update={"strategy": strategy, "strategy_params": params})
            results.append(run_backtest_frames(run, events=season.events, pairs=pairs, odds=o, closing=c))
    text, categorical = results[:3], results[3:]
    for a, b in zip(text, categorical, strict=True):
        assert a.metrics["bets"] > 0
        assert a.metrics == b.metrics
        assert a.bet_records() == b.bet_records()
        assert list(a.bets[BET_COLUMNS].dtypes) == list(
            b.bets[BET_COLUMNS].dtypes
        )  # categoricals come out as text
    # closing fair prices too
    a = closing_fair_prices(close, close_window=pd.Timedelta(hours=2))
    b = closing_fair_prices(close.astype(cats), close_window=pd.Timedelta(hours=2))
    pd.testing.assert_frame_equal(
        _plain(a, ["event_id", "market", "outcome"]), _plain(b, ["event_id", "market", "outcome"])
    )
