"""The bet ledger against PostgreSQL: manual and paper bets on a sportsbook and on Polymarket, settled at the
close with CLV worked out by hand, a pick published twice recorded once, a game without a close left open and
counted, and the report's figures with their counts."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from scipy.stats import norm
from sqlalchemy import text

from odds_analytics.ledger import BetsRejected, draft_from_fields, ledger_report
from odds_models.db import async_session_maker
from tasks.storage.bets import read_ledger, record_bets, record_paper_bets, settle_bets
from tests.support.bets_ledger import AWAY, CLOSE_AT, HOME, TIP, Ledger, finish

pytestmark = pytest.mark.db

PLACED = TIP - timedelta(hours=3)
NOW = TIP - timedelta(hours=2)


def fair(a: float, b: float) -> float:
    """Multiplicative devig of a two-way market: the first outcome's fair probability."""
    return (1 / a) / (1 / a + 1 / b)


def moved(p: float, points: float, sd: float) -> float:
    """The same side `points` better (normal approximation, as the docs state)."""
    return float(norm.cdf(norm.ppf(p) + points / sd))


# The close is Pinnacle's (the only sharp book quoting), devigged multiplicatively; DraftKings is ignored.
P_CELTICS = fair(1.60, 2.50)
P_HEAT = 1 - P_CELTICS
P_CELTICS_M55 = fair(1.95, 1.87)  # Celtics -5.5
P_HEAT_P55 = 1 - P_CELTICS_M55
P_OVER_2215 = fair(1.90, 1.95)
P_UNDER_2215 = 1 - P_OVER_2215


def manual_fields(ledger: Ledger) -> list[dict[str, str]]:
    placed = PLACED.isoformat()
    tok = ledger.tokens
    return [
        {"event": ledger.game, "market": "h2h", "side": "Heat", "venue": "draftkings", "price": "2.70",
         "stake": "10", "placed_at": placed},
        {"event": ledger.game, "market": "spreads", "side": "home", "line": "-4.5", "venue": "draftkings",
         "price": "-110", "stake": "10", "placed_at": placed},
        {"event": f"{AWAY} @ {HOME}", "market": "totals", "side": "under", "line": "222.5", "venue": "draftkings",
         "price": "1.95", "stake": "10", "placed_at": placed},
        {"event": ledger.game, "venue": "polymarket", "token": tok["h2h:Celtics"], "fill_price": "0.58",
         "shares": "100", "fee_rate": "0", "placed_at": placed},
        {"event": ledger.game, "venue": "polymarket", "token": tok["spreads:Heat"], "fill_price": "0.50",
         "shares": "50", "fee_rate": "0.02", "placed_at": placed},
        {"venue": "polymarket", "token": tok["totals:Over"], "fill_price": "0.55", "stake": "11", "fee_rate": "0",
         "placed_at": placed},
    ]  # fmt: skip


def paper_picks(ledger: Ledger) -> list[dict[str, object]]:
    def pick(
        market: str, side: str, outcome: str, venue: str, point: float | None, price: float, **kw: object
    ):
        return {"event_id": ledger.game, "market": market, "side": side, "outcome": outcome, "best_venue": venue,
                "best_point": point, "best_price_decimal": price, "decision_time": PLACED, "model_id": None,
                "expected_clv": 0.02 / price, "exp_return": 0.02, **kw}  # fmt: skip

    return [
        pick("h2h", "home", HOME, "pinnacle", None, 1.62),
        pick("h2h", "away", AWAY, "polymarket", None, 1 / 0.40),  # token looked up from the moneyline
        pick("spreads", "away", AWAY, "draftkings", 6.5, 1.91),
        pick("spreads", "home", HOME, "polymarket", -5.5, 1 / (0.47 * 1.01), token_id=ledger.tokens["spreads:Celtics"],
             fill_price=0.47, fee_rate=0.01),
        pick("totals", "over", "Over", "draftkings", 223.5, 1.91),
        pick("totals", "under", "Under", "polymarket", 220.5, 1 / 0.44, token_id=ledger.tokens["totals:Under"],
             fill_price=0.44, fee_rate=0.0),
    ]  # fmt: skip


