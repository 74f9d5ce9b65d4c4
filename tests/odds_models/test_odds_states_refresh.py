"""`odds_states_refresh` (revision 0008) keeps `odds_states` exactly what its definition says, whatever the writes.

The definition, computed here in Python from the stored rows: per event, a state at every snapshot time T that
has featured rows; it holds, for each (market, bookmaker) of the featured markets, the rows of that
combination at its greatest snapshot time <= T (every source stored at that instant, invalid rows included),
sorted by (market, bookmaker, outcome, description, snapshot_id DESC, point). Generated books (several sources
at one instant, books and markets missing from snapshots, invalid rows, player props, snapshots holding props
only) are written in random orders and batches (older snapshots after newer ones) through every writer: a COPY
and row-by-row INSERTs firing the statement triggers, and `copy_odds_bulk` (the file import: triggers off, one
refresh call); then updated, deleted (rows, and whole snapshots through the foreign key's cascade), truncated.
After every step the table must equal the definition, and at the end revision 0007's function (the round-by-
round rebuild, kept in migration 0008 for the downgrade) must rebuild the very same rows. Two writers of one
event in two transactions queue on the advisory lock and leave it exact too.
"""

from __future__ import annotations

import asyncio
import importlib.util
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from odds_models.odds_states import STATE_MARKETS
from tasks.storage.odds import _ODDS_COLUMNS, copy_odds_bulk

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2031, 3, 1, tzinfo=UTC)
BOOKS = ("bk0", "bk1", "bk2", "bk3")
SOURCES = ("historical", "live")
_ARRAYS = ("markets", "bookmakers", "outcomes", "descriptions", "points", "prices", "prices_american", "valid",
           "snapshot_times", "snapshot_ids")  # fmt: skip


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _old_function() -> str:
    """Revision 0007's `odds_states_refresh`, created as `odds_states_refresh_0007`."""
    path = next((ROOT / "migrations" / "versions").glob("*_0008_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0008", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.REFRESH_FUNCTION_0007.replace(
        "FUNCTION odds_states_refresh(", "FUNCTION odds_states_refresh_0007("
    )


def _book(rng: random.Random, events: list[str]) -> list[dict[str, Any]]:
    """Snapshots with their rows: (event, source, time, rows), times on a coarse grid so sources coincide."""
    snapshots = []
    for i, event in enumerate(events):
        # the first event: one instant, both sources (a new game's first write: one snapshot time to build)
        hours = [5] if i == 0 else sorted(rng.sample(range(12), rng.randint(1, 7)))
        for hour in hours:
            for source in SOURCES if i == 0 else rng.sample(SOURCES, rng.choice((1, 1, 2))):
                rows = []
                props_only = i > 0 and rng.random() < 0.1
                for book in BOOKS:
                    if rng.random() < 0.3:
                        continue  # the book is missing from this snapshot
                    for market in ("player_points",) if props_only else (*STATE_MARKETS, "player_points"):
                        if rng.random() < 0.25:
                            continue  # the market is missing
                        point = {"h2h": None, "spreads": rng.choice((-3.5, -2.5)), "totals": 210.5}.get(
                            market, 20.5
                        )
                        sides = (
                            ("over", "under") if market in ("totals", "player_points") else ("away", "home")
                        )
                        description = (
                            "p01" if market == "player_points" else ("x" if rng.random() < 0.05 else "")
                        )
                        for side in sides:
                            price = round(rng.uniform(1.5, 2.6), 3)
                            rows.append((book, market, side, description, point, price, rng.choice((None, -110)),
                                         rng.random() > 0.1))  # fmt: skip
                snapshots.append(
                    {"event": event, "source": source, "time": T0 + timedelta(hours=hour), "rows": rows}
                )
    return snapshots


async def _insert_snapshots(conn: asyncpg.Connection, batch: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The batch's snapshot rows; returns its odds rows in `_ODDS_COLUMNS` order."""
    records = []
    for snap in batch:
        snapshot_id = await conn.fetchval(
            "INSERT INTO odds_snapshots (event_id, source, snapshot_time, markets, bookmaker_count, raw) "
            "VALUES ($1, $2, $3, '', 0, '[]'::jsonb) RETURNING id",
            snap["event"], snap["source"], snap["time"],
        )  # fmt: skip
        for book, market, side, description, point, price, american, valid in snap["rows"]:
            row = {"snapshot_id": snapshot_id, "event_id": snap["event"], "snapshot_time": snap["time"],
                   "bookmaker": book, "market": market, "outcome": side, "description": description, "point": point,
                   "price_decimal": price, "price_american": american, "is_valid": valid}  # fmt: skip
            records.append(tuple(row.get(c) for c in _ODDS_COLUMNS))
    return records


async def _write(conn: asyncpg.Connection, batch: list[dict[str, Any]], how: str) -> None:
    async with conn.transaction():
        records = await _insert_snapshots(conn, batch)
        if not records:
            return
        if how == "copy":  # one COPY statement: the insert trigger once
            await conn.copy_records_to_table("odds", records=records, columns=list(_ODDS_COLUMNS))
        elif how == "insert":  # one statement per row: the trigger per row
            columns = ", ".join(_ODDS_COLUMNS)
            values = ", ".join(f"${i + 1}" for i in range(len(_ODDS_COLUMNS)))
            await conn.executemany(f"INSERT INTO odds ({columns}) VALUES ({values})", records)
        else:  # the file import's path: triggers off for the COPY, one refresh call
            await copy_odds_bulk(conn, records)


def _expected(rows: list[asyncpg.Record]) -> list[tuple[Any, ...]]:
    """The definition, from (event, the snapshot's time, element columns) of every featured row."""
    by_event: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        by_event[r["event_id"]].append(r)
    states = []
    for event in sorted(by_event):
        event_rows = by_event[event]
        for t in sorted({r["st"] for r in event_rows}):
            newest: dict[tuple[str, str], datetime] = {}
            for r in event_rows:
                key = (r["market"], r["bookmaker"])
                if r["st"] <= t and (key not in newest or r["st"] > newest[key]):
                    newest[key] = r["st"]
            elements = [r for r in event_rows if newest.get((r["market"], r["bookmaker"])) == r["st"]]
            elements.sort(key=lambda r: (r["market"], r["bookmaker"], r["outcome"], r["description"],
                                         -r["snapshot_id"], r["point"] is None, r["point"] or 0.0))  # fmt: skip
            columns = ("market", "bookmaker", "outcome", "description", "point", "price_decimal", "price_american",
                       "is_valid", "snapshot_time", "snapshot_id")  # fmt: skip
            states.append((event, t, *([r[c] for r in elements] for c in columns)))
    return states


async def _stored(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch(
        f"SELECT event_id, snapshot_time, {', '.join(_ARRAYS)} FROM odds_states ORDER BY event_id, snapshot_time"
    )
    return [(r[0], r[1], *(list(r[a]) for a in _ARRAYS)) for r in rows]


async def _assert_exact(conn: asyncpg.Connection, step: str) -> None:
    rows = await conn.fetch(
        "SELECT sn.event_id, sn.snapshot_time AS st, o.market, o.bookmaker, o.outcome, o.description, o.point, "
        "o.price_decimal, o.price_american, o.is_valid, o.snapshot_time, o.snapshot_id "
        "FROM odds AS o JOIN odds_snapshots AS sn ON sn.id = o.snapshot_id WHERE o.market = ANY($1::text[])",
        list(STATE_MARKETS),
    )
    expected, stored = _expected(rows), await _stored(conn)
    assert [s[:2] for s in stored] == [s[:2] for s in expected], step  # the same states (event, time)
    assert stored == expected, step


async def _events(conn: asyncpg.Connection, events: list[str]) -> None:
    await conn.executemany(
        "INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, origin) "
        "VALUES ($1, 'basketball_nba', 'H', 'A', $2, 'scheduled', 'test')",
        [(e, T0 + timedelta(days=1)) for e in events],
    )


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_states_equal_the_definition_for_every_write_order(db: str, seed: int) -> None:
    rng = random.Random(seed)
    events = [f"ev{seed}{i:02d}" for i in range(6)]
    conn = await asyncpg.connect(_dsn(db))
    try:
        await _events(conn, events)
        snapshots = _book(rng, events)
        rng.shuffle(snapshots)  # older snapshots after newer ones, sources of one instant apart
        while snapshots:
            size = rng.randint(1, 8)
            batch, snapshots = snapshots[:size], snapshots[size:]
            how = rng.choice(("copy", "insert", "bulk"))
            await _write(conn, batch, how)
            await _assert_exact(conn, f"write ({how})")
        # updates: prices and validity, a row moved out of the featured markets, one into them
        await conn.execute("UPDATE odds SET price_decimal = price_decimal + 0.01, is_valid = NOT is_valid "
                           "WHERE id % 7 = 3")  # fmt: skip
        await _assert_exact(conn, "update prices")
        await conn.execute("UPDATE odds SET market = 'alt_h2h' WHERE market = 'h2h' AND id % 5 = 1")
        await _assert_exact(conn, "update market out")
        await conn.execute("UPDATE odds SET market = 'h2h' WHERE market = 'alt_h2h' AND id % 2 = 0")
        await _assert_exact(conn, "update market in")
        # deletes: rows (a whole book of some snapshots), then whole snapshots through the cascade
        await conn.execute("DELETE FROM odds WHERE bookmaker = 'bk1' AND snapshot_id % 3 = 0")
        await _assert_exact(conn, "delete rows")
        await conn.execute("DELETE FROM odds_snapshots WHERE id IN (SELECT id FROM odds_snapshots ORDER BY "
                           "snapshot_time, id LIMIT 3)")  # fmt: skip
        await _assert_exact(conn, "delete snapshots (cascade)")
        # revision 0007's function rebuilds the very same rows from scratch
        expected = await _stored(conn)
        await conn.execute(_old_function())
        rebuild = conn.transaction()
        await rebuild.start()
        await conn.execute("DELETE FROM odds_states")
        await conn.execute("SELECT odds_states_refresh_0007(array_agg(id), array_fill("
                           "'-infinity'::timestamptz, ARRAY[count(*)::int])) FROM events")  # fmt: skip
        rebuilt = await _stored(conn)
        await rebuild.rollback()
        assert rebuilt == expected
        assert await _stored(conn) == expected
        await conn.execute("TRUNCATE odds")
        assert await _stored(conn) == []
    finally:
        await conn.execute("DROP FUNCTION IF EXISTS odds_states_refresh_0007(text[], timestamptz[])")
        await conn.close()


async def test_two_writers_of_one_event_queue_and_leave_it_exact(db: str) -> None:
    """A writer holds the event's lock (its trigger ran, not committed); a second one writes an older snapshot
    of the same event, waits on the lock, then rebuilds on top of the first one's committed rows."""
    rng = random.Random(7)
    first = await asyncpg.connect(_dsn(db))
    second = await asyncpg.connect(_dsn(db))
    try:
        await _events(first, ["evc"])
        snaps = [s for s in _book(rng, ["evc"]) if any(r[1] in STATE_MARKETS for r in s["rows"])]
        await _write(first, snaps[:1], "copy")
        late = {**snaps[0], "time": T0 + timedelta(hours=20), "source": "live"}
        early = {**snaps[0], "time": T0 - timedelta(hours=5), "source": "live"}
        tx = first.transaction()
        await tx.start()
        await first.copy_records_to_table("odds", records=await _insert_snapshots(first, [late]),
                                          columns=list(_ODDS_COLUMNS))  # fmt: skip
        waiter = asyncio.create_task(_write(second, [early], "bulk"))
        for _ in range(200):  # until the second writer waits on the advisory lock
            waiting = await first.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            )
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting, "the second writer did not queue on the event's lock"
        await tx.commit()
        await asyncio.wait_for(waiter, 30)
        await _assert_exact(first, "two writers")
        assert len(await _stored(first)) == 3  # early, the first snapshot's time, late
    finally:
        await first.close()
        await second.close()
