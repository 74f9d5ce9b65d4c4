"""The Polymarket steps: plain async functions (tested directly) and the thin Prefect tasks around them.

Each step opens what it needs itself (a client from `make_gamma_client()`/`make_clob_client()`,
`async_session_maker()`), never receives a session or a client, and returns small values; each task
(`x_task` around a plain `x`) uses `cache_policy=NONE`. HTTP retries live in the client; DB-write tasks
retry only connection-type DB errors (`tasks.retry`). Every API call becomes a `fetch_logs` row through the
one writer (`tasks.storage.fetch_logs`), best effort: a logging failure never fails a step. The decisions
(which markets a poll collects, links, backfill ranges and verdict) are pure, in `odds_analytics`.

One exception to "one call per task", on purpose: `backfill_token_history` fetches a token's windows and
stores each one (points + watermark in one transaction) as it goes, so a crash half-way loses at most the
window in flight and a rerun resumes at the watermark. The watermark covers only what an answer really
holds (`odds_analytics.polymarket.history.covered_by_answer`): up to the newest point stored, or a closed
market's whole window; an empty answer or a missing tail is asked for again by the next run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NONE

from odds_analytics.linking import LinkReport, candidate_window, compute_links
from odds_analytics.polymarket.clob import OrderBook, TokenQuote
from odds_analytics.polymarket.gamma import parse_events_leniently
from odds_analytics.polymarket.history import (
    FINE_HISTORY_RETENTION,
    HISTORY_WINDOW,
    BackfillOutcome,
    backfill_range,
    backfill_staleness,
    covered_by_answer,
    expires_within,
    next_history_start,
)
from odds_analytics.polymarket.parsing import PolymarketFinding
from odds_analytics.polymarket.poll import PollPlan, plan_poll
from odds_analytics.tiers import TierSpec
from odds_models import clock
from odds_models.db import async_session_maker
from odds_models.errors import OddsPipelineError, TransientUpstreamError, redact
from odds_models.settings import get_settings
from tasks.http import ApiClient, CallRecord, run_logger
from tasks.import_polymarket import import_polymarket_file
from tasks.polymarket_clob import ClobClient, make_clob_client
from tasks.polymarket_gamma import make_gamma_client
from tasks.retry import DB_WRITE_RETRY
from tasks.storage import polymarket_markets as markets
from tasks.storage import polymarket_prices as prices
from tasks.storage.fetch_logs import store_fetch_logs
from tasks.storage.polymarket_prices import BackfillTarget

__all__ = [
    "BackfillPlan",
    "backfill_token",
    "backfill_token_history",
    "backfill_token_history_task",
    "fetch_books",
    "fetch_books_task",
    "fetch_gamma_events",
    "fetch_gamma_events_task",
    "fetch_quotes",
    "fetch_quotes_task",
    "import_polymarket_file_task",
    "link_events",
    "link_events_task",
    "read_backfill_plan",
    "read_backfill_plan_task",
    "read_last_backfill_success",
    "read_last_backfill_success_task",
    "read_poll_plan",
    "read_poll_plan_task",
    "read_status",
    "store_gamma_events",
    "store_gamma_events_task",
    "store_poll",
    "store_poll_task",
    "write_call_logs",
]

log = logging.getLogger(__name__)

MAX_BACKFILL_REACH = timedelta(days=365)  # how far back an explicit --start may reach
BackfillPlan = list[tuple[BackfillTarget, tuple[datetime, datetime]]]
C = TypeVar("C", bound=ApiClient)


async def write_call_logs(records: Sequence[CallRecord]) -> int:
    """Write API call records to `fetch_logs` (best effort: a logging failure never fails a step)."""
    try:
        return await store_fetch_logs(records)
    except Exception as exc:
        log.warning("could not write %d fetch_logs rows: %s", len(records), type(exc).__name__)
        return 0


@asynccontextmanager
async def _logged(client: C) -> AsyncIterator[C]:
    """The client, closed afterwards with its calls written to `fetch_logs` (also when a call failed)."""
    try:
        yield client
    finally:
        await write_call_logs(client.calls)
        await client.aclose()


# -- discovery ---------------------------------------------------------------------------------------------


async def fetch_gamma_events(*, closed: bool) -> list[dict[str, Any]]:
    """Every keyset page of the NBA series' game events (raw event objects)."""
    settings = get_settings()
    async with _logged(make_gamma_client()) as gamma:
        return await gamma.iter_events(
            closed=closed, series_id=settings.polymarket_series_id, tag_id=settings.polymarket_game_tag_id
        )


