"""Migrations: upgrade, downgrade and upgrade again on an empty database; models and migrations agree."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import odds_models.tables  # noqa: F401
from odds_models.db import create_database_if_missing
from odds_models.dburl import with_database
from odds_models.testing import assert_test_database

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def migrations_url(pg_url: str) -> str:
    url = with_database(pg_url, "odds_migrations_test")
    assert_test_database(url)
    create_database_if_missing(url)
    return url


def _config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def _tables(url: str) -> set[str]:
    from sqlalchemy.ext.asyncio import create_async_engine

    from odds_models.db import run_coro_blocking

    async def names() -> set[str]:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            result = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        await engine.dispose()
        return result

    return run_coro_blocking(names())


def _diff(url: str) -> list:
    from sqlalchemy.ext.asyncio import create_async_engine

    from odds_models.db import run_coro_blocking

    async def run() -> list:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": True}), SQLModel.metadata
                )
            )
        await engine.dispose()
        return diff

    return run_coro_blocking(run())


def test_upgrade_downgrade_upgrade(migrations_url: str) -> None:
    cfg = _config(migrations_url)
    command.downgrade(cfg, "base")
    assert _tables(migrations_url) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    expected = {t.name for t in SQLModel.metadata.sorted_tables}
    assert expected <= _tables(migrations_url)
    command.downgrade(cfg, "base")
    assert _tables(migrations_url) <= {"alembic_version"}
    command.upgrade(cfg, "head")
    assert expected <= _tables(migrations_url)


def test_models_match_migrations(migrations_url: str) -> None:
    command.upgrade(_config(migrations_url), "head")
    diff = _diff(migrations_url)
    assert diff == [], f"models and migrations disagree; run `alembic revision --autogenerate`: {diff}"
