"""Import end to end vs plain COPY, and vs the previous import method, in one run (issues 3 and 17).

    uv run python benchmarks/ingest.py [--data ../shared/data/oddsapi_historical/odds] [--repeat 2]

Database: `BENCH_DATABASE_URL` (its name must end in `_bench` or `_test`; the schema is dropped and
recreated, the `odds_states` triggers included) or an embedded PostgreSQL in a temporary folder. Every pass
starts from empty tables (TRUNCATE). It times, `--repeat` times each, alternating:
- **import (today)**: `tasks.import_oddsapi.import_oddsapi_paths`, files → rows end to end (read, parse,
  validate: `tasks.import_fast`; write as one binary COPY per batch, the `odds_states` refresh:
  `tasks.storage.odds.copy_odds_bulk`), parsing overlapped with writing;
- **import (before)**: the method before issue 17 measured the same way: stdlib `json`, the recursive NUL
  strip, the general parser (`parse_payload_file`: an `OddsRow` per price, then validation), `json.dumps`
  of the raw snapshots, asyncpg's record COPY with the per-row foreign-key checks and triggers
  (`write_snapshots(bulk=False)`), parse-then-write one batch after the other, the garbage collector on;
- **plain COPY**: the very rows the import stored, COPYed into a table `LIKE odds INCLUDING ALL` (same
  columns, unique key and indexes; no foreign keys, no triggers, no conflict handling), in the same batches.
Then the import of the data at 2x (the same files plus a copy whose event ids are suffixed, written to a
temporary folder) to show the cost per row stays flat. It prints rows/s, the ratios (goal: import / COPY
>= 0.5, import / before >= 2.4), microseconds per row at 1x and 2x, and this process's peak RSS.
The import stores more than COPY does: raw JSONB snapshots (28 MB of JSON), events, quality rows, and the
`odds_states` rows (the triggers' refresh; the import runs it itself).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
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


async def _truncate() -> None:
    from odds_models.db import get_engine

    async with get_engine().begin() as conn:
        await conn.exec_driver_sql(
            "TRUNCATE odds, odds_states, odds_snapshots, events, data_quality_logs RESTART IDENTITY CASCADE"
        )


async def _count(table: str) -> int:
    from odds_models.db import get_engine

    async with get_engine().begin() as conn:
        return (await conn.exec_driver_sql(f"SELECT count(*) FROM {table}")).scalar_one()


@contextmanager
def _previous_method() -> Iterator[None]:
    """The pieces issue 17 replaced, put back: stdlib json reads, the recursive NUL strip, json.dumps."""
    import tasks.storage.odds as storage
    from odds_analytics import oddsapi
    from odds_models import text
    from tasks import files

    saved = (oddsapi.strip_nul, files._has_long_digits, storage.json_text)
    oddsapi.strip_nul = text._strip_nul
    files._has_long_digits = lambda blob: True  # always the stdlib reader
    storage.json_text = lambda value: json.dumps(value, separators=(",", ":"))
    try:
        yield
    finally:
        oddsapi.strip_nul, files._has_long_digits, storage.json_text = saved


async def _import_before(paths: list[Path]) -> int:
    """The import loop before issue 17: parse a batch, then write it, then parse the next."""
    from odds_analytics.tiers import TierSpec
    from odds_models.db import async_session_maker
    from tasks.import_oddsapi import iter_payload_files, parse_payload_file
    from tasks.storage.odds import write_snapshots

    stored = 0
    pending: list[Any] = []
    rows = 0

    async def flush() -> None:
        nonlocal pending, rows, stored
        async with async_session_maker() as session:
            stored += (await write_snapshots(session=session, items=pending, reject_invalid=False)).odds_rows
            await session.commit()
        pending, rows = [], 0

    with _previous_method():
        for path in iter_payload_files(paths):
            items, _events = parse_payload_file(path, TierSpec())
            pending.extend(items)
            rows += sum(len(it.rows) for it in items)
            if rows >= BATCH_ROWS:
                await flush()
        if pending:
            await flush()
    return stored


async def _import_today(paths: list[Path]) -> int:
    from tasks.import_oddsapi import import_oddsapi_paths

    summary = await import_oddsapi_paths(paths, reject_invalid=False, batch_rows=BATCH_ROWS)
    if summary.files_failed:
        raise SystemExit(f"{summary.files_failed} file(s) failed: {summary.errors[:2]}")
    return summary.odds_rows


async def _timed(run: Any, paths: list[Path]) -> tuple[float, int]:
    await _truncate()
    started = time.perf_counter()
    stored = await run(paths)
    return time.perf_counter() - started, stored


async def _copy_all() -> tuple[float, int]:
    """COPY the rows the import stored (same values, same batch sizes) into a same-shaped table."""
    from sqlalchemy import text

    from odds_models.db import async_session_maker
    from tasks.storage.odds import _ODDS_COLUMNS

    table = "odds_copy_bench"
    async with async_session_maker() as session:
        conn = await session.connection()
        result = await conn.execute(text(f"SELECT {', '.join(_ODDS_COLUMNS)} FROM odds ORDER BY id"))
        rows = [tuple(r) for r in result]
        await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
        await conn.execute(text(f"CREATE TABLE {table} (LIKE odds INCLUDING ALL)"))
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
        await (await session.connection()).execute(text(f"DROP TABLE {table}"))
        await session.commit()
    return elapsed, len(rows)


def _second_copy(files: list[Path], folder: Path) -> None:
    """The same files with every event id suffixed `-2x`: the same work again, as new games."""
    from tasks.files import read_payload_file

    for i, path in enumerate(files):
        data = read_payload_file(path)
        inner = data.get("data", data) if isinstance(data, dict) else data
        for event in inner if isinstance(inner, list) else [inner]:
            if isinstance(event, dict) and isinstance(event.get("id"), str):
                event["id"] += "-2x"
        with gzip.open(folder / f"{i:05d}.json.gz", "wt") as out:
            json.dump(data, out)


def _fmt(seconds: list[float], rows: int) -> str:
    best = min(seconds)
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    return f"{rows:,} rows, best {best:.2f} s = {rows / best:,.0f} rows/s (runs: {runs} s)"


async def main(data: Path, repeat: int) -> None:
    from odds_models.db import dispose_engine, hide_password
    from odds_models.settings import get_settings
    from tasks.import_oddsapi import iter_payload_files

    url = _database_url()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    print(f"database: {hide_password(url)}; load: {os.getloadavg()[0]:.2f} (1-min average)")
    await _reset_schema()
    files = iter_payload_files([data])
    print(f"files: {len(files)} under {data}")

    today: list[float] = []
    before: list[float] = []
    copies: list[float] = []
    stored = copied = 0
    for _ in range(repeat):  # alternating, so a busy spell of the machine hits both methods alike
        seconds, stored_before = await _timed(_import_before, [data])
        before.append(seconds)
        seconds, stored = await _timed(_import_today, [data])
        today.append(seconds)
        if stored != stored_before:
            raise SystemExit(f"the two methods stored different row counts: {stored} vs {stored_before}")
        seconds, copied = await _copy_all()
        copies.append(seconds)
    states = await _count("odds_states")
    print(f"import (today, end to end):  {_fmt(today, stored)}; odds_states rows kept: {states:,}")
    print(f"import (before issue 17):    {_fmt(before, stored)}")
    print(f"plain COPY of the same rows: {_fmt(copies, copied)}")
    rate_today, rate_before, rate_copy = stored / min(today), stored / min(before), copied / min(copies)
    print(
        f"import / plain COPY  = {rate_today / rate_copy:.2f} (goal >= 0.50; before: {rate_before / rate_copy:.2f})"
    )
    print(
        f"import / before      = {rate_today / rate_before:.2f} (goal >= 2.4x the 0.21x measured in the issue)"
    )

    with tempfile.TemporaryDirectory(prefix="odds-ingest-2x-") as tmp:
        _second_copy(files, Path(tmp))
        double: list[float] = []
        stored2 = 0
        for _ in range(repeat):
            seconds, stored2 = await _timed(_import_today, [data, Path(tmp)])
            double.append(seconds)
    per_row_1, per_row_2 = min(today) / stored * 1e6, min(double) / stored2 * 1e6
    print(f"import at 2x:                {_fmt(double, stored2)}")
    print(f"time per row: 1x {per_row_1:.1f} us, 2x {per_row_2:.1f} us (2x / 1x = {per_row_2 / per_row_1:.2f}; "
          "flat within 20 %: 0.80-1.20)")  # fmt: skip
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB (this process)")
    await dispose_engine()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Folder of historical odds files.")
    parser.add_argument("--repeat", type=int, default=2, help="Runs per measurement (the best is kept).")
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.exit(
            2,
            f"error: --data {args.data}: no such folder (the Odds API historical files; see ../shared/data)\n",
        )
    asyncio.run(main(args.data, max(1, args.repeat)))
