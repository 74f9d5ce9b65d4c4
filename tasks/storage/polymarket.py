"""Polymarket storage: idempotent writes and the reads the flows and the CLI need.

Every writer is a plain `async def` taking a session (tests call them directly); the Prefect tasks in
`tasks/polymarket.py` open `async_session_maker()` and call them. Each write is one `INSERT … ON CONFLICT`
statement (values bound), rows sorted by their unique key so two concurrent writers take row locks in the
same order and cannot deadlock:

| table | key | on conflict |
|---|---|---|
| polymarket_events | id | update metadata (never the link) |
| polymarket_markets | id | update metadata and classification |
| polymarket_price_snapshots | (token_id, source, snapshot_time) | nothing |
| polymarket_orderbook_snapshots | (token_id, snapshot_time) | nothing |
| polymarket_backfill_watermarks | token_id | widen the covered range |
| data_quality_logs | fingerprint | nothing |

A history window's points and its watermark are written in the same transaction, so a crash leaves
either both or neither: a rerun resumes at the watermark with no gap and no duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, Float, and_, bindparam, case, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.execution import GammaFees
from odds_analytics.linking import Candidate, LinkResult
from odds_analytics.polymarket import Finding, HistoryPoint, OrderBook, ParsedEvent, ParsedMarket, TokenQuote
from odds_models.tables import (
    Event,
    PolymarketBackfillWatermark,
    PolymarketEvent,
    PolymarketMarket,
    PolymarketOrderbookSnapshot,
    PolymarketPriceSnapshot,
)
from tasks.http import CallRecord

__all__ = [
    "BackfillTarget",
    "LinkInput",
    "PollTarget",
    "Watermark",
    "insert_fetch_logs",
    "insert_findings",
    "insert_orderbooks",
    "insert_price_history",
    "insert_quotes",
    "read_backfill_targets",
    "read_candidates",
    "read_last_backfill_success",
    "read_link_inputs",
    "read_markets",
    "read_moneyline_tokens",
    "read_poll_targets",
    "read_watermarks",
    "record_backfill_error",
    "set_links",
    "store_history_window",
    "upsert_events",
    "upsert_markets",
]

log = logging.getLogger(__name__)

_CHUNK = 1000  # rows per statement: well under asyncpg's 32,767 bound parameters


def _scrub(value: Any) -> Any:
    """Drop NUL characters, which PostgreSQL text and JSONB cannot store (seen only in hostile input)."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _chunks(rows: Sequence[dict[str, Any]], size: int = _CHUNK) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


# --------------------------------------------------------------------------------------------------------
# Events and markets
# --------------------------------------------------------------------------------------------------------


def _event_row(event: ParsedEvent, at: datetime) -> dict[str, Any]:
    return {
        "id": event.id,
        "slug": event.slug,
        "ticker": event.ticker,
        "title": event.title,
        "series_id": event.series_id,
        "event_date": event.event_date,
        "start_time": event.start_time,
        "game_start_time": event.game_start_time,
        "away_team": event.away_team,
        "home_team": event.home_team,
        "active": event.active,
        "closed": event.closed,
        "ended": event.ended,
        "score": event.score,
        "raw": event.raw,
        "updated_at": at,
    }


async def upsert_events(session: AsyncSession, events: Sequence[ParsedEvent], *, at: datetime) -> int:
    """Insert or refresh events (and their nested markets). The link columns are never overwritten."""
    # a slug already held by another event id (Gamma re-created a game) would break the unique slug: skip it
    owners = await _owners(session, PolymarketEvent, "slug", [e.slug for e in events])
    unique: dict[str, ParsedEvent] = {}
    slugs: set[str] = set()
    for event in events:  # one event per id and per slug within the batch (first wins)
        if owners.get(event.slug, event.id) != event.id:
            log.warning("polymarket event %s skipped: its slug belongs to another stored event", event.id)
        elif event.id in unique or event.slug not in slugs:
            unique[event.id] = event
            slugs.add(event.slug)
    rows = [_scrub(_event_row(unique[k], at)) for k in sorted(unique)]
    if not rows:
        return 0
    table = PolymarketEvent.__table__
    for chunk in _chunks(rows, 500):
        stmt = insert(table).values(list(chunk))
        keep = {c: stmt.excluded[c] for c in chunk[0] if c != "id"}
        await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=keep))
    markets = [m for e in unique.values() for m in e.markets]
    await upsert_markets(session, markets, at=at)
    return len(rows)


