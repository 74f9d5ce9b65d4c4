"""Storing imported closing/opening lines and final scores (table `closing_lines`, events via upsert_events).

    async with async_session_maker() as session:
        events = await read_event_keys(session=session, start=d0, end=d1)
        n = await insert_closing_lines(session=session, rows=[...])
        await session.commit()

`insert_closing_lines` is one `INSERT ... SELECT unnest(...) ON CONFLICT DO NOTHING` on the table's unique key
(event_id, source, kind, market, outcome): importing the same file twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.closing_lines import (
    EventKey,
    ImportedGame,
    MatchResult,
    ParseResult,
    match_games,
    parse_closing_lines,
)
from odds_models.db import async_session_maker
from tasks.retry import DB_WRITE_RETRY
from tasks.storage.events import EventRecord, upsert_events

__all__ = [
    "ClosingLineRow",
    "ImportCounts",
    "insert_closing_lines",
    "load_closing_line_file",
    "load_closing_line_file_task",
    "match_closing_line_games",
    "match_closing_line_games_task",
    "read_event_keys",
    "store_imported_games",
    "store_imported_games_task",
]


@dataclass(frozen=True)
class ClosingLineRow:
    event_id: str
    source: str
    kind: str
    market: str
    outcome: str
    point: float | None
    price_american: int | None
    price_decimal: float | None


@dataclass
class ImportCounts:
    """What an import did. `lines_added` is 0 on a re-import."""

    games: int = 0
    matched: int = 0
    created: int = 0
    unmatched: int = 0
    skipped: int = 0
    lines_added: int = 0
    scores_updated: int = 0


_EVENTS_SQL = """
SELECT id, home_team, away_team, commence_time FROM events
WHERE commence_time >= :start AND commence_time < :end
"""


async def read_event_keys(*, session: AsyncSession, start: date, end: date) -> list[EventKey]:
    """Events that may be a game dated between `start` and `end` (US/Eastern), with a day of slack."""
    lo = datetime.combine(start - timedelta(days=1), time(0), tzinfo=UTC)
    hi = datetime.combine(end + timedelta(days=2), time(0), tzinfo=UTC)
    result = await session.execute(text(_EVENTS_SQL), {"start": lo, "end": hi})
    return [EventKey(r[0], r[1], r[2], r[3]) for r in result.all()]


_INSERT_SQL = """
INSERT INTO closing_lines (event_id, source, kind, market, outcome, point, price_american, price_decimal,
                           created_at)
SELECT u.event_id, u.source, u.kind, u.market, u.outcome, u.point, u.price_american, u.price_decimal, now()
FROM unnest(CAST(:event_ids AS text[]), CAST(:sources AS text[]), CAST(:kinds AS text[]),
            CAST(:markets AS text[]), CAST(:outcomes AS text[]), CAST(:points AS float8[]),
            CAST(:americans AS int[]), CAST(:decimals AS float8[]))
     AS u(event_id, source, kind, market, outcome, point, price_american, price_decimal)
ORDER BY u.event_id, u.kind, u.market, u.outcome
ON CONFLICT ON CONSTRAINT uq_closing_lines_key DO NOTHING
RETURNING 1
"""


async def insert_closing_lines(*, session: AsyncSession, rows: Sequence[ClosingLineRow]) -> int:
    """Insert lines that are not there yet; returns how many were added. The caller commits."""
    if not rows:
        return 0
    added = 0
    for start in range(0, len(rows), 20_000):
        chunk = rows[start : start + 20_000]
        result = await session.execute(
            text(_INSERT_SQL),
            {
                "event_ids": [r.event_id for r in chunk],
                "sources": [r.source for r in chunk],
                "kinds": [r.kind for r in chunk],
                "markets": [r.market for r in chunk],
                "outcomes": [r.outcome for r in chunk],
                "points": [r.point for r in chunk],
                "americans": [r.price_american for r in chunk],
                "decimals": [r.price_decimal for r in chunk],
            },
        )
        added += len(result.all())
    return added


def _event_record(game: ImportedGame, key: EventKey, origin: str) -> EventRecord:
    final = game.home_score is not None and game.away_score is not None
    # Scores are oriented by the event's own home/away (a neutral-site game may be listed swapped).
    swapped = key.home_team != game.home_team
    home_score, away_score = (
        (game.away_score, game.home_score) if swapped else (game.home_score, game.away_score)
    )
    return EventRecord(
        id=key.id,
        home_team=key.home_team,
        away_team=key.away_team,
        commence_time=key.commence_time,
        status="final" if final else "scheduled",
        home_score=home_score if final else None,
        away_score=away_score if final else None,
        origin=origin,
    )


def _line_rows(match: MatchResult, source: str) -> list[ClosingLineRow]:
    rows: dict[tuple[str, str, str, str], ClosingLineRow] = {}
    for game, key in [*match.matched, *match.to_create]:
        for line in game.lines:
            row = ClosingLineRow(key.id, source, line.kind, line.market, line.outcome, line.point,
                                 line.price_american, line.price_decimal)  # fmt: skip
            rows.setdefault((row.event_id, row.kind, row.market, row.outcome), row)
    return list(rows.values())


# --------------------------------------------------------------------------------------------------------
# Prefect tasks
# --------------------------------------------------------------------------------------------------------


def load_closing_line_file(
    path: str, fmt: str, since: date | None = None, until: date | None = None
) -> ParseResult:
    """Parse a kaggle/sbr closing-line CSV, keeping games dated in [since, until]."""
    parsed = parse_closing_lines(path, fmt)
    if since or until:
        parsed.games = [
            g
            for g in parsed.games
            if (since is None or g.game_date >= since) and (until is None or g.game_date <= until)
        ]
    return parsed


load_closing_line_file_task = task(
    load_closing_line_file, cache_policy=NONE, task_run_name="parse-closing-lines-{fmt}"
)


async def match_closing_line_games(games: list[ImportedGame], source: str) -> MatchResult:
    """Match parsed games to existing events by US/Eastern date and teams."""
    if not games:
        return MatchResult()
    start = min(g.game_date for g in games)
    end = max(g.game_date for g in games)
    async with async_session_maker() as session:
        events = await read_event_keys(session=session, start=start, end=end)
    return match_games(games, events, source)


match_closing_line_games_task = task(
    match_closing_line_games, cache_policy=NONE, task_run_name="match-closing-line-games"
)


async def store_imported_games(match: MatchResult, source: str) -> ImportCounts:
    """Create missing events, record final scores and insert the lines (idempotent), in one transaction."""
    origin = f"import:{source}"
    records = [_event_record(g, k, origin) for g, k in [*match.matched, *match.to_create]]
    async with async_session_maker() as session:
        events = await upsert_events(session=session, events=records, authoritative_status=False)
        added = await insert_closing_lines(session=session, rows=_line_rows(match, source))
        await session.commit()
    return ImportCounts(
        matched=len(match.matched),
        created=events.inserted,
        unmatched=len(match.unmatched),
        lines_added=added,
        scores_updated=events.updated,
    )


store_imported_games_task = task(
    store_imported_games, **DB_WRITE_RETRY, task_run_name="store-imported-games-{source}"
)