@task(cache_policy=NONE, task_run_name="fetch-gamma-events-closed={closed}")
async def fetch_gamma_events_task(closed: bool = False) -> list[dict[str, Any]]:
    """Page through the NBA game events on Gamma (keyset)."""
    return await fetch_gamma_events(closed=closed)


async def store_gamma_events(raw_events: Sequence[Any], *, at: datetime) -> dict[str, int]:
    """Parse (one broken event becomes a finding), then upsert events and markets and write the findings,
    in one transaction."""
    events, findings = parse_events_leniently(raw_events)
    async with async_session_maker() as session:
        known_events, known_markets = await markets.count_stored(
            session=session,
            event_ids=[e.id for e in events],
            market_ids=[m.id for e in events for m in e.markets],
        )
        n_events = await markets.upsert_events(session=session, events=events, at=at)
        n_findings = await prices.insert_findings(session=session, findings=findings, source="gamma")
        await session.commit()
    n_markets = sum(len(e.markets) for e in events)
    return {"events": n_events, "markets": n_markets, "findings": n_findings,
            "events_existing": known_events, "markets_existing": known_markets}  # fmt: skip


@task(task_run_name="store-gamma-events", **DB_WRITE_RETRY)
async def store_gamma_events_task(raw_events: list[dict[str, Any]]) -> dict[str, int]:
    """Parse and upsert Gamma events with their markets."""
    counts = await store_gamma_events(raw_events, at=clock.now())
    run_logger().info(
        "stored gamma events: events %d added, %d existing (refreshed); markets %d added, %d existing "
        "(refreshed); findings %d", counts["events"] - counts["events_existing"], counts["events_existing"],
        counts["markets"] - counts["markets_existing"], counts["markets_existing"], counts["findings"],
    )  # fmt: skip
    return counts


# -- linking -----------------------------------------------------------------------------------------------


async def link_events(*, dry_run: bool = False) -> LinkReport:
    """Read Polymarket events and sportsbook candidates, match, and write what changed (unless `dry_run`)."""
    async with async_session_maker() as session:
        inputs = await markets.read_link_inputs(session=session)
        window = candidate_window(inputs)
        candidates = (
            await markets.read_candidates(session=session, start=window[0], end=window[1]) if window else []
        )
        report = compute_links(inputs, candidates)
        if not dry_run:
            report.written = await markets.set_links(session=session, results=report.changed(inputs))
            await session.commit()
    return report


@task(task_run_name="link-events", **DB_WRITE_RETRY)
async def link_events_task(dry_run: bool = False) -> LinkReport:
    """Link Polymarket games to sportsbook events (unique matches only)."""
    return await link_events(dry_run=dry_run)


# -- live prices and books ---------------------------------------------------------------------------------


async def read_poll_plan(tiers: Sequence[str] | None, *, now: datetime) -> PollPlan:
    """The markets of the events in `tiers` (default: every tier within the first boundary)."""
    settings = get_settings()
    spec = TierSpec.from_settings(settings)
    horizon = timedelta(hours=max(spec.boundaries) * 2 if spec.boundaries else 24 * 7)
    async with async_session_maker() as session:
        targets = await markets.read_poll_targets(session=session, now=now, horizon=horizon)
    return plan_poll(
        targets, now=now, tiers=tiers, spec=spec, books_all_markets=settings.polymarket_books_all_markets
    )


@task(task_run_name="read-poll-plan", cache_policy=NONE)
async def read_poll_plan_task(tiers: list[str] | None = None) -> PollPlan:
    """Markets of the events in the tiers being collected."""
    return await read_poll_plan(tiers, now=clock.now())


async def fetch_quotes(token_ids: Sequence[str]) -> dict[str, TokenQuote]:
    """Best bid, best ask, mid and spread of every token (batched `POST /prices`)."""
    async with _logged(make_clob_client()) as clob:
        return await clob.prices(token_ids)


@task(task_run_name="fetch-quotes", cache_policy=NONE)
async def fetch_quotes_task(token_ids: list[str]) -> dict[str, TokenQuote]:
    """Best bid, best ask, mid and spread of every token (batched `POST /prices`)."""
    return await fetch_quotes(token_ids)


async def fetch_books(token_ids: Sequence[str]) -> dict[str, OrderBook]:
    """Order books of the given tokens (batched `POST /books`), sorted best-first."""
    if not token_ids:
        return {}
    async with _logged(make_clob_client()) as clob:
        return await clob.books(token_ids)


@task(task_run_name="fetch-books", cache_policy=NONE)
async def fetch_books_task(token_ids: list[str]) -> dict[str, OrderBook]:
    """Order books of the given tokens (batched `POST /books`), sorted best-first."""
    return await fetch_books(token_ids)


