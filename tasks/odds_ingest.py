"""The sportsbook steps: plain async functions (tested directly) and the thin Prefect tasks around them.

Paid calls (`/odds`, `/scores`, historical) first reserve their credits under the budget lock
(`tasks.credits`), then write their response to the spool *before* anything else touches the database,
and the store step deletes the spool file once the rows are committed: a paid response is never lost.
Free calls (`/events`) are stored directly. Every call ends as a `fetch_logs` row (a paid call's row is its
reservation, settled with what every attempt really cost).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import text

from odds_analytics.oddsapi import OddsFormat, parse_events_payload, parse_odds_payload, parse_scores_payload
from odds_analytics.quota import QuotaStatus, odds_call_cost
from odds_analytics.tiers import DueEvent, TierSpec, due_events
from odds_models.clock import now
from odds_models.errors import PayloadError, UpstreamError
from odds_models.settings import get_settings
from tasks.credits import Reservation, check_budget, credits_spent_this_month, reserve_credits
from tasks.odds_api import OddsApiClient, OddsApiResponse, make_odds_api_client
from tasks.retry import DB_WRITE_RETRY
from tasks.spool import DrainResult, drain_spool, spool_response, store_spool_file
from tasks.storage.events import EventRecord
from tasks.storage.fetch_logs import fetch_log_dict, insert_fetch_logs, store_fetch_logs
from tasks.storage.odds import StoreCounts, store_parsed_payload
from tasks.storage.scores import ScoresCounts, store_scores

__all__ = [
    "FetchedFree",
    "SpooledFetch",
    "backfill_candidates",
    "backfill_candidates_task",
    "check_budget",
    "credits_spent_this_month",
    "credits_spent_this_month_task",
    "drain_spool_task",
    "due_event_list",
    "due_event_list_task",
    "fetch_events",
    "fetch_events_task",
    "fetch_historical_odds_to_spool",
    "fetch_historical_odds_to_spool_task",
    "fetch_odds_to_spool",
    "fetch_odds_to_spool_task",
    "fetch_scores_to_spool",
    "fetch_scores_to_spool_task",
    "import_files",
    "import_files_task",
    "listed_event_ids",
    "odds_cost_from_settings",
    "store_events_payload",
    "store_events_payload_task",
    "store_odds_payload",
    "store_scores_payload",
    "store_spool_file_task",
]

log = logging.getLogger(__name__)


@dataclass
class FetchedFree:
    """A free response, passed on to its store step."""

    endpoint: str
    data: Any
    fetch_logs: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SpooledFetch:
    """A paid response, safely on disk: where, what it cost, the quota after it."""

    path: str
    endpoint: str
    events: int
    cost: int | None
    quota: dict[str, int | None]


def _quota_dict(q: QuotaStatus) -> dict[str, int | None]:
    return {"remaining": q.remaining, "used": q.used, "last": q.last}


async def _log_failed_calls(api: OddsApiClient, reservation: Reservation | None = None) -> None:
    """Best effort: a failed call still leaves its fetch_logs row, settling its credit reservation with
    what its attempts cost (never masks the original error)."""
    rid = reservation.id if reservation is not None else None
    try:
        await store_fetch_logs([fetch_log_dict(c, reservation_id=rid) for c in api.calls])
    except Exception as exc:
        log.warning("could not write fetch_logs for a failed call: %s", type(exc).__name__)


async def _paid_call(
    call: Callable[[OddsApiClient], Awaitable[OddsApiResponse]], *, endpoint: str, credits: int, what: str
) -> tuple[OddsApiResponse, list[dict[str, Any]]]:
    """Reserve the credits (BudgetExceeded: no call), make the call, return it with its settling log dict.

    Retries that may be charged again extend the reservation first. A failed call settles its reservation
    at once; a successful one settles it when its spooled response is stored.
    """
    reservation = await reserve_credits(endpoint=endpoint, credits=credits, what=what)
    async with make_odds_api_client() as api:
        api.before_retry = reservation.extend
        try:
            response = await call(api)
        except Exception:
            await _log_failed_calls(api, reservation)
            raise
        return response, [fetch_log_dict(c, reservation_id=reservation.id) for c in api.calls]


# -- free ---------------------------------------------------------------------------------------------------


async def fetch_events(*, commence_to: datetime | None = None) -> FetchedFree:
    """`GET /events` (free): upcoming and live games."""
    async with make_odds_api_client() as api:
        try:
            response = await api.events(commence_to=commence_to)
        except (UpstreamError, PayloadError):
            await _log_failed_calls(api)
            raise
        return FetchedFree(endpoint=response.endpoint, data=response.data,
                           fetch_logs=[fetch_log_dict(c) for c in api.calls])  # fmt: skip


async def store_events_payload(fetched: FetchedFree) -> dict[str, int]:
    """Parse (PayloadError before any write) and upsert events; write the call's fetch_logs row."""
    from odds_models.db import async_session_maker
    from tasks.storage.events import upsert_events

    events = parse_events_payload(fetched.data, endpoint=fetched.endpoint)
    records = [EventRecord(id=e.id, home_team=e.home_team, away_team=e.away_team, commence_time=e.commence_time,
                           sport_key=e.sport_key) for e in events]  # fmt: skip
    async with async_session_maker() as session:
        counts = await upsert_events(session=session, events=records)
        await insert_fetch_logs(session=session, records=fetched.fetch_logs)
        await session.commit()
    return {"events": len(records), "inserted": counts.inserted, "updated": counts.updated}


