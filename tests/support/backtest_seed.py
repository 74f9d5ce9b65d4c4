"""Factories for the backtest/analytics DB tests: events and priced snapshots with random ids."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import pytest

from odds_models.db import async_session_maker
from odds_models.tables import Event, Odds, OddsSnapshot

Seed = Callable[..., Awaitable[None]]


def new_event_id() -> str:
    return uuid.uuid4().hex


async def _seed(events: list[dict[str, Any]], prices: list[dict[str, Any]], source: str = "test") -> None:
    """Insert events, then one snapshot per (event, snapshot_time, source) holding the given prices.

    A price is {event_id, snapshot_time, bookmaker, market, outcome, price, point?, source?}.
    """
    async with async_session_maker() as session:
        for ev in events:
            session.add(Event(**ev))
        await session.flush()
        snapshots: dict[tuple[str, str, datetime], OddsSnapshot] = {}
        for p in prices:
            key = (p["event_id"], p.get("source", source), p["snapshot_time"])
            if key not in snapshots:
                snap = OddsSnapshot(event_id=key[0], source=key[1], snapshot_time=key[2], raw={})
                session.add(snap)
                snapshots[key] = snap
        await session.flush()
        for p in prices:
            snap = snapshots[(p["event_id"], p.get("source", source), p["snapshot_time"])]
            session.add(
                Odds(
                    snapshot_id=snap.id,  # type: ignore[arg-type]
                    event_id=p["event_id"],
                    snapshot_time=p["snapshot_time"],
                    bookmaker=p["bookmaker"],
                    market=p["market"],
                    outcome=p["outcome"],
                    point=p.get("point"),
                    price_decimal=p["price"],
                    is_valid=p.get("is_valid", True),
                )
            )
        await session.commit()


@pytest.fixture
def seed(db: str) -> Seed:
    return _seed


async def bulk_load(url: str, events: Any, odds: Any, source: str = "generated") -> None:
    """COPY a generated season (DataFrames from `odds_analytics.backtest.synthetic`) into the database."""
    import io

    import asyncpg
    import pandas as pd

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        ev = events.assign(sport_key="basketball_nba", origin="test")
        await conn.copy_records_to_table(
            "events",
            records=list(ev[["event_id", "sport_key", "home_team", "away_team", "commence_time", "status",
                             "home_score", "away_score", "origin"]].itertuples(index=False, name=None)),
            columns=["id", "sport_key", "home_team", "away_team", "commence_time", "status", "home_score",
                     "away_score", "origin"],
        )  # fmt: skip
        base = int(await conn.fetchval("SELECT COALESCE(max(id), 0) FROM odds_snapshots")) + 1
        snaps = odds[["event_id", "snapshot_time"]].drop_duplicates().reset_index(drop=True)
        snaps["id"] = range(base, base + len(snaps))
        await conn.copy_records_to_table(
            "odds_snapshots",
            records=[(int(i), e, source, t.to_pydatetime(), "{}", 0) for i, e, t in
                     snaps[["id", "event_id", "snapshot_time"]].itertuples(index=False, name=None)],
            columns=["id", "event_id", "source", "snapshot_time", "raw", "bookmaker_count"],
        )  # fmt: skip
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('odds_snapshots', 'id'), $1)", base + len(snaps)
        )
        rows = odds.merge(snaps.rename(columns={"id": "snapshot_id"}), on=["event_id", "snapshot_time"])
        buf = io.BytesIO()
        rows[["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "point",
              "price_decimal"]].assign(description="", is_valid=True).to_csv(buf, index=False, header=False,
                                                                            date_format="%Y-%m-%dT%H:%M:%S%z")  # fmt: skip
        buf.seek(0)
        await conn.copy_to_table(
            "odds", source=buf, format="csv", force_not_null=["description"],
            columns=["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "point",
                     "price_decimal", "description", "is_valid"],
        )  # fmt: skip
        await conn.execute("ANALYZE odds")
        del pd
    finally:
        await conn.close()