async def _owners(session: AsyncSession, model: Any, column: str, values: Sequence[str]) -> dict[str, str]:
    """Stored id of each given value of a unique column (values not stored are absent)."""
    if not values:
        return {}
    col = getattr(model, column)
    result = await session.execute(select(col, model.id).where(col.in_(sorted(set(values)))))
    return {str(value): str(stored_id) for value, stored_id in result.all()}


def _market_row(market: ParsedMarket, at: datetime) -> dict[str, Any]:
    c = market.classification
    return {
        "id": market.id,
        "polymarket_event_id": market.polymarket_event_id,
        "condition_id": market.condition_id,
        "slug": market.slug,
        "question": market.question,
        "market_type": c.market_type,
        "period": c.period,
        "team": c.team,
        "line": c.line,
        "player": c.player,
        "stat": c.stat,
        "sports_market_type": market.sports_market_type,
        "outcomes": market.outcomes,
        "token_ids": market.token_ids,
        "game_start_time": market.game_start_time,
        "end_date": market.end_date,
        "active": market.active,
        "closed": market.closed,
        "resolved_outcome": market.resolved_outcome,
        "raw": market.raw,
        "updated_at": at,
        **(market.fees or GammaFees()).columns(),  # fee terms as Gamma states them (migration 0006)
    }


async def upsert_markets(session: AsyncSession, markets: Sequence[ParsedMarket], *, at: datetime) -> int:
    """Insert or refresh markets. A market whose event is not stored keeps no event reference."""
    conds = [m.condition_id for m in markets if m.condition_id]
    owners = await _owners(session, PolymarketMarket, "condition_id", conds)
    unique: dict[str, ParsedMarket] = {}
    conditions: set[str] = set()
    for market in markets:  # one market per id and per condition id within the batch (first wins)
        cond = market.condition_id
        if cond is not None and owners.get(cond, market.id) != market.id:
            log.warning("polymarket market %s skipped: its condition id belongs to another market", market.id)
        elif market.id in unique or cond is None or cond not in conditions:
            unique[market.id] = market
            if cond:
                conditions.add(cond)
    if not unique:
        return 0
    event_ids = {m.polymarket_event_id for m in unique.values() if m.polymarket_event_id}
    known: set[str] = set()
    if event_ids:
        result = await session.execute(
            select(PolymarketEvent.id).where(PolymarketEvent.id.in_(sorted(event_ids)))  # type: ignore[attr-defined]
        )
        known = set(result.scalars())
    rows = []
    for key in sorted(unique):
        row = _scrub(_market_row(unique[key], at))
        if row["polymarket_event_id"] not in known:
            row["polymarket_event_id"] = None
        rows.append(row)
    table = PolymarketMarket.__table__
    for chunk in _chunks(rows, 400):
        stmt = insert(table).values(list(chunk))
        keep = {c: stmt.excluded[c] for c in chunk[0] if c not in ("id", "polymarket_event_id")}
        # keep a known event reference when a later markets-only import lacks it
        keep["polymarket_event_id"] = func.coalesce(
            stmt.excluded.polymarket_event_id, table.c.polymarket_event_id
        )
        await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=keep))
    return len(rows)


# --------------------------------------------------------------------------------------------------------
# Prices, books, history
# --------------------------------------------------------------------------------------------------------