async def store_odds_payload(
    data: Any,
    *,
    endpoint: str,
    source: str,
    snapshot_time: datetime | None = None,
    reject_invalid: bool | None = None,
    odds_format: OddsFormat | None = None,
    fetch_logs: Sequence[Mapping[str, Any]] = (),
    requested_event_ids: Sequence[str] = (),
    lenient: bool = False,
) -> StoreCounts:
    """Parse an odds response (PayloadError on a malformed payload, before any write), then store it.

    `lenient=True` (a paid response, from the spool): an event that does not parse is logged to
    `data_quality_logs` as `malformed_event` and the others are stored; only a broken envelope (or a
    response none of whose events parse) raises PayloadError, before any write.
    """
    parsed = parse_odds_payload(data, endpoint=endpoint, odds_format=odds_format, lenient=lenient)
    return await store_parsed_payload(parsed, source=source, snapshot_time=snapshot_time,
                                      reject_invalid=reject_invalid, fetch_logs=fetch_logs,
                                      requested_event_ids=requested_event_ids,
                                      requested_at=snapshot_time)  # fmt: skip


async def store_scores_payload(
    data: Any, *, endpoint: str, days_from: int | None, at: datetime | None = None,
    fetch_logs: Sequence[Mapping[str, Any]] = (),
) -> ScoresCounts:  # fmt: skip
    """Parse a `/scores` response (PayloadError before any write), then apply it."""
    updates = parse_scores_payload(data, endpoint=endpoint)
    return await store_scores(updates, days_from=days_from, at=at, fetch_logs=fetch_logs)


# -- planning ------------------------------------------------------------------------------------------------


async def due_event_list(at: datetime | None = None) -> list[DueEvent]:
    """Upcoming games (scheduled/postponed) due a live snapshot in their tier.

    A game's clock runs from its last live snapshot or from the last paid /odds call that could have
    returned it (`events.odds_requested_at`), whichever is later: a game listed before the books open is
    asked for on its tier's cadence, not at every tick.
    """
    from odds_models.db import async_session_maker

    at = at or now()
    settings = get_settings()
    spec = TierSpec.from_settings(settings)
    async with async_session_maker() as session:
        rows = await session.execute(
            text(
                """
                SELECT e.id, e.commence_time, GREATEST(max(s.snapshot_time), e.odds_requested_at) AS last
                FROM events e LEFT JOIN odds_snapshots s ON s.event_id = e.id AND s.source = 'live'
                WHERE e.commence_time > :at AND e.status IN ('scheduled', 'postponed') AND e.sport_key = :sport
                GROUP BY e.id, e.commence_time, e.odds_requested_at
                ORDER BY e.commence_time, e.id
                """
            ),
            {"at": at, "sport": settings.odds_api_sport},
        )
        listed = [(r.id, r.commence_time, r.last) for r in rows]
    return due_events(listed, now=at, spec=spec)


