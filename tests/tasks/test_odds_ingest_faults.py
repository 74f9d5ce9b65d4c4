"""The sportsbook steps end to end against a fake API and PostgreSQL: happy path, faults, spool, budget."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

from odds_models import db as dbmod
from odds_models.db import async_session_maker
from odds_models.errors import AuthRejected, BudgetExceeded, PayloadError, QuotaExhausted, TransportFailure
from odds_models.settings import get_settings
from tasks.odds_ingest import (
    check_budget,
    credits_spent_this_month,
    due_event_list,
    fetch_events,
    fetch_odds_to_spool,
    fetch_scores_to_spool,
    store_events_payload,
)
from tasks.retry import is_db_connection_error
from tasks.spool import drain_spool, spool_files, store_spool_file

pytestmark = pytest.mark.db


async def _counts() -> dict[str, int]:
    out = {}
    async with async_session_maker() as session:
        for table in ("events", "odds_snapshots", "odds", "fetch_logs", "data_quality_logs"):
            out[table] = int((await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
    return out


async def _tick() -> dict[str, int]:
    """What fetch_odds does, step by step, without the engine."""
    await store_events_payload(await fetch_events())
    spooled = await fetch_odds_to_spool()
    return await store_spool_file(__import__("pathlib").Path(spooled.path))


async def test_tick_stores_slate_once_with_fetch_logs(db: str, fake_api) -> None:
    await store_events_payload(await fetch_events())
    due = await due_event_list()
    assert [d.tier for d in due] == ["<3h", "12-24h", "24-72h"]
    spooled = await fetch_odds_to_spool()
    assert spool_files()  # on disk before the database sees it
    stored = await store_spool_file(__import__("pathlib").Path(spooled.path))
    assert spool_files() == []
    assert (stored["snapshots"], stored["odds_rows"], stored["fetch_logs"]) == (3, 18, 1)
    assert await due_event_list() == []  # all just snapshotted
    async with async_session_maker() as session:
        logs = (
            await session.execute(
                text(
                    "SELECT endpoint, cost, requests_used, requests_remaining, requests_last, status_code, attempts "
                    "FROM fetch_logs ORDER BY id"
                )
            )
        ).all()
    assert [tuple(r) for r in logs] == [
        ("/v4/sports/basketball_nba/events", 0, 0, 500, 0, 200, 1),
        ("/v4/sports/basketball_nba/odds", 3, 3, 497, 3, 200, 1),
    ]
    assert await credits_spent_this_month() == 3


async def test_429_then_200(db: str, fake_api) -> None:
    fake_api.faults["/odds"] = [httpx.Response(429, headers={"Retry-After": "0"})]
    await _tick()
    counts = await _counts()
    assert counts["odds"] == 18
    async with async_session_maker() as session:
        attempts = (
            await session.execute(text("SELECT attempts FROM fetch_logs WHERE endpoint LIKE '%/odds'"))
        ).scalar_one()
    assert attempts == 2


async def test_500_three_times_then_200(db: str, fake_api) -> None:
    fake_api.faults["/odds"] = [httpx.Response(500) for _ in range(3)]
    await _tick()
    await _tick()  # a second tick at the same moment stores a new snapshot time? no: same clock, same rows
    counts = await _counts()
    assert (counts["odds_snapshots"], counts["odds"]) == (3, 18)


@pytest.mark.parametrize(("fault", "error"), [
    (httpx.ReadTimeout("slow"), TransportFailure),
    (httpx.Response(200, content=b'[{"id": "0000", "home_te'), PayloadError),
    (httpx.Response(401, json={"message": "API key is not valid", "error_code": "INVALID_KEY"}), AuthRejected),
    (httpx.Response(401, json={"message": "Usage quota has been reached", "error_code": "OUT_OF_USAGE_CREDITS"}),
     QuotaExhausted),
])  # fmt: skip
async def test_failed_paid_call_writes_nothing_but_its_log(
    db: str, fake_api, fault: object, error: type
) -> None:
    await store_events_payload(await fetch_events())
    fake_api.faults["/odds"] = [fault] * 10
    with pytest.raises(error):
        await fetch_odds_to_spool()
    assert spool_files() == []
    counts = await _counts()
    assert (counts["odds_snapshots"], counts["odds"]) == (0, 0)
    async with async_session_maker() as session:
        row = (
            await session.execute(text("SELECT error, attempts FROM fetch_logs WHERE endpoint LIKE '%/odds'"))
        ).one()
    assert row.error
    if error in (AuthRejected, QuotaExhausted):
        assert row.attempts == 1  # final errors are never retried
    else:
        assert row.attempts > 1  # timeouts and cut bodies are retried before giving up


async def test_malformed_but_valid_json_fails_store_and_writes_nothing(db: str, fake_api) -> None:
    await store_events_payload(await fetch_events())
    fake_api.faults["/odds"] = [httpx.Response(200, json=[{"id": "x" * 32, "bookmakers": []}])]
    spooled = await fetch_odds_to_spool()
    with pytest.raises(
        PayloadError, match=r"/v4/sports/basketball_nba/odds: event x+ has no valid `home_team`"
    ):
        await store_spool_file(__import__("pathlib").Path(spooled.path))
    counts = await _counts()
    assert (counts["odds_snapshots"], counts["odds"]) == (0, 0)
    assert spool_files() == []  # moved aside to failed/, not retried forever
    assert list((get_settings().spool_dir / "failed").glob("*.json"))


async def test_database_down_after_paid_call_keeps_response_for_next_run(
    db: str, fake_api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_events_payload(await fetch_events())
    spooled = await fetch_odds_to_spool()
    # the database goes away between the paid call and the write
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:9/odds_test")
    get_settings.cache_clear()
    await dbmod.dispose_engine()
    with pytest.raises(Exception) as info:
        await store_spool_file(__import__("pathlib").Path(spooled.path))
    assert is_db_connection_error(info.value)
    assert [p.name for p in spool_files()] == [spooled.path.rsplit("/", 1)[-1]]
    # it comes back: the next run drains the spool first
    monkeypatch.setenv("DATABASE_URL", db)
    get_settings.cache_clear()
    await dbmod.dispose_engine()
    drained = await drain_spool()
    assert (drained.stored, drained.counts["odds_rows"], drained.counts["fetch_logs"]) == (1, 18, 1)
    assert spool_files() == []
    assert (await drain_spool()).stored == 0
    counts = await _counts()
    assert counts["odds"] == 18


async def test_scores_lifecycle_through_spool(db: str, fake_api) -> None:
    await store_events_payload(await fetch_events())
    spooled = await fetch_scores_to_spool(days_from=1)
    stored = await store_spool_file(__import__("pathlib").Path(spooled.path))
    assert (stored["final"], stored["updated"]) == (1, 1)
    async with async_session_maker() as session:
        rows = (
            await session.execute(text("SELECT status, home_score, away_score FROM events ORDER BY id"))
        ).all()
    assert [tuple(r) for r in rows] == [
        ("final", 101, 99),
        ("scheduled", None, None),
        ("scheduled", None, None),
    ]
    assert await credits_spent_this_month() == 2


async def test_budget_stops_paid_calls_not_free(db: str, fake_api) -> None:
    await _tick()
    spent = await credits_spent_this_month()
    with pytest.raises(BudgetExceeded, match="monthly budget of 5"):
        check_budget(spent=spent, cost=3, budget=5, what="The /odds call")
    check_budget(spent=spent, cost=0, budget=5, what="/events")  # free: never blocked
