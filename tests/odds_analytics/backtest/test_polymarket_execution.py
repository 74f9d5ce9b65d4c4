"""The backtest prices Polymarket as the live picks do: each market's own fee terms, the stored book at the
stake when one is current at the decision, the best ask (counted, flagged) when only that is known; never a
book stored after the decision. Sportsbook results are unchanged (digests taken before the change)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.backtest.report import summary_markdown
from odds_analytics.backtest.synthetic import asof_reference, generate_season
from odds_analytics.execution import FeeTerms, fee_per_share, fill_buy

TIP = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
HOME, AWAY = "Boston Celtics", "Miami Heat"
T = TIP - timedelta(hours=1)
SPORTS = {"fees_enabled": True, "fee_rate": 0.03, "fee_exponent": 1.0, "fee_taker_only": True,
          "fee_rebate_rate": None, "fee_type": "sports_fees_v3"}  # fmt: skip
THIN = [{"price": 0.40, "size": 5.0}, {"price": 0.42, "size": 1000.0}]


def _events() -> pd.DataFrame:
    return pd.DataFrame([{"event_id": "e1", "home_team": HOME, "away_team": AWAY, "commence_time": TIP,
                          "status": "final", "home_score": 90, "away_score": 101}])  # fmt: skip


def _odds(pairs: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for book, home, away in (("fanduel", 1.70, 2.15), ("draftkings", 1.72, 2.10), ("betmgm", 1.71, 2.12)):
        for outcome, price in ((HOME, home), (AWAY, away)):
            rows.append({"request_index": 0, "event_id": "e1", "decision_time": T,
                         "snapshot_time": T - timedelta(minutes=30), "bookmaker": book, "market": "h2h",
                         "outcome": outcome, "point": np.nan, "price_decimal": price})  # fmt: skip
    return pd.DataFrame(rows)


def _asks(heat: dict, celtics: dict | None = None) -> pd.DataFrame:
    """The reader's rows (`read_polymarket_asks_at_times`): the Heat token, and optionally the Celtics'."""
    base = {"request_index": 0, "event_id": "e1", "decision_time": T, "market_id": "m1", "best_bid": None,
            "price": None, "snapshot_time": T - timedelta(minutes=10), "book_time": pd.NaT, "asks": None}  # fmt: skip
    rows = [{**base, "token_id": "tok_mia", "outcome": "Heat", "best_ask": 0.40, **heat}]
    if celtics is not None:
        rows.append({**base, "token_id": "tok_bos", "outcome": "Celtics", "best_ask": 0.62, **celtics})
    frame = pd.DataFrame(rows)
    for col in ("decision_time", "snapshot_time", "book_time"):
        frame[col] = pd.to_datetime(frame[col], utc=True)
    return frame


def _run(asks: pd.DataFrame, **update: object):
    cfg = BacktestConfig(strategy="basic_ev", start=TIP.date() - timedelta(days=1), end=TIP.date(),
                         decision_hours=[1], stake=10.0, n_bootstrap=0, n_permutations=0, **update)  # fmt: skip
    events = _events()
    pairs = decision_pairs(events, cfg.decision_hours)
    return run_backtest_frames(cfg, events=events, pairs=pairs, odds=_odds(pairs), closing=pd.DataFrame(),
                               polymarket=asks)  # fmt: skip


TERMS = FeeTerms(enabled=True, rate=0.03, exponent=1.0, fee_type="sports_fees_v3")


def test_a_stored_book_is_walked_at_the_stake_with_the_markets_fee_terms() -> None:
    result = _run(_asks({**SPORTS, "book_time": T - timedelta(minutes=5), "asks": THIN}))
    (bet,) = result.bet_records()
    fill = fill_buy([(0.40, 5.0), (0.42, 1000.0)], 10.0, TERMS)
    assert bet["venue"] == "polymarket"
    assert bet["outcome"] == AWAY
    assert bet["price_basis"] == "book"
    assert bet["stake"] == pytest.approx(10.0)
    assert bet["price_decimal"] == pytest.approx(fill.decimal)  # the fill at 10, not the best ask
    assert bet["price_decimal"] < 1 / (0.40 + fee_per_share(0.40, TERMS))
    assert bet["fee"] == pytest.approx(fill.fee)
    assert bet["fee_terms"] == "0.03·(p(1−p))^1"
    assert bet["fee_assumed"] is False
    assert bet["profit"] == pytest.approx(10.0 * (fill.decimal - 1))
    assert bet["snapshot_time"] == (T - timedelta(minutes=5)).isoformat()  # the book's time
    assert result.counts["polymarket_bets_on_book"] == 1
    assert result.counts["polymarket_bets_best_ask_only"] == 0


def test_a_flat_stake_is_cut_to_the_books_depth() -> None:
    shallow = [{"price": 0.40, "size": 5.0}, {"price": 0.41, "size": 10.0}]
    (bet,) = _run(_asks({**SPORTS, "book_time": T - timedelta(minutes=5), "asks": shallow})).bet_records()
    depth = fill_buy([(0.40, 5.0), (0.41, 10.0)], 0.0, TERMS).depth_dollars
    assert bet["stake"] == pytest.approx(depth)
    assert depth < 10
    assert bet["price_decimal"] == pytest.approx(15.0 / depth)


def test_no_edge_at_the_stake_is_no_bet() -> None:
    """At the top price the Heat have an edge; filled at 10 units on a book that is thin at the top, not."""
    thin = [{"price": 0.40, "size": 1.0}, {"price": 0.47, "size": 1000.0}]
    result = _run(_asks({**SPORTS, "book_time": T - timedelta(minutes=5), "asks": thin}))
    assert result.bets.empty


def test_kelly_on_a_book_stakes_at_most_the_kelly_stake_at_its_fill_price() -> None:
    result = _run(_asks({**SPORTS, "book_time": T - timedelta(minutes=5), "asks": THIN}), staking="kelly",
                  bankroll=1000.0, kelly_fraction=1.0, max_bet_fraction=1.0)  # fmt: skip
    (bet,) = result.bet_records()
    d, p = bet["price_decimal"], bet["prob"]
    kelly_at_fill = 1000.0 * (p * d - 1) / (d - 1)
    assert bet["stake"] == pytest.approx(kelly_at_fill, rel=1e-6)
    assert d == pytest.approx(fill_buy([(0.40, 5.0), (0.42, 1000.0)], bet["stake"], TERMS).decimal)
    top = 1 / (0.40 + fee_per_share(0.40, TERMS))
    assert bet["stake"] < 1000.0 * (p * top - 1) / (top - 1)  # less than the Kelly stake at the best ask


@pytest.mark.parametrize(
    "planted",
    [T + timedelta(seconds=1), T - timedelta(minutes=91)],
    ids=["after the decision", "older than the staleness bound"],
)
def test_a_book_not_known_or_not_current_at_the_decision_is_not_used(planted: datetime) -> None:
    """A book stored one second after the decision (or a stale one) with a free 0.05 ask: priced at the best
    ask instead, and said so."""
    free = [{"price": 0.05, "size": 1e6}]
    result = _run(_asks({**SPORTS, "book_time": planted, "asks": free}))
    (bet,) = result.bet_records()
    assert bet["price_basis"] == "best ask"
    assert bet["price_decimal"] == pytest.approx(1 / (0.40 + fee_per_share(0.40, TERMS)))
    assert bet["snapshot_time"] == (T - timedelta(minutes=10)).isoformat()
    assert result.counts["polymarket_bets_best_ask_only"] == 1
    assert "1 at the best ask only" in summary_markdown(result, "k", None)


def test_fee_terms_are_each_markets_own() -> None:
    free = _run(_asks({"fees_enabled": False, "fee_type": "sports_fees_v3"}))
    (bet,) = free.bet_records()
    assert bet["price_decimal"] == pytest.approx(1 / 0.40)
    assert bet["fee"] == 0.0
    assert bet["fee_terms"] == "free"
    assert bet["fee_assumed"] is False
    unstated = _run(_asks({}), polymarket_default_fee_rate=0.05, polymarket_default_fee_exponent=1.0)
    (bet,) = unstated.bet_records()
    per_share = 0.05 * 0.40 * 0.60
    assert bet["price_decimal"] == pytest.approx(1 / (0.40 + per_share))
    assert bet["fee"] == pytest.approx(10.0 * per_share / (0.40 + per_share))
    assert bet["fee_assumed"] is True
    assert bet["fee_terms"].endswith("(assumed)")
    assert unstated.counts["polymarket_bets_fee_assumed"] == 1
    crypto = {"fees_enabled": True, "fee_rate": 0.25, "fee_exponent": 2.0, "fee_type": "crypto_fees"}
    (bet,) = _run(_asks(crypto)).bet_records()
    assert bet["price_decimal"] == pytest.approx(1 / (0.40 + 0.25 * (0.40 * 0.60) ** 2))


OLD_BET_COLUMNS = [
    "event_id", "home_team", "away_team", "commence_time", "decision_time", "hours_before", "market",
    "outcome", "side", "point", "venue", "price_decimal", "price_american", "snapshot_time", "prob", "edge",
    "stake", "result", "profit", "close_prob", "close_point", "clv_prob", "beat_close", "month",
]  # fmt: skip


@pytest.mark.parametrize(
    ("update", "n", "digest"),
    [
        ({}, 239, "fb0127b34996957a"),
        ({"staking": "kelly"}, 239, "ad33db06102fca85"),
        ({"strategy": "line_shopping", "staking": "kelly"}, 339, "608d39b18ea9e0ff"),
        ({"strategy": "flat"}, 120, "620d5b295d3cc616"),
    ],
)
def test_sportsbook_results_are_unchanged(update: dict, n: int, digest: str) -> None:
    """Bets and metrics of a generated season, sportsbooks only, hashed: the digests were taken with the code
    before Polymarket was priced per market and on the book (commit 69e958d)."""
    s = generate_season(n_events=120, seed=5, first_hours=24, interval_minutes=60)
    cfg = BacktestConfig(strategy="basic_ev", start="2024-10-01", end="2025-06-01", decision_hours=[1, 3, 12],
                         n_bootstrap=200, n_permutations=200).model_copy(update=update)  # fmt: skip
    pairs = decision_pairs(s.events, cfg.decision_hours)
    odds = asof_reference(s.odds, pairs, timedelta(hours=24))
    close_pairs = s.events.assign(request_index=range(len(s.events)),
                                  decision_time=s.events["commence_time"] - timedelta(microseconds=1))  # fmt: skip
    closing = asof_reference(s.odds, close_pairs, timedelta(days=2)).assign(source="snapshots")
    closing = closing.merge(s.events[["event_id", "commence_time"]], on="event_id")
    result = run_backtest_frames(cfg, events=s.events, odds=odds, closing=closing, pairs=pairs)
    records = [{k: r[k] for k in OLD_BET_COLUMNS} for r in result.bet_records()]
    payload = json.dumps([records, result.metrics], sort_keys=True, default=str)
    assert len(records) == n
    assert hashlib.sha256(payload.encode()).hexdigest()[:16] == digest
    assert {r["price_basis"] for r in result.bet_records()} == {"quoted"}


def test_the_weekly_backtest_assumes_the_settings_fee_terms(settings_env: pytest.MonkeyPatch) -> None:
    from flows.backtest import scheduled_config
    from odds_models.settings import get_settings

    settings_env.setenv("POLYMARKET_DEFAULT_FEE_RATE", "0.05")
    settings_env.setenv("POLYMARKET_DEFAULT_FEE_EXPONENT", "2")
    get_settings.cache_clear()
    terms = scheduled_config("basic_ev", TIP.date(), TIP.date()).polymarket_default_terms()
    assert (terms.rate, terms.exponent, terms.assumed) == (0.05, 2.0, True)