# (source, market, outcome, venue) -> (hand-computed CLV, result, profit) with the final Celtics 110, Heat 100
EXPECTED = {
    ("manual", "h2h", AWAY, "draftkings"): (P_HEAT - 1 / 2.70, "loss", -10.0),
    ("manual", "spreads", HOME, "draftkings"): (moved(P_CELTICS_M55, 1.0, 12.5) - 1 / (1 + 100 / 110), "win",
                                                10 * 100 / 110),
    ("manual", "totals", "Under", "draftkings"): (moved(P_UNDER_2215, 1.0, 18.0) - 1 / 1.95, "win", 9.5),
    ("manual", "h2h", HOME, "polymarket"): (P_CELTICS - 0.58, "win", 42.0),
    ("manual", "spreads", AWAY, "polymarket"): (P_HEAT_P55 - 0.50 * 1.02, "loss", -25.5),
    ("manual", "totals", "Over", "polymarket"): (moved(P_OVER_2215, 1.0, 18.0) - 0.55, "loss", -11.0),
    ("paper", "h2h", HOME, "pinnacle"): (P_CELTICS - 1 / 1.62, "win", 0.62),
    ("paper", "h2h", AWAY, "polymarket"): (P_HEAT - 0.40, "loss", -1.0),
    ("paper", "spreads", AWAY, "draftkings"): (moved(P_HEAT_P55, 1.0, 12.5) - 1 / 1.91, "loss", -1.0),
    ("paper", "spreads", HOME, "polymarket"): (P_CELTICS_M55 - 0.47 * 1.01, "win", 1 / (0.47 * 1.01) - 1),
    ("paper", "totals", "Over", "draftkings"): (moved(P_OVER_2215, -2.0, 18.0) - 1 / 1.91, "loss", -1.0),
    ("paper", "totals", "Under", "polymarket"): (moved(P_UNDER_2215, -1.0, 18.0) - 0.44, "win", 1 / 0.44 - 1),
}  # fmt: skip


async def _settle(now):
    async with async_session_maker() as session:
        counts = await settle_bets(session=session, now=now)
        await session.commit()
    return counts


async def _ledger():
    async with async_session_maker() as session:
        return await read_ledger(session=session)


async def test_manual_and_paper_bets_settle_with_hand_computed_clv(ledger: Ledger) -> None:
    drafts = [(i + 1, draft_from_fields(f)) for i, f in enumerate(manual_fields(ledger))]
    added = await record_bets(drafts, now=NOW)
    assert len(added.added) == 6
    paper = await record_paper_bets(paper_picks(ledger))
    assert len(paper.added) == 6, paper.skipped
    # one bet on the game that never got a close (its only snapshot is 8 h before tip-off)
    lonely = draft_from_fields({"event": ledger.no_close, "market": "h2h", "side": "Lakers", "venue": "draftkings",
                                "price": "1.70", "stake": "5", "placed_at": PLACED.isoformat()})  # fmt: skip
    await record_bets([(1, lonely)], now=NOW)

    # before tip-off and in the minutes after it, no close is taken
    assert (await _settle(TIP - timedelta(minutes=1)))["closes"] == 0
    assert (await _settle(TIP + timedelta(minutes=5)))["closes"] == 0
    counts = await _settle(TIP + timedelta(minutes=20))
    assert counts["closes"] == 12

    await finish(ledger.game, 110, 100)
    await finish(ledger.no_close, 101, 99)
    counts = await _settle(TIP + timedelta(hours=5))
    assert counts["results"] == 13
    assert counts["closes"] == 0  # filled once
    assert counts["without_close"] == 1  # the game with no close: still looked for, and counted
    assert (await _settle(TIP + timedelta(hours=6)))["results"] == 0  # idempotent

    frame = await _ledger()
    assert len(frame) == 13
    for column in ("placed_at", "commence_time", "closed_at", "settled_at"):
        assert isinstance(frame[column].dtype, pd.DatetimeTZDtype), column
        assert str(frame[column].dt.tz) == "UTC", column
    seen = set()
    for row in frame[frame["event_id"] == ledger.game].itertuples(index=False):
        key = (row.source, row.market, row.outcome, row.venue)
        clv, result, profit = EXPECTED[key]
        assert row.clv_prob == pytest.approx(clv, abs=1e-9), key
        assert row.close_basis == "sharp", key
        assert row.result == result, key
        assert row.profit == pytest.approx(profit, abs=1e-9), key
        seen.add(key)
    assert seen == set(EXPECTED)
    # the Polymarket spread token of the Heat is the +5.5 side of "Celtics -5.5", priced fee included
    heat = frame[
        (frame["venue"] == "polymarket") & (frame["market"] == "spreads") & (frame["source"] == "manual")
    ]
    assert heat["line"].iloc[0] == 5.5
    assert heat["price_decimal"].iloc[0] == pytest.approx(1 / 0.51)
    assert heat["stake"].iloc[0] == pytest.approx(25.5)
    lonely_row = frame[frame["event_id"] == ledger.no_close].iloc[0]
    assert lonely_row["result"] == "win"
    assert lonely_row["clv_prob"] != lonely_row["clv_prob"]  # NaN: no close

    report = ledger_report(frame, now=TIP + timedelta(hours=6))
    overall = report["overall"]
    assert overall["bets"] == 13
    assert overall["clv_n"] == 12
    assert overall["open"] == 1
    assert overall["no_close"] == 1
    assert report["open_reasons"] == {"no close": 1}
    clvs = [v[0] for v in EXPECTED.values()]
    assert overall["clv_mean_pp"] == pytest.approx(100 * sum(clvs) / 12)
    assert overall["beat_close"] == sum(c > 0 for c in clvs)
    assert overall["clv_ci_pp"] is not None  # 12 bets >= the minimum of 10
    turnover = 10 + 10 + 10 + 58 + 25.5 + 11 + 6 + 5
    profit = sum(v[2] for v in EXPECTED.values()) + 5 * 0.70
    assert overall["roi"] == pytest.approx(profit / turnover)
    by_source = {r["source"]: r for r in report["by"]["source"]}
    assert by_source["paper"]["clv_n"] == 6
    assert by_source["paper"]["clv_ci_pp"] is None  # 6 bets: "n too small"
    assert by_source["manual"]["bets"] == 7
    assert by_source["paper"]["expected_return_n"] == 6


