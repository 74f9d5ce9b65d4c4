"""Issue 2, must-show 3: the writers are idempotent, and an event sync cannot erase a final score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from odds_analytics.polymarket.clob import TokenQuote
from odds_models.db import async_session_maker
from odds_models.tables import PolymarketMarket
from tasks.odds_ingest import store_odds_payload
from tasks.storage.events import EventRecord, upsert_events
from tasks.storage.polymarket_prices import insert_quotes

pytestmark = pytest.mark.db

TIP = datetime(2024, 1, 10, 0, 30, tzinfo=UTC)
SNAP = TIP - timedelta(hours=13)
EVENT_ID = "e" * 32


def _payload() -> dict:
    outcomes_h2h = [{"name": "Boston Celtics", "price": 1.45}, {"name": "New York Knicks", "price": 2.8}]
    spreads = [
        {"name": "Boston Celtics", "price": 1.91, "point": -6.5},
        {"name": "New York Knicks", "price": 1.91, "point": 6.5},
    ]
    last = SNAP.isoformat().replace("+00:00", "Z")
    return {
        "timestamp": last,
        "data": [
            {
                "id": EVENT_ID,
                "sport_key": "basketball_nba",
                "sport_title": "NBA",
                "commence_time": TIP.isoformat().replace("+00:00", "Z"),
                "home_team": "Boston Celtics",
                "away_team": "New York Knicks",
                "bookmakers": [
                    {
                        "key": book,
                        "title": book,
                        "last_update": last,
                        "markets": [
                            {"key": "h2h", "last_update": last, "outcomes": outcomes_h2h},
                            {"key": "spreads", "last_update": last, "outcomes": spreads},
                        ],
                    }
                    for book in ("draftkings", "fanduel")
                ],
            }
        ],
    }


async def _count(table: str) -> int:
    async with async_session_maker() as session:
        return int((await session.execute(text(f'SELECT count(*) FROM "{table}"'))).scalar_one())


async def test_same_snapshot_odds_price_and_event_twice_store_one_of_each(db: str) -> None:
    for _ in range(2):
        await store_odds_payload(
            _payload(), endpoint="/v4/historical/sports/basketball_nba/odds", source="historical"
        )
    assert await _count("events") == 1
    assert await _count("odds_snapshots") == 1
    assert await _count("odds") == 8  # 2 books x (2 h2h + 2 spreads)

    async with async_session_maker() as session:
        session.add(
            PolymarketMarket(id="m1", question="Knicks vs. Celtics", market_type="moneyline",
                             outcomes=["Knicks", "Celtics"], token_ids=["1" * 77, "2" * 77], raw={})
        )  # fmt: skip
        await session.commit()
    quotes = [
        ("m1", "Knicks", TokenQuote(token_id="1" * 77, best_bid=0.33, best_ask=0.35, mid=0.34, spread=0.02)),
        ("m1", "Celtics", TokenQuote(token_id="2" * 77, best_bid=0.65, best_ask=0.67, mid=0.66, spread=0.02)),
    ]
    for _ in range(2):
        async with async_session_maker() as session:
            await insert_quotes(session=session, quotes=quotes, snapshot_time=SNAP)
            await session.commit()
    assert await _count("polymarket_price_snapshots") == 2  # one per token, not four

    event = EventRecord(
        id=EVENT_ID, home_team="Boston Celtics", away_team="New York Knicks", commence_time=TIP
    )
    for _ in range(2):
        async with async_session_maker() as session:
            await upsert_events(session=session, events=[event])
            await session.commit()
    assert await _count("events") == 1


async def test_event_sync_cannot_erase_a_final_score(db: str) -> None:
    final = EventRecord(
        id=EVENT_ID, home_team="Boston Celtics", away_team="New York Knicks", commence_time=TIP,
        status="final", home_score=118, away_score=104, scores_updated_at=TIP + timedelta(hours=3),
        completed_at=TIP + timedelta(hours=3),
    )  # fmt: skip
    resync = EventRecord(  # what /events says later: no scores, "scheduled", a moved commence_time
        id=EVENT_ID, home_team="Boston Celtics", away_team="New York Knicks",
        commence_time=TIP + timedelta(minutes=7),
    )  # fmt: skip
    async with async_session_maker() as session:
        await upsert_events(session=session, events=[final])
        await session.commit()
    async with async_session_maker() as session:
        await upsert_events(session=session, events=[resync])
        await session.commit()
    async with async_session_maker() as session:
        row = (
            await session.execute(
                text("SELECT status, home_score, away_score FROM events WHERE id = :id"), {"id": EVENT_ID}
            )
        ).one()
    assert tuple(row) == ("final", 118, 104)
