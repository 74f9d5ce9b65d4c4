"""Migrations: upgrade, downgrade and upgrade again on an empty database; models and migrations agree."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

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


def _sql_on(url: str) -> Callable[..., Coroutine[Any, Any, list]]:
    """An async runner of plain SQL statements on `url` (one asyncpg connection per call): each statement's rows."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")

    async def sql(*statements: str) -> list:
        conn = await asyncpg.connect(dsn)
        try:
            return [await conn.fetch(statement) for statement in statements]
        finally:
            await conn.close()

    return sql


@pytest.fixture(scope="module")
def migrations_url(pg_url: str) -> str:
    url = with_database(pg_url, "odds_migrations_test")
    assert_test_database(url)
    # a fresh database every session: a database left at a revision of an older chain (a branch merged
    # since) must not fail the walk down
    _drop_database(pg_url, "odds_migrations_test")
    create_database_if_missing(url)
    return url


def _drop_database(pg_url: str, name: str) -> None:
    import asyncpg

    from odds_models.db import run_coro_blocking

    assert name.endswith("_test")
    admin = with_database(pg_url, "postgres").replace("postgresql+asyncpg://", "postgresql://", 1)

    async def drop() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_coro_blocking(drop())


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


def test_0003_builds_odds_states_for_stored_odds_and_installs_the_triggers(migrations_url: str) -> None:
    """Upgrading a database that already holds odds builds their states; new odds keep them current;
    downgrading removes the table, its function and the triggers."""

    from odds_models.db import run_coro_blocking

    cfg = _config(migrations_url)
    sql = _sql_on(migrations_url)

    command.downgrade(cfg, "base")
    command.upgrade(cfg, "0001")
    run_coro_blocking(sql(
        "INSERT INTO events (id, home_team, away_team, commence_time, sport_key, origin, status) "
        "VALUES ('m1', 'A', 'B', '2030-01-02T00:00:00Z', 'basketball_nba', 'test', 'scheduled')",
        "INSERT INTO odds_snapshots (id, event_id, source, snapshot_time, raw, bookmaker_count) "
        "VALUES (1, 'm1', 'live', '2030-01-01T10:00:00Z', '[]', 1), (2, 'm1', 'live', '2030-01-01T11:00:00Z', '[]', 1)",
        "INSERT INTO odds (snapshot_id, event_id, snapshot_time, bookmaker, market, outcome, price_decimal, is_valid,"
        " description)"
        " VALUES (1, 'm1', '2030-01-01T10:00:00Z', 'pinnacle', 'h2h', 'A', 1.8, true, ''),"
        " (1, 'm1', '2030-01-01T10:00:00Z', 'pinnacle', 'h2h', 'B', 2.0, true, ''),"
        " (2, 'm1', '2030-01-01T11:00:00Z', 'fanduel', 'h2h', 'A', 1.7, true, '')",
    ))  # fmt: skip
    command.upgrade(cfg, "head")
    states = run_coro_blocking(sql("SELECT snapshot_time, bookmakers, prices FROM odds_states ORDER BY 1"))[0]
    assert [(list(r["bookmakers"]), list(r["prices"])) for r in states] == [
        (["pinnacle", "pinnacle"], [1.8, 2.0]),
        (["fanduel", "pinnacle", "pinnacle"], [1.7, 1.8, 2.0]),  # pinnacle carried forward
    ]
    run_coro_blocking(sql(
        "INSERT INTO odds_snapshots (id, event_id, source, snapshot_time, raw, bookmaker_count) "
        "VALUES (3, 'm1', 'live', '2030-01-01T12:00:00Z', '[]', 1)",
        "INSERT INTO odds (snapshot_id, event_id, snapshot_time, bookmaker, market, outcome, price_decimal, is_valid,"
        " description)"
        " VALUES (3, 'm1', '2030-01-01T12:00:00Z', 'pinnacle', 'h2h', 'A', 1.75, true, '')",
    ))  # fmt: skip
    last = run_coro_blocking(sql("SELECT prices FROM odds_states ORDER BY snapshot_time DESC LIMIT 1"))[0][0]
    assert list(last["prices"]) == [1.7, 1.75]  # the trigger built it: pinnacle's newest snapshot has only A
    command.downgrade(cfg, "0001")
    left = run_coro_blocking(sql(
        "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'trg_odds_states%'",
        "SELECT count(*) FROM pg_proc WHERE proname LIKE 'odds_states%'",
        "SELECT to_regclass('odds_states') IS NULL",
    ))  # fmt: skip
    assert [r[0][0] for r in left] == [0, 0, True]
    command.upgrade(cfg, "head")