async def listed_event_ids(at: datetime, event_ids: list[str] | None = None) -> list[str]:
    """The listed upcoming games a slate /odds call at `at` could return (within `event_ids` when given)."""
    from odds_models.db import async_session_maker

    async with async_session_maker() as session:
        rows = await session.execute(
            text(
                "SELECT id FROM events WHERE commence_time > :at AND status IN ('scheduled', 'postponed') "
                "AND sport_key = :sport AND (CAST(:ids AS text[]) IS NULL OR id = ANY(CAST(:ids AS text[]))) "
                "ORDER BY id"
            ),
            {"at": at, "sport": get_settings().odds_api_sport, "ids": event_ids},
        )
        return [r.id for r in rows]


# -- paid ----------------------------------------------------------------------------------------------------


async def fetch_odds_to_spool(*, event_ids: list[str] | None = None) -> SpooledFetch:
    """One paid `/odds` call for the slate (credits reserved first); the response goes to the spool before
    anything else. The listed games it could return are recorded with it (their `odds_requested_at`)."""
    settings = get_settings()
    fetched_at = now()
    requested = await listed_event_ids(fetched_at, event_ids)
    response, logs = await _paid_call(
        lambda api: api.odds(regions=settings.regions, markets=settings.markets,
                             bookmakers=settings.bookmakers or None, odds_format=settings.odds_format,
                             event_ids=event_ids),
        endpoint=f"/v4/sports/{settings.odds_api_sport}/odds", credits=odds_cost_from_settings(),
        what="The /odds call",
    )  # fmt: skip
    path = spool_response(kind="odds", endpoint=response.endpoint, data=response.data, source="live",
                          snapshot_time=fetched_at, odds_format=settings.odds_format, fetch_logs=logs,
                          requested_event_ids=requested)  # fmt: skip
    events = len(response.data) if isinstance(response.data, list) else 0
    return SpooledFetch(path=str(path), endpoint=response.endpoint, events=events, cost=response.quota.last,
                        quota=_quota_dict(response.quota))  # fmt: skip


async def fetch_scores_to_spool(*, days_from: int | None = None) -> SpooledFetch:
    """One paid `/scores` call (1 credit, 2 with daysFrom; reserved first) to the spool."""
    response, logs = await _paid_call(
        lambda api: api.scores(days_from=days_from),
        endpoint=f"/v4/sports/{get_settings().odds_api_sport}/scores", credits=2 if days_from else 1,
        what="The /scores call",
    )  # fmt: skip
    path = spool_response(kind="scores", endpoint=response.endpoint, data=response.data, days_from=days_from,
                          fetch_logs=logs)  # fmt: skip
    events = len(response.data) if isinstance(response.data, list) else 0
    return SpooledFetch(path=str(path), endpoint=response.endpoint, events=events, cost=response.quota.last,
                        quota=_quota_dict(response.quota))  # fmt: skip


async def fetch_historical_odds_to_spool(*, date: datetime) -> SpooledFetch:
    """One paid historical `/odds` call (10 × markets × regions; reserved first) to the spool; snapshot
    time = `timestamp`."""
    settings = get_settings()
    response, logs = await _paid_call(
        lambda api: api.historical_odds(date=date, regions=settings.regions, markets=settings.markets,
                                        bookmakers=settings.bookmakers or None, odds_format=settings.odds_format),
        endpoint=f"/v4/historical/sports/{settings.odds_api_sport}/odds",
        credits=odds_cost_from_settings(historical=True), what="A historical /odds call",
    )  # fmt: skip
    path = spool_response(kind="historical_odds", endpoint=response.endpoint, data=response.data,
                          source="historical", odds_format=settings.odds_format, fetch_logs=logs)  # fmt: skip
    inner = response.data.get("data") if isinstance(response.data, dict) else None
    return SpooledFetch(path=str(path), endpoint=response.endpoint,
                        events=len(inner) if isinstance(inner, list) else 0, cost=response.quota.last,
                        quota=_quota_dict(response.quota))  # fmt: skip


