"""`odds_states_refresh` on the real import's calls: revision 0007's function vs today's, interleaved (issue 17).

    uv run python benchmarks/states_refresh.py [--data ../shared/data/oddsapi_historical/odds] [--passes 3]
        [--keep] [--profile]

Database: `BENCH_DATABASE_URL` (name ending in `_bench` or `_test`) or an embedded PostgreSQL in a temporary
folder, as `benchmarks/ingest.py`. Unless `--keep` finds them loaded, it imports the three seasons once with
`import_oddsapi_paths` (the file import) while recording each call it makes to `odds_states_refresh` (its
event ids and from-times, in call order: a logging wrapper around the function, for the load only). Then, on
one connection, `--passes` times and alternating which goes first, for each method (revision 0007's
function, installed beside as `odds_states_refresh_0007`, and today's): `TRUNCATE odds_states`, then every
recorded call in order, one transaction each, as the import runs them. It prints per method and pass the
wall seconds of the calls, the server backend's CPU seconds (user + system, from /proc/<pid>/stat; needs the
server on this machine) and a checksum of the whole `odds_states` table, which must be the same for both.
Then two more shapes, each timed once per method on the same data:
- **rebuild**: every event's states in one call (`REFRESH_SQL`: 2,637 events from `-infinity`);
- **backfill**: with every state stored, each event refreshed from its middle snapshot time (200 events per
  call): the states at and after it deleted and rebuilt on top of the stored one before it.
`--profile` adds, per method, one pass of the import's calls under auto_explain (`log_nested_statements`,
`log_analyze` without timing) and prints the time per statement of the function, summed over the pass, and
the plans of the largest call.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ingest import DEFAULT_DATA, _database_url, _reset_schema

ROOT = Path(__file__).resolve().parents[1]
MIGRATION_0008 = ROOT / "migrations" / "versions" / "20261205_0008_odds_states_refresh_windows.py"
SIGNATURE = "(text[], timestamptz[])"
CHECKSUM = (
    "SELECT count(*), md5(coalesce(string_agg(s::text, '|' ORDER BY s.event_id, s.snapshot_time), '')) "
    "FROM odds_states AS s"
)


def _old_function_sql() -> str:
    spec = importlib.util.spec_from_file_location("migration_0008", MIGRATION_0008)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sql: str = module.REFRESH_FUNCTION_0007
    return sql.replace("FUNCTION odds_states_refresh(", "FUNCTION odds_states_refresh_0007(", 1)


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (the server backend), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(dsn: str, data: Path) -> None:
    """Import the files from empty tables, recording the import's refresh calls in `bench_refresh_calls`."""
    import asyncpg

    from tasks.import_oddsapi import import_oddsapi_paths

    await _reset_schema()
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "CREATE TABLE bench_refresh_calls (n bigserial PRIMARY KEY, event_ids text[], from_times timestamptz[])"
        )
        await conn.execute(
            f"ALTER FUNCTION odds_states_refresh{SIGNATURE} RENAME TO odds_states_refresh_real"
        )
        await conn.execute("""
            CREATE FUNCTION odds_states_refresh(p_event_ids text[], p_from_times timestamptz[])
            RETURNS integer LANGUAGE plpgsql VOLATILE AS $fn$
            BEGIN
                INSERT INTO bench_refresh_calls (event_ids, from_times) VALUES (p_event_ids, p_from_times);
                RETURN odds_states_refresh_real(p_event_ids, p_from_times);
            END $fn$""")
        summary = await import_oddsapi_paths([data], reject_invalid=False, batch_rows=60_000)
        if summary.files_failed:
            raise SystemExit(f"{summary.files_failed} file(s) failed: {summary.errors[:2]}")
        await conn.execute(f"DROP FUNCTION odds_states_refresh{SIGNATURE}")
        await conn.execute(
            f"ALTER FUNCTION odds_states_refresh_real{SIGNATURE} RENAME TO odds_states_refresh"
        )
    finally:
        await conn.close()


async def _run_calls(
    conn: Any, function: str, calls: list[tuple[list[str], list[Any]]]
) -> tuple[float, float]:
    """Every call in its own transaction; (wall seconds, backend CPU seconds) of the calls."""
    pid = await conn.fetchval("SELECT pg_backend_pid()")
    wall = 0.0
    cpu_start = _cpu_seconds(pid)
    for ids, times in calls:
        started = time.perf_counter()
        async with conn.transaction():
            await _call(conn, function, ids, times)
        wall += time.perf_counter() - started
    return wall, _cpu_seconds(pid) - cpu_start