def test_0005_moves_the_expected_return_out_of_expected_clv(migrations_url: str) -> None:
    """Before 0005 `predictions.expected_clv` held p·d − 1; after it holds p − 1/d and `exp_return` p·d − 1."""

    from odds_models.db import run_coro_blocking

    cfg = _config(migrations_url)
    sql = _sql_on(migrations_url)

    command.downgrade(cfg, "base")
    command.upgrade(cfg, "0004")
    # +400 (decimal 5.0) with p_close 0.25: the old figure was 0.25 x 5 - 1 = +0.25
    run_coro_blocking(sql(
        "INSERT INTO events (id, home_team, away_team, commence_time, sport_key, origin, status) "
        "VALUES ('m5', 'A', 'B', '2030-01-02T00:00:00Z', 'basketball_nba', 'test', 'scheduled')",
        "INSERT INTO models (id, name, version, market, kind, features, params, metrics) "
        "VALUES (1, 'clv-h2h-ols', 'v1', 'h2h', 'ols', '[]', '{}', '{}')",
        "INSERT INTO predictions (model_id, event_id, market, outcome, decision_time, predicted_delta, "
        "best_price_decimal, expected_clv) VALUES (1, 'm5', 'h2h', 'A', '2030-01-01T12:00:00Z', 0.03, 5.0, 0.25)",
    ))  # fmt: skip
    command.upgrade(cfg, "0005")
    row = run_coro_blocking(sql("SELECT expected_clv, exp_return FROM predictions"))[0][0]
    assert row["expected_clv"] == pytest.approx(0.05)  # 0.25 - 1/5, probability points
    assert row["exp_return"] == pytest.approx(0.25)
    assert run_coro_blocking(sql("SELECT to_regclass('model_promotions') IS NOT NULL"))[0][0][0]
    command.downgrade(cfg, "0004")
    assert run_coro_blocking(sql("SELECT expected_clv FROM predictions"))[0][0][0] == pytest.approx(0.25)
    command.upgrade(cfg, "head")


def test_0007_sets_custom_plans_on_the_refresh_function(migrations_url: str) -> None:
    """0007 sets `plan_cache_mode` on `odds_states_refresh` (databases made before it lack it); the downgrade
    removes it. (0008's function carries it too, with `enable_seqscan = off`.)"""

    from odds_models.db import run_coro_blocking
    from odds_models.odds_states import FUNCTION_SETTINGS, PLAN_CACHE_SETTING

    cfg = _config(migrations_url)
    sql = _sql_on(migrations_url)

    def config() -> list[str] | None:
        query = "SELECT proconfig FROM pg_proc WHERE oid = 'odds_states_refresh(text[], timestamptz[])'::regprocedure"
        return run_coro_blocking(sql(query))[0][0][0]

    command.upgrade(cfg, "head")
    assert config() == FUNCTION_SETTINGS
    command.downgrade(cfg, "0006")
    assert config() is None
    command.upgrade(cfg, "0007")
    assert config() == [PLAN_CACHE_SETTING]
    command.upgrade(cfg, "head")
    assert config() == FUNCTION_SETTINGS


def test_0008_replaces_the_refresh_function_and_its_downgrade_puts_0007_back(migrations_url: str) -> None:
    """0008 installs `odds_states.py`'s function (create_all's); the downgrade restores 0007's; the states a
    write leaves are the same under both."""

    from odds_models.db import run_coro_blocking
    from odds_models.odds_states import FUNCTION_SETTINGS, PLAN_CACHE_SETTING

    cfg = _config(migrations_url)
    sql = _sql_on(migrations_url)
    function = "'odds_states_refresh(text[], timestamptz[])'::regprocedure"

    def source() -> tuple[str, list[str]]:
        row = run_coro_blocking(sql(f"SELECT prosrc, proconfig FROM pg_proc WHERE oid = {function}"))[0][0]
        return row[0], row[1]

    def write_and_read(tag: str) -> list:
        statements = [
            f"INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, origin) VALUES "
            f"('{tag}', 'basketball_nba', 'H', 'A', '2030-01-02Z', 'scheduled', 'test')",
            *(
                f"INSERT INTO odds_snapshots (event_id, source, snapshot_time, bookmaker_count, raw) VALUES ('{tag}', 'live', "
                f"'2030-01-01Z'::timestamptz + interval '{h} hour', 2, '[]')"
                for h in (3, 1, 2)
            ),
            f"INSERT INTO odds (snapshot_id, event_id, snapshot_time, bookmaker, market, outcome, description, "
            f"price_decimal, is_valid) "
            f"SELECT s.id, s.event_id, s.snapshot_time, b, 'h2h', o, '', 1.5 + extract(hour FROM s.snapshot_time)::float8, true FROM odds_snapshots AS s, "
            f"unnest(ARRAY['b1', 'b2']) AS b, unnest(ARRAY['A', 'B']) AS o WHERE s.event_id = '{tag}' "
            f"AND (b = 'b1' OR extract(hour FROM s.snapshot_time) <> 2)",
            f"SELECT snapshot_time, bookmakers, outcomes, prices FROM odds_states WHERE event_id = '{tag}' "
            f"ORDER BY snapshot_time",
        ]
        rows = run_coro_blocking(sql(*statements))[-1]
        return [tuple(r) for r in rows]

    command.upgrade(cfg, "head")
    body, config = source()
    assert "many_events" in body
    assert config == FUNCTION_SETTINGS
    at_head = write_and_read("m8")
    command.downgrade(cfg, "0007")
    body, config = source()
    assert "todo_events" in body
    assert config == [PLAN_CACHE_SETTING]
    assert write_and_read("m7") == at_head
    assert len(at_head) == 3
    assert at_head[1][3] == [3.5, 3.5, 2.5, 2.5]
    command.upgrade(cfg, "head")
    assert "many_events" in source()[0]