async def test_a_pick_published_twice_is_one_paper_bet(ledger: Ledger) -> None:
    picks = paper_picks(ledger)
    first = await record_paper_bets(picks)
    again = await record_paper_bets(picks)  # the same tick run twice
    later = await record_paper_bets([{**p, "best_price_decimal": 1.80, "decision_time": PLACED + timedelta(minutes=5)}
                                     for p in picks[:1]])  # the next tick publishes the same side again  # fmt: skip
    assert len(first.added) == 6
    assert again.added == []
    assert len(again.existing) == 6
    assert later.added == []
    assert len(later.existing) == 1
    frame = await _ledger()
    assert len(frame) == 6
    assert frame[frame["venue"] == "pinnacle"]["price_decimal"].iloc[0] == 1.62  # the first published price


async def test_rejected_bets_write_nothing(ledger: Ledger) -> None:
    good = manual_fields(ledger)[0]
    bad = [
        (1, draft_from_fields(good)),
        (2, draft_from_fields({**good, "venue": "fanduel"})),
        (3, draft_from_fields({**good, "side": "Lakers"})),
        (4, draft_from_fields({**good, "event": "no-such-game"})),
        (5, draft_from_fields({**good, "placed_at": (TIP + timedelta(minutes=10)).isoformat()})),
        (6, draft_from_fields(good)),
    ]
    with pytest.raises(BetsRejected) as caught:
        await record_bets(bad, now=TIP + timedelta(hours=1))
    lines = {line: str(exc) for line, exc in caught.value.errors}
    assert set(lines) == {2, 3, 4, 5, 6}
    assert "fanduel" in lines[2]
    assert "Lakers" in lines[3]
    assert "no-such-game" in lines[4]
    assert "tip-off" in lines[5]
    assert "line 1" in lines[6]
    async with async_session_maker() as session:
        assert (await session.execute(text("SELECT count(*) FROM bets"))).scalar_one() == 0


async def test_the_same_manual_bet_entered_twice_is_one_row(ledger: Ledger) -> None:
    draft = draft_from_fields(manual_fields(ledger)[1])
    first = await record_bets([(1, draft)], now=NOW)
    again = await record_bets([(1, draft)], now=NOW + timedelta(minutes=3))
    assert len(first.added) == 1
    assert again.existing == {next(iter(again.existing)): first.added[0]}
    assert len(await _ledger()) == 1


async def test_a_close_at_a_book_only_is_the_consensus(ledger: Ledger) -> None:
    """Without a sharp book in the close, the consensus of every book is used (here DraftKings alone)."""
    async with async_session_maker() as session:
        await session.execute(text("DELETE FROM odds WHERE bookmaker = 'pinnacle'"))
        await session.commit()
    draft = draft_from_fields(manual_fields(ledger)[0])
    await record_bets([(1, draft)], now=NOW)
    await _settle(CLOSE_AT + timedelta(hours=1))
    row = (await _ledger()).iloc[0]
    assert row["close_basis"] == "consensus"
    assert row["clv_prob"] == pytest.approx(fair(2.70, 1.50) - 1 / 2.70)


async def test_two_ticks_at_once_record_each_pick_once(ledger: Ledger) -> None:
    import asyncio

    picks = paper_picks(ledger)
    results = await asyncio.gather(*(record_paper_bets(picks) for _ in range(3)))
    assert sum(len(r.added) for r in results) == 6
    assert len(await _ledger()) == 6


async def test_demo_sample_bets_are_recorded_once_at_the_best_current_home_spread(ledger: Ledger) -> None:
    """The demo's sample bets (no validated model): one manual bet per game tipping off within the horizon, the
    home spread at the best current price, marked as a fixed rule; a second call records nothing more."""
    from odds_analytics.ledger import SAMPLE_BET_NOTE
    from tasks.storage.bets import record_sample_bets

    placed = CLOSE_AT + timedelta(minutes=5)  # the close snapshot is 5 minutes old: current
    first = await record_sample_bets(placed_at=placed, horizon=timedelta(hours=1))
    again = await record_sample_bets(placed_at=placed, horizon=timedelta(hours=1))
    assert len(first.added) == 1
    assert len(again.added) == 0
    from tasks.storage.bets import read_ledger_frame

    frame = await read_ledger_frame()
    sample = frame[frame["note"] == SAMPLE_BET_NOTE]
    assert len(sample) == 1
    row = sample.iloc[0]
    assert (row["source"], row["market"], row["outcome"], row["venue"]) == (
        "manual",
        "spreads",
        HOME,
        "pinnacle",
    )
    assert (row["line"], row["price_decimal"]) == (-5.5, 1.95)
    assert row["event_id"] == ledger.game