async def _call(conn: Any, function: str, ids: list[str], times: list[Any] | None) -> None:
    """`function(ids, times)`; `times=None`: every event from `-infinity` (as `REFRESH_SQL`)."""
    if times is None:
        await conn.fetchval(f"SELECT {function}($1::text[], array_fill('-infinity'::timestamptz, "
                            "ARRAY[cardinality($1::text[])]))", ids)  # fmt: skip
    else:
        await conn.fetchval(f"SELECT {function}($1::text[], $2::timestamptz[])", ids, times)


async def _pass(
    dsn: str, function: str, calls: list[tuple[list[str], list[Any]]]
) -> tuple[float, float, str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)  # a new connection per pass, as each import opens its own
    try:
        await conn.execute("TRUNCATE odds_states")
        wall, cpu = await _run_calls(conn, function, calls)
        count, digest = await conn.fetchrow(CHECKSUM)
    finally:
        await conn.close()
    return wall, cpu, f"{count} states {digest[:12]}"


async def _shapes(dsn: str, function: str) -> list[str]:
    """The rebuild and the backfill shapes (from a full, correct `odds_states`)."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    out: list[str] = []
    try:
        ids = [r[0] for r in await conn.fetch(
            "SELECT id FROM events AS e WHERE EXISTS (SELECT 1 FROM odds_snapshots AS s WHERE s.event_id = e.id) "
            "ORDER BY id")]  # fmt: skip
        await conn.execute("TRUNCATE odds_states")
        wall, cpu = await _run_calls(conn, function, [(ids, None)])
        out.append(f"rebuild {len(ids)} events in one call: {wall:.2f} s wall, {cpu:.2f} s server CPU, "
                   f"{await _digest(conn)}")  # fmt: skip
        middles = await conn.fetch(
            "SELECT event_id, percentile_disc(0.5) WITHIN GROUP (ORDER BY snapshot_time) AS t "
            "FROM odds_snapshots GROUP BY event_id ORDER BY event_id"
        )
        calls = [([r[0] for r in middles[i : i + 200]], [r[1] for r in middles[i : i + 200]])
                 for i in range(0, len(middles), 200)]  # fmt: skip
        wall, cpu = await _run_calls(conn, function, calls)
        out.append(f"backfill from each event's middle time, {len(calls)} calls: {wall:.2f} s wall, "
                   f"{cpu:.2f} s server CPU, {await _digest(conn)}")  # fmt: skip
    finally:
        await conn.close()
    return out


async def _digest(conn: Any) -> str:
    count, digest = await conn.fetchrow(CHECKSUM)
    return f"{count} states {digest[:12]}"


async def _profile(dsn: str, function: str, calls: list[tuple[list[str], list[Any]]]) -> None:
    """One pass under auto_explain: seconds per statement of the function, and the largest call's plans."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    notices: list[str] = []
    totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    try:
        await conn.execute("TRUNCATE odds_states")
        await conn.execute("LOAD 'auto_explain'")
        for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                        "auto_explain.log_analyze = on", "auto_explain.log_timing = off",
                        "auto_explain.log_buffers = on", "auto_explain.log_level = notice",
                        "client_min_messages = notice"):  # fmt: skip
            await conn.execute(f"SET {setting}")
        conn.add_log_listener(lambda _c, m: notices.append(m.message))
        largest = max(range(len(calls)), key=lambda i: len(calls[i][0]))
        plans: list[str] = []
        for i, (ids, times) in enumerate(calls):
            notices.clear()
            async with conn.transaction():
                await _call(conn, function, ids, times)
            await asyncio.sleep(0)
            _accumulate(notices, totals)
            if i == largest:
                plans = [n for n in notices if "Query Text: SELECT " + function not in n]
    finally:
        await conn.close()
    print(f"  {function}: seconds per statement over the pass (auto_explain durations, no per-node timing)")
    for key, (seconds, count) in sorted(totals.items(), key=lambda kv: -kv[1][0]):
        print(f"    {seconds:7.3f} s  {count:4d} x  {key}")
    print(f"  plans of the largest call ({len(calls[largest][0])} events):")
    for plan in plans:
        text = re.sub(r"'\{[^}]{100,}\}'", "'{...}'", plan)  # the call's arrays, as constants
        print("    " + text.replace("\n", "\n    "))


