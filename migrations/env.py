"""Alembic environment: async engine, metadata and URL from the pipeline itself.

The URL comes from `x-database-url` (`alembic -x database_url=...`), then the settings (`DATABASE_URL`, or the
embedded PostgreSQL when unset). The CLI (`odds db upgrade`) and alembic therefore always agree.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import odds_models.tables  # noqa: F401 - registers every table on SQLModel.metadata
from odds_models.db import resolve_database_url
from odds_models.settings import normalise_database_url

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    explicit = context.get_x_argument(as_dictionary=True).get("database_url")
    if explicit:
        return normalise_database_url(explicit)
    configured = config.attributes.get("database_url")
    if configured:
        return configured
    return resolve_database_url()


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        render_as_batch=False,
        literal_binds=connection is None,
    )


def run_migrations_offline() -> None:
    _configure(url=_url())
    with context.begin_transaction():
        context.run_migrations()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # called from code that already holds a connection
        _run_sync(connection)
        return
    engine = create_async_engine(_url(), poolclass=NullPool)
    async with engine.connect() as conn:
        await conn.run_sync(_run_sync)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
