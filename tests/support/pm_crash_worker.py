"""Crash-test worker: backfill against a slow fake CLOB until the parent SIGKILLs this process.

Usage: python pm_crash_worker.py LOOKBACK_DAYS NOW_ISO   (DATABASE_URL points at the test database,
PREFECT_API_URL at the test's Prefect server: the worker runs the backfill flow)
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for `tests.support`

from flows.polymarket import backfill_polymarket_history
from odds_models.clock import FrozenClock, set_clock
from tasks.http import set_client_factory
from tests.support.pm_fakes import FakeClob


async def main() -> None:
    lookback_days, now = int(sys.argv[1]), datetime.fromisoformat(sys.argv[2])
    set_clock(FrozenClock(now))
    set_client_factory("clob", FakeClob(delay=0.4).client)
    await backfill_polymarket_history(lookback_days=lookback_days, concurrency=1)


if __name__ == "__main__":
    asyncio.run(main())
