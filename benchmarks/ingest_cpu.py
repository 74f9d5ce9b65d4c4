"""Where the import's time goes: client CPU (the parser thread, the rest) and database CPU per statement.

    uv run python benchmarks/ingest_cpu.py [--data ../shared/data/oddsapi_historical/odds] [--runs 3]
                                           [--writers 2] [--keep-gc]

Runs `tasks.import_oddsapi.import_oddsapi_paths` on the files `--runs` times from empty tables (the database
of `benchmarks/ingest.py`: `BENCH_DATABASE_URL`, a `_bench`/`_test` database, or the embedded server) and
prints per run: wall time, this process's CPU time (`getrusage`), the parser thread's CPU (`thread_time`
around each batch), and the CPU the database backends used (utime + stime from `/proc/<pid>/stat`, so the
server must run on this machine), then per statement kind the database CPU and wall time summed over the
run. `--keep-gc` leaves Python's cyclic garbage collector on during the import (to measure what pausing it
saves). CPU times do not depend much on the machine's load; wall times do.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import os
import resource
import time
from pathlib import Path
from typing import Any

from ingest import DEFAULT_DATA, _database_url, _reset_schema, _truncate

_CLOCK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """utime + stime of a local process in seconds (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLOCK


def _instrument(per_statement: dict[str, list[float]], parser_cpu: list[float]) -> None:
    """Time the parser's batches (thread CPU) and every statement the writers send (backend CPU, wall)."""
    import asyncpg
    from sqlmodel.ext.asyncio.session import AsyncSession

    import tasks.import_oddsapi as imp

    next_batch = imp._BatchParser.next

    def timed_next(self: Any) -> Any:
        started = time.thread_time()
        try:
            return next_batch(self)
        finally:
            parser_cpu[0] += time.thread_time() - started

    imp._BatchParser.next = timed_next  # type: ignore[method-assign]

    def wrap(cls: Any, name: str, label: Any) -> None:
        original = getattr(cls, name)

        async def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(self, asyncpg.Connection):
                pid = self.get_server_pid()
            else:
                raw = await (await self.connection()).get_raw_connection()
                pid = raw.driver_connection.get_server_pid()
            cpu, wall = _cpu_of(pid), time.perf_counter()
            try:
                return await original(self, *args, **kwargs)
            finally:
                entry = per_statement[label(args)]
                entry[0] += _cpu_of(pid) - cpu
                entry[1] += time.perf_counter() - wall
                entry[2] += 1

        setattr(cls, name, timed)

    wrap(asyncpg.Connection, "copy_to_table", lambda a: "COPY odds (binary)")
    wrap(asyncpg.Connection, "copy_records_to_table", lambda a: "COPY odds (records)")
    wrap(asyncpg.Connection, "fetchval", lambda a: " ".join(str(a[0]).split())[:60])
    wrap(AsyncSession, "execute", lambda a: " ".join(str(a[0]).split())[:60])


async def _backends() -> list[int]:
    from odds_models.db import database_name, get_engine

    async with get_engine().begin() as conn:
        name = database_name(str(get_engine().url))
        rows = await conn.exec_driver_sql(f"SELECT pid FROM pg_stat_activity WHERE datname = '{name}'")
        return [r[0] for r in rows]


async def main(data: Path, runs: int, writers: int, keep_gc: bool) -> None:
    from odds_models.db import dispose_engine, hide_password
    from odds_models.settings import get_settings
    from tasks.import_oddsapi import import_oddsapi_paths

    url = _database_url()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    await _reset_schema()
    print(f"database: {hide_password(url)}; writers: {writers}; garbage collector during the import: "
          f"{'left on (--keep-gc)' if keep_gc else 'as the import handles it'}")  # fmt: skip
    if keep_gc:
        gc.disable = lambda: None  # type: ignore[assignment]
    per_statement: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0, 0])
    parser_cpu = [0.0]
    _instrument(per_statement, parser_cpu)
    for _ in range(runs):
        await _truncate()
        per_statement.clear()
        parser_cpu[0] = 0.0
        before = {pid: _cpu_of(pid) for pid in await _backends()}
        usage, load = resource.getrusage(resource.RUSAGE_SELF), os.getloadavg()[0]
        started = time.perf_counter()
        summary = await import_oddsapi_paths([data], reject_invalid=False, writers=writers)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_SELF)
        server = sum(_cpu_of(pid) - before.get(pid, 0.0) for pid in await _backends())
        client = after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime
        print(f"{summary.odds_rows:,} rows: wall {wall:.2f} s; client CPU {client:.2f} s (parser thread "
              f"{parser_cpu[0]:.2f}, the rest {client - parser_cpu[0]:.2f}); database CPU {server:.2f} s; "
              f"load {load:.2f} -> {os.getloadavg()[0]:.2f}")  # fmt: skip
        for label, (cpu, seconds, count) in sorted(per_statement.items(), key=lambda kv: -kv[1][0]):
            if cpu >= 0.01:
                print(f"    database CPU {cpu:5.2f} s, wall {seconds:5.2f} s, {count:3d}x  {label}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB (this process)")
    await dispose_engine()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Folder of historical odds files.")
    parser.add_argument("--runs", type=int, default=3, help="Imports to time (each from empty tables).")
    parser.add_argument("--writers", type=int, default=2, help="Writer connections of the import.")
    parser.add_argument("--keep-gc", action="store_true", help="Leave the garbage collector on.")
    args = parser.parse_args()
    if not args.data.is_dir():
        parser.exit(2, f"error: --data {args.data}: no such folder\n")
    asyncio.run(main(args.data, max(1, args.runs), max(1, args.writers), args.keep_gc))
