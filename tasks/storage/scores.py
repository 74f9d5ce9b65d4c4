"""Writing `/scores` results: status lifecycle and scores on `events`, in one transaction.

scheduled → live → final; postponed when a game moves, cancelled when it vanishes (see
`odds_analytics.oddsapi.plan_status_changes`). Takes parsed `ScoreUpdate`s (scores already integers: the
response is parsed at the edge, `tasks.odds_ingest.store_scores_payload`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from odds_analytics.oddsapi import ScoreUpdate, plan_status_changes
from odds_models.clock import now as clock_now
from tasks.storage.events import EventRecord, mark_events_status, upsert_events
from tasks.storage.fetch_logs import insert_fetch_logs

__all__ = ["ScoresCounts", "store_scores"]


@dataclass
class ScoresCounts:
    games: int = 0
    inserted: int = 0
    updated: int = 0
    final: int = 0
    live: int = 0
    postponed: int = 0
    cancelled: int = 0
    fetch_logs: int = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _record(update: ScoreUpdate) -> EventRecord:
    ev = update.event
    return EventRecord(
        id=ev.id, home_team=ev.home_team, away_team=ev.away_team, commence_time=ev.commence_time,
        sport_key=ev.sport_key, status=update.status, home_score=update.home_score,
        away_score=update.away_score, scores_updated_at=update.last_update,
        completed_at=update.last_update if update.completed else None,
    )  # fmt: skip


async def store_scores(
    updates: Sequence[ScoreUpdate],
    *,
    days_from: int | None,
    at: datetime | None = None,
    fetch_logs: Sequence[Mapping[str, Any]] = (),
) -> ScoresCounts:
    """Apply a parsed `/scores` response: upsert games (authoritative status), mark moved/vanished ones."""
    from odds_models.db import async_session_maker

    at = at or clock_now()
    counts = ScoresCounts(games=len(updates))
    counts.final = sum(1 for u in updates if u.status == "final")
    counts.live = sum(1 for u in updates if u.status == "live")
    window_start = at - timedelta(days=(days_from or 0) + 2)
    async with async_session_maker() as session:
        rows = await session.execute(
            text("SELECT id, commence_time, status FROM events WHERE commence_time >= :start "
                 "AND sport_key = ANY(CAST(:sports AS text[]))"),
            {"start": window_start, "sports": sorted({u.event.sport_key for u in updates} or {"basketball_nba"})},
        )  # fmt: skip
        known = [(r.id, r.commence_time, r.status) for r in rows]
        cancelled, postponed = plan_status_changes(known, updates, now=at, days_from=days_from)
        upserted = await upsert_events(session=session, events=[_record(u) for u in updates],
                                       authoritative_status=True)  # fmt: skip
        counts.inserted, counts.updated = upserted.inserted, upserted.updated
        counts.postponed = await mark_events_status(session=session, event_ids=postponed, status="postponed")
        counts.cancelled = await mark_events_status(session=session, event_ids=cancelled, status="cancelled")
        if fetch_logs:
            counts.fetch_logs = await insert_fetch_logs(session=session, records=fetch_logs)
        await session.commit()
    return counts
