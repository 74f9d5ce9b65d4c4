"""Polymarket events and markets: idempotent upserts, links to sportsbook events, and the reads of them.

Writers take `*, session` (the caller commits); the tasks in `tasks/polymarket_ingest.py` and the file import
in `tasks/import_polymarket.py` open `async_session_maker()` and call them. Each write is one
`INSERT … ON CONFLICT` statement per chunk (values bound), rows sorted by their unique key so two concurrent
writers take row locks in the same order and cannot deadlock:

| table | key | on conflict |
|---|---|---|
| polymarket_events | id | update metadata (never the link) |
| polymarket_markets | id | update metadata and classification |

Prices, books, history and watermarks are in `polymarket_prices.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.execution import GammaFees
from odds_analytics.linking import Candidate, LinkInput, LinkResult
from odds_analytics.polymarket.gamma import ParsedEvent, ParsedMarket
from odds_analytics.polymarket.poll import PollTarget
from odds_models.tables import (
    Event,
    PolymarketEvent,
    PolymarketMarket,
)
from odds_models.text import strip_nul

__all__ = [
    "read_candidates",
    "read_link_inputs",
    "read_markets",
    "read_moneyline_tokens",
    "read_poll_targets",
    "read_polymarket_counts",
    "read_token_owners",
    "set_links",
    "upsert_events",
    "upsert_markets",
]

log = logging.getLogger(__name__)


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


async def upsert_events(*, session: AsyncSession, events: Sequence[ParsedEvent], at: datetime) -> int:
    """Insert or refresh events (and their nested markets). The link columns are never overwritten."""
    # a slug already held by another event id (Gamma re-created a game) would break the unique slug: skip it
    owners = await _owners(PolymarketEvent, "slug", [e.slug for e in events], session=session)
    unique: dict[str, ParsedEvent] = {}
    slugs: set[str] = set()
    for event in events:  # one event per id and per slug within the batch (first wins)
        if owners.get(event.slug, event.id) != event.id:
            log.warning("polymarket event %s skipped: its slug belongs to another stored event", event.id)
        elif event.id in unique or event.slug not in slugs:
            unique[event.id] = event
            slugs.add(event.slug)
    rows = [strip_nul(_event_row(unique[k], at)) for k in sorted(unique)]
    if not rows:
        return 0
    table = PolymarketEvent.__table__
    for start in range(0, len(rows), 500):
        chunk = rows[start : start + 500]
        stmt = insert(table).values(list(chunk))
        keep = {c: stmt.excluded[c] for c in chunk[0] if c != "id"}
        await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=keep))
    markets = [m for e in unique.values() for m in e.markets]
    await upsert_markets(session=session, markets=markets, at=at)
    return len(rows)


async def count_stored(
    *, session: AsyncSession, event_ids: Sequence[str] = (), market_ids: Sequence[str] = ()
) -> tuple[int, int]:
    """How many of these Gamma event ids and market ids are already stored (for the store logs)."""
    counts = []
    for model, ids in ((PolymarketEvent, event_ids), (PolymarketMarket, market_ids)):
        if not ids:
            counts.append(0)
            continue
        result = await session.execute(select(func.count()).where(model.id.in_(sorted(set(ids)))))
        counts.append(int(result.scalar_one()))
    return counts[0], counts[1]


async def _owners(model: Any, column: str, values: Sequence[str], *, session: AsyncSession) -> dict[str, str]:
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


async def upsert_markets(*, session: AsyncSession, markets: Sequence[ParsedMarket], at: datetime) -> int:
    """Insert or refresh markets. A market whose event is not stored keeps no event reference."""
    conds = [m.condition_id for m in markets if m.condition_id]
    owners = await _owners(PolymarketMarket, "condition_id", conds, session=session)
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
        row = strip_nul(_market_row(unique[key], at))
        if row["polymarket_event_id"] not in known:
            row["polymarket_event_id"] = None
        rows.append(row)
    table = PolymarketMarket.__table__
    for start in range(0, len(rows), 400):
        chunk = rows[start : start + 400]
        stmt = insert(table).values(list(chunk))
        keep = {c: stmt.excluded[c] for c in chunk[0] if c not in ("id", "polymarket_event_id")}
        # keep a known event reference when a later markets-only import lacks it
        keep["polymarket_event_id"] = func.coalesce(
            stmt.excluded.polymarket_event_id, table.c.polymarket_event_id
        )
        await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=keep))
    return len(rows)


async def read_link_inputs(*, session: AsyncSession, include_linked: bool = True) -> list[LinkInput]:
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


async def read_candidates(*, session: AsyncSession, start: datetime, end: datetime) -> list[Candidate]:
    """Sportsbook events whose tip-off is in [start, end]."""
    stmt = (
        select(Event.id, Event.home_team, Event.away_team, Event.commence_time)
        .where(Event.commence_time >= start, Event.commence_time <= end)
        .order_by(Event.commence_time)
    )
    result = await session.execute(stmt)
    return [Candidate(*row) for row in result.all()]


async def set_links(*, session: AsyncSession, results: Sequence[LinkResult]) -> int:
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


async def read_poll_targets(*, session: AsyncSession, now: datetime, horizon: timedelta) -> list[PollTarget]:
    """Open markets of events starting within (now, now + horizon]; tier filtering happens in the caller."""
    result = await session.execute(text(_POLL_SQL), {"lo": now, "hi": now + horizon})
    return [PollTarget(r[0], r[1], r[2], tuple(r[3]), tuple(r[4]), r[5]) for r in result.all()]


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
    *, session: AsyncSession, market_type: str | None = None, event: str | None = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Markets for `odds polymarket markets`: id, question, type, team, line, event and its link."""
    params = {"market_type": market_type, "event": event, "limit": limit}
    result = await session.execute(text(_MARKETS_SQL), params)
    return [dict(row._mapping) for row in result.all()]


async def read_moneyline_tokens(*, session: AsyncSession, game: str) -> dict[str, Any] | None:
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


async def read_token_owners(
    *, session: AsyncSession, token_ids: Iterable[str]
) -> dict[str, tuple[str, str | None]]:
    """Stored market id and outcome of each given token (tokens of no stored market are absent)."""
    sql = text(
        "SELECT tok.token_id, m.id, tok.outcome FROM polymarket_markets AS m "
        "CROSS JOIN LATERAL unnest(m.token_ids, m.outcomes) AS tok(token_id, outcome) "
        "WHERE tok.token_id = ANY(CAST(:tokens AS text[]))"
    )
    rows = (await session.execute(sql, {"tokens": sorted(set(token_ids))})).all()
    return {r[0]: (r[1], r[2]) for r in rows}


_COUNTS_SQL = """
SELECT (SELECT count(*) FROM polymarket_events) AS events, (SELECT count(*) FROM polymarket_markets) AS markets,
       (SELECT count(*) FROM polymarket_events WHERE link_status = 'linked') AS linked,
       (SELECT count(*) FROM polymarket_events WHERE link_status = 'ambiguous') AS ambiguous,
       (SELECT max(snapshot_time) FROM polymarket_price_snapshots WHERE source = 'poll') AS last_poll,
       (SELECT count(*) FROM polymarket_price_snapshots) AS price_rows
"""


async def read_polymarket_counts(*, session: AsyncSession) -> dict[str, Any]:
    """Table counts for `odds polymarket status`: events, markets, linked, ambiguous, last poll, price rows."""
    return dict((await session.execute(text(_COUNTS_SQL))).one()._mapping)
