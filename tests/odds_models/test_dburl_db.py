"""`TEST_DATABASE_URL=.../decoy_test?database=<victim>` is refused before anything is created or dropped.

The victim is a throwaway database this test creates on the test server (its name deliberately does not
end in `_test`) holding the pipeline's tables and one row; the suite is then started in a child process
with the decoy URL. The suite must refuse to start, the victim's row must still be there, and the decoy
database must not have been created.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from odds_models.db import create_database_if_missing, run_coro_blocking
from odds_models.dburl import with_database

ROOT = Path(__file__).resolve().parents[2]


async def _fetch(url: str, sql: str) -> list:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def _victim_with_a_row(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(SQLModel.metadata.create_all)
            await conn.execute(text(
                "INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, origin) "
                "VALUES ('precious', 'basketball_nba', 'A', 'B', now(), 'scheduled', 'user')"
            ))  # fmt: skip
    finally:
        await engine.dispose()


def test_decoy_url_is_refused_and_nothing_is_touched(pg_url: str) -> None:
    victim = f"odds_guard_victim_{uuid.uuid4().hex[:8]}"
    decoy = f"odds_guard_decoy_{uuid.uuid4().hex[:8]}_test"
    victim_url = with_database(pg_url, victim)
    admin = with_database(pg_url, "postgres")
    create_database_if_missing(victim_url)
    try:
        run_coro_blocking(_victim_with_a_row(victim_url))
        decoy_url = with_database(pg_url, decoy)
        decoy_url += ("&" if "?" in decoy_url else "?") + f"database={victim}"
        env = {**os.environ, "TEST_DATABASE_URL": decoy_url}
        env.pop("DATABASE_URL", None)
        child = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             str(ROOT / "tests/support/guard_probe.py")],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        output = child.stdout + child.stderr
        assert child.returncode != 0, output
        assert "UnsafeDatabaseError" in output, output
        assert victim in output, output
        rows = run_coro_blocking(_fetch(victim_url, "SELECT id FROM events"))
        assert [r["id"] for r in rows] == ["precious"]
        made = run_coro_blocking(_fetch(admin, f"SELECT datname FROM pg_database WHERE datname = '{decoy}'"))
        assert made == [], f"the decoy database {decoy} was created"
    finally:
        run_coro_blocking(_fetch(admin, f'DROP DATABASE IF EXISTS "{victim}"'))
        run_coro_blocking(_fetch(admin, f'DROP DATABASE IF EXISTS "{decoy}"'))
