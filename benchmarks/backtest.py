"""Backtest benchmark: a season of 1,230 games (10.6 M odds rows) with 5 decision times, against today's method.

    uv run python benchmarks/backtest.py                      # load 4 seasons (once, ~30-40 min), measure
    uv run python benchmarks/backtest.py --keep               # measure again on the loaded data
    uv run python benchmarks/backtest.py --keep --explain     # also print EXPLAIN (ANALYZE, BUFFERS) of the reads

Data: generated seasons (`odds_analytics.backtest.synthetic`: 12 books, 30-minute snapshots for 60 h, 8,640 odds
rows per game) loaded by COPY into the `backtest_bench` database (`BENCH_DATABASE_URL` overrides, its name must
end in `_bench` or `_test`); `odds_states` is then built by the same SQL function the triggers run. With
`--keep` only missing seasons are loaded. Four seasons take ~14 GB in the embedded server's folder
`$TMPDIR/odds-bench-pgdata-<uid>`; to free it, stop that server (`pg_ctl stop -D <folder>`, as the folder's
owner) and delete the folder.

Each measurement runs in its own Python process (its peak RSS is the backtest's alone), started as a flow run's
process is: the flow's modules imported first, then the start-up heap frozen as `run_backtest` does first
(`odds_models/runtime.py`; `BENCH_FREEZE=none` leaves it unfrozen, to compare; `BENCH_GC_TRACE=1` prints on
stderr where each full collection falls, with the generations' counts, and how far each window ended from the
next one):
- the backtest as the flow runs it: the games of the window, the prices as of each decision from `odds_states`
  and the closing lines, concurrently, then the engine (basic_ev, 2,000 bootstrap + 2,000 permutations);
  `--runs` times, the range printed;
- today's method, `--baseline` (default: the commit before issue 17, extracted with `git archive`), on the
  same data in the same run: its batch read over `odds` on two connections, its closing read, its engine;
  the ratios and whether both give identical bets and metrics;
- the per-event read (`read_odds_at_time`, over `odds`) on a sample of pairs, extrapolated;
- cost linearity: the backtest at 1x, 2x and 4x the season (`--scales`), `--runs` rounds with the scales
  interleaved in each round (load drift on a shared machine hits every scale alike), one process per round and
  scale: a staged backtest (each stage after the other: wall time, this process's CPU time and the database
  backends' CPU time per stage, the backends' read from /proc when the server is local), then the backtest
  timed as the flow runs it. Per game: wall time (the goal's figure), client CPU, server CPU, the time both
  waited for a CPU (run queue: the machine's load, not the work), Python GC time and its full collections
  (time, count), page faults; medians and ranges over the rounds, the ratios 2x/1x and 4x/1x, the load
  average before each round, and a least-squares line through the medians (ms per backtest whatever its size
  + ms per game: a split of the per-game figures, which include everything);
- `--explain`: the plans of both reads for the season, then the as-of read's server time and buffers at each
  scale with the sizes of `odds_states` against shared_buffers.
Goals (issue 17): season backtest under 2 s on 2 cores, >= 7x today, under 1 GiB, time per game flat within 20 %.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import json
import os
import pickle
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DECISION_HOURS = [1.0, 3.0, 6.0, 12.0, 24.0]
CHUNK = 120  # games generated and loaded at once: 15 days of 8 games
BASELINE_REF = "ff9fc4a"  # the last commit before issue 17: "today's method" the ratios compare with


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


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _create_schema(url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlmodel import SQLModel

    import odds_models.tables  # noqa: F401

    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.drop_all)
        await conn.run_sync(SQLModel.metadata.create_all)
    await engine.dispose()


async def _loaded_games(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        if not await conn.fetchval("SELECT to_regclass('odds_states') IS NOT NULL"):
            return -1
        return int(await conn.fetchval("SELECT count(*) FROM events WHERE origin = 'bench'"))
    finally:
        await conn.close()


async def _load(url: str, seasons: range, games: int, books: tuple[str, ...], hours: float) -> int:
    """COPY `seasons` of `games` games each (deterministic per season and chunk), then build their states.

    Season s starts 165 days after season s - 1, so the 1x, 2x and 4x windows are whole seasons."""
    import asyncpg

    from odds_analytics.backtest.synthetic import generate_season
    from odds_models.odds_states import REFRESH_SQL

    conn = await asyncpg.connect(_dsn(url))
    rows_total = 0
    snap_id = int(await conn.fetchval("SELECT COALESCE(max(id), 0) FROM odds_snapshots")) + 1
    # Bulk load the usual way: drop the odds table's indexes and foreign keys, COPY, rebuild them; the
    # states are built afterwards by the function the triggers call (the triggers are off meanwhile).
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
    await conn.execute("ALTER TABLE odds DISABLE TRIGGER USER")
    new_events: list[str] = []
    try:
        chunks = [(s, k) for s in seasons for k in range(-(-games // CHUNK))]
        for s, k in chunks:
            n = min(CHUNK, games - k * CHUNK)
            season = generate_season(n_events=n, books=books, first_hours=hours, interval_minutes=30,
                                     start=datetime(2024, 10, 22, tzinfo=UTC) + timedelta(days=165 * s + 15 * k),
                                     seed=100 * s + k + 1)  # fmt: skip
            ev = season.events.assign(sport_key="basketball_nba", origin="bench")
            new_events += ev["event_id"].tolist()
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
            print(
                f"  season {s + 1}: loaded {k * CHUNK + n} games, {rows_total:,} odds rows this run",
                flush=True,
            )
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
        t = time.perf_counter()
        states = 0
        for i in range(0, len(new_events), CHUNK):
            states += int(await conn.fetchval(REFRESH_SQL, new_events[i : i + CHUNK]))
        print(f"  built {states:,} odds_states rows in {time.perf_counter() - t:.1f} s "
              f"({(time.perf_counter() - t) / max(states, 1) * 1e3:.2f} ms per state)", flush=True)  # fmt: skip
        await conn.execute("VACUUM ANALYZE odds_states")
        await conn.execute("VACUUM ANALYZE events")
    finally:
        await conn.execute("ALTER TABLE odds ENABLE TRIGGER USER")
        await conn.close()
    return rows_total


# --------------------------------------------------------------------------------------------------------
# Clocks: wall time, this process's CPU and the database backends' CPU (each from the kernel)
# --------------------------------------------------------------------------------------------------------


def _schedstat(path: Path) -> tuple[int, int]:
    """(ns on a CPU, ns waiting in the run queue) of one thread/process: /proc/<pid>/schedstat."""
    try:
        run, wait, _ = path.read_text().split()
    except (OSError, ValueError):
        return 0, 0
    return int(run), int(wait)


def _backends(database: str) -> dict[int, tuple[int, int]]:
    """The local server's backends of `database` (cmdline `postgres: <user> <database> ...`): pid → schedstat."""
    out: dict[int, tuple[int, int]] = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cmdline.startswith(b"postgres: ") and marker in cmdline:
            out[int(entry.name)] = _schedstat(entry / "schedstat")
    return out