_DURATION = re.compile(r"duration: ([\d.]+) ms")


def _accumulate(notices: list[str], into: dict[str, list[float]]) -> None:
    for note in notices:
        m = _DURATION.search(note)
        if not m:
            continue
        text = note.partition("Query Text:")[2].strip()
        key = re.sub(r"\s+", " ", text)[:70]
        into[key][0] += float(m.group(1)) / 1000
        into[key][1] += 1


async def main(data: Path, passes: int, keep: bool, profile: bool) -> None:
    import asyncpg

    from odds_models.db import hide_password
    from odds_models.settings import get_settings

    url = _database_url()
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    print(f"database: {hide_password(url)}; load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    conn = await asyncpg.connect(dsn)
    try:
        loaded = keep and await conn.fetchval("SELECT to_regclass('bench_refresh_calls') IS NOT NULL")
    finally:
        await conn.close()
    if not loaded:
        started = time.perf_counter()
        await _load(dsn, data)
        print(f"loaded {data} in {time.perf_counter() - started:.1f} s")
    from odds_models.odds_states import REFRESH_FUNCTION

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(REFRESH_FUNCTION)  # today's, also on a database kept from an older run
        await conn.execute(_old_function_sql())
        calls = [(r[0], r[1]) for r in await conn.fetch(
            "SELECT event_ids, from_times FROM bench_refresh_calls ORDER BY n")]  # fmt: skip
        rows = await conn.fetchval("SELECT count(*) FROM odds")
    finally:
        await conn.close()
    events = sum(len(c[0]) for c in calls)
    print(f"the import's calls: {len(calls)}, {events:,} events (largest {max(len(c[0]) for c in calls)}), "
          f"{rows:,} odds rows")  # fmt: skip
    methods = {"0007": "odds_states_refresh_0007", "today": "odds_states_refresh"}
    results: dict[str, list[tuple[float, float]]] = {m: [] for m in methods}
    digests: set[str] = set()
    for p in range(passes):
        order = list(methods) if p % 2 == 0 else list(reversed(methods))
        for name in order:
            wall, cpu, digest = await _pass(dsn, methods[name], calls)
            results[name].append((wall, cpu))
            digests.add(digest)
            print(f"pass {p + 1} {name:6s}: {wall:6.2f} s wall, {cpu:6.2f} s server CPU, {digest}, "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    for name in methods:
        walls, cpus = [r[0] for r in results[name]], [r[1] for r in results[name]]
        print(f"{name:6s}: the import's refresh calls {min(walls):.2f}-{max(walls):.2f} s wall, "
              f"{min(cpus):.2f}-{max(cpus):.2f} s server CPU over {passes} passes")  # fmt: skip
    old_cpu = sorted(r[1] for r in results["0007"])[len(results["0007"]) // 2]
    new_cpu = sorted(r[1] for r in results["today"])[len(results["today"]) // 2]
    print(
        f"server CPU, medians: 0007 {old_cpu:.2f} s, today {new_cpu:.2f} s: {old_cpu / max(new_cpu, 1e-9):.2f}x"
    )
    for name, function in methods.items():
        for line in await _shapes(dsn, function):
            digests.add(line.rsplit(", ", 1)[1])
            print(f"{name:6s} {line}", flush=True)
    if profile:
        for function in methods.values():
            await _profile(dsn, function, calls)
    print(f"load: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if len(digests) != 1:
        raise SystemExit(f"STATES DIFFER: {sorted(digests)}")
    print(f"odds_states identical after every pass and shape of both methods: {digests.pop()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Folder of historical odds files.")
    parser.add_argument("--passes", type=int, default=3, help="Passes of the import's calls per method.")
    parser.add_argument("--keep", action="store_true", help="Reuse the loaded data and recorded calls.")
    parser.add_argument("--profile", action="store_true", help="Time each statement of the function.")
    args = parser.parse_args()
    asyncio.run(main(args.data, max(1, args.passes), args.keep, args.profile))
