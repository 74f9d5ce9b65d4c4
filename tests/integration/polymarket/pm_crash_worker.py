"""Crash-test worker: backfill against a slow fake CLOB until the parent SIGKILLs this process.

Usage: python pm_crash_worker.py LOOKBACK_DAYS NOW_ISO   (DATABASE_URL points at the test database)
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pm_fakes import FakeClob

from odds_models.clock import FrozenClock, set_clock
from tasks.polymarket import read_backfill_plan, run_backfill


async def main() -> None:
    lookback, now = timedelta(days=int(sys.argv[1])), datetime.fromisoformat(sys.argv[2])
    set_clock(FrozenClock(now))
    plan = await read_backfill_plan(now=now, lookback=lookback)
    await run_backfill(plan, concurrency=1, client=FakeClob(delay=0.4).client())


if __name__ == "__main__":
    asyncio.run(main())