class _Clocks:
    """Deltas of wall time, this process's CPU time (user + system, `time.process_time`), its minor page faults,
    its time waiting for a CPU (run queue, all threads), the Python GC's time, and the CPU time and run-queue
    wait of the database's backends (local server only: 0 when /proc shows none).

    The /proc scans happen outside the client's window (before its start, after its end)."""

    gc_s = 0.0
    full_gc_s = 0.0  # the collections of the oldest generation (they walk every tracked object not frozen)
    full_gc_n = 0
    _gc_start = 0.0
    pending = 0
    long_lived = 0
    _young = 0

    def __init__(self, database: str | None) -> None:
        self.database = database

    @classmethod
    def install_gc_timer(cls) -> None:
        trace = os.environ.get("BENCH_GC_TRACE") == "1"

        def timer(phase: str, info: dict[str, Any]) -> None:
            if phase == "start":
                cls._gc_start = time.perf_counter()
                if trace and info["generation"] == 1:
                    cls._young = len(gc.get_objects(0)) + len(gc.get_objects(1))
                if trace and info["generation"] == 2:
                    import traceback

                    where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                       for f in reversed(traceback.extract_stack()[:-1][-10:]))  # fmt: skip
                    print(f"full GC, counts {gc.get_count()}, {len(gc.get_objects(2))} objects in the oldest "
                          f"generation, at {where}", file=sys.stderr)  # fmt: skip
            else:
                spent = time.perf_counter() - cls._gc_start
                cls.gc_s += spent
                if info["generation"] == 2:
                    cls.full_gc_s += spent
                    cls.full_gc_n += 1
                if trace and info["generation"] == 1:  # CPython's long_lived_pending, rebuilt
                    cls.pending += cls._young - info["collected"]
                if trace and info["generation"] == 2:
                    cls.pending, cls.long_lived = 0, len(gc.get_objects(2))

        gc.callbacks.append(timer)

    def _client(self) -> tuple[float, float, int, int, float, float, int]:
        wait = sum(_schedstat(t / "schedstat")[1] for t in Path("/proc/self/task").iterdir())
        return (time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt,
                wait, self.gc_s, self.full_gc_s, self.full_gc_n)  # fmt: skip

    def begin(self, server: bool = True) -> tuple[Any, Any]:
        backends = _backends(self.database) if server and self.database else None
        return backends, self._client()

    def end(self, start: tuple[Any, Any]) -> dict[str, float]:
        client = self._client()
        before, c0 = start
        out = {"wall_s": client[0] - c0[0], "cpu_s": client[1] - c0[1], "faults": client[2] - c0[2],
               "wait_s": (client[3] - c0[3]) / 1e9, "gc_s": client[4] - c0[4], "full_gc_s": client[5] - c0[5],
               "full_gcs": client[6] - c0[6]}  # fmt: skip
        if before is not None:
            after = _backends(self.database or "")
            run = sum(a[0] - before.get(pid, (0, 0))[0] for pid, a in after.items())
            wait = sum(a[1] - before.get(pid, (0, 0))[1] for pid, a in after.items())
            out.update(server_cpu_s=run / 1e9, server_wait_s=wait / 1e9)
        if os.environ.get("BENCH_GC_TRACE") == "1":
            print(
                f"  window end: pending {self.pending} of {self.long_lived} long-lived "
                f"({self.pending / max(self.long_lived, 1):.3f}; a full collection at > 0.25)",
                file=sys.stderr,
            )
        return out


