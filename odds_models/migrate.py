"""Run the alembic migrations from code (`odds db upgrade`, the demo, the scheduler start-up)."""

from __future__ import annotations

from pathlib import Path

from odds_models.db import resolve_database_url, run_coro_blocking

__all__ = ["current_revision", "upgrade_head"]

ROOT = Path(__file__).resolve().parents[1]


def _config(url: str) -> object:
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade_head(url: str | None = None) -> str:
    """Bring the database to the newest revision; return the URL used."""
    from alembic import command

    url = url or resolve_database_url()

    def run() -> None:
        command.upgrade(_config(url), "head")  # type: ignore[arg-type]

    # env.py calls asyncio.run(); run it off any running loop.
    async def wrapper() -> None:
        import asyncio

        await asyncio.to_thread(run)

    run_coro_blocking(wrapper())
    return url


def current_revision(url: str | None = None) -> str | None:
    """The revision the database is at (None when it has never been migrated)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    url = url or resolve_database_url()

    async def read() -> str | None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                exists = (
                    await conn.execute(text("SELECT to_regclass('public.alembic_version') IS NOT NULL"))
                ).scalar_one()
                if not exists:
                    return None
                return (
                    await conn.execute(text("SELECT version_num FROM alembic_version"))
                ).scalar_one_or_none()
        finally:
            await engine.dispose()

    return run_coro_blocking(read())