async def store_poll(
    plan: PollPlan, quotes: dict[str, TokenQuote], books: dict[str, OrderBook], *, snapshot_time: datetime
) -> dict[str, int]:
    """Store one poll's prices and books (idempotent per token and snapshot time). Returns the rows added
    (`prices`, `books`) and the rows offered that were already stored (`prices_existing`, `books_existing`)."""
    offered_quotes = len({t for t in quotes if t in plan.tokens})
    offered_books = len({t for t in books if t in plan.tokens})
    async with async_session_maker() as session:
        n_quotes = await prices.insert_quotes(
            session=session,
            quotes=[(plan.tokens[t][0], plan.tokens[t][1], q) for t, q in quotes.items() if t in plan.tokens],
            snapshot_time=snapshot_time,
        )
        n_books = await prices.insert_orderbooks(
            session=session,
            books=[(plan.tokens[t][0], b) for t, b in books.items() if t in plan.tokens],
            snapshot_time=snapshot_time,
        )
        await session.commit()
    return {"prices": n_quotes, "books": n_books, "prices_existing": offered_quotes - n_quotes,
            "books_existing": offered_books - n_books}  # fmt: skip


@task(task_run_name="store-poll", **DB_WRITE_RETRY)
async def store_poll_task(
    plan: PollPlan, quotes: dict[str, TokenQuote], books: dict[str, OrderBook], snapshot_time: datetime
) -> dict[str, int]:
    """Store one poll's prices and books (idempotent per token and snapshot time)."""
    counts = await store_poll(plan, quotes, books, snapshot_time=snapshot_time)
    run_logger().info(
        "stored poll at %s: prices %d added, %d existing; books %d added, %d existing",
        f"{snapshot_time:%Y-%m-%dT%H:%M:%SZ}", counts["prices"], counts["prices_existing"], counts["books"],
        counts["books_existing"],
    )  # fmt: skip
    return counts


# -- history backfill --------------------------------------------------------------------------------------


async def read_backfill_plan(
    *, now: datetime, lookback: timedelta, between: tuple[datetime, datetime] | None = None
) -> BackfillPlan:
    """Every token with history still to fetch, with the range to fetch (resuming at its watermark).

    `between` limits the ranges to [start, end) (and reaches back to `start` even beyond `lookback`).
    """
    if between is not None:
        lookback = max(lookback, now - between[0])
    async with async_session_maker() as session:
        targets = await prices.read_backfill_targets(
            session=session, since=now - lookback - timedelta(days=1)
        )
        marks = await prices.read_watermarks(session=session, token_ids=[t.token_id for t in targets])
    plan = []
    for target in targets:
        mark = marks.get(target.token_id)
        rng = backfill_range(now=now, lookback=lookback, market_start=target.market_start,
                             market_end=target.market_end, covered_from=mark.covered_from if mark else None,
                             covered_to=mark.covered_to if mark else None)  # fmt: skip
        if rng is not None and between is not None:
            lo, hi = max(rng[0], between[0]), min(rng[1], between[1])
            rng = (lo, hi) if lo < hi else None
        if rng is not None:
            plan.append((target, rng))
    return plan


@task(task_run_name="read-backfill-plan", cache_policy=NONE)
async def read_backfill_plan_task(
    lookback_days: int, start: datetime | None = None, end: datetime | None = None
) -> BackfillPlan:
    """Tokens whose history is still missing, with the range to fetch (only [start, end) when given)."""
    now = clock.now()
    between = None
    if start is not None or end is not None:
        lo = max(start or datetime.min.replace(tzinfo=UTC), now - MAX_BACKFILL_REACH)
        between = (lo, end or now)
    return await read_backfill_plan(now=now, lookback=timedelta(days=lookback_days), between=between)


