"""The Polymarket flows through the Prefect engine, against fake Gamma and CLOB transports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from odds_models.clock import FrozenClock, use_clock
from odds_models.db import async_session_maker
from tasks.http import use_client_factory
from tests.support.pm_fakes import FakeClob, gamma_event, insert_sportsbook_event, now_floor, token

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]

NOW = now_floor()


@pytest.fixture
def fakes() -> Iterator[FakeClob]:
    event = gamma_event(
        "970",
        "nba-bos-nyk-2026-03-01",
        game_start=NOW + timedelta(hours=2),
        market_start=NOW - timedelta(days=20),
        tokens=(token(21), token(22)),
    )

    def gamma(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"events": [event]})

    clob = FakeClob()
    with (
        use_client_factory("gamma", lambda: httpx.AsyncClient(transport=httpx.MockTransport(gamma))),
        use_client_factory("clob", clob.client),
    ):
        yield clob


async def test_discover_poll_and_backfill_flows(db: str, fakes: FakeClob) -> None:
    from flows.polymarket import backfill_polymarket_history, discover_polymarket, poll_polymarket_prices

    await insert_sportsbook_event("sb9", "New York Knicks", "Boston Celtics", NOW + timedelta(hours=2))
    with use_clock(FrozenClock(NOW)):
        discovered = await discover_polymarket()
        polled = await poll_polymarket_prices()
        backfilled = await backfill_polymarket_history(lookback_days=30)
    assert discovered["events"] == 1
    assert discovered["link_linked"] == 1
    assert polled["prices"] == 2
    assert polled["books"] == 2
    assert backfilled["tokens"] == 2
    assert backfilled["windows"] == 4
    assert backfilled["errors"] == 0
    assert backfilled["staleness"] == "never"
    async with async_session_maker() as session:
        n = (
            await session.execute(
                text("SELECT count(*) FROM polymarket_price_snapshots WHERE source='backfill'")
            )
        ).scalar_one()
    assert n == 2 * len(fakes.expected(token(21), NOW - timedelta(days=20), NOW))
    # the link results are published as an artifact
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    async with get_client() as client:  # the newest: earlier tests on this server published their own
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["polymarket-links"])),
            sort=ArtifactSort.CREATED_DESC,
        )
    assert artifacts
    assert "linked: 1" in str(artifacts[0].data)


async def test_backfill_more_than_5_days_late_saves_data_then_fails_loudly(db: str, fakes: FakeClob) -> None:
    from flows.polymarket import BackfillOverdue, backfill_polymarket_history, discover_polymarket

    with use_clock(FrozenClock(NOW - timedelta(days=6))):
        await discover_polymarket(link=False)
        await backfill_polymarket_history(lookback_days=30)
    with use_clock(FrozenClock(NOW)):
        state = await backfill_polymarket_history(lookback_days=30, return_state=True)
    assert state.is_failed()
    with pytest.raises(BackfillOverdue, match="more than 5 days"):
        await state.result()
    async with async_session_maker() as session:
        covered = (
            await session.execute(text("SELECT min(covered_to) FROM polymarket_backfill_watermarks"))
        ).scalar_one()
    assert covered == NOW  # the late run still caught up before failing
