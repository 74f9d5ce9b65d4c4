"""`odds_states_refresh`'s plans: linear in a call's width whatever the planner or the plan cache chooses (issue 17).

Before revision 0008 the refresh rebuilt states round by round, and its `kept` step joined the round's events
with their fresh rows: a cached generic plan (10 events assumed) or custom plans made after TRUNCATE + ANALYZE of
the empty tables could run it as a nested loop, quadratic in the round's width. Revision 0008 builds every
state of a call with LATERAL index probes (forced nested loops driven by the call's events) and sorts, window
functions and aggregations over the rows read: no join between two computed sets. These tests run, on one
long-lived connection, the sequence that produced the bad plans (a wide write, TRUNCATE, ANALYZE of the empty
tables, then wide writes: new events, a backfill older than their stored states, newer snapshots on top of
them) and read every refresh statement's plan through auto_explain: with the function's custom plans each
statement is planned for the call's own events, and with custom or forced generic plans no statement has a
join other than such probes, and no node handles more rows than a small multiple of the rows written.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from odds_models.odds_states import FUNCTION_SETTINGS

pytestmark = pytest.mark.db

T0 = datetime(2030, 1, 1, tzinfo=UTC)
EVENTS = 40  # per call: not the generic plan's assumed 10, and wide enough for a quadratic step to show
SNAPSHOTS = 7  # times per event and write: more than the five custom plans before a generic one
BOOKS = 4
_FUNCTION = "odds_states_refresh(text[], timestamptz[])"


def _is_refresh(text: str) -> bool:
    """A statement of the refresh (or the trigger's call of it): it reads the call's arrays or odds_states."""
    text = text.partition("Query Text:")[2] or text
    return not text.lstrip(' "').startswith(("INSERT INTO events", "INSERT INTO odds_snapshots")) and (
        "odds_states" in text or "unnest(" in text
    )


# a join that is not an index probe or a function of the outer row, or a node that buffers an inner side
# auto_explain's line for the call's events: `Function Scan on u  (cost=... rows=40 width=48)`
_CALL_ROWS = re.compile(r"Function Scan on [au]\s+\(cost=\S+ rows=(\d+) ")
_BAD_NODES = {"Hash Join", "Merge Join", "Materialize", "CTE Scan", "Hash", "Seq Scan"}


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _events(conn: asyncpg.Connection, tag: str) -> list[str]:
    ids = [f"{tag}-{i:02d}" for i in range(EVENTS)]
    await conn.executemany(
        "INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, origin) "
        "VALUES ($1, 'basketball_nba', 'H', 'A', $2, 'scheduled', 'test')",
        [(e, T0 + timedelta(days=2)) for e in ids],
    )
    return ids


async def _write(conn: asyncpg.Connection, ids: list[str], first_hour: int) -> int:
    """SNAPSHOTS snapshot times from `first_hour` x BOOKS books (one book absent per snapshot: its previous
    quote is kept in the state) for every event, in one COPY (one refresh call). Returns the rows written."""
    async with conn.transaction():
        snapshots = await conn.fetch(
            "INSERT INTO odds_snapshots (event_id, source, snapshot_time, markets, bookmaker_count, raw) "
            "SELECT e, 'live', $2::timestamptz + j * interval '1 hour', 'h2h', $3, '[]'::jsonb "
            "FROM unnest($1::text[]) AS e, generate_series($4::int, $4::int + $5 - 1) AS j "
            "RETURNING id, event_id, snapshot_time",
            ids, T0, BOOKS, first_hour, SNAPSHOTS,
        )  # fmt: skip
        rows = [
            (s["id"], s["event_id"], s["snapshot_time"], f"book{b}", "h2h", side, "", 1.9, True)
            for j, s in enumerate(snapshots)
            for b in range(BOOKS)
            if b != j % BOOKS
            for side in ("A", "B")
        ]
        await conn.copy_records_to_table(
            "odds",
            records=rows,
            columns=["snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "description",
                     "price_decimal", "is_valid"],
        )  # fmt: skip
    return len(rows)


async def _plans(url: str, log_format: str = "text") -> tuple[list[str], int]:
    """On one connection: a wide write, TRUNCATE and ANALYZE (empty tables), then three wide writes of new
    events (new, a backfill older than their states, newer on top of them); the plans of every refresh
    statement of the last three (auto_explain, with actual rows), and the rows written by the largest write."""
    conn = await asyncpg.connect(_dsn(url))
    notices: list[str] = []
    try:
        await _write(conn, await _events(conn, "a"), 0)
        await conn.execute("TRUNCATE odds, odds_snapshots, events CASCADE")
        await conn.execute("ANALYZE odds, odds_states, odds_snapshots, events")
        await conn.execute("LOAD 'auto_explain'")
        for setting in ("auto_explain.log_min_duration = 0", "auto_explain.log_nested_statements = on",
                        "auto_explain.log_analyze = on", "auto_explain.log_timing = off",
                        f"auto_explain.log_format = {log_format}",
                        "auto_explain.log_level = notice", "client_min_messages = notice"):  # fmt: skip
            await conn.execute(f"SET {setting}")
        conn.add_log_listener(lambda _conn, message: notices.append(message.message))
        ids = await _events(conn, "b")
        written = max([await _write(conn, ids, 10), await _write(conn, ids, 0), await _write(conn, ids, 20)])
    finally:
        await conn.close()
    return [n for n in notices if _is_refresh(n)], written


def _walk(node: dict) -> list[dict]:
    return [node, *(n for child in node.get("Plans", []) for n in _walk(child))]


def _check_shape(notices: list[str], written: int) -> int:
    """Every refresh statement's plan: no join but LATERAL probes, no node over 4x the rows written."""
    checked = 0
    for note in notices:
        doc = json.loads(note[note.index("{") :])
        checked += 1
        for node in _walk(doc["Plan"]):
            kind = node["Node Type"]
            assert kind not in _BAD_NODES, (kind, doc)
            if kind == "Nested Loop":
                assert "Join Filter" not in node, doc  # pairs tested one by one: a quadratic join
            rows = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
            assert rows <= 4 * written, (kind, rows, written)
    return checked


async def test_the_refresh_function_forces_custom_plans(db: str) -> None:
    conn = await asyncpg.connect(_dsn(db))
    try:
        config = await conn.fetchval(f"SELECT proconfig FROM pg_proc WHERE oid = '{_FUNCTION}'::regprocedure")
    finally:
        await conn.close()
    assert config == FUNCTION_SETTINGS


async def test_every_statement_is_planned_for_its_own_events_on_a_long_lived_connection(db: str) -> None:
    notices, _ = await _plans(db)
    estimates = [int(m.group(1)) for n in notices for m in _CALL_ROWS.finditer(n)]
    assert len(estimates) >= 3 * 3  # the events' list in several statements of each of the three calls
    assert set(estimates) == {EVENTS}


@pytest.mark.parametrize("mode", ["force_custom_plan", "force_generic_plan"])
async def test_no_plan_of_the_refresh_joins_computed_sets_or_grows_with_the_width(db: str, mode: str) -> None:
    """Whatever the plan cache keeps (custom plans, or the generic plan that assumes 10 events per call) and
    right after TRUNCATE + ANALYZE of the empty tables: only LATERAL probes, node sizes linear in the rows."""
    admin = await asyncpg.connect(_dsn(db))
    try:
        await admin.execute(f"ALTER FUNCTION {_FUNCTION} SET plan_cache_mode = {mode}")
        notices, written = await _plans(db, "json")
    finally:
        await admin.execute(f"ALTER FUNCTION {_FUNCTION} SET plan_cache_mode = force_custom_plan")
        await admin.close()
    assert _check_shape(notices, written) >= 3 * 3