async def _insert_ignore(
    session: AsyncSession, table: Any, rows: list[dict[str, Any]], key: Sequence[str]
) -> int:
    rows = sorted((_scrub(r) for r in rows), key=lambda r: tuple(str(r[k]) for k in key))
    inserted = 0
    for chunk in _chunks(rows):
        stmt = insert(table).values(list(chunk)).on_conflict_do_nothing(index_elements=list(key))
        result = await session.execute(stmt)
        inserted += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return inserted


async def insert_quotes(
    session: AsyncSession,
    quotes: Iterable[tuple[str, str | None, TokenQuote]],
    *,
    snapshot_time: datetime,
    source: str = "poll",
) -> int:
    """Store one poll's top of book per token: (market_id, outcome, quote). Returns rows inserted."""
    rows = {
        q.token_id: {
            "market_id": market_id,
            "token_id": q.token_id,
            "outcome": outcome,
            "source": source,
            "snapshot_time": snapshot_time,
            "price": q.mid,
            "best_bid": q.best_bid,
            "best_ask": q.best_ask,
            "mid": q.mid,
            "spread": q.spread,
        }
        for market_id, outcome, q in quotes
    }
    return await _insert_ignore(
        session,
        PolymarketPriceSnapshot.__table__,
        list(rows.values()),
        ("token_id", "source", "snapshot_time"),
    )


async def insert_orderbooks(
    session: AsyncSession, books: Iterable[tuple[str, OrderBook]], *, snapshot_time: datetime
) -> int:
    """Store books (levels best-first) with their metrics: (market_id, book). Returns rows inserted."""
    rows: dict[str, dict[str, Any]] = {}
    for market_id, book in books:
        bids, asks = book.levels_json()
        rows[book.token_id] = {
            "market_id": market_id,
            "token_id": book.token_id,
            "snapshot_time": snapshot_time,
            "book_time": book.book_time,
            "book_hash": book.book_hash,
            "bids": bids,
            "asks": asks,
            "best_bid": book.best_bid,
            "best_ask": book.best_ask,
            "bid_depth": book.bid_depth,
            "ask_depth": book.ask_depth,
            "imbalance": book.imbalance,
            "weighted_mid": book.weighted_mid,
            "tick_size": book.tick_size,
        }
    return await _insert_ignore(
        session, PolymarketOrderbookSnapshot.__table__, list(rows.values()), ("token_id", "snapshot_time")
    )


async def insert_price_history(
    session: AsyncSession,
    *,
    market_id: str,
    token_id: str,
    outcome: str | None,
    points: Sequence[HistoryPoint],
    source: str = "backfill",
) -> int:
    """Store history points (`price` only). Boundary points repeated by adjacent windows are ignored.

    One statement per call whatever the size: the times and prices travel as two bound arrays (`unnest`),
    which is ~20x faster than a multi-row VALUES list for the 20,000-point windows of a backfill.
    """
    unique = {p.t: p.p for p in points}
    if not unique:
        return 0
    times = sorted(unique)
    stmt = text(_HISTORY_SQL).bindparams(
        bindparam("times", type_=ARRAY(DateTime(timezone=True))), bindparam("prices", type_=ARRAY(Float))
    )
    params = {"market_id": market_id, "token_id": token_id, "outcome": outcome, "source": source,
              "times": times, "prices": [unique[t] for t in times]}  # fmt: skip
    result = await session.execute(stmt, params)
    return max(result.rowcount or 0, 0)  # type: ignore[attr-defined]


_HISTORY_SQL = """
INSERT INTO polymarket_price_snapshots (market_id, token_id, outcome, source, snapshot_time, price)
SELECT CAST(:market_id AS text), CAST(:token_id AS text), CAST(:outcome AS text), CAST(:source AS text),
       p.t, p.price
FROM unnest(:times, :prices) AS p(t, price)
ON CONFLICT (token_id, source, snapshot_time) DO NOTHING
"""


