"""Writing odds: raw snapshots (`odds_snapshots`) and normalised prices (`odds`), in bulk and idempotently.

One call, one transaction: events are upserted (never erasing scores), snapshots inserted with
`ON CONFLICT DO NOTHING RETURNING id`, and the odds rows of the *new* snapshots only are `COPY`ed into
`odds`. Idempotency is enforced at the snapshot key: storing the same response twice creates no
snapshot, hence no odds rows; two concurrent writers of the same snapshot store it once (the second waits
on the unique key, then adds nothing; keys are written in sorted order, so writers queue instead of
deadlocking). `benchmarks/ingest.py` measured COPY-into-staging + `INSERT ... ON CONFLICT DO NOTHING` at
about a quarter of plain COPY's speed; this path runs at COPY speed. Data-quality findings are written in the same
transaction; with `reject_invalid=True` the invalid odds rows are dropped (the raw snapshot is kept).

    parsed = parse_odds_payload(payload, endpoint="/v4/sports/basketball_nba/odds")   # odds_analytics.oddsapi
    counts = await store_parsed_payload(parsed, source="live", snapshot_time=fetched_at)

Storage takes parsed, typed values: the raw response is parsed at the edge (`tasks.odds_ingest.store_odds_payload`
for a spooled response, `tasks.import_oddsapi` for a file).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.oddsapi import (
    EventPayload,
    OddsRow,
    ParsedOddsPayload,
    markets_key,
    odds_row_key,
)
from odds_analytics.tiers import TierSpec, hours_to_commence
from odds_analytics.validation import OddsFinding, rejected_event_findings, validate_event_odds
from odds_models.errors import PayloadError
from odds_models.odds_states import STATE_MARKETS
from tasks.storage.events import EventRecord, mark_odds_requested, upsert_events
from tasks.storage.fetch_logs import insert_fetch_logs
from tasks.storage.odds_copy import COPY_COLUMNS, COPY_HEADER, COPY_TRAILER, encode_row, snapshot_head
from tasks.storage.quality import insert_quality_rows, quality_rows

__all__ = [
    "SnapshotItem",
    "StoreCounts",
    "build_snapshot_items",
    "copy_odds_bulk",
    "json_text",
    "store_parsed_payload",
    "write_snapshots",
]

_ODDS_COLUMNS = (
    "snapshot_id", "event_id", "snapshot_time", "bookmaker", "market", "outcome", "description", "point",
    "price_decimal", "price_american", "bookmaker_last_update", "market_last_update", "is_valid", "notes",
)  # fmt: skip


@dataclass
class SnapshotItem:
    """One event's snapshot ready to write: identity, tier, raw bookmakers, rows and findings."""

    event: EventPayload
    source: str
    snapshot_time: datetime
    fetch_tier: str | None
    hours_to_commence: float
    raw: list[Any]
    rows: list[OddsRow]
    findings: list[OddsFinding] = field(default_factory=list)
    markets: str = ""  # the market part of the snapshot key (`markets_key(raw)`)
    # from the import's fast parser (`tasks.import_fast`), for an event with no finding: the odds rows as
    # binary COPY parts (`tasks.storage.odds_copy`) instead of `rows`, whether one is of a market
    # `odds_states` keeps, and `raw` already as JSON text with its length (`raw` itself is then left empty,
    # so that the parsed JSON is freed as soon as the file is parsed)
    copy_rows: list[bytes] | None = None
    featured: bool = False
    raw_json: str | None = None
    raw_count: int = 0

    @property
    def row_count(self) -> int:
        return len(self.copy_rows) if self.copy_rows is not None else len(self.rows)


