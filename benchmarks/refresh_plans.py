"""`odds_states_refresh` on one long-lived connection: cached generic plan vs custom plans (issue 17).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/odds_bench \
        uv run python benchmarks/refresh_plans.py [--shape 100x20x8] [--explain]

Database: `BENCH_DATABASE_URL` (name ending in `_bench` or `_test`; the schema is dropped and recreated) or an
embedded PostgreSQL in a temporary folder. Generated rows: `--shape EVENTSxSNAPSHOTSxBOOKS`, every event with a
snapshot each hour, h2h/spreads/totals x 2 outcomes per book, one book in four absent from each snapshot (its
previous quote is carried into the state: the refresh's `kept` step has work). Each scenario starts from empty
tables on a new connection, writes a warm-up (six one-event batches, or one 50-event batch), then the measured
batch (one transaction: events, snapshots, odds COPY with `session_replication_role = replica`, then the
refresh, as `tasks.storage.odds.copy_odds_bulk` does), and prints the measured batch's seconds:
- **as shipped**: the function's own `plan_cache_mode` (`force_custom_plan` since revision 0007);
- **generic allowed**: `ALTER FUNCTION ... RESET plan_cache_mode` (the function before 0007): after five
  executions in a connection PL/pgSQL may keep the generic plan, which assumes 10 events per round;
- **generic allowed, ANALYZE**: the same after `ANALYZE` of the tables (statistics do not change the choice);
- **generic allowed, TRUNCATE**: the warm-up is one 50-event batch, then TRUNCATE and ANALYZE of the empty
  tables (the benchmark's and the experiments' pattern): the generic plan is rebuilt for empty tables.
`--explain` prints, through auto_explain, the plans of the refresh's per-round statement in the last scenario
(revision 0007's function). `--function 0007` installs revision 0007's function (kept in migration 0008) to
measure it beside today's; today's function has no per-round statement and takes no generic-plan harm.
The function's setting is restored at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest import _database_url, _reset_schema

T0 = datetime(2030, 1, 1, tzinfo=UTC)
MARKETS = ("h2h", "spreads", "totals")
FUNCTION = "odds_states_refresh(text[], timestamptz[])"
COLUMNS = ["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "description", "point",
           "price_decimal", "price_american", "is_valid"]  # fmt: skip


async def _batch(conn: Any, tag: str, events: int, snapshots: int, books: int) -> tuple[int, float]:
    ids = [f"{tag}-{i:04d}" for i in range(events)]
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, origin) "
            "VALUES ($1, 'basketball_nba', 'H', 'A', $2, 'scheduled', 'bench')",
            [(e, T0 + timedelta(days=3)) for e in ids],
        )
        rows = await conn.fetch(
            "INSERT INTO odds_snapshots (event_id, source, snapshot_time, markets, bookmaker_count, raw) "
            "SELECT e, 'historical', $2::timestamptz + j * interval '1 hour', 'h2h,spreads,totals', $3, '[]'::jsonb "
            "FROM unnest($1::text[]) AS e, generate_series(0, $4 - 1) AS j RETURNING id, event_id, snapshot_time",
            ids, T0, books, snapshots,
        )  # fmt: skip
        records = [
            (r["id"], r["event_id"], r["snapshot_time"], f"book{b}", m, side, "", None if m == "h2h" else 1.5, 1.91,
             -110, True)
            for r in rows
            for b in range(books)
            if (b + int((r["snapshot_time"] - T0).total_seconds() // 3600)) % 4 != 0  # absent from this snapshot
            for m in MARKETS
            for side in ("A", "B")
        ]  # fmt: skip
        started = time.perf_counter()
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.copy_records_to_table("odds", records=records, columns=COLUMNS)
        await conn.execute("SET LOCAL session_replication_role = origin")
        await conn.fetchval(
            "SELECT odds_states_refresh($1::text[], array_fill($2::timestamptz, ARRAY[cardinality($1::text[])]))",
            ids, T0,
        )  # fmt: skip
        return len(records), time.perf_counter() - started


async def _scenario(
    dsn: str, shape: tuple[int, int, int], *, wide: bool, analyze: bool, explain: bool
) -> str:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    notices: list[str] = []
    try:
        await conn.execute("TRUNCATE odds, odds_states, odds_snapshots, events RESTART IDENTITY CASCADE")
        if wide:
            await _batch(conn, "warm", 50, 10, 8)
            await conn.execute("TRUNCATE odds, odds_states, odds_snapshots, events RESTART IDENTITY CASCADE")
        else:
            for i in range(6):
                await _batch(conn, f"warm{i}", 1, 2, 2)
        if analyze or wide:
            await conn.execute("ANALYZE odds, odds_states, odds_snapshots, events")
        if explain:
            await conn.execute("LOAD 'auto_explain'")
            for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                            "auto_explain.log_level = notice", "client_min_messages = notice"):  # fmt: skip
                await conn.execute(f"SET {setting}")
            conn.add_log_listener(lambda _c, m: notices.append(m.message))
        rows, seconds = await _batch(conn, "big", *shape)
    finally:
        await conn.close()
    for note in notices:
        if "Query Text: WITH todo AS" in note:
            head, _, plan = note.partition("Query Text:")
            plan = re.sub(r"^.*?\n(?=\S)", "", plan, count=1, flags=re.DOTALL)  # the statement's text
            print(head.strip(), "\n", plan)
    return f"{rows} rows, {seconds:.2f} s"


async def main(shape: tuple[int, int, int], explain: bool, function: str) -> None:
    import asyncpg

    from odds_models.settings import get_settings

    url = _database_url()
    os.environ["DATABASE_URL"] = url  # the schema reset below goes through the pipeline's engine
    get_settings.cache_clear()
    await _reset_schema()
    if function == "0007":  # revision 0007's function, as databases had it before 0008
        from states_refresh import _old_function_sql

        sql = _old_function_sql().replace(
            "FUNCTION odds_states_refresh_0007(", "FUNCTION odds_states_refresh(", 1
        )
        admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
        try:
            await admin.execute(sql)
        finally:
            await admin.close()
    print(f"function: {'revision 0007' if function == '0007' else 'today (odds_models/odds_states.py)'}")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    admin = await asyncpg.connect(dsn)
    try:
        scenarios = [
            ("as shipped", "SET plan_cache_mode = force_custom_plan", False, False),
            ("generic allowed", "RESET plan_cache_mode", False, False),
            ("generic allowed, ANALYZE", "RESET plan_cache_mode", False, True),
            ("generic allowed, TRUNCATE", "RESET plan_cache_mode", True, True),
            ("as shipped, TRUNCATE", "SET plan_cache_mode = force_custom_plan", True, True),
        ]
        for i, (name, setting, wide, analyze) in enumerate(scenarios):
            await admin.execute(f"ALTER FUNCTION {FUNCTION} {setting}")
            last = explain and i == len(scenarios) - 2
            result = await _scenario(dsn, shape, wide=wide, analyze=analyze, explain=last)
            print(f"{name:28s} {'x'.join(map(str, shape))}: {result}", flush=True)
    finally:
        await admin.execute(f"ALTER FUNCTION {FUNCTION} SET plan_cache_mode = force_custom_plan")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--function",
        choices=("today", "0007"),
        default="today",
        help="The refresh to measure (0007: before 0008).",
    )
    parser.add_argument("--shape", default="100x20x8", help="EVENTSxSNAPSHOTSxBOOKS of the measured batch.")
    parser.add_argument(
        "--explain", action="store_true", help="Print the per-round plans (generic, TRUNCATE)."
    )
    args = parser.parse_args()
    events, snapshots, books = (int(x) for x in args.shape.split("x"))
    asyncio.run(main((events, snapshots, books), args.explain, args.function))
