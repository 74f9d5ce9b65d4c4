"""Each Polymarket store task says in its run's logs what it wrote: rows added and rows already stored (as the
Odds API store tasks do), read back from the test server's log API; no secret in them."""

from __future__ import annotations

import json
from pathlib import Path
from uuid import UUID

import pytest

from flows.polymarket import (
    backfill_polymarket_history,
    discover_polymarket,
    import_polymarket_files,
    poll_polymarket_prices,
)
from odds_models.clock import FrozenClock, use_clock
from odds_models.settings import get_settings
from tasks.http import use_client_factory
from tests.support.pm_fakes import FakeClob, token
from tests.tasks.test_polymarket_ingest import NOW, _gamma, _seed_backfill_market, _seed_two_games

pytestmark = [pytest.mark.db, pytest.mark.engine, pytest.mark.usefixtures("prefect_harness")]


async def _run_logs(state: object) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    assert state.is_completed(), state  # type: ignore[attr-defined]
    run_id: UUID = state.state_details.flow_run_id  # type: ignore[attr-defined]
    await APILogWorker.drain_all()
    async with get_client() as client:
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])))
    return [log.message for log in logs]


def _one(lines: list[str], prefix: str) -> str:
    found = [line for line in lines if line.startswith(prefix)]
    assert len(found) == 1, "\n".join(lines)
    return found[0]


def _no_secret(lines: list[str]) -> None:
    key = get_settings().odds_api_key
    secret = key.get_secret_value() if hasattr(key, "get_secret_value") else key
    if secret:
        assert all(secret not in line for line in lines)


async def test_discovery_and_polls_log_rows_added_and_existing(db: str) -> None:
    events = await _seed_two_games()
    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("gamma", _gamma(events)):
        first = await _run_logs(await discover_polymarket(link=False, return_state=True))
        again = await _run_logs(await discover_polymarket(link=False, return_state=True))
        with use_client_factory("clob", fake.client):
            poll1 = await _run_logs(await poll_polymarket_prices(return_state=True))
            poll2 = await _run_logs(await poll_polymarket_prices(return_state=True))  # same frozen time
    assert _one(first, "stored gamma events:") == (
        "stored gamma events: events 2 added, 0 existing (refreshed); markets 3 added, 0 existing (refreshed); "
        "findings 0"
    )
    assert "events 0 added, 2 existing (refreshed); markets 0 added, 3 existing" in _one(
        again, "stored gamma events:"
    )
    at = f"{NOW:%Y-%m-%dT%H:%M:%SZ}"
    assert (
        _one(poll1, "stored poll at")
        == f"stored poll at {at}: prices 4 added, 0 existing; books 4 added, 0 existing"
    )
    assert (
        _one(poll2, "stored poll at")
        == f"stored poll at {at}: prices 0 added, 4 existing; books 0 added, 4 existing"
    )
    _no_secret(first + again + poll1 + poll2)


async def test_backfill_and_import_log_rows_added_and_existing(db: str, tmp_path: Path) -> None:
    await _seed_backfill_market(days=20)
    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", fake.client):
        lines = await _run_logs(
            await backfill_polymarket_history(lookback_days=30, concurrency=1, return_state=True)
        )
    stored = [line for line in lines if line.startswith("stored price history of token ")]
    assert len(stored) == 2, "\n".join(lines)
    assert any(line.startswith(f"stored price history of token {token(7)[:12]}…: points ") for line in stored)
    assert all(" added, " in line and " existing, in " in line for line in stored)
    assert all(" 0 added" not in line for line in stored)  # the fake answers points for the whole window

    history = tmp_path / f"prices_history_{token(7)}.json"
    history.write_text(json.dumps({"history": [{"t": int(NOW.timestamp()) - 86400 * 25, "p": 0.41},
                                               {"t": int(NOW.timestamp()) - 86400 * 25 + 60, "p": 0.42}]}))  # fmt: skip
    first = await _run_logs(await import_polymarket_files([str(history)], return_state=True))
    again = await _run_logs(await import_polymarket_files([str(history)], return_state=True))
    assert _one(first, f"stored {history.name}:") == (
        f"stored {history.name}: history file; price points 2 added, 0 existing"
    )
    assert _one(again, f"stored {history.name}:").endswith("price points 0 added, 2 existing")
    _no_secret(lines + first + again)
