"""The import's bulk odds write (`copy_odds_bulk`, issue 17) stores exactly what the trigger path stores.

The reference is the writer every other caller uses (`write_snapshots(bulk=False)`: plain COPY, per-row foreign-key
checks, the `odds_states` statement triggers). The bulk path skips the checks and triggers for its COPY and
runs the trigger's refresh itself; every table must come out the same, row for row, ids included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from odds_analytics.tiers import TierSpec
from odds_models.db import async_session_maker
from tasks.import_oddsapi import import_oddsapi_paths, iter_payload_files, parse_payload_file
from tasks.storage.odds import SnapshotItem, write_snapshots

pytestmark = [pytest.mark.db, pytest.mark.shared]

_TABLES = ("events", "odds_snapshots", "odds", "odds_states", "data_quality_logs")
_NO_ROLE = "odds_bulk_test_unprivileged"


def _sample(data_dir: Path) -> list[Path]:
    """Files whose games appear in several of them (states carried over), and two with validation findings."""
    folder = data_dir / "oddsapi_historical" / "odds"
    seasons = [
        sorted((folder / season).glob("*.json.gz")) for season in ("2021-2022", "2022-2023", "2023-2024")
    ]
    return [*seasons[1][33:39], *seasons[2][:2], *seasons[0][29:31]]


def _items(files: list[Path]) -> list[SnapshotItem]:
    items: list[SnapshotItem] = []
    for path in files:
        items += parse_payload_file(path, TierSpec())[0]
    return items


async def _dump() -> dict[str, list[Any]]:
    """Every row of the import's tables, minus the times the database stamps (`now()`)."""
    out: dict[str, list[Any]] = {}
    async with async_session_maker() as session:
        for table in _TABLES:
            rows = await session.execute(
                text(f"SELECT (to_jsonb(t) - 'created_at' - 'updated_at')::text FROM {table} AS t ORDER BY 1")
            )
            out[table] = [r[0] for r in rows]
    return out


async def _reset() -> None:
    async with async_session_maker() as session:
        await session.execute(text(f"TRUNCATE {', '.join(_TABLES)} RESTART IDENTITY CASCADE"))
        await session.commit()


async def _write(
    batches: list[list[SnapshotItem]], *, bulk: bool, role: str | None = None, reject_invalid: bool = False
) -> None:
    for batch in batches:
        async with async_session_maker() as session:
            if role is not None:
                await session.execute(text(f'SET LOCAL ROLE "{role}"'))
            await write_snapshots(session=session, items=batch, reject_invalid=reject_invalid, bulk=bulk)
            await session.commit()


async def _superuser() -> bool:
    async with async_session_maker() as session:
        return bool(
            (await session.execute(text("SELECT current_setting('is_superuser') = 'on'"))).scalar_one()
        )


async def test_bulk_write_stores_the_same_rows_as_the_trigger_path(db: str, data_dir: Path) -> None:
    """Newer files first, then older ones (the older batch rebuilds states after it), then the same again
    (adds nothing): every table equal, row for row, to the trigger path's. On the embedded test server (a
    superuser) this is the fast path; for a role that may not skip the checks, the fallback."""
    files = _sample(data_dir)
    newer, older = _items(files[4:]), _items(files[:4])
    batches = [newer, older, newer]
    await _write(batches, bulk=False)
    expected = await _dump()
    await _reset()
    await _write(batches, bulk=True)
    got = await _dump()
    assert len(expected["odds"]) > 5_000
    games = {it.event.id for it in newer + older}
    assert len(expected["odds_states"]) > len(games)  # some games have several states: states carried over
    assert expected["data_quality_logs"]  # findings written too
    assert got == expected


async def test_import_stores_what_the_reference_writer_stores(db: str, data_dir: Path) -> None:
    """`odds import oddsapi` (pipeline, bulk path) against one reference write of the same parsed files."""
    files = _sample(data_dir)
    await _write([_items(iter_payload_files(files))], bulk=False)  # the import's order: the files sorted
    expected = await _dump()
    await _reset()
    summary = await import_oddsapi_paths(files, reject_invalid=False, batch_rows=10**9, writers=1)
    assert summary.odds_rows == len(expected["odds"])
    assert await _dump() == expected
    again = await import_oddsapi_paths(files, reject_invalid=False, writers=2, batch_rows=2_000)
    assert (again.events_new, again.snapshots, again.odds_rows, again.quality_issues) == (0, 0, 0, 0)
    assert await _dump() == expected


async def test_without_the_privilege_the_bulk_write_is_the_plain_copy(db: str, data_dir: Path) -> None:
    """A role that may not set `session_replication_role`: the bulk write falls back to the triggers and
    stores the same rows (the failed SET is rolled back to its savepoint, the transaction goes on)."""
    if not await _superuser():
        pytest.skip("needs a superuser to create the unprivileged role")
    async with async_session_maker() as session:
        await session.execute(text(
            f"DO $$ BEGIN CREATE ROLE {_NO_ROLE} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$"
        ))  # fmt: skip
        await session.execute(text(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {_NO_ROLE}"))
        await session.execute(text(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {_NO_ROLE}"))
        await session.execute(text(f"GRANT USAGE ON SCHEMA public TO {_NO_ROLE}"))
        await session.commit()
    files = _sample(data_dir)[:5]
    batches = [_items(files[2:]), _items(files[:2])]
    await _write(batches, bulk=False)
    expected = await _dump()
    await _reset()
    await _write(batches, bulk=True, role=_NO_ROLE)
    assert await _dump() == expected