async def backfill_token(
    clob: ClobClient, target: BackfillTarget, start: datetime, end: datetime
) -> BackfillOutcome:
    """Fetch [start, end] in ≤15-day windows, oldest first; store each window with its watermark at once.

    Each window starts where the previous answer's coverage ended, so the covered ranges stay contiguous;
    the last window's unanswered tail (the newest minutes) is left to the next run.
    """
    outcome = BackfillOutcome(target.token_id)
    window_start = start
    while window_start < end:
        window_end = min(window_start + HISTORY_WINDOW, end)
        try:
            points, findings = await clob.price_history(target.token_id, window_start, window_end)
        except OddsPipelineError as exc:
            outcome.error = str(exc)[:300]
            outcome.transient = isinstance(exc, TransientUpstreamError)
            async with async_session_maker() as session:
                await prices.record_backfill_error(session=session, token_id=target.token_id,
                                                   market_id=target.market_id, error=outcome.error, at=clock.now())  # fmt: skip
                await session.commit()
            return outcome
        at = clock.now()
        covered = covered_by_answer(window_start=window_start, window_end=window_end,
                                    point_times=[p.t for p in points], market_end=target.market_end, now=at)  # fmt: skip
        async with async_session_maker() as session:
            inserted = await prices.store_history_window(
                session=session,
                market_id=target.market_id,
                token_id=target.token_id,
                outcome=target.outcome,
                points=points,
                window_start=covered[0] if covered else None,  # None: the watermark stays where it was
                window_end=covered[1] if covered else None,
                at=at,
            )
            located = [PolymarketFinding(f.severity, f.check_type, f.detail, f.token_id, target.market_id,
                                         window_start) for f in findings]  # fmt: skip
            await prices.insert_findings(session=session, findings=located, source="clob")
            await session.commit()
        outcome.windows += 1
        outcome.points += inserted
        outcome.fetched += len(points)
        if window_end >= end:
            break
        window_start = next_history_start(window_start, window_end, covered)
    return outcome


async def backfill_token_history(target: BackfillTarget, start: datetime, end: datetime) -> BackfillOutcome:
    """One token's missing history [start, end] through a CLOB client of its own."""
    async with _logged(make_clob_client()) as clob:
        return await backfill_token(clob, target, start, end)


@task(task_run_name="backfill-{token_id:.10}", **DB_WRITE_RETRY)
async def backfill_token_history_task(  # noqa: PLR0917 - task parameters are positional in the UI too
    token_id: str,
    market_id: str,
    outcome: str | None,
    start: datetime,
    end: datetime,
    market_end: datetime | None = None,
) -> BackfillOutcome:
    """Fetch and store one token's missing price history (≤15-day windows, 1-minute fidelity).

    `market_end`: when the market closed (its settled history is final, so an empty answer covers it).
    """
    target = BackfillTarget(market_id, token_id, outcome, "", None, market_end)
    result = await backfill_token_history(target, start, end)
    run_logger().info(
        "stored price history of token %s…: points %d added, %d existing, in %d window(s)%s",
        token_id[:12], result.points, result.fetched - result.points, result.windows,
        f"; stopped: {redact(result.error)}" if result.error else "",
    )  # fmt: skip
    return result


async def read_last_backfill_success() -> datetime | None:
    """When a backfill last stored a window successfully."""
    async with async_session_maker() as session:
        return await prices.read_last_backfill_success(session=session)


@task(task_run_name="read-last-backfill-success", cache_policy=NONE)
async def read_last_backfill_success_task() -> datetime | None:
    """When a backfill last stored a window successfully."""
    return await read_last_backfill_success()


# -- file import and status --------------------------------------------------------------------------------


@task(task_run_name="import-{path.name}", **DB_WRITE_RETRY)
async def import_polymarket_file_task(path: Path, token_id: str | None = None) -> dict[str, Any]:
    """Import one saved Gamma or CLOB response."""
    return (await import_polymarket_file(path, token_id)).as_dict()


async def read_status(*, now: datetime, horizon: timedelta = timedelta(days=7)) -> dict[str, Any]:
    """Backfill freshness, history at risk of expiring within `horizon`, and table counts."""
    async with async_session_maker() as session:
        last = await prices.read_last_backfill_success(session=session)
        targets = await prices.read_backfill_targets(
            session=session, since=now - FINE_HISTORY_RETENTION - horizon
        )
        marks = await prices.read_watermarks(session=session, token_ids=[t.token_id for t in targets])
        counts = await markets.read_polymarket_counts(session=session)
    expiring: dict[str, dict[str, Any]] = {}
    for target in targets:
        mark = marks.get(target.token_id)
        when = expires_within(now=now, horizon=horizon, market_start=target.market_start,
                              market_end=target.market_end, covered_to=mark.covered_to if mark else None)  # fmt: skip
        if when is None:
            continue
        entry = expiring.setdefault(
            target.market_id,
            {"market_id": target.market_id, "question": target.question, "expires_at": when, "tokens": 0},
        )
        entry["expires_at"] = min(entry["expires_at"], when)
        entry["tokens"] += 1
    level, message = backfill_staleness(last, now)
    return {
        "now": now,
        "last_backfill_success": last,
        "since_last_backfill_hours": round((now - last).total_seconds() / 3600, 1) if last else None,
        "backfill_staleness": level,
        "message": message,
        "expiring_within_week": sorted(expiring.values(), key=lambda e: e["expires_at"]),
        **{k: counts[k] for k in ("events", "markets", "linked", "ambiguous", "last_poll", "price_rows")},
    }