@dataclass(frozen=True)
class Watermark:
    token_id: str
    covered_from: datetime | None
    covered_to: datetime | None
    points: int
    last_success_at: datetime | None


async def read_watermarks(session: AsyncSession, token_ids: Iterable[str]) -> dict[str, Watermark]:
    tokens = sorted(set(token_ids))
    if not tokens:
        return {}
    wm = PolymarketBackfillWatermark
    result = await session.execute(select(wm).where(wm.token_id.in_(tokens)))  # type: ignore[attr-defined]
    return {
        w.token_id: Watermark(w.token_id, w.covered_from, w.covered_to, w.points, w.last_success_at)
        for w in result.scalars()
    }


async def store_history_window(
    session: AsyncSession,
    *,
    market_id: str,
    token_id: str,
    outcome: str | None,
    points: Sequence[HistoryPoint],
    window_start: datetime | None,
    window_end: datetime | None,
    at: datetime,
) -> int:
    """One window's points and the widened watermark, in the caller's transaction (commit both or none).

    `window_start`/`window_end` is the range the answer covers (`odds_analytics.polymarket.covered_by_answer`
    decides it: up to the newest point stored, or a closed market's whole window), not the range asked for.
    None for both: the answer covers nothing new (empty, or only the boundary point); its points are stored
    and the successful call recorded, and the covered range stays where it was (asked for again).
    """
    inserted = await insert_price_history(
        session, market_id=market_id, token_id=token_id, outcome=outcome, points=points
    )
    table = PolymarketBackfillWatermark.__table__
    stmt = insert(table).values(
        token_id=token_id,
        market_id=market_id,
        covered_from=window_start,
        covered_to=window_end,
        points=inserted,
        last_success_at=at,
        last_error=None,
        updated_at=at,
    )
    touches = or_(
        table.c.covered_from.is_(None),
        table.c.covered_to.is_(None),
        and_(
            stmt.excluded.covered_from <= table.c.covered_to, stmt.excluded.covered_to >= table.c.covered_from
        ),
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["token_id"],
        set_={
            # widen only when the new window touches the covered range: a detached window is stored but
            # never makes the watermark claim the gap between them
            "covered_from": case(
                (touches, func.least(table.c.covered_from, stmt.excluded.covered_from)),
                else_=table.c.covered_from,
            ),
            "covered_to": case(
                (touches, func.greatest(table.c.covered_to, stmt.excluded.covered_to)),
                else_=table.c.covered_to,
            ),
            "points": table.c.points + stmt.excluded.points,
            "last_success_at": stmt.excluded.last_success_at,
            "last_error": None,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    await session.execute(stmt)
    return inserted


async def record_backfill_error(
    session: AsyncSession, *, token_id: str, market_id: str, error: str, at: datetime
) -> None:
    table = PolymarketBackfillWatermark.__table__
    stmt = insert(table).values(
        token_id=token_id, market_id=market_id, points=0, last_error=error[:500], updated_at=at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["token_id"], set_={"last_error": stmt.excluded.last_error, "updated_at": at}
    )
    await session.execute(stmt)


async def read_last_backfill_success(session: AsyncSession) -> datetime | None:
    result = await session.execute(select(func.max(PolymarketBackfillWatermark.last_success_at)))
    return result.scalar_one_or_none()


# --------------------------------------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------------------------------------


def _fingerprint(*parts: object) -> str:
    return hashlib.sha1("|".join(str(p) for p in parts).encode(), usedforsecurity=False).hexdigest()


async def insert_findings(session: AsyncSession, findings: Iterable[Finding], *, source: str) -> int:
    """Polymarket findings into `data_quality_logs`, through the shared writer (deduplicated by fingerprint)."""
    from tasks.storage.quality import QualityRow, insert_quality_rows

    rows = [
        QualityRow(
            fingerprint=_fingerprint(f.check_type, source, f.token_id, f.market_id, f.at, f.detail),
            severity=f.severity,
            check_type=f.check_type,
            source=source,
            event_id=None,
            bookmaker=None,
            market=f.market_id,
            snapshot_time=f.at,
            detail=_scrub(f.detail[:1000]),
            action="rejected",
        )
        for f in findings
    ]
    return await insert_quality_rows(session=session, rows=rows)


async def insert_fetch_logs(
    session: AsyncSession, records: Iterable[CallRecord], *, flow_run_id: str | None
) -> int:
    """One `fetch_logs` row per API call, through the shared writer (Polymarket APIs take no key)."""
    from tasks.storage.fetch_logs import fetch_log_dict
    from tasks.storage.fetch_logs import insert_fetch_logs as insert_rows

    rows = [{**fetch_log_dict(r), "flow_run_id": flow_run_id} for r in records]
    return await insert_rows(session=session, records=rows)


# --------------------------------------------------------------------------------------------------------
# Linking
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkInput:
    polymarket_event_id: str
    slug: str
    ticker: str | None
    title: str
    game_start_time: datetime | None
    link_status: str
    event_id: str | None


async def read_link_inputs(session: AsyncSession, *, include_linked: bool = True) -> list[LinkInput]:
    """Polymarket events to (re)link; manual links are never touched."""
    pe = PolymarketEvent
    stmt = select(pe).where(pe.link_status != "manual").order_by(pe.id)
    if not include_linked:
        stmt = stmt.where(pe.link_status != "linked")
    result = await session.execute(stmt)
    return [
        LinkInput(e.id, e.slug, e.ticker, e.title, e.game_start_time, e.link_status, e.event_id)
        for e in result.scalars()
    ]


async def read_candidates(session: AsyncSession, *, start: datetime, end: datetime) -> list[Candidate]:
    """Sportsbook events whose tip-off is in [start, end]."""
    stmt = (
        select(Event.id, Event.home_team, Event.away_team, Event.commence_time)
        .where(Event.commence_time >= start, Event.commence_time <= end)
        .order_by(Event.commence_time)
    )
    result = await session.execute(stmt)
    return [Candidate(*row) for row in result.all()]


async def set_links(session: AsyncSession, results: Sequence[LinkResult]) -> int:
    """Write link outcomes (a linked event id only for `linked`); manual links are kept."""
    changed = 0
    pe = PolymarketEvent
    for res in sorted(results, key=lambda r: r.polymarket_event_id):
        stmt = (
            update(pe)
            .where(pe.id == res.polymarket_event_id, pe.link_status != "manual")
            .values(
                event_id=res.event_id if res.status == "linked" else None,
                link_status=res.status,
                link_note=res.note[:500],
            )
        )
        result = await session.execute(stmt)
        changed += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
    return changed


# --------------------------------------------------------------------------------------------------------
# Reads for polling, backfill and the CLI
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PollTarget:
    market_id: str
    market_type: str
    period: str
    outcomes: tuple[str, ...]
    token_ids: tuple[str, ...]
    start_time: datetime | None


_POLL_SQL = """
SELECT m.id, m.market_type, m.period, m.outcomes, m.token_ids,
       COALESCE(m.game_start_time, pe.game_start_time, ev.commence_time, pe.start_time) AS start_time
FROM polymarket_markets AS m
JOIN polymarket_events AS pe ON pe.id = m.polymarket_event_id
LEFT JOIN events AS ev ON ev.id = pe.event_id
WHERE COALESCE(m.closed, false) = false
  AND COALESCE(pe.closed, false) = false
  AND cardinality(m.token_ids) > 0
  AND COALESCE(m.game_start_time, pe.game_start_time, ev.commence_time, pe.start_time) BETWEEN :lo AND :hi
ORDER BY m.id
"""


async def read_poll_targets(session: AsyncSession, *, now: datetime, horizon: timedelta) -> list[PollTarget]:
    """Open markets of events starting within (now, now + horizon]; tier filtering happens in the caller."""
    result = await session.execute(text(_POLL_SQL), {"lo": now, "hi": now + horizon})
    return [PollTarget(r[0], r[1], r[2], tuple(r[3]), tuple(r[4]), r[5]) for r in result.all()]


@dataclass(frozen=True)
class BackfillTarget:
    market_id: str
    token_id: str
    outcome: str | None
    question: str
    market_start: datetime | None
    market_end: datetime | None


_BACKFILL_SQL = """
SELECT m.id, tok.token_id, tok.outcome, m.question,
       m.raw->>'startDate' AS start_date, m.raw->>'createdAt' AS created_at,
       m.raw->>'closedTime' AS closed_time, m.closed, m.game_start_time
FROM polymarket_markets AS m
CROSS JOIN LATERAL unnest(m.token_ids, m.outcomes) AS tok(token_id, outcome)
WHERE tok.token_id IS NOT NULL
  AND (m.game_start_time IS NULL OR m.game_start_time >= :since)
ORDER BY m.id, tok.token_id
"""


async def read_backfill_targets(session: AsyncSession, *, since: datetime) -> list[BackfillTarget]:
    """Every token of markets whose game is not older than `since` (or has no game time)."""
    from odds_analytics.polymarket import parse_gamma_datetime
    from odds_models.errors import PayloadError

    def when(value: str | None) -> datetime | None:
        try:
            return parse_gamma_datetime(value)
        except PayloadError:
            return None

    result = await session.execute(text(_BACKFILL_SQL), {"since": since})
    targets = []
    for market_id, token, outcome, question, start, created, closed_time, closed, _gst in result.all():
        end = when(closed_time) if closed else None
        targets.append(BackfillTarget(market_id, token, outcome, question, when(start) or when(created), end))
    return targets


_MARKETS_SQL = """
SELECT m.id, m.question, m.market_type, m.period, m.team, m.line, m.player, m.stat,
       pe.slug AS event_slug, pe.id AS polymarket_event_id, pe.event_id, pe.link_status,
       COALESCE(m.game_start_time, pe.game_start_time, pe.start_time) AS start_time, m.closed
FROM polymarket_markets AS m
LEFT JOIN polymarket_events AS pe ON pe.id = m.polymarket_event_id
WHERE (CAST(:market_type AS text) IS NULL OR m.market_type = CAST(:market_type AS text))
  AND (CAST(:event AS text) IS NULL OR pe.slug = CAST(:event AS text) OR pe.id = CAST(:event AS text)
       OR pe.event_id = CAST(:event AS text))
ORDER BY start_time DESC NULLS LAST, pe.slug, m.market_type, m.id
LIMIT :limit
"""


async def read_markets(
    session: AsyncSession, *, market_type: str | None = None, event: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Markets for `odds polymarket markets`: id, question, type, team, line, event and its link."""
    params = {"market_type": market_type, "event": event, "limit": limit}
    result = await session.execute(text(_MARKETS_SQL), params)
    return [dict(row._mapping) for row in result.all()]


async def read_moneyline_tokens(session: AsyncSession, game: str) -> dict[str, Any] | None:
    """The game-moneyline market of a game given by Polymarket slug, ticker, event id or sportsbook event id."""
    sql = """
    SELECT m.id, m.question, m.outcomes, m.token_ids, pe.slug
    FROM polymarket_markets AS m JOIN polymarket_events AS pe ON pe.id = m.polymarket_event_id
    WHERE m.market_type = 'moneyline' AND m.period = 'game'
      AND (pe.slug = :game OR pe.ticker = :game OR pe.id = :game OR pe.event_id = :game)
    ORDER BY m.id LIMIT 1
    """
    row = (await session.execute(text(sql), {"game": game})).first()
    if row is None:
        return None
    return {
        "market_id": row[0],
        "question": row[1],
        "outcomes": list(row[2]),
        "token_ids": list(row[3]),
        "slug": row[4],
    }
