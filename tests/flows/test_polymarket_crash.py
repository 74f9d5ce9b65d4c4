"""Crash and resume: a backfill SIGKILLed half-way, started again, completes with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from flows.polymarket import backfill_polymarket_history, discover_polymarket
from odds_models.clock import FrozenClock, use_clock
from odds_models.db import async_session_maker
from tasks.http import use_client_factory
from tests.support.pm_fakes import FakeClob, gamma_event, now_floor, token

pytestmark = [
    pytest.mark.db,
    pytest.mark.slow,
    pytest.mark.engine,
    pytest.mark.usefixtures("prefect_harness"),
]

NOW = now_floor()
LOOKBACK_DAYS = 60  # 4 windows of ≤15 days per token, 2 tokens
WORKER = Path(__file__).resolve().parents[1] / "support" / "pm_crash_worker.py"


async def _windows_done() -> int:
    async with async_session_maker() as session:
        rows = await session.execute(
            text(
                "SELECT coalesce(sum(ceil(extract(epoch FROM covered_to - covered_from) / (15 * 86400))), 0) "
                "FROM polymarket_backfill_watermarks"
            )
        )
        return int(rows.scalar_one())


async def _rows(tok: str) -> list[int]:
    async with async_session_maker() as session:
        rows = await session.execute(
            text(
                "SELECT extract(epoch FROM snapshot_time)::bigint FROM polymarket_price_snapshots "
                "WHERE token_id = :t ORDER BY 1"
            ),
            {"t": tok},
        )
        return [r[0] for r in rows]


async def test_sigkill_half_way_then_resume_has_no_gap_and_no_duplicate(db: str) -> None:
    import httpx

    event = gamma_event(
        "960",
        "nba-bos-nyk-2026-03-01",
        game_start=NOW + timedelta(hours=1),
        market_start=NOW - timedelta(days=70),
        tokens=(token(11), token(12)),
    )

    def gamma(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"events": [event]})

    with (
        use_clock(FrozenClock(NOW)),
        use_client_factory("gamma", lambda: httpx.AsyncClient(transport=httpx.MockTransport(gamma))),
    ):
        await discover_polymarket(link=False)

    from prefect.settings import PREFECT_API_URL

    env = {
        **os.environ,
        "DATABASE_URL": db,
        "PYTHONPATH": str(Path.cwd()),
        "PREFECT_API_URL": PREFECT_API_URL.value(),
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - the test drives a child it kills on purpose
        [sys.executable, str(WORKER), str(LOOKBACK_DAYS), NOW.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while await _windows_done() < 3:
            assert proc.poll() is None, (
                proc.stderr.read().decode()[-2000:] if proc.stderr else "worker exited"
            )
            assert time.monotonic() < deadline, "the worker stored nothing within 60 s"
            await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    done_before = await _windows_done()
    assert 3 <= done_before < 8, "the kill should land half-way"

    fake = FakeClob()
    with use_clock(FrozenClock(NOW)), use_client_factory("clob", fake.client):
        await backfill_polymarket_history(lookback_days=LOOKBACK_DAYS, concurrency=2)
    assert (
        0 < len(fake.history_calls) <= 8 - done_before + 1
    )  # only what was missing (± the window in flight)
    for tok in (token(11), token(12)):
        stored = await _rows(tok)
        assert stored == fake.expected(tok, NOW - timedelta(days=LOOKBACK_DAYS), NOW)
        assert len(stored) == len(set(stored))
        assert all(b - a == fake.step for a, b in itertools.pairwise(stored))
