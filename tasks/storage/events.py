"""Writing `events`: a bulk idempotent upsert that never erases scores nor moves a status backwards.

    async with async_session_maker() as session:
        n = await upsert_events(session=session, events=[EventRecord(...), ...])
        await session.commit()

Rules (one SQL statement, values bound as arrays):
- a new id is inserted; an existing one gets teams and commence_time refreshed (not once final);
- scores are `COALESCE(new, old)`: a sync without scores never erases them;
- status moves forward only (scheduled < postponed = cancelled < live < final). With
  `authoritative_status=True` (the `/scores` sync), postponed/cancelled can be set, a cancelled game seen
  again comes back, and final is still never undone;
- nothing changes, not even `updated_at`, when the values are the same (re-running is a no-op).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_models.tables import EVENT_STATUSES

__all__ = ["EventRecord", "UpsertCounts", "mark_events_status", "mark_odds_requested", "store_events",
           "upsert_events"]  # fmt: skip


@dataclass(frozen=True)
class EventRecord:
    """One event to write. Teams are The Odds API full names; scores None means "unknown", not zero."""

    id: str
    home_team: str
    away_team: str
    commence_time: datetime
    sport_key: str = "basketball_nba"
    status: str = "scheduled"
    home_score: int | None = None
    away_score: int | None = None
    scores_updated_at: datetime | None = None
    completed_at: datetime | None = None
    origin: str = "oddsapi"

    def __post_init__(self) -> None:
        if self.status not in EVENT_STATUSES:
            raise ValueError(f"unknown event status {self.status!r}")
        if self.commence_time.tzinfo is None:
            raise ValueError("commence_time must be timezone-aware")


@dataclass
class UpsertCounts:
    inserted: int = 0
    updated: int = 0

    @property
    def total(self) -> int:
        return self.inserted + self.updated


_RANK = "(CASE {s} WHEN 'scheduled' THEN 0 WHEN 'postponed' THEN 1 WHEN 'cancelled' THEN 1 WHEN 'live' THEN 2 WHEN 'final' THEN 3 ELSE 0 END)"

_STATUS_FORWARD = f"""CASE WHEN {_RANK.format(s="t.status")} > {_RANK.format(s="e.status")} THEN t.status
                           ELSE e.status END"""
_STATUS_AUTHORITATIVE = f"""CASE WHEN e.status = 'final' THEN 'final'
    WHEN t.status IN ('postponed', 'cancelled') THEN t.status
    WHEN e.status = 'cancelled' THEN t.status
    WHEN e.status = 'postponed' AND t.status = 'scheduled' THEN 'postponed'
    WHEN {_RANK.format(s="t.status")} > {_RANK.format(s="e.status")} THEN t.status
    ELSE e.status END"""

_UPSERT = """
WITH t AS (
    SELECT * FROM unnest(
        CAST(:ids AS text[]), CAST(:sports AS text[]), CAST(:homes AS text[]), CAST(:aways AS text[]),
        CAST(:commences AS timestamptz[]), CAST(:statuses AS text[]), CAST(:home_scores AS int[]),
        CAST(:away_scores AS int[]), CAST(:scores_at AS timestamptz[]), CAST(:completed_at AS timestamptz[]),
        CAST(:origins AS text[])
    ) AS u(id, sport_key, home_team, away_team, commence_time, status, home_score, away_score,
           scores_updated_at, completed_at, origin)
),
merged AS (
    SELECT t.*, e.id AS old_id,
           CASE WHEN e.id IS NULL THEN t.status ELSE {status} END AS new_status,
           CASE WHEN e.status = 'final' THEN e.commence_time ELSE t.commence_time END AS new_commence,
           COALESCE(t.home_score, e.home_score) AS new_home_score,
           COALESCE(t.away_score, e.away_score) AS new_away_score,
           e.home_team AS old_home, e.away_team AS old_away, e.commence_time AS old_commence,
           e.status AS old_status, e.home_score AS old_home_score, e.away_score AS old_away_score,
           e.scores_updated_at AS old_scores_at, e.completed_at AS old_completed_at
    FROM t LEFT JOIN events e ON e.id = t.id
),
ins AS (
    INSERT INTO events (id, sport_key, home_team, away_team, commence_time, status, home_score, away_score,
                        scores_updated_at, completed_at, origin, created_at, updated_at)
    SELECT id, sport_key, home_team, away_team, commence_time, status, home_score, away_score,
           scores_updated_at, CASE WHEN status = 'final' THEN COALESCE(completed_at, scores_updated_at)
                                   ELSE completed_at END, origin, now(), now()
    FROM merged WHERE old_id IS NULL
    ORDER BY id
    ON CONFLICT (id) DO NOTHING
    RETURNING 1
),
upd AS (
    UPDATE events AS ev SET
        home_team = m.home_team,
        away_team = m.away_team,
        commence_time = m.new_commence,
        status = m.new_status,
        home_score = m.new_home_score,
        away_score = m.new_away_score,
        scores_updated_at = GREATEST(m.old_scores_at, m.scores_updated_at),
        completed_at = COALESCE(m.old_completed_at, m.completed_at,
                                CASE WHEN m.new_status = 'final' THEN m.scores_updated_at END),
        updated_at = now()
    FROM merged m
    WHERE ev.id = m.id AND m.old_id IS NOT NULL AND (
        m.home_team IS DISTINCT FROM m.old_home OR m.away_team IS DISTINCT FROM m.old_away
        OR m.new_commence IS DISTINCT FROM m.old_commence OR m.new_status IS DISTINCT FROM m.old_status
        OR m.new_home_score IS DISTINCT FROM m.old_home_score
        OR m.new_away_score IS DISTINCT FROM m.old_away_score
        OR (m.scores_updated_at IS NOT NULL AND m.scores_updated_at > COALESCE(m.old_scores_at, '-infinity'))
    )
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins) AS inserted, (SELECT count(*) FROM upd) AS updated
"""


async def upsert_events(
    *, session: AsyncSession, events: Iterable[EventRecord], authoritative_status: bool = False
) -> UpsertCounts:
    """Insert new events and refresh known ones under the rules above. The caller commits.

    Duplicated ids in `events` keep the last one. Rows are written in id order (no deadlock between two
    concurrent upserts of overlapping slates).
    """
    by_id: dict[str, EventRecord] = {}
    for event in events:
        by_id[event.id] = event
    if not by_id:
        return UpsertCounts()
    rows = [by_id[k] for k in sorted(by_id)]
    # Lock the rows in id order first, so two concurrent upserts of overlapping slates queue, not deadlock.
    await session.execute(
        text("SELECT 1 FROM events WHERE id = ANY(CAST(:ids AS text[])) ORDER BY id FOR UPDATE"),
        {"ids": [r.id for r in rows]},
    )
    sql = _UPSERT.format(status=_STATUS_AUTHORITATIVE if authoritative_status else _STATUS_FORWARD)
    result = await session.execute(
        text(sql),
        {
            "ids": [r.id for r in rows],
            "sports": [r.sport_key for r in rows],
            "homes": [r.home_team for r in rows],
            "aways": [r.away_team for r in rows],
            "commences": [r.commence_time for r in rows],
            "statuses": [r.status for r in rows],
            "home_scores": [r.home_score for r in rows],
            "away_scores": [r.away_score for r in rows],
            "scores_at": [r.scores_updated_at for r in rows],
            "completed_at": [r.completed_at for r in rows],
            "origins": [r.origin for r in rows],
        },
    )
    inserted, updated = result.one()
    return UpsertCounts(inserted=int(inserted), updated=int(updated))


async def mark_events_status(*, session: AsyncSession, event_ids: Sequence[str], status: str) -> int:
    """Set `postponed` or `cancelled` on games that vanished or moved (never on final ones)."""
    if status not in ("postponed", "cancelled"):
        raise ValueError("mark_events_status sets postponed or cancelled only")
    if not event_ids:
        return 0
    result = await session.execute(
        text(
            "UPDATE events SET status = :status, updated_at = now() "
            "WHERE id = ANY(CAST(:ids AS text[])) AND status NOT IN ('final', :status)"
        ),
        {"status": status, "ids": sorted(event_ids)},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_odds_requested(
    *, session: AsyncSession, event_ids: Sequence[str], at: datetime, lock_also: Sequence[str] = ()
) -> int:
    """Record that a paid /odds call at `at` could have returned these games (never moves the time back).

    The rows of `event_ids` and `lock_also` (the games the same transaction writes next) are locked first,
    in id order, as every writer of `events` locks them: concurrent writers queue instead of deadlocking.
    """
    ids = sorted(set(event_ids))
    if not ids:
        return 0
    await session.execute(
        text("SELECT 1 FROM events WHERE id = ANY(CAST(:ids AS text[])) ORDER BY id FOR UPDATE"),
        {"ids": sorted(set(ids) | set(lock_also))},
    )
    result = await session.execute(
        text(
            "UPDATE events SET odds_requested_at = :at WHERE id = ANY(CAST(:ids AS text[])) "
            "AND (odds_requested_at IS NULL OR odds_requested_at < :at)"
        ),
        {"at": at, "ids": ids},
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def store_events(events: Sequence[EventRecord], *, authoritative_status: bool = False) -> UpsertCounts:
    """Upsert `events` in their own session and commit (for callers without a transaction of their own)."""
    from odds_models.db import async_session_maker

    async with async_session_maker() as session:
        counts = await upsert_events(
            session=session, events=events, authoritative_status=authoritative_status
        )
        await session.commit()
    return counts