@dataclass
class StoreCounts:
    """What a write added (new rows only: a repeat adds zeros)."""

    events_new: int = 0
    events_updated: int = 0
    snapshots: int = 0
    snapshots_existing: int = 0
    odds_rows: int = 0
    odds_rejected: int = 0
    odds_invalid: int = 0
    quality_issues: int = 0
    fetch_logs: int = 0

    def add(self, other: StoreCounts) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def build_snapshot_items(
    parsed: ParsedOddsPayload, *, source: str, snapshot_time: datetime | None, spec: TierSpec | None = None
) -> list[SnapshotItem]:
    """Pure: tier, hours to tip and validation findings per event of a parsed payload.

    `snapshot_time` defaults to the historical wrapper's `timestamp`, then to the latest `last_update` in
    the payload; a payload with neither (and no explicit time) raises PayloadError.
    """
    spec = spec or TierSpec()
    when = snapshot_time or parsed.timestamp or parsed.latest_update
    if when is None and any(e.rows for e in parsed.events):
        raise PayloadError("odds payload: no snapshot time (no timestamp and no last_update)")
    items = []
    for ev in parsed.events:
        at = when or ev.event.commence_time
        hours = hours_to_commence(ev.event.commence_time, at)
        index = spec.index(hours)
        items.append(
            SnapshotItem(
                event=ev.event, source=source, snapshot_time=at,
                fetch_tier=None if index is None else spec.names[index], hours_to_commence=round(hours, 4),
                raw=ev.bookmakers, rows=ev.rows, findings=validate_event_odds(ev, snapshot_time=at),
                markets=markets_key(ev.bookmakers),
            )
        )  # fmt: skip
    return items


