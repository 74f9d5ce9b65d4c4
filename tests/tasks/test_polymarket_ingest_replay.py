"""The Polymarket steps against the replay service (simulated Gamma + CLOB, in-process over ASGI)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text

from odds_models.clock import FrozenClock, use_clock
from odds_models.db import async_session_maker
from tests.support.pm_fakes import insert_sportsbook_event

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

START = date(2026, 1, 12)
NOW = datetime(2026, 1, 12, 20, 0, tzinfo=UTC)


async def test_discover_link_poll_backfill_against_replay(db: str, settings_env: pytest.MonkeyPatch) -> None:
    from flows.polymarket import backfill_polymarket_history, discover_polymarket, poll_polymarket_prices
    from replay.app import create_app
    from replay.simulate import SimulatedSource
    from tasks.http import use_client_factory
    from tasks.polymarket_ingest import read_backfill_plan

    source = SimulatedSource(seed=5, start=START, days=1)
    clock = FrozenClock(NOW)
    settings_env.setenv("POLYMARKET_GAMMA_URL", "http://replay/gamma")
    settings_env.setenv("POLYMARKET_CLOB_URL", "http://replay/clob")
    settings_env.setenv("DATABASE_URL", db)

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(source, clock=clock)))

    listed = [g for g in source.games if g.pm_created <= NOW]
    for game in listed:
        await insert_sportsbook_event(game.id, game.home.name, game.away.name, game.actual_start)
    with use_clock(clock), use_client_factory("gamma", client), use_client_factory("clob", client):
        found = await discover_polymarket()
        polled = await poll_polymarket_prices()
        plan = await read_backfill_plan(now=NOW, lookback=timedelta(days=2))
        backfilled = await backfill_polymarket_history(lookback_days=2, concurrency=4)
    assert found["events"] >= 1
    assert found["link_linked"] == found["events"]  # every simulated game has its sportsbook event
    assert found["link_ambiguous"] == 0
    assert polled["prices"] > 0
    assert polled["books"] > 0
    assert backfilled["tokens"] == len(plan) > 0
    assert backfilled["errors"] == 0
    assert backfilled["points"] > 0
    async with async_session_maker() as session:
        types = set(
            (await session.execute(text("SELECT DISTINCT market_type FROM polymarket_markets"))).scalars()
        )
        wrong = (await session.execute(text(
            "SELECT count(*) FROM polymarket_events pe JOIN events e ON e.id = pe.event_id "
            "WHERE pe.home_team <> e.home_team OR pe.away_team <> e.away_team"))).scalar_one()  # fmt: skip
    assert {"moneyline", "spread", "total"} <= types
    assert wrong == 0
