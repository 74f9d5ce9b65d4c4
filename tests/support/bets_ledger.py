"""A game for the ledger tests: Miami Heat @ Boston Celtics with a close (Pinnacle and DraftKings 20 minutes
before tip-off), linked Polymarket moneyline, spread and total markets, and a second game with no close."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from odds_models.db import async_session_maker
from odds_models.tables import Event, Odds, OddsSnapshot, PolymarketEvent, PolymarketMarket

TIP = datetime(2026, 1, 13, 0, 30, tzinfo=UTC)
HOME, AWAY = "Boston Celtics", "Miami Heat"
CLOSE_AT = TIP - timedelta(minutes=20)

# (bookmaker, market, outcome, point, decimal price) of the close
CLOSE_PRICES = [
    ("pinnacle", "h2h", HOME, None, 1.60), ("pinnacle", "h2h", AWAY, None, 2.50),
    ("draftkings", "h2h", HOME, None, 1.50), ("draftkings", "h2h", AWAY, None, 2.70),
    ("pinnacle", "spreads", HOME, -5.5, 1.95), ("pinnacle", "spreads", AWAY, 5.5, 1.87),
    ("draftkings", "spreads", HOME, -6.5, 1.91), ("draftkings", "spreads", AWAY, 6.5, 1.91),
    ("pinnacle", "totals", "Over", 221.5, 1.90), ("pinnacle", "totals", "Under", 221.5, 1.95),
    ("draftkings", "totals", "Over", 223.5, 1.91), ("draftkings", "totals", "Under", 223.5, 1.91),
]  # fmt: skip


@dataclass
class Ledger:
    game: str  # the game with a close
    no_close: str  # a game whose only snapshot is 10 h before tip-off
    tokens: dict[str, str]  # "h2h:Heat", "spreads:Celtics", "totals:Over", ... -> token id


def _token() -> str:
    return str(uuid.uuid4().int)[:40] + "1234567890123456789012345678901234567"


async def _seed() -> Ledger:
    game, no_close = uuid.uuid4().hex, uuid.uuid4().hex
    tokens = {f"{m}:{o}": _token() for m, outcomes in (("h2h", ("Heat", "Celtics")), ("spreads", ("Celtics", "Heat")),
                                                      ("totals", ("Over", "Under"))) for o in outcomes}  # fmt: skip
    async with async_session_maker() as session:
        session.add(Event(id=game, home_team=HOME, away_team=AWAY, commence_time=TIP))
        session.add(Event(id=no_close, home_team="Los Angeles Lakers", away_team="Denver Nuggets",
                          commence_time=TIP + timedelta(hours=2)))  # fmt: skip
        await session.flush()
        for event_id, moment, prices in (
            (game, CLOSE_AT, CLOSE_PRICES),
            (no_close, TIP - timedelta(hours=8), [("draftkings", "h2h", "Los Angeles Lakers", None, 1.70),
                                                  ("draftkings", "h2h", "Denver Nuggets", None, 2.25)]),
        ):  # fmt: skip
            snap = OddsSnapshot(event_id=event_id, source="live", snapshot_time=moment, raw={})
            session.add(snap)
            await session.flush()
            for book, market, outcome, point, price in prices:
                session.add(Odds(snapshot_id=snap.id, event_id=event_id, snapshot_time=moment, bookmaker=book,  # type: ignore[arg-type]
                                 market=market, outcome=outcome, point=point, price_decimal=price))  # fmt: skip
        pm_event = "pm-" + game[:8]
        session.add(PolymarketEvent(id=pm_event, slug=f"nba-mia-bos-{game[:6]}", event_id=game, link_status="linked",
                                    raw={}))  # fmt: skip
        await session.flush()
        for i, (kind, question, outcomes, team, line) in enumerate((
            ("moneyline", "Heat vs. Celtics", ("Heat", "Celtics"), None, None),
            ("spread", "Spread: Celtics (-5.5)", ("Celtics", "Heat"), HOME, -5.5),
            ("total", "Heat vs. Celtics: O/U 220.5", ("Over", "Under"), None, 220.5),
        )):  # fmt: skip
            market = {"moneyline": "h2h", "spread": "spreads", "total": "totals"}[kind]
            session.add(PolymarketMarket(
                id=f"{pm_event}-{i}", polymarket_event_id=pm_event, question=question, market_type=kind, team=team,
                line=line, outcomes=list(outcomes), token_ids=[tokens[f"{market}:{o}"] for o in outcomes], raw={},
            ))  # fmt: skip
        await session.commit()
    return Ledger(game, no_close, tokens)


@pytest.fixture
async def ledger(db: str) -> Ledger:
    return await _seed()


async def finish(event_id: str, home: int, away: int) -> None:
    """The game is over: final, with its score."""
    async with async_session_maker() as session:
        await session.execute(
            text("UPDATE events SET status = 'final', home_score = :h, away_score = :a WHERE id = :e"),
            {"h": home, "a": away, "e": event_id},
        )
        await session.commit()