def json_text(value: Any) -> str:
    """Compact JSON for a JSONB parameter: orjson (C), or the standard library for what orjson refuses."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, separators=(",", ":"))


async def _raw_connection(*, session: AsyncSession) -> Any:
    conn = await session.connection()
    # make sure SQLAlchemy has opened the transaction before the driver connection is used directly
    await conn.execute(text("SELECT 1"))
    raw = await conn.get_raw_connection()
    return raw.driver_connection


_STATE_MARKETS = frozenset(STATE_MARKETS)


async def copy_odds_bulk(
    apg: Any, records: Sequence[tuple[Any, ...]] | bytes, first: dict[str, datetime] | None = None
) -> int:
    """COPY `records` (rows of `_ODDS_COLUMNS`) into `odds` for snapshots created in this transaction.

    `records` may also be a whole binary COPY payload of `odds_copy.COPY_COLUMNS` (`tasks.storage.odds_copy`),
    with `first` the earliest snapshot time per event of its rows of the markets `odds_states` keeps.

    What the plain COPY's triggers do, done once per call: with `session_replication_role = replica` for the
    COPY alone (superuser, or PostgreSQL 15+ `GRANT SET ON PARAMETER`), PostgreSQL skips the per-row
    foreign-key check of `odds.snapshot_id` (each row an index probe through the trigger machinery: about
    4 s of the 10-14 s COPY of the three seasons, docs/ARCHITECTURE.md "Performance") and the `odds_states` statement trigger; this function then runs
    the trigger's own refresh, `odds_states_refresh`, for the same events from the same earliest featured
    time. The check it skips cannot fail: every snapshot id was returned by this transaction's insert, and
    no other transaction can see those snapshot rows before commit. Without the privilege (or when the
    session already runs as a replica, where the triggers would not fire either) it is the plain COPY.
    Returns the rows copied. The caller's transaction must be open (the settings are `SET LOCAL`).
    """
    columns = list(_ODDS_COLUMNS)
    role = await apg.fetchval("SELECT current_setting('session_replication_role')")
    skipped = False
    if role == "origin":
        await apg.execute("SAVEPOINT odds_bulk")
        try:
            await apg.execute("SET LOCAL session_replication_role = replica")
        except asyncpg.InsufficientPrivilegeError:
            await apg.execute("ROLLBACK TO SAVEPOINT odds_bulk")
        else:
            skipped = True
        await apg.execute("RELEASE SAVEPOINT odds_bulk")
    if isinstance(records, bytes):
        # a memoryview: asyncpg would take `bytes` for a file name
        status = await apg.copy_to_table("odds", source=memoryview(records), columns=list(COPY_COLUMNS),
                                         format="binary")  # fmt: skip
    else:
        status = await apg.copy_records_to_table("odds", records=records, columns=columns)
    if skipped:
        await apg.execute("SET LOCAL session_replication_role = origin")
        if first is None:
            first = {}
            for r in records:  # the trigger's refresh start: each event's earliest featured snapshot time
                if r[4] in _STATE_MARKETS and (r[1] not in first or r[2] < first[r[1]]):
                    first[r[1]] = r[2]
        if first:
            ids = sorted(first)
            await apg.fetchval("SELECT odds_states_refresh($1::text[], $2::timestamptz[])", ids,
                               [first[e] for e in ids])  # fmt: skip
    return int(status.split()[-1])


async def write_snapshots(
    *,
    session: AsyncSession,
    items: Sequence[SnapshotItem],
    reject_invalid: bool,
    events_origin: str = "oddsapi",
    bulk: bool = False,
) -> StoreCounts:
    """Write events, snapshots, odds rows and findings for `items` inside the caller's transaction.

    `bulk=True` (the file import) stores the odds rows with `copy_odds_bulk`: the same rows and the same
    `odds_states`, without the per-row foreign-key checks (see there), as one binary COPY
    (`tasks.storage.odds_copy`) that takes the fast parser's rows as they are. Items from the fast parser
    (`copy_rows` set) need `bulk=True`.
    """
    counts = StoreCounts()
    if not items:
        return counts
    if not bulk and any(it.copy_rows is not None for it in items):
        raise ValueError("write_snapshots: items with binary COPY rows (tasks.import_fast) need bulk=True")
    events = {
        it.event.id: EventRecord(
            id=it.event.id,
            home_team=it.event.home_team,
            away_team=it.event.away_team,
            commence_time=it.event.commence_time,
            sport_key=it.event.sport_key,
            origin=events_origin,
        )
        for it in items
    }
    upserted = await upsert_events(session=session, events=events.values())
    counts.events_new, counts.events_updated = upserted.inserted, upserted.updated

    # The snapshot key includes the markets: a featured and a props response of the same moment are two
    # snapshots. The same response twice (or twice in one batch) is one.
    by_key: dict[tuple[str, str, datetime, str], SnapshotItem] = {}
    for it in items:
        by_key.setdefault((it.event.id, it.source, it.snapshot_time, it.markets), it)
    ordered = [by_key[k] for k in sorted(by_key)]
    result = await session.execute(
        text(
            """
            INSERT INTO odds_snapshots (event_id, source, snapshot_time, markets, fetch_tier, hours_to_commence,
                                        bookmaker_count, raw, created_at)
            SELECT u.ev, u.src, u.ts, u.mk, u.tier, u.hrs, u.cnt, CAST(u.raw AS jsonb), now()
            FROM unnest(CAST(:ev AS text[]), CAST(:src AS text[]), CAST(:ts AS timestamptz[]),
                        CAST(:mk AS text[]), CAST(:tier AS text[]), CAST(:hrs AS float8[]), CAST(:cnt AS int[]),
                        CAST(:raw AS text[])) AS u(ev, src, ts, mk, tier, hrs, cnt, raw)
            ORDER BY u.ev, u.src, u.ts, u.mk
            ON CONFLICT ON CONSTRAINT uq_odds_snapshots_event_source_time_markets DO NOTHING
            RETURNING id, event_id, source, snapshot_time, markets
            """
        ),
        {
            "ev": [it.event.id for it in ordered],
            "src": [it.source for it in ordered],
            "ts": [it.snapshot_time for it in ordered],
            "mk": [it.markets for it in ordered],
            "tier": [it.fetch_tier for it in ordered],
            "hrs": [it.hours_to_commence for it in ordered],
            "cnt": [len(it.raw) if it.raw_json is None else it.raw_count for it in ordered],
            "raw": [json_text(it.raw) if it.raw_json is None else it.raw_json for it in ordered],
        },
    )
    new_ids = {(r.event_id, r.source, r.snapshot_time, r.markets): r.id for r in result}
    counts.snapshots = len(new_ids)
    counts.snapshots_existing = len(ordered) - len(new_ids)

    records: list[tuple[Any, ...]] = []
    findings_rows = []
    first: dict[str, datetime] = {}  # bulk: each event's earliest snapshot time with featured rows
    binary: list[bytes] = []  # bulk: the rows as one binary COPY payload (`tasks.storage.odds_copy`)
    binary_rows = 0
    for key, it in by_key.items():
        snapshot_id = new_ids.get(key)
        if snapshot_id is None:
            continue  # already stored (same response twice, or a concurrent writer won): nothing to add
        if it.copy_rows is not None:  # no findings: every row valid, nothing rejected
            if it.copy_rows:
                head = snapshot_head(snapshot_id, it.event.id, it.snapshot_time)
                binary.append(head)
                binary.append(head.join(it.copy_rows))
                binary_rows += len(it.copy_rows)
                if it.featured:
                    first_at = first.get(it.event.id)
                    if first_at is None or it.snapshot_time < first_at:
                        first[it.event.id] = it.snapshot_time
            continue
        invalid: dict[tuple[str, str, str, str, float | None], list[str]] = {}
        for f in it.findings:
            for row_key in f.rows:
                invalid.setdefault(row_key, []).append(f.check_type)
        if not invalid:  # the common case: every row valid, no per-row key
            at = it.snapshot_time
            records.extend(
                (snapshot_id, row.event_id, at, row.bookmaker, row.market, row.outcome, row.description, row.point,
                 row.price_decimal, row.price_american, row.bookmaker_last_update, row.market_last_update, True,
                 None)
                for row in it.rows
            )  # fmt: skip
        for row in it.rows if invalid else ():
            problems = invalid.get(odds_row_key(row))
            if problems and reject_invalid:
                counts.odds_rejected += 1
                continue
            if problems:
                counts.odds_invalid += 1
            records.append((
                snapshot_id, row.event_id, it.snapshot_time, row.bookmaker, row.market, row.outcome,
                row.description, row.point, row.price_decimal, row.price_american, row.bookmaker_last_update,
                row.market_last_update, not problems, ",".join(sorted(set(problems))) if problems else None,
            ))  # fmt: skip
        findings_rows.extend(quality_rows(it.findings, source=it.source, snapshot_time=it.snapshot_time,
                                          reject_invalid=reject_invalid))  # fmt: skip
        if bulk:  # the general rows encoded one by one, in their place (the ids follow the COPY's order)
            for r in records:
                binary.append(encode_row(r))
                if r[4] in _STATE_MARKETS and (r[1] not in first or r[2] < first[r[1]]):
                    first[r[1]] = r[2]
            binary_rows += len(records)
            records.clear()
    # These rows belong only to snapshots this transaction has just created (fresh ids; a concurrent
    # writer of the same snapshot waits on its unique key and then adds nothing), and the parser has
    # removed duplicates within a snapshot: they cannot conflict, so they go straight in with COPY.
    # The unique key on `odds` stays as the safety net (a violation aborts the whole transaction).
    if binary:  # bulk: one binary COPY of every row
        payload = b"".join((COPY_HEADER, *binary, COPY_TRAILER))
        apg = await _raw_connection(session=session)
        counts.odds_rows = await copy_odds_bulk(apg, payload, first)
        if counts.odds_rows != binary_rows:
            raise RuntimeError(f"odds COPY stored {counts.odds_rows} rows of {binary_rows}")
    elif records:
        apg = await _raw_connection(session=session)
        status = await apg.copy_records_to_table("odds", records=records, columns=list(_ODDS_COLUMNS))
        counts.odds_rows = int(status.split()[-1])
    counts.quality_issues = await insert_quality_rows(session=session, rows=findings_rows)
    return counts


async def store_parsed_payload(
    parsed: ParsedOddsPayload,
    *,
    source: str,
    snapshot_time: datetime | None = None,
    reject_invalid: bool | None = None,
    fetch_logs: Sequence[Mapping[str, Any]] = (),
    spec: TierSpec | None = None,
    requested_event_ids: Sequence[str] = (),
    requested_at: datetime | None = None,
) -> StoreCounts:
    """Write a parsed payload (and the fetch_logs of the calls that produced it) in one transaction.

    Events the parser left out (`parsed.rejected`) become `malformed_event` findings. `requested_event_ids`
    (the games a live /odds call could have returned) get `odds_requested_at = requested_at`.
    """
    from odds_models.db import async_session_maker
    from odds_models.settings import get_settings

    settings = get_settings()
    reject = settings.reject_invalid_odds if reject_invalid is None else reject_invalid
    items = build_snapshot_items(parsed, source=source, snapshot_time=snapshot_time,
                                 spec=spec or TierSpec.from_settings(settings))  # fmt: skip
    when = snapshot_time or parsed.timestamp or parsed.latest_update
    async with async_session_maker() as session:
        if requested_event_ids and requested_at is not None:
            # first, locking the response's games too: every game row of this transaction in one id order
            await mark_odds_requested(session=session, event_ids=requested_event_ids, at=requested_at,
                                      lock_also=[it.event.id for it in items])  # fmt: skip
        counts = await write_snapshots(session=session, items=items, reject_invalid=reject)
        if parsed.rejected:
            rows = quality_rows(rejected_event_findings(parsed.rejected), source=source, snapshot_time=when,
                                reject_invalid=reject)  # fmt: skip
            counts.quality_issues += await insert_quality_rows(session=session, rows=rows)
        if fetch_logs:
            counts.fetch_logs = await insert_fetch_logs(session=session, records=fetch_logs)
        await session.commit()
    return counts
