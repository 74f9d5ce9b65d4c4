"""Read-only database overview for `odds status show`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import SQLModel

import odds_models.tables  # noqa: F401 - registers the tables
from odds_models.db import async_session_maker

__all__ = ["NEWEST_COLUMNS", "database_overview"]

# table -> the column whose maximum tells how fresh the table is
NEWEST_COLUMNS: dict[str, str] = {
    "events": "commence_time",
    "odds_snapshots": "snapshot_time",
    "odds": "snapshot_time",
    "closing_lines": "created_at",
    "fetch_logs": "created_at",
    "data_quality_logs": "created_at",
    "polymarket_events": "updated_at",
    "polymarket_markets": "updated_at",
    "polymarket_price_snapshots": "snapshot_time",
    "polymarket_orderbook_snapshots": "snapshot_time",
    "polymarket_backfill_watermarks": "last_success_at",
    "models": "created_at",
    "predictions": "created_at",
    "backtest_runs": "created_at",
}


async def database_overview() -> dict[str, Any]:
    """Row counts and newest times per table, plus the newest snapshot per source."""
    tables: dict[str, dict[str, Any]] = {}
    async with async_session_maker() as session:
        for table in SQLModel.metadata.sorted_tables:
            # Identifiers come from our own metadata, never from input; values are bound.
            column = NEWEST_COLUMNS.get(table.name)
            newest_sql = f', max("{column}")' if column else ", NULL"
            row = (await session.execute(text(f'SELECT count(*){newest_sql} FROM "{table.name}"'))).one()
            tables[table.name] = {"rows": int(row[0]), "newest": row[1]}
        sources = (
            await session.execute(
                text(
                    "SELECT source, count(*), max(snapshot_time) FROM odds_snapshots GROUP BY source ORDER BY source"
                )
            )
        ).all()
        pm_sources = (
            await session.execute(
                text(
                    "SELECT source, count(*), max(snapshot_time) FROM polymarket_price_snapshots "
                    "GROUP BY source ORDER BY source"
                )
            )
        ).all()
    newest: dict[str, datetime | None] = {f"odds_snapshots[{s}]": t for s, _, t in sources} | {
        f"polymarket_price_snapshots[{s}]": t for s, _, t in pm_sources
    }
    return {"tables": tables, "newest_snapshots": newest}
