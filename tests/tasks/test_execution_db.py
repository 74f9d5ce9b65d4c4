"""Picks at the executable price against PostgreSQL: the stored books read as of the decision (never a later
or a stale one), with their market's fee terms; live scoring prices Polymarket at the stake; the paper bet of a
Polymarket pick keeps its stake, shares and fill price."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import text

from odds_analytics._synthetic_clv import simulate_market
from odds_analytics.clv_model import fit_model
from odds_analytics.features import build_dataset, decision_samples

pytestmark = pytest.mark.db

TOKENS = {"away": "9000000000000000000000000000000000000000000000000000000000000000000000000001",
          "home": "9000000000000000000000000000000000000000000000000000000000000000000000000002"}  # fmt: skip


async def _seed_polymarket(event: pd.Series, t: pd.Timestamp, *, fees: dict) -> None:
    """A linked Polymarket game with a moneyline; each token's books: one 30 min before t (the one to use),
    one 10 min after t (the future), and for the away token one 3 days before (stale) only."""
    from odds_models.db import async_session_maker
    from odds_models.tables import PolymarketEvent, PolymarketMarket, PolymarketOrderbookSnapshot

    home_nick, away_nick = event.home_team.split()[-1], event.away_team.split()[-1]
    async with async_session_maker() as session:
        session.add(PolymarketEvent(id="pe1", slug="nba-x-y", title=f"{away_nick} vs. {home_nick}", raw={},
                                    event_id=event.event_id, link_status="linked"))  # fmt: skip
        await session.flush()
        session.add(PolymarketMarket(id="pm1", polymarket_event_id="pe1", question=f"{away_nick} vs. {home_nick}",
                                     market_type="moneyline", period="game", outcomes=[away_nick, home_nick],
                                     token_ids=[TOKENS["away"], TOKENS["home"]], raw={}, **fees))  # fmt: skip
        await session.flush()

        def book(
            token: str, at: pd.Timestamp, asks: list[tuple[float, float]]
        ) -> PolymarketOrderbookSnapshot:
            levels = [{"price": p, "size": s} for p, s in asks]
            return PolymarketOrderbookSnapshot(market_id="pm1", token_id=token, snapshot_time=at.to_pydatetime(),
                                               bids=[], asks=levels, best_ask=min(p for p, _ in asks))  # fmt: skip

        session.add_all([
            book(TOKENS["home"], t - pd.Timedelta(minutes=30), [(0.06, 200.0), (0.30, 1000.0)]),
            book(TOKENS["home"], t + pd.Timedelta(minutes=10), [(0.01, 1e6)]),  # the future: never read
            book(TOKENS["away"], t - pd.Timedelta(days=3), [(0.02, 1e6)]),  # stale
        ])  # fmt: skip
        await session.commit()


async def test_books_as_of_the_decision_with_fee_terms(db: str, seed_market) -> None:
    from odds_models.db import async_session_maker
    from tasks.execution import execution_inputs
    from tasks.storage.books import read_polymarket_books_at_times

    odds, events, closing = simulate_market(n_games=2, seed=3)
    await seed_market(odds, events, closing)
    event = events.iloc[0]
    t = event.commence_time - pd.Timedelta(hours=6)
    await _seed_polymarket(event, t, fees={"fees_enabled": True, "fee_rate": 0.03, "fee_exponent": 1.0})
    async with async_session_maker() as session:
        books = await read_polymarket_books_at_times(
            session=session, pairs=[(event.event_id, t.to_pydatetime())], max_staleness=timedelta(hours=24)
        )
        inputs = await execution_inputs(
            session=session, pairs=[(event.event_id, t.to_pydatetime())], events=events, bankroll=500.0
        )
    assert list(books["token_id"]) == [TOKENS["home"]]  # not the future book, not the stale one
    assert books.loc[0, "snapshot_time"] == t - pd.Timedelta(minutes=30)
    assert books.loc[0, "asks"] == [{"price": 0.06, "size": 200.0}, {"price": 0.30, "size": 1000.0}]
    assert (books.loc[0, "fee_rate"], books.loc[0, "fee_exponent"]) == (0.03, 1.0)
    sides = inputs["polymarket_books"]
    assert list(zip(sides["market"], sides["side"], strict=True)) == [("h2h", "home")]
    assert inputs["stake_policy"].bankroll == 500.0
    assert inputs["default_fee_terms"].assumed
    with pytest.raises(ValueError, match="time zone"):
        async with async_session_maker() as session:
            await read_polymarket_books_at_times(session=session, pairs=[(event.event_id, t.tz_localize(None).to_pydatetime())],
                                                 max_staleness=timedelta(hours=1))  # fmt: skip


async def test_live_scoring_prices_polymarket_at_the_stake_and_records_the_paper_bet(
    db: str, seed_market
) -> None:
    from odds_models.db import async_session_maker
    from tasks.model import score_upcoming
    from tasks.storage.bets import record_paper_bets

    odds, events, closing = simulate_market(n_games=30, seed=5)
    data = build_dataset(odds, events, decision_samples(odds, events), market="h2h", closing=closing)
    model = fit_model(data, kind="no_change", market="h2h")
    await seed_market(odds, events, closing)
    event = events.sort_values("commence_time").iloc[-1]
    t = event.commence_time - pd.Timedelta(hours=6)
    await _seed_polymarket(event, t, fees={})  # no fee terms stated: the default is assumed, flagged
    _, recs = await score_upcoming("h2h", 1, model, decision_time=t.to_pydatetime(), horizon_hours=12.0,
                                   min_edge=0.01, bankroll=500.0)  # fmt: skip
    pick = next(r for r in recs if r["event_id"] == event.event_id and r["side"] == "home")
    # 1/0.06 is far above any book: Polymarket wins; its stake is capped at 2 % of 500 = 10 dollars,
    # which 200 shares at 0.06 (12 dollars of depth plus fee) cover: 10 / (0.06 + 0.03 x 0.0564) shares
    assert pick["best_venue"] == "polymarket"
    assert pick["stake"] == 10.0
    assert pick["stake_limit"] == "cap"
    assert pick["fee_assumed"] is True
    assert pick["shares"] == pytest.approx(10.0 / (0.06 + 0.03 * 0.06 * 0.94))
    assert pick["best_price_decimal"] == pytest.approx(pick["shares"] / 10.0)
    assert pick["token_id"] == TOKENS["home"]
    assert pick["recommended"]
    result = await record_paper_bets([{**pick, "model_id": None}])
    assert len(result.added) == 1
    async with async_session_maker() as session:
        row = (await session.execute(text("SELECT venue, stake, shares, fill_price, fee_rate, price_decimal, token_id "
                                          "FROM bets"))).one()  # fmt: skip
    assert row.venue == "polymarket"
    assert row.stake == 10.0
    assert row.shares == pytest.approx(pick["shares"])
    assert row.fill_price == pytest.approx(0.06)
    assert row.fill_price * (1 + row.fee_rate) == pytest.approx(1 / row.price_decimal)
    assert row.token_id == TOKENS["home"]
