"""Odds writer vs plain COPY: rows/s storing the three historical seasons (issue 3, item 5).

    uv run python benchmarks/ingest.py [--data ../shared/data/oddsapi_historical/odds]

Database: `BENCH_DATABASE_URL` (its name must end in `_bench` or `_test`; the schema is dropped and
recreated) or an embedded PostgreSQL in a temporary folder. In one run it:
1. parses and validates every file (timed on its own);
2. stores everything with the project's writer (`tasks.storage.odds.write_snapshots`: events upsert,
   snapshots with ON CONFLICT DO NOTHING RETURNING id, the new snapshots' odds rows by COPY, quality rows),
   in the importer's batches;
3. stores the same batches again (idempotent: must add 0 rows) and times it;
4. COPYs the very same odds rows into a table `LIKE odds INCLUDING ALL` (same columns, unique key and
   indexes, no conflict handling), once without and once with `odds`' two foreign keys, and times both;
and prints rows/s for each and the writer/COPY ratios (goal: at least 0.5). The writer also stores what
COPY does not: the raw JSONB snapshots (27 MB of JSON for the three seasons), events and quality rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "oddsapi_historical" / "odds"
BATCH_ROWS = 60_000


def _database_url() -> str:
    from odds_models.db import create_database_if_missing, database_name, embedded_database_url
    from odds_models.settings import normalise_database_url

    explicit = os.environ.get("BENCH_DATABASE_URL")
    if explicit:
        url = normalise_database_url(explicit)
        if not database_name(url).endswith(("_bench", "_test")):
            raise SystemExit("BENCH_DATABASE_URL must name a database ending in _bench or _test")
        create_database_if_missing(url)
        return url
    pgdata = Path(tempfile.gettempdir()) / f"odds-bench-pgdata-{os.getuid()}"
    return embedded_database_url(pgdata, database="odds_bench")


async def _reset_schema() -> None:
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401
    from odds_models.db import get_engine

    async with get_engine().begin() as conn:
        await conn.exec_driver_sql("DROP TABLE IF EXISTS odds_copy_bench")
        await conn.run_sync(SQLModel.metadata.drop_all)
        await conn.run_sync(SQLModel.metadata.create_all)


def _batches(items: list[Any]) -> list[list[Any]]:
    batches, current, rows = [], [], 0
    for item in items:
        current.append(item)
        rows += len(item.rows)
        if rows >= BATCH_ROWS:
            batches.append(current)
            current, rows = [], 0
    if current:
        batches.append(current)
    return batches


async def _write_all(batches: list[list[Any]]) -> tuple[float, int]:
    from odds_models.db import async_session_maker
    from tasks.storage.odds import write_snapshots

    started = time.perf_counter()
    added = 0
    for batch in batches:
        async with async_session_maker() as session:
            counts = await write_snapshots(session=session, items=batch, reject_invalid=False)
            await session.commit()
        added += counts.odds_rows
    return time.perf_counter() - started, added


async def _copy_all(*, with_foreign_keys: bool) -> tuple[float, int]:
    """COPY the rows the writer stored (same values, same batch sizes) into a same-shaped table."""
    from sqlalchemy import text

    from odds_models.db import async_session_maker
    from tasks.storage.odds import _ODDS_COLUMNS

    table = "odds_copy_bench_fk" if with_foreign_keys else "odds_copy_bench"
    async with async_session_maker() as session:
        result = await session.execute(text(f"SELECT {', '.join(_ODDS_COLUMNS)} FROM odds ORDER BY id"))
        rows = [tuple(r) for r in result]
        await session.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await session.execute(text(f"CREATE TABLE {table} (LIKE odds INCLUDING ALL)"))
        if with_foreign_keys:
            await session.execute(text(
                f"ALTER TABLE {table} ADD FOREIGN KEY (snapshot_id) REFERENCES odds_snapshots (id), "
                "ADD FOREIGN KEY (event_id) REFERENCES events (id)"
            ))  # fmt: skip
        await session.commit()
    started = time.perf_counter()
    for start in range(0, len(rows), BATCH_ROWS):
        async with async_session_maker() as session:
            conn = await session.connection()
            await conn.execute(text("SELECT 1"))
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.copy_records_to_table(table, records=rows[start : start + BATCH_ROWS],
                                            columns=list(_ODDS_COLUMNS))  # fmt: skip
            await session.commit()
    elapsed = time.perf_counter() - started
    async with async_session_maker() as session:
        await session.execute(text(f"DROP TABLE {table}"))
        await session.commit()
    return elapsed, len(rows)


async def _truncate() -> None:
    from odds_models.db import get_engine

    async with get_engine().begin() as conn:
        await conn.exec_driver_sql(
            "TRUNCATE odds, odds_snapshots, events, data_quality_logs RESTART IDENTITY CASCADE"
        )


async def main(data: Path, repeat: int) -> None:
    from odds_analytics.tiers import TierSpec
    from odds_models.db import dispose_engine, hide_password
    from odds_models.settings import get_settings
    from tasks.import_oddsapi import iter_payload_files, parse_payload_file

    url = _database_url()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    print(f"database: {hide_password(url)}")
    await _reset_schema()

    files = iter_payload_files([data])
    started = time.perf_counter()
    items = []
    for path in files:
        parsed, _events = parse_payload_file(path, TierSpec())
        items.extend(parsed)
    parse_s = time.perf_counter() - started
    total_rows = sum(len(it.rows) for it in items)
    print(f"files: {len(files)}, snapshots: {len(items)}, odds rows parsed: {total_rows:,}")
    print(f"parse + validate: {parse_s:.2f} s ({total_rows / parse_s:,.0f} rows/s)")

    batches = _batches(items)
    writer_s, stored = await _write_all(batches)
    print(
        f"project writer (idempotent): {stored:,} rows in {writer_s:.2f} s = {stored / writer_s:,.0f} rows/s"
    )
    again_s, again = await _write_all(batches)
    print(f"project writer, same data again: {again} rows added in {again_s:.2f} s")
    # the machine may be shared: every figure is the best of `repeat` runs
    copies = {}
    for with_fk in (False, True):
        runs = [await _copy_all(with_foreign_keys=with_fk) for _ in range(repeat)]
        copies[with_fk] = min(runs)
    writer_rate = stored / writer_s
    for _ in range(repeat):
        await _truncate()  # the first write ran on a cold, empty database: write it all again, warm
        warm_s, warm = await _write_all(batches)
        print(f"project writer, again after TRUNCATE (warm): {warm:,} rows in {warm_s:.2f} s = "
              f"{warm / warm_s:,.0f} rows/s")  # fmt: skip
        writer_rate = max(writer_rate, warm / warm_s)
    print(f"writer figure used for the ratios: {writer_rate:,.0f} rows/s (the best pass)")
    for with_fk in (False, True):
        copy_s, copied = copies[with_fk]
        label = (
            "with the same foreign keys as odds"
            if with_fk
            else "same columns, unique key and indexes, no FKs"
        )
        print(
            f"plain COPY ({label}), best of {repeat}: {copied:,} rows in {copy_s:.2f} s = {copied / copy_s:,.0f} rows/s; "
            f"writer / COPY = {writer_rate / (copied / copy_s):.2f} (goal >= 0.50)"
        )
    print(f"end to end (parse + validate + write): {stored / (parse_s + writer_s):,.0f} rows/s")
    await dispose_engine()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Folder of historical odds files.")
    parser.add_argument("--repeat", type=int, default=2, help="Runs per measurement (the best is kept).")
    args = parser.parse_args()
    asyncio.run(main(args.data, max(1, args.repeat)))
