"""`odds_states_refresh` plans every statement for its own arguments (issue 17, the import stalls).

PL/pgSQL caches its statements' plans per connection; after five executions it may keep a generic plan, which
assumes 10 events per round whatever the arrays hold and, built while `odds_states` is empty, probes it by
sequential scan: a refresh quadratic in the round's width for the connection's life. The function carries
`plan_cache_mode = force_custom_plan`; these tests show it is there and that, on one long-lived connection, the
sequence that produced the generic plan (a wide write, TRUNCATE, ANALYZE of the empty tables, a wide write)
now plans each round for its own events, while the same sequence without the setting does not.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from odds_models.odds_states import PLAN_CACHE_SETTING

pytestmark = pytest.mark.db

T0 = datetime(2030, 1, 1, tzinfo=UTC)
EVENTS = 12  # per round: not the generic plan's assumed 10
SNAPSHOTS = 7  # rounds per refresh: more than the five custom plans before a generic one
BOOKS = 4
_FUNCTION = "odds_states_refresh(text[], timestamptz[])"
# auto_explain's line for the round's events: `Function Scan on x_1  (cost=... rows=12 width=40)`
_TODO_ROWS = re.compile(r"Function Scan on x\w*\s+\(cost=\S+ rows=(\d+) ")


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _write(conn: asyncpg.Connection, tag: str) -> None:
    """EVENTS events x SNAPSHOTS snapshot times x BOOKS books (one book absent per snapshot), one COPY."""
    ids = [f"{tag}-{i:02d}" for i in range(EVENTS)]
    async with conn.transaction():
        await conn.executemany(
            "INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, origin) "
            "VALUES ($1, 'basketball_nba', 'H', 'A', $2, 'scheduled', 'test')",
            [(e, T0 + timedelta(days=2)) for e in ids],
        )
        snapshots = await conn.fetch(
            "INSERT INTO odds_snapshots (event_id, source, snapshot_time, markets, bookmaker_count, raw) "
            "SELECT e, 'live', $2::timestamptz + j * interval '1 hour', 'h2h', $3, '[]'::jsonb "
            "FROM unnest($1::text[]) AS e, generate_series(0, $4 - 1) AS j RETURNING id, event_id, snapshot_time",
            ids, T0, BOOKS, SNAPSHOTS,
        )  # fmt: skip
        rows = [
            (s["id"], s["event_id"], s["snapshot_time"], f"book{b}", "h2h", side, "", 1.9, True)
            for j, s in enumerate(snapshots)
            for b in range(BOOKS)
            if b != j % BOOKS  # the absent book's previous quote is carried into the state
            for side in ("A", "B")
        ]
        await conn.copy_records_to_table(
            "odds",
            records=rows,
            columns=["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "description",
                     "price_decimal", "is_valid"],
        )  # fmt: skip


async def _round_estimates(url: str) -> list[int]:
    """On one connection: a wide write, TRUNCATE and ANALYZE (empty tables), a wide write; the planner's
    estimate of each round's events in the second write's refresh (the triggers' call), one per round."""
    conn = await asyncpg.connect(_dsn(url))
    notices: list[str] = []
    try:
        await _write(conn, "a")
        await conn.execute("TRUNCATE odds, odds_snapshots, events CASCADE")
        await conn.execute("ANALYZE odds, odds_states, odds_snapshots, events")
        await conn.execute("LOAD 'auto_explain'")
        for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                        "auto_explain.log_level = notice", "client_min_messages = notice"):  # fmt: skip
            await conn.execute(f"SET {setting}")
        conn.add_log_listener(lambda _conn, message: notices.append(message.message))
        await _write(conn, "b")
    finally:
        await conn.close()
    rounds = [n for n in notices if "Query Text: WITH todo AS" in n]
    assert len(rounds) == SNAPSHOTS  # one execution of the round's statement per snapshot time
    return [int(m.group(1)) for n in rounds if (m := _TODO_ROWS.search(n))]


async def test_the_refresh_function_forces_custom_plans(db: str) -> None:
    conn = await asyncpg.connect(_dsn(db))
    try:
        config = await conn.fetchval(f"SELECT proconfig FROM pg_proc WHERE oid = '{_FUNCTION}'::regprocedure")
    finally:
        await conn.close()
    assert config == [PLAN_CACHE_SETTING]


async def test_every_round_is_planned_for_its_own_events_on_a_long_lived_connection(db: str) -> None:
    estimates = await _round_estimates(db)
    assert estimates == [EVENTS] * SNAPSHOTS


async def test_without_the_setting_the_same_sequence_keeps_a_generic_plan(db: str) -> None:
    """The control: the sequence above does reach a generic plan without the setting (on PostgreSQL 15, every
    round of the second write: the generic plan chosen in the first write is rebuilt after the TRUNCATE, for
    the empty tables)."""
    admin = await asyncpg.connect(_dsn(db))
    try:
        await admin.execute(f"ALTER FUNCTION {_FUNCTION} RESET plan_cache_mode")
        estimates = await _round_estimates(db)
    finally:
        await admin.execute(f"ALTER FUNCTION {_FUNCTION} SET plan_cache_mode = force_custom_plan")
        await admin.close()
    assert len(estimates) == SNAPSHOTS
    assert any(n != EVENTS for n in estimates)  # the generic plan's guess (10 on PostgreSQL 15-16), kept
