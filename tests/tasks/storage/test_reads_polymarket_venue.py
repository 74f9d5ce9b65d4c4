"""Polymarket as a venue: a linked game's moneyline, its market's fee terms and the token's stored book, all
strictly at or before the decision; the stake is filled on the book (a token without a book: its best ask)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.execution import FeeTerms, fill_buy
from odds_models.db import async_session_maker
from odds_models.tables import (
    PolymarketEvent,
    PolymarketMarket,
    PolymarketOrderbookSnapshot,
    PolymarketPriceSnapshot,
)
from tasks.storage.event_reads import read_events_between, read_polymarket_asks_at_times
from tasks.storage.reads import read_odds_at_times
from tests.support.backtest_seed import Seed, new_event_id

pytestmark = pytest.mark.db

TIP = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
HOME, AWAY = "Boston Celtics", "Miami Heat"


async def test_polymarket_ask_is_a_venue_without_look_ahead(seed: Seed) -> None:
    ev = new_event_id()
    t = TIP - timedelta(hours=1)
    prices = []
    for book, home, away in (("fanduel", 1.70, 2.15), ("draftkings", 1.72, 2.10), ("betmgm", 1.71, 2.12)):
        for outcome, price in ((HOME, home), (AWAY, away)):
            prices.append({"event_id": ev, "snapshot_time": t - timedelta(minutes=30), "bookmaker": book,
                           "market": "h2h", "outcome": outcome, "price": price})  # fmt: skip
    await seed([{"id": ev, "home_team": HOME, "away_team": AWAY, "commence_time": TIP, "status": "final",
                 "home_score": 90, "away_score": 101}], prices)  # fmt: skip
    async with async_session_maker() as session:
        session.add(
            PolymarketEvent(
                id="pm1", slug="nba-mia-bos-2024-01-09", raw={}, event_id=ev, link_status="linked"
            )
        )
        await session.flush()
        session.add(
            PolymarketMarket(
                id="m1",
                polymarket_event_id="pm1",
                market_type="moneyline",
                period="game",
                outcomes=["Celtics", "Heat"],
                token_ids=["tok_bos", "tok_mia"],
                raw={},
                fees_enabled=True,
                fee_rate=0.03,
                fee_exponent=1.0,
                fee_taker_only=True,
                fee_type="sports_fees_v3",
            )
        )
        await session.flush()
        for token, outcome, at, ask in (
            ("tok_mia", "Heat", t - timedelta(minutes=10), 0.40),
            ("tok_mia", "Heat", t + timedelta(seconds=1), 0.05),  # planted: one second after the decision
            ("tok_bos", "Celtics", t - timedelta(minutes=10), 0.62),
        ):
            session.add(
                PolymarketPriceSnapshot(
                    market_id="m1",
                    token_id=token,
                    outcome=outcome,
                    source="poll",
                    snapshot_time=at,
                    best_ask=ask,
                    best_bid=ask - 0.01,
                )
            )
        for at, levels in (
            (t - timedelta(minutes=5), [(0.40, 5.0), (0.42, 1000.0)]),
            (t + timedelta(seconds=1), [(0.05, 1e6)]),  # planted: a free book one second after the decision
        ):
            session.add(
                PolymarketOrderbookSnapshot(
                    market_id="m1", token_id="tok_mia", snapshot_time=at, bids=[],
                    asks=[{"price": p, "size": s} for p, s in levels], best_ask=levels[0][0],
                )
            )  # fmt: skip
        await session.commit()

    cfg = BacktestConfig(strategy="basic_ev", start=TIP.date() - timedelta(days=1), end=TIP.date(), decision_hours=[1],
                         stake=10.0, n_bootstrap=0, n_permutations=0)  # fmt: skip
    async with async_session_maker() as session:
        events = await read_events_between(cfg.start, cfg.end + timedelta(days=1), session=session)
        pairs = decision_pairs(events, cfg.decision_hours)
        pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
        odds = await read_odds_at_times(pair_list, session=session)
        asks = await read_polymarket_asks_at_times(pair_list, session=session)
    assert sorted(asks["best_ask"]) == [0.40, 0.62]
    assert (asks["snapshot_time"] <= asks["decision_time"]).all()
    heat = asks[asks["token_id"] == "tok_mia"].iloc[0]
    celtics = asks[asks["token_id"] == "tok_bos"].iloc[0]
    assert heat["book_time"] == t - timedelta(minutes=5)  # the book before the decision, not the planted one
    assert heat["asks"] == [{"price": 0.40, "size": 5.0}, {"price": 0.42, "size": 1000.0}]
    assert pd.isna(celtics["book_time"])
    assert celtics["asks"] is None
    assert (heat["fees_enabled"], heat["fee_rate"], heat["fee_exponent"], heat["fee_type"]) == (
        True, 0.03, 1.0, "sports_fees_v3",
    )  # fmt: skip

    result = run_backtest_frames(
        cfg, events=events, pairs=pairs, odds=odds, closing=pd.DataFrame(), polymarket=asks
    )
    (bet,) = result.bet_records()
    assert bet["venue"] == "polymarket"
    assert bet["outcome"] == AWAY
    fill = fill_buy([(0.40, 5.0), (0.42, 1000.0)], 10.0, FeeTerms(enabled=True, rate=0.03, exponent=1.0))
    assert bet["price_decimal"] == pytest.approx(fill.decimal)
    assert bet["price_basis"] == "book"
    assert bet["fee"] == pytest.approx(fill.fee)
    assert bet["snapshot_time"] == (t - timedelta(minutes=5)).isoformat()
    assert bet["result"] == "win"
    assert result.counts["polymarket_bets_on_book"] == 1
