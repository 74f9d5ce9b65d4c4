"""Features of the CLV dataset: as of the decision time, both sides, Polymarket NaN rows kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from odds_analytics._synthetic_clv import simulate_market
from odds_analytics.features import (
    MARGIN_SD_POINTS,
    POLYMARKET_FEATURES,
    book_deviation_columns,
    book_quotes,
    build_dataset,
    closing_values,
    decision_samples,
    feature_columns,
    rest_days,
)

T0 = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
HOME, AWAY = "Boston Celtics", "Miami Heat"
ODDS_COLUMNS = ["event_id", "snapshot_time", "bookmaker", "market", "outcome", "point", "price_decimal"]


def _events(n: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "home_team": [HOME] * n,
            "away_team": [AWAY] * n,
            "commence_time": [T0 + timedelta(days=2 * i) for i in range(n)],
        }
    )


def _quote(
    event: str,
    when: datetime,
    book: str,
    home_point: float,
    home_price: float = 1.91,
    away_price: float = 1.91,
    ml: tuple[float, float] = (1.5, 2.7),
    total: float = 220.5,
) -> list[tuple]:
    return [
        (event, when, book, "spreads", HOME, home_point, home_price),
        (event, when, book, "spreads", AWAY, -home_point, away_price),
        (event, when, book, "h2h", HOME, None, ml[0]),
        (event, when, book, "h2h", AWAY, None, ml[1]),
        (event, when, book, "totals", "Over", total, 1.91),
        (event, when, book, "totals", "Under", total, 1.91),
    ]


def _odds(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=ODDS_COLUMNS)


@pytest.fixture
def history() -> pd.DataFrame:
    rows = []
    for h, point in ((20, -4.0), (10, -4.5), (5, -5.0)):
        for book, shift in (("draftkings", 0.0), ("fanduel", -0.5), ("lowvig", 0.5)):
            rows += _quote("e0", T0 - timedelta(hours=h), book, point + shift)
    return _odds(rows)


def test_features_ignore_prices_at_or_after_the_decision_time(history: pd.DataFrame) -> None:
    t = T0 - timedelta(hours=8)
    samples = pd.DataFrame({"event_id": ["e0"], "decision_time": [t]})
    before = build_dataset(history, _events(), samples, market="spreads")
    planted = _odds(
        _quote("e0", t, "draftkings", -12.0, ml=(1.1, 8.0), total=240.5)  # stamped exactly at t
        + _quote("e0", t + timedelta(minutes=5), "fanduel", -13.0, ml=(1.05, 12.0))
        + _quote("e0", t + timedelta(hours=3), "caesars", 3.0)
    )
    after = build_dataset(
        pd.concat([history, planted], ignore_index=True), _events(), samples, market="spreads"
    )
    cols = ["current", *feature_columns("spreads")]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    # and the planted prices do move the features once the decision is later than them
    later = pd.DataFrame({"event_id": ["e0"], "decision_time": [t + timedelta(hours=4)]})
    moved = build_dataset(
        pd.concat([history, planted], ignore_index=True), _events(), later, market="spreads"
    )
    assert moved["book_range"].iloc[0] > before["book_range"].iloc[0]


@pytest.mark.parametrize("market", ["h2h", "spreads", "totals"])
def test_no_feature_looks_ahead_on_a_simulated_market(market: str) -> None:
    odds, events, closing = simulate_market(n_games=9, seed=3)
    samples = decision_samples(odds, events)
    full = build_dataset(odds, events, samples, market=market, closing=closing)
    for sample in samples.sample(6, random_state=1).itertuples(index=False):
        one = pd.DataFrame({"event_id": [sample.event_id], "decision_time": [sample.decision_time]})
        past_only = odds[pd.to_datetime(odds["snapshot_time"], utc=True) < sample.decision_time]
        cut = build_dataset(past_only, events, one, market=market, closing=closing)
        row = full[(full["event_id"] == sample.event_id) & (full["decision_time"] == sample.decision_time)]
        cols = ["current", *feature_columns(market)]
        np.testing.assert_allclose(row[cols].to_numpy(float), cut[cols].to_numpy(float), equal_nan=True)


def test_movement_features_follow_the_consensus_path(history: pd.DataFrame) -> None:
    samples = pd.DataFrame({"event_id": ["e0"], "decision_time": [T0 - timedelta(hours=4)]})
    row = build_dataset(history, _events(), samples, market="spreads").iloc[0]
    assert row["current"] == pytest.approx(-5.0)
    assert row["open_to_now"] == pytest.approx(-1.0)  # -4.0 at the open
    assert row["velocity_per_hour"] == pytest.approx(-0.5 / 5)  # -4.5 -> -5.0 over 5 hours
    assert row["sharp"] == pytest.approx(-4.5)  # lowvig quotes half a point higher
    assert row["retail_minus_sharp"] == pytest.approx(-5.25 - -4.5)
    assert row["hours_to_tip"] == pytest.approx(4.0)


def test_dataset_has_one_row_per_market_decision_and_both_sides_feed_it() -> None:
    rows = _quote("e0", T0 - timedelta(hours=5), "draftkings", -3.0, home_price=1.80, away_price=2.02)
    samples = pd.DataFrame({"event_id": ["e0"], "decision_time": [T0 - timedelta(hours=1)]})
    data = build_dataset(_odds(rows), _events(), samples, market="spreads")
    assert len(data) == 1  # no mirror duplicate for the away side
    # the away price moves the home fair probability: both sides are read
    cheaper_away = [r if r[4] != AWAY or r[3] != "spreads" else (*r[:6], 1.70) for r in rows]
    other = build_dataset(_odds(cheaper_away), _events(), samples, market="spreads")
    assert other["price_skew"].iloc[0] < data["price_skew"].iloc[0]
    # a one-sided quote cannot be devigged and makes no sample
    one_sided = [r for r in rows if not (r[3] == "spreads" and r[4] == AWAY)]
    assert build_dataset(_odds(one_sided), _events(), samples, market="spreads").empty


def test_targets_see_both_directions_of_movement() -> None:
    odds, events, closing = simulate_market(n_games=30, seed=5)
    data = build_dataset(odds, events, decision_samples(odds, events), market="spreads", closing=closing)
    assert not data.duplicated(["event_id", "market", "decision_time"]).any()
    assert (data["target"] > 0).any()
    assert (data["target"] < 0).any()
    assert data["home_team"].nunique() > 1


def test_closing_values_orientation_and_import_preference() -> None:
    events = _events()
    closing = pd.DataFrame(
        {
            "event_id": ["e0"] * 6,
            "bookmaker": [
                "import:kaggle",
                "import:kaggle",
                "draftkings",
                "draftkings",
                "import:kaggle",
                "import:kaggle",
            ],
            "market": ["spreads", "spreads", "spreads", "spreads", "h2h", "h2h"],
            "outcome": [AWAY, HOME, HOME, AWAY, HOME, AWAY],
            "point": [6.5, -6.5, -9.0, 9.0, None, None],
            "price_decimal": [None, None, 1.91, 1.91, None, None],
            "price_american": [None, None, None, None, -200, 170],
        }
    )
    assert closing_values(closing, events, "spreads")["e0"] == pytest.approx(-6.5)  # the import wins
    p = closing_values(closing, events, "h2h")["e0"]
    q_home, q_away = 1 / 1.5, 1 / 2.7
    assert p == pytest.approx(q_home / (q_home + q_away))


def test_polymarket_features_are_nan_when_absent_and_rows_are_kept() -> None:
    odds, events, closing = simulate_market(n_games=6, seed=2)
    samples = decision_samples(odds, events)
    first = events["event_id"].iloc[0]
    home = events["home_team"].iloc[0]
    tip = events["commence_time"].iloc[0]
    pm = pd.DataFrame(
        {
            "event_id": [first, first],
            "outcome": [home, home],
            "snapshot_time": [tip - timedelta(hours=40), tip - timedelta(hours=20)],
            "mid": [0.55, 0.58],
            "best_bid": [0.54, 0.57],
            "best_ask": [0.56, 0.59],
            "spread": [0.02, 0.02],
            "bid_depth": [900.0, 1000.0],
            "ask_depth": [500.0, 600.0],
            "imbalance": [0.2, 0.25],
        }
    )
    without = build_dataset(odds, events, samples, market="h2h", closing=closing)
    with_pm = build_dataset(odds, events, samples, market="h2h", closing=closing, polymarket=pm)
    assert len(with_pm) == len(without) == len(samples)
    linked = with_pm["event_id"] == first
    assert with_pm.loc[~linked, POLYMARKET_FEATURES].isna().all().all()
    assert without[POLYMARKET_FEATURES].isna().all().all()
    late = with_pm[linked & (with_pm["decision_time"] > tip - timedelta(hours=20))].iloc[0]
    assert late["pm_mid"] == pytest.approx(0.58)
    assert late["pm_depth"] == pytest.approx(1600.0)
    assert late["pm_velocity_per_hour"] == pytest.approx(0.03 / 20)
    assert late["pm_divergence"] == pytest.approx(0.58 - late["current"])


def test_decision_samples_take_the_latest_snapshot_per_bin_and_skip_in_play(history: pd.DataFrame) -> None:
    in_play = _odds(_quote("e0", T0 + timedelta(minutes=30), "draftkings", -8.0))
    samples = decision_samples(pd.concat([history, in_play]), _events(), bins_hours=(24, 12, 3, 0))
    assert samples["hours_bin"].tolist() == [24.0, 12.0]
    assert (samples["decision_time"] < T0).all()
    assert samples["decision_time"].tolist()[1] == T0 - timedelta(hours=5) + timedelta(minutes=1)


def test_rest_days_and_back_to_backs() -> None:
    events = pd.DataFrame(
        {
            "event_id": ["a", "b", "c"],
            "home_team": [HOME, AWAY, HOME],
            "away_team": [AWAY, HOME, "Chicago Bulls"],
            "commence_time": [T0, T0 + timedelta(days=1), T0 + timedelta(days=4)],
        }
    )
    rest = rest_days(events).set_index("event_id")
    assert np.isnan(rest.at["a", "rest_days_home"])
    assert rest.at["b", "rest_days_home"] == 1  # Miami played the night before
    assert rest.at["c", "rest_days_home"] == 3
    assert np.isnan(rest.at["c", "rest_days_away"])


def test_book_quotes_devig_and_reject_inconsistent_points() -> None:
    rows = _quote("e0", T0 - timedelta(hours=3), "draftkings", -3.0)
    rows[1] = (
        "e0",
        T0 - timedelta(hours=3),
        "draftkings",
        "spreads",
        AWAY,
        2.5,
        1.91,
    )  # not the mirror point
    quotes = book_quotes(_odds(rows), _events())
    assert set(quotes["market"]) == {"h2h", "totals"}
    h2h = quotes[quotes["market"] == "h2h"].iloc[0]
    assert h2h["value"] == pytest.approx((1 / 1.5) / (1 / 1.5 + 1 / 2.7))
    assert h2h["overround"] == pytest.approx(1 / 1.5 + 1 / 2.7 - 1)


def test_snapshot_closes_count_only_near_tip_off() -> None:
    events = _events()
    rows = []
    for book, hours, point in (("draftkings", 0.25, -7.0), ("fanduel", 0.5, -7.5), ("betmgm", 13.0, -3.0)):
        rows += [("e0", book, "spreads", HOME, point, T0 - timedelta(hours=hours), T0),
                 ("e0", book, "spreads", AWAY, -point, T0 - timedelta(hours=hours), T0)]  # fmt: skip
    closing = pd.DataFrame(
        rows,
        columns=["event_id", "bookmaker", "market", "outcome", "point", "snapshot_time", "commence_time"],
    )
    assert closing_values(closing, events, "spreads")["e0"] == pytest.approx(-7.25)  # betmgm is too early
    only_early = closing[closing["bookmaker"] == "betmgm"]
    assert closing_values(only_early, events, "spreads").empty


def test_book_deviations_and_new_features_ignore_prices_at_or_after_the_decision(
    history: pd.DataFrame,
) -> None:
    t = T0 - timedelta(hours=8)
    samples = pd.DataFrame({"event_id": ["e0"], "decision_time": [t]})
    before = build_dataset(history, _events(), samples, market="spreads")
    devs = book_deviation_columns(before)
    assert devs == ["dev__draftkings", "dev__fanduel", "dev__lowvig"]
    planted = _odds(
        _quote("e0", t, "lowvig", -9.0, home_price=1.5, away_price=2.8)  # stamped exactly at t
        + _quote("e0", t + timedelta(hours=1), "caesars", 4.0)
    )
    after = build_dataset(
        pd.concat([history, planted], ignore_index=True), _events(), samples, market="spreads"
    )
    cols = ["current", *feature_columns("spreads"), *devs]
    pd.testing.assert_frame_equal(before[cols], after[cols])
    # a book first seen after the decision leaves at most an empty column
    assert after.reindex(columns=["dev__caesars"]).isna().all().all()


def test_velocity_is_nan_with_a_missing_flag_when_one_snapshot_is_known(history: pd.DataFrame) -> None:
    one = pd.DataFrame(
        {"event_id": ["e0"], "decision_time": [T0 - timedelta(hours=15)]}
    )  # after the 20 h one
    row = build_dataset(history, _events(), one, market="spreads").iloc[0]
    assert np.isnan(row["open_to_now"])
    assert np.isnan(row["open_to_now_per_hour"])
    assert np.isnan(row["velocity_per_hour"])
    assert row["path_missing"] == 1.0
    three = pd.DataFrame({"event_id": ["e0"], "decision_time": [T0 - timedelta(hours=4)]})
    row = build_dataset(history, _events(), three, market="spreads").iloc[0]
    assert row["path_missing"] == 0.0
    assert row["open_to_now_per_hour"] == pytest.approx(-1.0 / 15)  # -4.0 at 20 h -> -5.0 at 5 h


def test_fair_line_moves_the_point_away_from_the_side_priced_above_even() -> None:
    # home -3 at 1.80 / away +3 at 2.02: home is more than 50 % to cover -3, so its fair line is below -3
    rows = _quote("e0", T0 - timedelta(hours=5), "draftkings", -3.0, home_price=1.80, away_price=2.02)
    rows += _quote("e0", T0 - timedelta(hours=5), "lowvig", -3.0, home_price=1.91, away_price=1.91)
    samples = pd.DataFrame({"event_id": ["e0"], "decision_time": [T0 - timedelta(hours=1)]})
    row = build_dataset(_odds(rows), _events(), samples, market="spreads").iloc[0]
    fair_home = (1 / 1.80) / (1 / 1.80 + 1 / 2.02)
    slope = norm.pdf(0.0) / MARGIN_SD_POINTS
    assert row["dev__draftkings"] == pytest.approx(-(fair_home - 0.5) / slope)
    assert row["dev__lowvig"] == pytest.approx(0.0)
    assert row["fair_line_gap"] == pytest.approx(-(fair_home - 0.5) / slope / 2)  # median of two books
    assert row["sharp_fair_gap"] == pytest.approx(0.0)  # lowvig is the sharp book and prices even
    totals = build_dataset(_odds(rows), _events(), samples, market="totals").iloc[0]
    assert totals["fair_line_gap"] == pytest.approx(0.0)  # 1.91 / 1.91 on the total


def _consensus_path_per_time(quotes: pd.DataFrame, staleness: timedelta) -> pd.Series:
    """The consensus path as it was computed before issue 17: one `_latest_per_book` per snapshot time."""
    from odds_analytics.features import _latest_per_book

    values = {}
    for s in np.sort(quotes["snapshot_time"].unique()):
        latest = _latest_per_book(quotes, pd.Timestamp(s) + timedelta(microseconds=1), staleness)
        if not latest.empty:
            values[pd.Timestamp(s)] = float(latest["value"].median())
    return pd.Series(values, dtype=float)


@pytest.mark.parametrize("unit", ["us", "ns"])
@pytest.mark.parametrize("seed", range(6))
def test_consensus_path_equals_the_per_time_computation(seed: int, unit: str) -> None:
    """Books quoting at random moments (some going stale, some values missing): the vectorised path is the
    per-snapshot-time one, value for value, index for index."""
    from odds_analytics.features import _consensus_path

    rng = np.random.default_rng(seed)
    books = ["pinnacle", "draftkings", "fanduel", "lowvig", "betmgm"]
    rows = []
    for book in books[: rng.integers(1, 6)]:
        minutes = np.sort(rng.choice(np.arange(0, 60 * 72, 5), size=rng.integers(1, 25), replace=False))
        for m in minutes:
            value = float(rng.normal(-4.0, 1.5)) if rng.random() > 0.1 else np.nan
            rows.append({"snapshot_time": T0 - timedelta(hours=72) + timedelta(minutes=int(m)),
                         "bookmaker": book, "value": value})  # fmt: skip
    quotes = pd.DataFrame(rows).sample(frac=1.0, random_state=seed)  # any row order
    quotes["snapshot_time"] = pd.to_datetime(quotes["snapshot_time"], utc=True).dt.as_unit(unit)
    for staleness in (timedelta(hours=24), timedelta(hours=3), timedelta(minutes=5)):
        pd.testing.assert_series_equal(_consensus_path(quotes, staleness),
                                       _consensus_path_per_time(quotes, staleness))  # fmt: skip
