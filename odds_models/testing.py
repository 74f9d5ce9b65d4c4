"""Guards for tests: nothing in the project can point the test suite at a production database.

Two checks, both before any DDL or truncation:

- `assert_test_database(url)` refuses a URL unless every database it could reach ends in `_test`: the path,
  `?database=` / `?dbname=`, and what the driver itself resolves (through the engine and through a raw
  `asyncpg.connect`), including `PGDATABASE` and the user-name fallback when the path is empty. It runs
  before any connection is opened.
- `assert_connected_to_test_database(conn)` asks the server (`current_database()`) on the connection that is
  about to run the DDL, so a URL the static check misread still cannot drop a real database.
"""

from __future__ import annotations

from typing import Any

from odds_models.dburl import database_names, hide_password
from odds_models.errors import UnsafeDatabaseError

__all__ = ["assert_connected_to_test_database", "assert_test_database", "prepare_test_database"]

_HINT = "test databases must be named *_test. Set TEST_DATABASE_URL to a database such as postgresql://localhost/odds_test."


def assert_test_database(url: str) -> None:
    """Raise `UnsafeDatabaseError` unless every database `url` may reach ends in `_test`."""
    names = database_names(url)
    bad = sorted(name for name in names if not name.endswith("_test"))
    if bad:
        raise UnsafeDatabaseError(
            f"refusing to run tests against database {bad[0]!r} ({hide_password(url)}): {_HINT}"
        )


async def assert_connected_to_test_database(conn: Any) -> None:
    """Raise `UnsafeDatabaseError` unless the server says this connection's database ends in `_test`.

    `conn` is a SQLAlchemy `AsyncConnection` (or anything with `exec_driver_sql`).
    """
    name = (await conn.exec_driver_sql("SELECT current_database()")).scalar_one()
    if not str(name).endswith("_test"):
        raise UnsafeDatabaseError(f"refusing to change database {name!r}: {_HINT}")


def prepare_test_database(url: str) -> str:
    """Check `url` (see above), create its database if missing, drop and recreate every table; return the
    canonical URL. Nothing is created, dropped or truncated when the check fails."""
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401 - registers the tables
    from odds_models.db import create_database_if_missing, run_coro_blocking
    from odds_models.dburl import normalise_database_url

    assert_test_database(url)
    url = normalise_database_url(url)
    assert_test_database(url)
    create_database_if_missing(url)

    async def run() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await assert_connected_to_test_database(conn)
                await conn.run_sync(SQLModel.metadata.drop_all)
                await conn.run_sync(SQLModel.metadata.create_all)
        finally:
            await engine.dispose()

    run_coro_blocking(run())
    return url