def odds_cost_from_settings(*, historical: bool = False) -> int:
    settings = get_settings()
    return odds_call_cost(settings.markets, settings.regions, settings.bookmakers, historical=historical)


# -- Prefect tasks (one or two calls each) -------------------------------------------------------------------


@task(name="drain-spool", **DB_WRITE_RETRY)
async def drain_spool_task() -> DrainResult:
    """Store paid responses left on disk by an earlier run."""
    return await drain_spool()


@task(name="fetch-events", cache_policy=NONE)
async def fetch_events_task() -> FetchedFree:
    """GET /events (free)."""
    return await fetch_events()


@task(name="store-events", **DB_WRITE_RETRY)
async def store_events_payload_task(fetched: FetchedFree) -> dict[str, int]:
    """Upsert the listed events."""
    return await store_events_payload(fetched)


@task(name="due-events", cache_policy=NONE)
async def due_event_list_task() -> list[DueEvent]:
    """Which upcoming games are due a snapshot in their tier."""
    return await due_event_list()


@task(name="credits-spent", cache_policy=NONE)
async def credits_spent_this_month_task() -> int:
    """Credits spent this month, from fetch_logs."""
    return await credits_spent_this_month()


@task(name="fetch-odds", cache_policy=NONE)
async def fetch_odds_to_spool_task() -> SpooledFetch:
    """GET /odds for the slate (paid) into the spool."""
    return await fetch_odds_to_spool()


@task(name="fetch-scores", cache_policy=NONE)
async def fetch_scores_to_spool_task(days_from: int | None) -> SpooledFetch:
    """GET /scores (paid) into the spool."""
    return await fetch_scores_to_spool(days_from=days_from)


@task(name="fetch-historical-odds", task_run_name="fetch-historical-odds-{date}", cache_policy=NONE)
async def fetch_historical_odds_to_spool_task(date: datetime) -> SpooledFetch:
    """GET historical /odds at a time (paid) into the spool."""
    return await fetch_historical_odds_to_spool(date=date)


@task(name="store-spooled", **DB_WRITE_RETRY)
async def store_spool_file_task(path: str) -> dict[str, int]:
    """Store one spooled response and delete its file."""
    return await store_spool_file(Path(path))


async def backfill_candidates(start: datetime, end: datetime) -> list[tuple[str, datetime, list[datetime]]]:
    """Past games between `start` and `end` with the times of their stored snapshots (any source)."""
    from odds_models.db import async_session_maker

    settings = get_settings()
    async with async_session_maker() as session:
        rows = await session.execute(
            text(
                """
                SELECT e.id, e.commence_time,
                       COALESCE(array_agg(s.snapshot_time) FILTER (WHERE s.id IS NOT NULL), '{}') AS times
                FROM events e LEFT JOIN odds_snapshots s ON s.event_id = e.id
                WHERE e.commence_time >= :start AND e.commence_time < :end AND e.sport_key = :sport
                  AND e.status <> 'cancelled'
                GROUP BY e.id, e.commence_time ORDER BY e.commence_time
                """
            ),
            {"start": start, "end": end, "sport": settings.odds_api_sport},
        )
        return [(r.id, r.commence_time, list(r.times)) for r in rows]


async def import_files(paths: list[str], reject_invalid: bool | None = None) -> dict[str, Any]:
    """Import saved responses (see `tasks.import_oddsapi`)."""
    from tasks.import_oddsapi import import_oddsapi_paths

    summary = await import_oddsapi_paths(paths, reject_invalid=reject_invalid)
    return summary.as_dict()


@task(name="backfill-candidates", cache_policy=NONE)
async def backfill_candidates_task(
    start: datetime, end: datetime
) -> list[tuple[str, datetime, list[datetime]]]:
    """Past games and their stored snapshot times."""
    return await backfill_candidates(start, end)


@task(name="import-oddsapi-files", **DB_WRITE_RETRY)
async def import_files_task(paths: list[str], reject_invalid: bool | None = None) -> dict[str, Any]:
    """Import saved Odds API responses (idempotent)."""
    return await import_files(paths, reject_invalid)
