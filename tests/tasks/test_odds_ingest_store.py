"""The odds writer and the events upsert against PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from odds_models.db import async_session_maker
from tasks.odds_ingest import store_odds_payload
from tasks.storage.events import EventRecord, mark_events_status, store_events

pytestmark = pytest.mark.db

T0 = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)


def _event(
    eid: str = "e" * 32,
    *,
    home: str = "Boston Celtics",
    away: str = "Miami Heat",
    commence: datetime | None = None,
    books: list | None = None,
) -> dict:
    return {
        "id": eid,
        "sport_key": "basketball_nba",
        "sport_title": "NBA",
        "commence_time": (commence or T0 + timedelta(hours=10)).isoformat().replace("+00:00", "Z"),
        "home_team": home,
        "away_team": away,
        "bookmakers": books
        if books is not None
        else [
            {
                "key": "draftkings",
                "title": "DK",
                "last_update": "2030-01-10T11:59:00Z",
                "markets": [
                    {"key": "h2h", "outcomes": [{"name": home, "price": 1.5}, {"name": away, "price": 2.7}]},
                    {
                        "key": "spreads",
                        "outcomes": [
                            {"name": home, "price": 1.91, "point": -5.5},
                            {"name": away, "price": 1.91, "point": 5.5},
                        ],
                    },
                    {
                        "key": "totals",
                        "outcomes": [
                            {"name": "Over", "price": 1.91, "point": 221.5},
                            {"name": "Under", "price": 1.91, "point": 221.5},
                        ],
                    },
                ],
            },
        ],
    }


async def _count(table: str) -> int:
    async with async_session_maker() as session:
        return int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_same_response_twice_adds_nothing(db: str) -> None:
    payload = [_event(), _event("f" * 32, home="Utah Jazz", away="Denver Nuggets")]
    first = await store_odds_payload(payload, endpoint="/odds", source="live", snapshot_time=T0)
    assert (first.events_new, first.snapshots, first.odds_rows) == (2, 2, 12)
    second = await store_odds_payload(payload, endpoint="/odds", source="live", snapshot_time=T0)
    assert (second.events_new, second.snapshots, second.odds_rows, second.quality_issues) == (0, 0, 0, 0)
    assert await _count("odds") == 12
    assert await _count("odds_snapshots") == 2
    async with async_session_maker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT price_decimal, price_american, fetch_tier, hours_to_commence FROM odds o "
                    "JOIN odds_snapshots s ON s.id = o.snapshot_id WHERE o.market = 'h2h' AND o.outcome = 'Miami Heat'"
                )
            )
        ).one()
    assert row.price_decimal == pytest.approx(2.7)
    assert row.price_american == 170
    assert row.fetch_tier == "3-12h"
    assert row.hours_to_commence == pytest.approx(10.0)


async def test_invalid_rows_logged_and_kept_or_rejected(db: str) -> None:
    bad = _event(
        books=[
            {
                "key": "bk",
                "title": "BK",
                "last_update": "2030-01-10T11:00:00Z",
                "markets": [
                    {
                        "key": "spreads",
                        "outcomes": [
                            {"name": "Boston Celtics", "price": 1.91, "point": -5.5},
                            {"name": "Miami Heat", "price": 1.91, "point": 4.5},
                        ],
                    },
                    {
                        "key": "h2h",
                        "outcomes": [
                            {"name": "Boston Celtics", "price": 0.5},
                            {"name": "Miami Heat", "price": 2.0},
                        ],
                    },
                ],
            }
        ]
    )
    kept = await store_odds_payload(
        [bad], endpoint="/odds", source="live", snapshot_time=T0, reject_invalid=False
    )
    assert kept.odds_rows == 4
    assert kept.odds_invalid == 3  # 2 spread rows + the 0.5 price
    async with async_session_maker() as session:
        checks = {r[0] for r in await session.execute(text("SELECT check_type FROM data_quality_logs"))}
        valid = (await session.execute(text("SELECT count(*) FROM odds WHERE is_valid"))).scalar_one()
    assert {"spread_not_mirrored", "price_out_of_range"} <= checks
    assert valid == 1
    rejected = await store_odds_payload(
        [bad], endpoint="/odds", source="live", snapshot_time=T0 + timedelta(minutes=30), reject_invalid=True
    )
    assert rejected.odds_rows == 1
    assert rejected.odds_rejected == 3
    assert rejected.snapshots == 1  # the raw snapshot is always kept


async def test_malformed_payload_writes_nothing(db: str) -> None:
    payload = [
        _event(),
        {"id": "x" * 32, "home_team": "Utah Jazz", "away_team": "Miami Heat"},
    ]  # no commence_time
    from odds_models.errors import PayloadError

    with pytest.raises(PayloadError, match="commence_time"):
        await store_odds_payload(
            payload, endpoint="/v4/sports/basketball_nba/odds", source="live", snapshot_time=T0
        )
    assert await _count("events") == 0
    assert await _count("odds") == 0


async def test_upsert_events_never_erases_scores_or_moves_back(db: str) -> None:
    eid = "a" * 32
    await store_events(
        [
            EventRecord(
                id=eid,
                home_team="Utah Jazz",
                away_team="Miami Heat",
                commence_time=T0,
                status="final",
                home_score=101,
                away_score=99,
                scores_updated_at=T0,
            )
        ],
        authoritative_status=True,
    )
    counts = await store_events(
        [
            EventRecord(
                id=eid,
                home_team="Utah Jazz",
                away_team="Miami Heat",
                commence_time=T0 + timedelta(minutes=10),
            )
        ]
    )
    assert counts.updated == 0  # a final game keeps its time and status; nothing to change
    async with async_session_maker() as session:
        row = (await session.execute(text("SELECT status, home_score, away_score FROM events"))).one()
        assert tuple(row) == ("final", 101, 99)
        assert await mark_events_status(session=session, event_ids=[eid], status="cancelled") == 0
    again = await store_events(
        [
            EventRecord(
                id=eid,
                home_team="Utah Jazz",
                away_team="Miami Heat",
                commence_time=T0,
                status="final",
                home_score=101,
                away_score=99,
                scores_updated_at=T0,
            )
        ],
        authoritative_status=True,
    )
    assert (again.inserted, again.updated) == (0, 0)


async def test_status_lifecycle(db: str) -> None:
    eid = "b" * 32
    base = {"id": eid, "home_team": "Utah Jazz", "away_team": "Miami Heat", "commence_time": T0}
    await store_events([EventRecord(**base)])
    await store_events(
        [EventRecord(**base, status="live", home_score=10, away_score=8)], authoritative_status=True
    )
    await store_events([EventRecord(**base)])  # an /events sync afterwards: stays live, keeps scores
    async with async_session_maker() as session:
        assert tuple((await session.execute(text("SELECT status, home_score FROM events"))).one()) == (
            "live",
            10,
        )
        await mark_events_status(session=session, event_ids=[eid], status="cancelled")
        await session.commit()
    await store_events(
        [EventRecord(**base, status="live", home_score=12, away_score=8)], authoritative_status=True
    )
    async with async_session_maker() as session:
        assert tuple((await session.execute(text("SELECT status, home_score FROM events"))).one()) == (
            "live",
            12,
        )


async def test_concurrent_fetches_store_each_row_once(db: str) -> None:
    payload = [_event(f"{i:032x}", commence=T0 + timedelta(hours=i + 1)) for i in range(20)]
    results = await asyncio.gather(
        *[store_odds_payload(payload, endpoint="/odds", source="live", snapshot_time=T0) for _ in range(4)]
    )
    assert sum(r.odds_rows for r in results) == 20 * 6
    assert sum(r.snapshots for r in results) == 20
    assert sum(r.events_new for r in results) == 20
    assert await _count("odds") == 120


async def test_fixture_file_stores(db: str, fixtures_dir: Path) -> None:
    data = json.loads((fixtures_dir / "oddsapi_odds_basketball_nba_2021-11-13_edgebet.json").read_text())
    counts = await store_odds_payload(
        data,
        endpoint="/odds",
        source="import:oddsapi",
        snapshot_time=datetime(2021, 11, 13, 17, 35, tzinfo=UTC),
    )
    expected = len(
        {
            (e["id"], b["key"], m["key"], o["name"], o.get("description", ""), o.get("point"))
            for e in data
            for b in e["bookmakers"]
            for m in b["markets"]
            for o in m["outcomes"]
        }
    )
    assert counts.odds_rows == expected
    assert counts.snapshots == len(data)