# --------------------------------------------------------------------------------------------------------
# Measurements (each in a child process: `--child '<json>'`)
# --------------------------------------------------------------------------------------------------------


def _window(dates: list[date], games: int) -> tuple[date, date]:
    """First and last tip-off date (UTC) of the first `games` games."""
    return dates[0], dates[min(games, len(dates)) - 1]


async def _game_dates(url: str) -> list[date]:
    import asyncpg

    conn = await asyncpg.connect(_dsn(url))
    try:
        rows = await conn.fetch(
            "SELECT commence_time FROM events WHERE origin = 'bench' ORDER BY commence_time"
        )
    finally:
        await conn.close()
    return [r["commence_time"].astimezone(UTC).date() for r in rows]


def _config(start: date, end: date) -> Any:
    from odds_analytics.backtest import BacktestConfig

    return BacktestConfig(strategy="basic_ev", start=start, end=end, decision_hours=DECISION_HOURS,
                          include_polymarket=False, n_bootstrap=2000, n_permutations=2000)  # fmt: skip


async def _run_new(cfg: Any, sample: int, clocks: _Clocks) -> dict[str, Any]:
    """The backtest as `flows/backtest.py` runs it (reads from odds_states, vectorised engine)."""
    from odds_analytics.backtest import decision_pairs, run_backtest_frames
    from odds_models.db import async_session_maker
    from tasks.storage.event_reads import read_events_between
    from tasks.storage.reads import read_closing_lines, read_odds_at_time, read_odds_at_times_split

    staleness = timedelta(minutes=cfg.max_staleness_minutes)
    out: dict[str, Any] = {}
    whole = clocks.begin()
    c0 = time.process_time()
    t0 = time.perf_counter()
    async with async_session_maker() as session:
        events = await read_events_between(cfg.start, cfg.end + timedelta(days=1), session=session)
    pairs = decision_pairs(events, cfg.decision_hours)
    pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
    t1 = time.perf_counter()

    async def timed(name: str, read: Any, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        async with async_session_maker() as session:
            frame = await read(*args, session=session, **kwargs)
        out[name] = time.perf_counter() - start
        return frame

    async def odds_read() -> Any:  # as `read_odds_at_times_task` reads: split by event over two connections
        start = time.perf_counter()
        frame = await read_odds_at_times_split(pair_list, markets=cfg.markets, max_staleness=staleness,
                                               categorical=True)  # fmt: skip
        out["odds_s"] = time.perf_counter() - start
        return frame

    odds, closing = await asyncio.gather(
        odds_read(),
        timed("closing_s", read_closing_lines, events["event_id"].tolist(), markets=cfg.markets,
              categorical=True),
    )  # fmt: skip
    t2 = time.perf_counter()
    result = run_backtest_frames(cfg, events=events, pairs=pairs, odds=odds, closing=closing)
    t3 = time.perf_counter()
    out.update(events_s=t1 - t0, reads_s=t2 - t1, engine_s=t3 - t2, total_s=t3 - t0, cpu_s=time.process_time() - c0,
               games=len(events),
               pairs=len(pairs), rows=len(odds), closing_rows=len(closing), result=result)  # fmt: skip
    out["clock"] = clocks.end(whole)
    if sample:
        chosen = pair_list[:: max(1, len(pair_list) // sample)][:sample]
        async with async_session_maker() as session:
            s0 = time.perf_counter()
            for event_id, t in chosen:
                await read_odds_at_time(
                    event_id, t, session=session, markets=cfg.markets, max_staleness=staleness
                )
            out["per_event_s"] = (time.perf_counter() - s0) / len(chosen)
    return out


# The stages of `_run_stages`, in print order; the engine's parts are its own functions, timed by wrapping them.
STAGES = (
    "events read",
    "as-of read",
    "closing-line read",
    "engine: quotes, fair prices",
    "engine: strategy",
    "engine: closing value",
    "engine: metrics, bootstrap",
    "engine: rest",
)
_ENGINE_PARTS = {
    "fresh_quotes": "engine: quotes, fair prices",
    "build_quotes": "engine: quotes, fair prices",
    "closing_fair_prices": "engine: closing value",
    "closing_value": "engine: closing value",
    "compute_metrics": "engine: metrics, bootstrap",
}


async def _run_stages(cfg: Any, clocks: _Clocks) -> dict[str, dict[str, float]]:
    """The same backtest, one stage after the other (the reads not concurrently), each stage's wall time, this
    process's CPU time and the backends' CPU time apart. Same reads, same engine: only the overlap is gone."""
    from odds_analytics.backtest import decision_pairs, engine, get_strategy
    from odds_models.db import async_session_maker
    from tasks.storage.event_reads import read_events_between
    from tasks.storage.reads import read_closing_lines, read_odds_at_times_split

    staleness = timedelta(minutes=cfg.max_staleness_minutes)
    stages: dict[str, dict[str, float]] = {}

    def add(name: str, delta: dict[str, float]) -> None:
        row = stages.setdefault(name, {})
        for key, value in delta.items():
            row[key] = row.get(key, 0.0) + value

    start = clocks.begin()
    async with async_session_maker() as session:
        events = await read_events_between(cfg.start, cfg.end + timedelta(days=1), session=session)
    pairs = decision_pairs(events, cfg.decision_hours)
    pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
    add("events read", clocks.end(start))
    start = clocks.begin()
    odds = await read_odds_at_times_split(pair_list, markets=cfg.markets, max_staleness=staleness,
                                          categorical=True)  # fmt: skip
    add("as-of read", clocks.end(start))
    start = clocks.begin()
    async with async_session_maker() as session:
        closing = await read_closing_lines(events["event_id"].tolist(), session=session, markets=cfg.markets,
                                           categorical=True)  # fmt: skip
    add("closing-line read", clocks.end(start))

    def timed(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = clocks.begin(server=False)
            try:
                return function(*args, **kwargs)
            finally:
                add(name, clocks.end(start))

        return wrapper

    def strategy_of(*args: Any, **kwargs: Any) -> Any:
        strategy = get_strategy(*args, **kwargs)
        strategy.select = timed("engine: strategy", strategy.select)
        return strategy

    originals = {name: getattr(engine, name) for name in [*_ENGINE_PARTS, "get_strategy"]}
    for name, stage in _ENGINE_PARTS.items():
        setattr(engine, name, timed(stage, originals[name]))
    engine.get_strategy = strategy_of
    try:
        start = clocks.begin(server=False)
        engine.run_backtest_frames(cfg, events=events, pairs=pairs, odds=odds, closing=closing)
        whole = clocks.end(start)
    finally:
        for name, function in originals.items():
            setattr(engine, name, function)
    parts = [stages[s] for s in STAGES if s.startswith("engine: ") and s in stages]
    stages["engine: rest"] = {k: v - sum(p.get(k, 0.0) for p in parts) for k, v in whole.items()}
    return stages


async def _run_baseline(cfg: Any) -> dict[str, Any]:
    """Today's method, imported from the extracted baseline tree (its own API of that time)."""
    from odds_analytics.backtest import decision_pairs, run_backtest_frames
    from odds_models.db import async_session_maker
    from tasks.storage.reads import (  # the baseline tree's API: events were read from reads.py then
        read_closing_lines,
        read_events_between,
        read_odds_at_times_split,
    )

    staleness = timedelta(minutes=cfg.max_staleness_minutes)
    out: dict[str, Any] = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    async with async_session_maker() as session:  # the baseline's API: the session first, positional
        events = await read_events_between(session, cfg.start, cfg.end + timedelta(days=1))
    pairs = decision_pairs(events, cfg.decision_hours)
    pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
    t1 = time.perf_counter()

    async def odds_read() -> Any:
        start = time.perf_counter()
        frame = await read_odds_at_times_split(pair_list, markets=cfg.markets, max_staleness=staleness)
        out["odds_s"] = time.perf_counter() - start
        return frame

    async def closing_read() -> Any:
        start = time.perf_counter()
        async with async_session_maker() as session:
            frame = await read_closing_lines(session, events["event_id"].tolist(), markets=cfg.markets)
        out["closing_s"] = time.perf_counter() - start
        return frame

    odds, closing = await asyncio.gather(odds_read(), closing_read())
    t2 = time.perf_counter()
    result = run_backtest_frames(cfg, events=events, pairs=pairs, odds=odds, closing=closing)
    t3 = time.perf_counter()
    out.update(events_s=t1 - t0, reads_s=t2 - t1, engine_s=t3 - t2, total_s=t3 - t0, cpu_s=time.process_time() - c0,
               games=len(events),
               pairs=len(pairs), rows=len(odds), closing_rows=len(closing), result=result)  # fmt: skip
    return out


def _child(spec: dict[str, Any]) -> None:
    """One measurement in this process; prints one JSON line and writes the results to spec['out']."""
    if spec["method"] == "baseline":
        sys.path.insert(0, spec["tree"])
        for name in [m for m in sys.modules if m.split(".")[0] in ("odds_models", "odds_analytics", "tasks")]:
            del sys.modules[name]
    os.environ["DATABASE_URL"] = spec["url"]
    from odds_models.db import dispose_engine
    from odds_models.settings import get_settings

    get_settings.cache_clear()
    cfg = _config(date.fromisoformat(spec["start"]), date.fromisoformat(spec["end"]))
    if spec["method"] != "baseline":
        # Start up as a flow run's process does: the flow's modules imported before the work (not inside the
        # first measured stage), then the start-up heap frozen as `run_backtest` does first
        # (odds_models/runtime.py); BENCH_FREEZE=none leaves it unfrozen, to compare.
        import flows.backtest  # noqa: F401
        from odds_models.runtime import freeze_startup_objects

        if os.environ.get("BENCH_FREEZE", "freeze") != "none":
            freeze_startup_objects()

    clocks = _Clocks(spec.get("database"))
    _Clocks.install_gc_timer()
    stages: dict[str, dict[str, float]] = {}

    async def main() -> list[dict[str, Any]]:
        runs = []
        if spec.get("stages"):  # first: it also warms the process and the server's buffers for the runs
            stages.update(await _run_stages(cfg, clocks))
        for i in range(spec["runs"]):
            if spec["method"] == "baseline":
                runs.append(await _run_baseline(cfg))
            else:
                runs.append(await _run_new(cfg, spec["sample"] if i == 0 else 0, clocks))
        await dispose_engine()
        return runs

    runs = asyncio.run(main())
    result = runs[-1].pop("result")
    for run in runs[:-1]:
        run.pop("result")
    with Path(spec["out"]).open("wb") as fh:
        pickle.dump({"metrics": result.metrics, "bets": result.bet_records(), "counts": result.counts}, fh)
    print(json.dumps({"runs": runs, "stages": stages, "rss": _peak_rss()}))


def _peak_rss() -> int:
    """This process's peak resident set (VmHWM): unlike ru_maxrss it does not carry over the parent's peak
    through fork and exec, so a child's figure is its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _spawn(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          cwd=spec.get("tree") or ROOT, check=False)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{spec['method']} measurement failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _baseline_tree(ref: str) -> Path | None:
    """The project at `ref`, extracted to a temporary folder (None when git cannot provide it)."""
    proc = subprocess.run(["git", "archive", "--format=tar", ref], capture_output=True, cwd=ROOT, check=False)
    if proc.returncode != 0:
        print(f"baseline {ref}: not available ({proc.stderr.decode().strip()}); skipped")
        return None
    folder = Path(tempfile.mkdtemp(prefix="odds-baseline-"))
    with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def _load_text() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def _span(values: list[float]) -> str:
    return f"{min(values):.3f} s (range {min(values):.3f}-{max(values):.3f} over {len(values)} runs)"


async def _explain(url: str, games: int, scales: list[int]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of the two reads of a season backtest (for docs/BACKTESTING_GUIDE.md), then
    the as-of read's server time and buffers at each scale (each plan run twice, the second shown: warm), with
    the sizes of what it reads against shared_buffers."""
    import asyncpg

    from tasks.storage import state_reads

    def asof_args(rows: list[Any]) -> tuple[Any, ...]:
        pairs = sorted(((r["id"], r["commence_time"] - timedelta(hours=h)) for h in DECISION_HOURS for r in rows),
                       key=lambda p: (p[1], p[0]))  # fmt: skip
        return [p[0] for p in pairs], [p[1] for p in pairs], timedelta(hours=24)

    conn = await asyncpg.connect(_dsn(url))
    try:
        all_rows = await conn.fetch(
            "SELECT id, commence_time FROM events WHERE origin = 'bench' ORDER BY commence_time, id LIMIT $1",
            games * max(scales),
        )
        rows = all_rows[:games]
        for name, sql, args in (
            ("as-of read", state_reads.ASOF_SQL, asof_args(rows)),
            ("closing read", state_reads.CLOSE_SQL, ([r["id"] for r in rows],)),
        ):
            plan = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, *args)
            print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the {name}, {len(args[0])} requests:")
            print("\n".join(r[0] for r in plan if "Index Cond: (id = ANY" not in r[0]))
        sizes = await conn.fetchrow(
            "SELECT current_setting('shared_buffers') AS sb, pg_size_pretty(pg_relation_size('odds_states')) AS heap,"
            " pg_size_pretty(pg_total_relation_size('odds_states') - pg_relation_size('odds_states')"
            " - pg_indexes_size('odds_states')) AS toast, pg_size_pretty(pg_indexes_size('odds_states')) AS idx,"
            " (SELECT count(*) FROM odds_states) AS n"
        )  # fmt: skip
        print(f"\nthe as-of read at each scale (EXPLAIN ANALYZE, second of two runs; shared_buffers {sizes['sb']}; "
              f"odds_states: {sizes['n']:,} rows, heap {sizes['heap']}, TOAST {sizes['toast']}, "
              f"indexes {sizes['idx']}):")  # fmt: skip
        for k in scales:
            args = asof_args(all_rows[: games * k])
            for _ in range(2):
                plan = [
                    r[0]
                    for r in await conn.fetch(
                        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + state_reads.ASOF_SQL, *args
                    )
                ]
            execution = next(line for line in plan if line.startswith("Execution Time"))
            buffers = next(line.strip() for line in plan if "Buffers:" in line)
            ms = float(execution.split(":")[1].split()[0])
            print(f"  {k}x: {len(args[0]):6d} pairs, {execution}, {ms / len(args[0]) * 1e3:.1f} us per pair, "
                  f"{buffers}")  # fmt: skip
    finally:
        await conn.close()


def _median(values: list[float]) -> float:
    return float(statistics.median(values))


def _mrange(values: list[float], scale: float = 1.0, digits: int = 3) -> str:
    """Median (min-max) of `values` × `scale`."""
    v = [x * scale for x in values]
    return f"{_median(v):.{digits}f} ({min(v):.{digits}f}-{max(v):.{digits}f})"


def _linearity(base: dict[str, Any], dates: list[date], scales: list[int], games: int, *, rounds: int,
               out_dir: Path) -> None:  # fmt: skip
    """Time per game at each scale: `rounds` rounds, the scales interleaved within each round so that load
    drift on the shared machine hits every scale alike. Each (round, scale) is one process: a staged backtest
    first (per-stage figures; it also warms the process and the server's buffers), then the backtest timed as
    the flow runs it. Per game: wall time (the issue's figure), this process's CPU time, the backends' CPU
    time, the time both waited for a CPU; medians and ranges over the rounds, and the ratios to 1x."""
    print(f"\nLINEARITY (new method; {rounds} rounds, scales interleaved in each round, one process per round and "
          f"scale: a staged backtest, then the timed one):")  # fmt: skip
    timed: dict[int, list[dict[str, Any]]] = {k: [] for k in scales}
    staged: dict[int, list[dict[str, dict[str, float]]]] = {k: [] for k in scales}
    rss: dict[int, list[int]] = {k: [] for k in scales}
    loads = []
    for r in range(rounds):
        loads.append(os.getloadavg()[0])
        for k in scales:
            s, e = _window(dates, games * k)
            res = _spawn({**base, "method": "new", "runs": 1, "stages": True, "start": s.isoformat(),
                          "end": e.isoformat(), "out": str(out_dir / f"scale{k}.pkl")})  # fmt: skip
            timed[k] += res["runs"]
            staged[k].append(res["stages"])
            rss[k].append(res["rss"])
        one = {k: timed[k][-1]["total_s"] / timed[k][-1]["games"] * 1e3 for k in scales}
        print(f"  round {r + 1}: load average {loads[-1]:.2f} -> {os.getloadavg()[0]:.2f}; wall ms per game "
              + ", ".join(f"{k}x {v:.3f}" for k, v in one.items()), flush=True)  # fmt: skip
    n_games = {k: timed[k][0]["games"] for k in scales}
    raw = out_dir / "linearity.json"
    raw.write_text(json.dumps({"timed": timed, "staged": staged, "rss": rss, "loads": loads}, default=str))
    print(f"  (every figure of every round: {raw})")

    def per_game(k: int, key: str) -> list[float]:
        return [(run["clock"].get(key, 0.0) if key != "total_s" else run["total_s"]) / n_games[k] * 1e3
                for run in timed[k]]  # fmt: skip

    columns = (("wall", "total_s"), ("client CPU", "cpu_s"), ("server CPU", "server_cpu_s"),
               ("client waits for CPU", "wait_s"), ("server waits for CPU", "server_wait_s"), ("client GC", "gc_s"),
               ("client full GCs", "full_gc_s"))  # fmt: skip
    print(f"  per game, ms: median (range) over {rounds} rounds; load average 1 min before the rounds "
          f"{min(loads):.2f}-{max(loads):.2f}")  # fmt: skip
    for label, key in columns:
        print(f"    {label:21s}" + "".join(f"  {k}x {_mrange(per_game(k, key)):24s}" for k in scales))
    print("    full collections    " + "".join(
        f"  {k}x {sum(r['clock'].get('full_gcs', 0) for r in timed[k]):3d} in {len(timed[k])} backtests        "
        for k in scales))  # fmt: skip
    print("    minor page faults   " + "".join(
        f"  {k}x {_median([r['clock']['faults'] / n_games[k] for r in timed[k]]):8.0f} per game        " for k in scales))  # fmt: skip
    print(
        "    peak RSS            "
        + "".join(f"  {k}x {max(rss[k]) / 2**20:,.0f} MiB                " for k in scales)
    )
    first = scales[0]
    for label, key in columns[:3]:
        med = {k: _median(per_game(k, key)) for k in scales}
        print(f"  ratio of medians, {label:10s}: " + ", ".join(
            f"{k}x/{first}x {med[k] / med[first]:.2f}" for k in scales[1:]) if med[first] else "")  # fmt: skip
    med = [_median(per_game(k, "total_s")) for k in scales]
    best = [min(per_game(k, "total_s")) for k in scales]
    print(f"  TIME PER GAME (wall), max/min - 1: {(max(med) / min(med) - 1) * 100:.0f} % of the medians, "
          f"{(max(best) / min(best) - 1) * 100:.0f} % of the best runs (goal: within 20 %)")  # fmt: skip
    if len(scales) > 1:  # the per-game figures above include everything; this splits them, it hides nothing
        import numpy as np

        x = [n_games[k] for k in scales]
        for label, key in columns[:2]:
            y = [_median(per_game(k, key)) * n_games[k] for k in scales]  # ms per backtest
            slope, fixed = (float(v) for v in np.polyfit(x, y, 1))
            print(f"  least-squares line through the medians, {label:10s}: {fixed:7.1f} ms per backtest whatever "
                  f"its size + {slope:.3f} ms per game")  # fmt: skip
    print(f"\n  stages (the staged backtest, first in its process; ms per game, medians over {rounds} rounds: wall / "
          f"client CPU / server CPU / client GC; {scales[-1]}x/{first}x of the median CPU, client + server):")  # fmt: skip
    for stage in STAGES:
        cells = []
        cpu = {}
        for k in scales:
            rows = [st.get(stage, {}) for st in staged[k]]
            vals = {key: [row.get(key, 0.0) / n_games[k] * 1e3 for row in rows]
                    for key in ("wall_s", "cpu_s", "server_cpu_s", "gc_s")}  # fmt: skip
            cpu[k] = _median(vals["cpu_s"]) + _median(vals["server_cpu_s"])
            cells.append(f"{k}x {_median(vals['wall_s']):.3f} / {_median(vals['cpu_s']):.3f} / "
                         f"{_median(vals['server_cpu_s']):.3f} / {_median(vals['gc_s']):.3f}")  # fmt: skip
        ratio = f"{cpu[scales[-1]] / cpu[first]:.2f}" if cpu[first] > 0 else "-"
        print(f"    {stage:28s} " + "   ".join(cells) + f"   x{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1230, help="games in a season")
    parser.add_argument("--books", type=int, default=12)
    parser.add_argument(
        "--hours", type=float, default=60.0, help="hours of 30-minute snapshots before tip-off"
    )
    parser.add_argument("--scales", default="1,2,4", help="seasons backtested for the linearity check")
    parser.add_argument(
        "--runs", type=int, default=3, help="backtests per measurement (the range is printed)"
    )
    parser.add_argument("--sample", type=int, default=300, help="pairs read one by one (per-event read)")
    parser.add_argument("--baseline", default=BASELINE_REF, help="git ref of today's method, or 'none'")
    parser.add_argument(
        "--keep", action="store_true", help="reuse the loaded database (load only what is missing)"
    )
    parser.add_argument(
        "--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of the reads"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(json.loads(args.child))
        return
    try:
        scales = sorted({int(s) for s in args.scales.split(",")})
    except ValueError:
        raise SystemExit(f"--scales: comma-separated whole numbers, got {args.scales!r}") from None
    if not scales or scales[0] < 1 or args.events < 1 or args.runs < 1:
        raise SystemExit("--scales, --events and --runs must be positive")

    url = _bench_url()
    os.environ["DATABASE_URL"] = url
    from odds_analytics.backtest.synthetic import DEFAULT_BOOKS

    books = tuple(DEFAULT_BOOKS[: args.books]) if args.books <= len(DEFAULT_BOOKS) else tuple(
        f"book{i:02d}" for i in range(args.books))  # fmt: skip
    loaded = asyncio.run(_loaded_games(url)) if args.keep else -1
    if loaded < 0 or loaded % args.events:
        asyncio.run(_create_schema(url))
        loaded = 0
    if loaded < args.events * scales[-1]:
        t = time.perf_counter()
        todo = range(loaded // args.events, scales[-1])
        rows = asyncio.run(_load(url, todo, args.events, books, args.hours))
        print(
            f"generated and loaded {rows:,} odds rows ({len(todo)} seasons) in {time.perf_counter() - t:.1f} s"
        )
    dates = asyncio.run(_game_dates(url))

    print(f"\nmachine: {_load_text()} (other work shares these cores: compare ranges, not single runs)")
    out_dir = Path(tempfile.mkdtemp(prefix="odds-bench-"))
    from odds_models.db import database_name

    base = {"url": url, "database": database_name(url), "runs": args.runs, "sample": 0}
    start, end = _window(dates, args.events)
    season = {**base, "start": start.isoformat(), "end": end.isoformat()}
    new = _spawn({**season, "method": "new", "sample": args.sample, "out": str(out_dir / "new.pkl")})
    runs = new["runs"]
    print(
        f"\nNEW: as-of state per pair from odds_states, vectorised engine ({runs[0]['games']} games, "
        f"{runs[0]['pairs']} decisions, {runs[0]['rows']:,} as-of rows, {runs[0]['closing_rows']:,} closing rows)"
    )
    print(f"  events read       {_span([r['events_s'] for r in runs])}")
    print(f"  as-of read        {_span([r['odds_s'] for r in runs])}")
    print(f"  closing-line read {_span([r['closing_s'] for r in runs])}  (concurrently with the as-of read)")
    print(f"  engine (basic_ev) {_span([r['engine_s'] for r in runs])}")
    print(f"  BACKTEST TOTAL    {_span([r['total_s'] for r in runs])}  (goal < 2 s)")
    print(f"  peak RSS          {new['rss'] / 2**20:,.0f} MiB  (goal < 1 GiB)")
    per_event = runs[0].get("per_event_s")
    if per_event:
        print(f"  per-event read (read_odds_at_time over odds, {args.sample} pairs): {per_event * 1e3:.2f} ms per pair "
              f"-> {per_event * runs[0]['pairs']:.2f} s for all pairs")  # fmt: skip

    tree = _baseline_tree(args.baseline) if args.baseline != "none" else None
    if tree is not None:
        try:
            old = _spawn(
                {
                    **season,
                    "method": "baseline",
                    "runs": 1,
                    "tree": str(tree),
                    "out": str(out_dir / "old.pkl"),
                }
            )
        finally:
            shutil.rmtree(tree, ignore_errors=True)
        o = old["runs"][0]
        print(f"\nTODAY ({args.baseline}: batch read over odds on two connections, pandas engine), 1 run:")
        for label, key in (("events read", "events_s"), ("as-of read", "odds_s"), ("closing-line read", "closing_s"),
                           ("engine (basic_ev)", "engine_s"), ("BACKTEST TOTAL", "total_s")):  # fmt: skip
            print(f"  {label:17s} {o[key]:.3f} s")
        print(f"  peak RSS          {old['rss'] / 2**20:,.0f} MiB")
        best = {k: min(r[k] for r in runs) for k in ("odds_s", "closing_s", "engine_s", "total_s")}
        print(f"\nRATIO today / new (best new run): total {o['total_s'] / best['total_s']:.1f}x (goal >= 7x), "
              f"as-of read {o['odds_s'] / best['odds_s']:.1f}x, closing read {o['closing_s'] / best['closing_s']:.1f}x, "
              f"engine {o['engine_s'] / best['engine_s']:.1f}x")  # fmt: skip
        with (out_dir / "new.pkl").open("rb") as fh:
            a = pickle.load(fh)
        with (out_dir / "old.pkl").open("rb") as fh:
            b = pickle.load(fh)
        # Figures added since the baseline (e.g. the small-sample counts) are listed, not compared: every
        # figure both compute must be equal, and so must every bet.
        same_metrics = all(
            a["metrics"][k] == b["metrics"][k] for k in a["metrics"].keys() & b["metrics"].keys()
        )
        same_counts = all(a["counts"][k] == b["counts"][k] for k in a["counts"].keys() & b["counts"].keys())
        # Bets: every field both record must be equal, bet for bet (columns added since, e.g. the Polymarket
        # execution's `price_basis` and `fee`, are listed, not compared).
        new_cols = set().union(*(r.keys() for r in a["bets"])) if a["bets"] else set()
        old_cols = set().union(*(r.keys() for r in b["bets"])) if b["bets"] else set()
        shared = new_cols & old_cols
        same_bets = len(a["bets"]) == len(b["bets"]) and all(
            {k: x.get(k) for k in shared} == {k: y.get(k) for k in shared}
            for x, y in zip(a["bets"], b["bets"], strict=True)
        )
        same = same_metrics and same_counts and same_bets
        added = sorted(
            (a["metrics"].keys() - b["metrics"].keys()) | (a["counts"].keys() - b["counts"].keys())
        )
        gone = sorted((b["metrics"].keys() - a["metrics"].keys()) | (b["counts"].keys() - a["counts"].keys()))
        print(
            f"results identical to today's: {'yes' if same else 'NO'} ({len(a['bets'])} bets "
            f"{'equal' if same_bets else 'DIFFERENT'} in the {len(shared)} fields both record, metrics both "
            f"compute {'equal' if same_metrics else 'DIFFERENT'}, counts {'equal' if same_counts else 'DIFFERENT'}; "
            f"only in the new: {', '.join(added) or 'none'}; bet fields only in the new: "
            f"{', '.join(sorted(new_cols - old_cols)) or 'none'}; only in today's: "
            f"{', '.join(gone + sorted(old_cols - new_cols)) or 'none'})"
        )

    if len(scales) > 1 or scales[0] != 1:
        _linearity(base, dates, scales, args.events, rounds=args.runs, out_dir=out_dir)
    if args.explain:
        asyncio.run(_explain(url, args.events, scales))
    print(f"\nmachine after: {_load_text()}")


if __name__ == "__main__":
    main()
