"""Backtest benchmark: a generated season (1,230 games, >= 10 million odds rows) with 5 decision times.

    uv run python benchmarks/backtest.py [--events 1230] [--books 12] [--hours 60] [--keep]

Loads the season by COPY into a `_bench` database (`BENCH_DATABASE_URL`, default: `odds_bench` on the
embedded server), then prints:
- the batch as-of read of every (game, decision time) pair: one query per connection, two connections;
- the per-event read (one query per pair) on a sample, extrapolated, and the per-event / batch ratio;
- the closing-line read, the engine, and the whole backtest (reads + compute; report writing apart).
Goal: backtest under 10 s for the season on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.backtest.synthetic import DEFAULT_BOOKS, generate_season

DECISION_HOURS = [1.0, 3.0, 6.0, 12.0, 24.0]


def _bench_url() -> str:
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        from odds_models.db import create_database_if_missing
        from odds_models.settings import normalise_database_url

        url = normalise_database_url(url)
        create_database_if_missing(url)
    else:
        from odds_models.db import embedded_database_url

        pgdata = Path(tempfile.gettempdir()) / f"odds-bench-pgdata-{os.getuid()}"
        url = embedded_database_url(pgdata, database="backtest_bench")  # not odds_bench: ingest.py drops that
    from odds_models.db import database_name

    name = database_name(url)
    if not name.endswith(("_bench", "_test")):
        raise SystemExit(f"refusing to load benchmark data into {name!r}: use a database ending in _bench")
    return url


async def _create_schema(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
        await conn.run_sync(SQLModel.metadata.create_all)
    await engine.dispose()


async def _load(url: str, n_events: int, books: tuple[str, ...], hours: float) -> tuple[int, int]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    rows_total = events_total = 0
    snap_id = 1
    chunk = 120  # 15 days of 8 games
    # Bulk load the usual way: drop the odds table's indexes and foreign keys, COPY, rebuild them.
    ddl = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE conrelid = 'odds'::regclass AND contype IN ('f', 'u')"
    )
    indexes = await conn.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'odds' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'odds'::regclass)"
    )
    for row in ddl:
        await conn.execute(f'ALTER TABLE odds DROP CONSTRAINT "{row["conname"]}"')
    for row in indexes:
        if not row["indexname"].endswith("_pkey"):
            await conn.execute(f'DROP INDEX "{row["indexname"]}"')
    try:
        for k, first in enumerate(range(0, n_events, chunk)):
            n = min(chunk, n_events - first)
            season = generate_season(n_events=n, books=books, first_hours=hours, interval_minutes=30,
                                     start=datetime(2024, 10, 22, tzinfo=UTC) + timedelta(days=15 * k),
                                     seed=k + 1)  # fmt: skip
            ev = season.events.assign(sport_key="basketball_nba", origin="bench")
            await conn.copy_records_to_table(
                "events",
                records=list(ev[["event_id", "sport_key", "home_team", "away_team", "commence_time", "status",
                                 "home_score", "away_score", "origin"]].itertuples(index=False, name=None)),
                columns=["id", "sport_key", "home_team", "away_team", "commence_time", "status", "home_score",
                         "away_score", "origin"],
            )  # fmt: skip
            snaps = season.odds[["event_id", "snapshot_time"]].drop_duplicates().reset_index(drop=True)
            snaps["id"] = range(snap_id, snap_id + len(snaps))
            snap_id += len(snaps)
            await conn.copy_records_to_table(
                "odds_snapshots",
                records=[(int(i), e, "bench", t.to_pydatetime(), "{}", len(books)) for i, e, t in
                         snaps[["id", "event_id", "snapshot_time"]].itertuples(index=False, name=None)],
                columns=["id", "event_id", "source", "snapshot_time", "raw", "bookmaker_count"],
            )  # fmt: skip
            odds = season.odds.merge(
                snaps.rename(columns={"id": "snapshot_id"}), on=["event_id", "snapshot_time"]
            )
            # In the order the collector writes them: snapshot by snapshot.
            odds = odds.sort_values(
                ["snapshot_time", "event_id", "bookmaker", "market", "outcome"], kind="stable"
            )
            buf = io.BytesIO()
            odds[["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "point",
                  "price_decimal"]].assign(description="", is_valid=True).to_csv(buf, index=False, header=False,
                                           date_format="%Y-%m-%dT%H:%M:%S%z")  # fmt: skip
            buf.seek(0)
            await conn.copy_to_table(
                "odds", source=buf, format="csv", force_not_null=["description"],
                columns=["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "point",
                         "price_decimal", "description", "is_valid"],
            )  # fmt: skip
            rows_total += len(odds)
            events_total += n
            print(f"  loaded {events_total} games, {rows_total:,} odds rows", flush=True)
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('odds_snapshots', 'id'), {snap_id})")
        t = time.perf_counter()
        for row in indexes:
            if not row["indexname"].endswith("_pkey"):
                await conn.execute(row["indexdef"])
        for row in ddl:
            await conn.execute(f'ALTER TABLE odds ADD CONSTRAINT "{row["conname"]}" {row["def"]}')
        print(f"  rebuilt indexes and constraints in {time.perf_counter() - t:.1f} s", flush=True)
        await conn.execute("VACUUM ANALYZE odds")
        await conn.execute("VACUUM ANALYZE odds_snapshots")
        await conn.execute("VACUUM ANALYZE events")
    finally:
        await conn.close()
    return events_total, rows_total


async def _measure(per_event_sample: int) -> None:
    from odds_models.db import async_session_maker, dispose_engine
    from tasks.storage.reads import (
        read_closing_lines,
        read_events_between,
        read_odds_at_time,
        read_odds_at_times_split,
    )

    cfg = BacktestConfig(strategy="basic_ev", start="2024-10-01", end="2025-12-31", decision_hours=DECISION_HOURS,
                         include_polymarket=False, n_bootstrap=2000, n_permutations=2000)  # fmt: skip
    staleness = timedelta(minutes=cfg.max_staleness_minutes)
    t0 = time.perf_counter()
    async with async_session_maker() as session:
        events = await read_events_between(session, cfg.start, cfg.end + timedelta(days=1))
    pairs = decision_pairs(events, cfg.decision_hours)
    pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
    t1 = time.perf_counter()
    timings: dict[str, float] = {}

    async def timed(name: str, read: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        async with async_session_maker() as session:
            out = await read(session, *args, **kwargs)
        timings[name] = time.perf_counter() - start
        return out

    # As the flow does: the batch read and the closing read run concurrently on their own connections.
    async def timed_split() -> Any:
        start = time.perf_counter()
        out = await read_odds_at_times_split(pair_list, markets=cfg.markets, max_staleness=staleness)
        timings["odds"] = time.perf_counter() - start
        return out

    odds, closing = await asyncio.gather(
        timed_split(),
        timed("closing", read_closing_lines, events["event_id"].tolist(), markets=cfg.markets),
    )
    t3 = time.perf_counter()
    result = run_backtest_frames(cfg, events=events, pairs=pairs, odds=odds, closing=closing)
    t4 = time.perf_counter()

    sample = pair_list[:: max(1, len(pair_list) // per_event_sample)][:per_event_sample]
    async with async_session_maker() as session:
        s0 = time.perf_counter()
        n_rows = 0
        for event_id, t in sample:
            n_rows += len(
                await read_odds_at_time(session, event_id, t, markets=cfg.markets, max_staleness=staleness)
            )
        s1 = time.perf_counter()
    await dispose_engine()
    per_pair = (s1 - s0) / len(sample)
    batch = timings["odds"]
    print(
        f"games {len(events)}, decisions {len(pairs)} ({len(DECISION_HOURS)} per game), as-of rows {len(odds):,}"
    )
    print(f"events read          {t1 - t0:8.3f} s")
    print(f"batch as-of read     {batch:8.3f} s  (one query on each of 2 connections, {len(pairs)} pairs)")
    print(f"closing-line read    {timings['closing']:8.3f} s  (concurrently with the batch read)")
    print(f"reads (wall)         {t3 - t1:8.3f} s")
    print(
        f"engine (basic_ev)    {t4 - t3:8.3f} s  ({result.metrics['bets']} bets, 2000 bootstrap + 2000 permutations)"
    )
    print(f"BACKTEST TOTAL       {t4 - t0:8.3f} s  (goal < 10 s)")
    print(f"per-event read       {per_pair * 1000:8.2f} ms per pair ({len(sample)} sampled, {n_rows} rows) "
          f"-> {per_pair * len(pairs):.2f} s for all pairs")  # fmt: skip
    print(f"per-event / batch    {per_pair * len(pairs) / batch:8.1f} x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1230)
    parser.add_argument("--books", type=int, default=12)
    parser.add_argument(
        "--hours", type=float, default=60.0, help="hours of 30-minute snapshots before tip-off"
    )
    parser.add_argument("--sample", type=int, default=300, help="pairs read one by one for the ratio")
    parser.add_argument("--keep", action="store_true", help="reuse the loaded database (skip generation)")
    args = parser.parse_args()

    url = _bench_url()
    os.environ["DATABASE_URL"] = url
    from odds_models.settings import get_settings

    get_settings.cache_clear()
    if not args.keep:
        asyncio.run(_create_schema(url))
        t = time.perf_counter()
        books = tuple(DEFAULT_BOOKS[: args.books]) if args.books <= len(DEFAULT_BOOKS) else tuple(
            f"book{i:02d}" for i in range(args.books))  # fmt: skip
        n_events, n_rows = asyncio.run(_load(url, args.events, books, args.hours))
        print(
            f"generated and loaded {n_rows:,} odds rows for {n_events} games in {time.perf_counter() - t:.1f} s"
        )
    asyncio.run(_measure(args.sample))


if __name__ == "__main__":
    main()
