"""The sportsbook flows through the Prefect engine, against the fake API: one tick, a repeat, scores.

Also checks the flow artifacts and logs for the sentinel API key.
"""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from tests.support.oddsapi_fake import SENTINEL

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]


async def test_flows_tick_skip_and_scores(
    db: str, fake_api, clock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.client.orchestration import get_client

    from flows.odds import fetch_odds, fetch_scores, sync_events

    caplog.set_level(logging.DEBUG)
    synced = await sync_events()
    assert synced["events"] == 3
    first = await fetch_odds()
    assert first["paid_call"] == "done"
    assert first["due"] == 3
    assert first["stored"]["odds_rows"] == 18
    # ten minutes later nothing is due: no paid call
    clock.advance(minutes=10)
    second = await fetch_odds()
    assert second["paid_call"].startswith("skipped")
    # forty minutes later the <3h game is due again: one call for the whole slate
    clock.advance(minutes=30)
    third = await fetch_odds()
    assert third["paid_call"] == "done"
    fake_api.used = 460  # the quota runs low: 38 of 500 left after the next call (7.6 %)
    scores = await fetch_scores(days_from=1)
    assert scores["stored"]["final"] == 1
    assert "below the 10% warning level" in scores["quota_warnings"][0]
    odds_calls = [r for r in fake_api.requests if r.url.path.endswith("/odds")]
    assert len(odds_calls) == 2
    async with async_session_maker() as session:
        snaps = (await session.execute(text("SELECT count(*) FROM odds_snapshots"))).scalar_one()
        logs = (await session.execute(text("SELECT count(*), sum(cost) FROM fetch_logs"))).one()
    assert snaps == 6
    assert tuple(logs) == (7, 3 + 3 + 2)  # 4 /events (free), 2 /odds (3 each), 1 /scores (2)
    # the monthly budget (8 credits spent) stops the next paid call; the free /events call still runs
    monkeypatch.setenv("MONTHLY_CREDIT_BUDGET", "10")
    get_settings.cache_clear()
    clock.advance(minutes=40)
    blocked = await fetch_odds(force=True)
    assert blocked["paid_call"].startswith(
        "blocked: The /odds call would cost 3 credits; 8 of the monthly budget"
    )
    assert len([r for r in fake_api.requests if r.url.path.endswith("/odds")]) == 2
    assert fake_api.requests[-1].url.path.endswith("/events")
    async with get_client() as client:
        artifacts = await client.read_artifacts()
    keys = {a.key for a in artifacts}
    assert {"oddsapi-fetch-odds", "oddsapi-quota", "oddsapi-fetch-scores"} <= keys
    text_ = "\n".join(str(a.data) for a in artifacts) + "\n".join(r.getMessage() for r in caplog.records)
    assert SENTINEL not in text_
