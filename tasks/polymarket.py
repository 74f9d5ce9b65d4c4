"""Polymarket steps: plain async functions (what tests call) and the thin Prefect tasks flows call.

Each task opens what it needs itself (a client from settings, `async_session_maker()`), never receives a
session or a client, uses `cache_policy=NONE` and returns small values. HTTP retries live in the client;
DB-write tasks retry only connection-type DB errors (`tasks.retry`).

One exception to "one call per task", on purpose: `backfill_token_history` fetches a token's windows and
stores each one (points + watermark in one transaction) as it goes, so a crash half-way loses at most the
window in flight and a rerun resumes at the watermark. The watermark covers only what an answer really
holds (`odds_analytics.polymarket.covered_by_answer`): up to the newest point stored, or a closed market's
whole window; an empty answer or a missing tail is asked for again by the next run.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from prefect import task
from prefect.cache_policies import NONE

from odds_analytics.linking import Candidate, LinkResult, match_event, parse_ticker
from odds_analytics.polymarket import (
    HISTORY_WINDOW,
    Finding,
    OrderBook,
    ParsedEvent,
    TokenQuote,
    backfill_range,
    covered_by_answer,
    next_history_start,
    parse_gamma_event,
)
from odds_analytics.tiers import TierSpec, hours_to_commence, tier_for
from odds_models import clock
from odds_models.db import async_session_maker
from odds_models.errors import OddsPipelineError, PayloadError, TransientUpstreamError
from odds_models.settings import get_settings
from tasks.files import read_payload_file
from tasks.http import CallRecord
from tasks.polymarket_clob import ClobClient, make_clob_client
from tasks.polymarket_gamma import GammaClient, make_gamma_client
from tasks.retry import retry_on_db_connection_error
from tasks.storage import polymarket as store

__all__ = [
    "BackfillOutcome",
    "ImportCounts",
    "LinkReport",
    "PollPlan",
    "backfill_token",
    "backfill_token_history",
    "backfill_verdict",
    "compute_links",
    "discover_events",
    "fetch_books",
    "fetch_gamma_events",
    "fetch_quotes",
    "import_payload",
    "import_polymarket_file",
    "link_events",
    "plan_poll",
    "poll_bucket",
    "read_backfill_plan",
    "read_poll_plan",
    "read_status",
    "run_backfill",
    "run_discover",
    "run_import",
    "run_link",
    "run_poll",
    "store_events",
    "store_gamma_events",
    "store_poll",
    "write_call_logs",
]

log = logging.getLogger(__name__)

_DB_RETRY: dict[str, Any] = {
    "retries": 2,
    "retry_delay_seconds": [2, 10],
    "retry_condition_fn": retry_on_db_connection_error,
}


def _flow_run_id() -> str | None:
    try:
        from prefect.runtime import flow_run

        run_id = flow_run.id
        return str(run_id) if run_id else None
    except Exception:
        return None


async def write_call_logs(records: Sequence[CallRecord]) -> int:
    """Write API call records to `fetch_logs` (best effort: a logging failure never fails a step)."""
    if not records:
        return 0
    try:
        async with async_session_maker() as session:
            count = await store.insert_fetch_logs(session, records, flow_run_id=_flow_run_id())
            await session.commit()
            return count
    except Exception as exc:
        log.warning("could not write %d fetch_logs rows: %s", len(records), type(exc).__name__)
        return 0


# --------------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------------


async def discover_events(
    gamma: GammaClient,
    *,
    closed: bool,
    series_id: str,
    tag_id: str | None,
    extra: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every keyset page of the series' game events (raw event objects)."""
    return await gamma.iter_events(closed=closed, series_id=series_id, tag_id=tag_id, extra=extra)


def parse_events_leniently(raw_events: Iterable[Any]) -> tuple[list[ParsedEvent], list[Finding]]:
    """Parse each event; one broken event becomes an error finding instead of failing the whole page."""
    parsed: list[ParsedEvent] = []
    findings: list[Finding] = []
    for raw in raw_events:
        try:
            parsed.append(parse_gamma_event(raw))
        except PayloadError as exc:
            event_id = raw.get("id") if isinstance(raw, dict) else None
            findings.append(Finding("error", "pm_event_payload", f"event {event_id}: {exc}"))
    return parsed, findings


async def store_events(
    events: Sequence[ParsedEvent], findings: Sequence[Finding], *, at: datetime
) -> dict[str, int]:
    """Upsert events and markets and write findings, in one transaction."""
    async with async_session_maker() as session:
        n_events = await store.upsert_events(session, events, at=at)
        n_findings = await store.insert_findings(session, findings, source="gamma")
        await session.commit()
    return {"events": n_events, "markets": sum(len(e.markets) for e in events), "findings": n_findings}


@task(cache_policy=NONE, task_run_name="fetch-gamma-events-closed={closed}")
async def fetch_gamma_events(closed: bool = False) -> list[dict[str, Any]]:
    """Page through the NBA game events on Gamma (keyset)."""
    return await fetch_nba_events(closed=closed)


async def fetch_nba_events(*, closed: bool, client: httpx.AsyncClient | None = None) -> list[dict[str, Any]]:
    """Every keyset page of the NBA series' game events; the calls are written to `fetch_logs`."""
    settings = get_settings()
    gamma = make_gamma_client(client)
    try:
        return await discover_events(
            gamma,
            closed=closed,
            series_id=settings.polymarket_series_id,
            tag_id=settings.polymarket_game_tag_id,
        )
    finally:
        await write_call_logs(gamma.calls)
        await gamma.aclose()


@task(cache_policy=NONE, **_DB_RETRY)
async def store_gamma_events(raw_events: list[dict[str, Any]]) -> dict[str, int]:
    """Parse and upsert Gamma events with their markets."""
    events, findings = parse_events_leniently(raw_events)
    return await store_events(events, findings, at=clock.now())


# --------------------------------------------------------------------------------------------------------
# Linking
# --------------------------------------------------------------------------------------------------------


@dataclass
class LinkReport:
    linked: list[LinkResult] = field(default_factory=list)
    ambiguous: list[LinkResult] = field(default_factory=list)
    unmatched: list[LinkResult] = field(default_factory=list)
    written: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "linked": len(self.linked),
            "ambiguous": len(self.ambiguous),
            "unmatched": len(self.unmatched),
            "written": self.written,
        }


def compute_links(inputs: Sequence[store.LinkInput], candidates: Sequence[Candidate]) -> LinkReport:
    """Match every Polymarket event against the sportsbook candidates (pure)."""
    report = LinkReport()
    for item in inputs:
        ticker = parse_ticker(item.ticker or "") or parse_ticker(item.slug)
        result = match_event(
            item.polymarket_event_id, ticker, candidates, game_start_time=item.game_start_time
        )
        getattr(report, result.status).append(result)
    return report


async def run_link(*, dry_run: bool = False) -> LinkReport:
    """Read Polymarket events and sportsbook candidates, match, and write (unless `dry_run`)."""
    async with async_session_maker() as session:
        inputs = await store.read_link_inputs(session)
        dates = [t.game_date for i in inputs if (t := parse_ticker(i.ticker or "") or parse_ticker(i.slug))]
        candidates: list[Candidate] = []
        if dates:
            lo = datetime.combine(min(dates), datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
            hi = datetime.combine(max(dates), datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
            candidates = await store.read_candidates(session, start=lo, end=hi)
        report = compute_links(inputs, candidates)
        if not dry_run:
            # write only what changed: discovery relinks every hour
            before = {i.polymarket_event_id: (i.link_status, i.event_id) for i in inputs}
            changed = [
                r for r in (*report.linked, *report.ambiguous, *report.unmatched)
                if before.get(r.polymarket_event_id) != (r.status, r.event_id)
            ]  # fmt: skip
            report.written = await store.set_links(session, changed)
            await session.commit()
    return report


@task(cache_policy=NONE, **_DB_RETRY)
async def link_events(dry_run: bool = False) -> LinkReport:
    """Link Polymarket games to sportsbook events (unique matches only)."""
    return await run_link(dry_run=dry_run)


# --------------------------------------------------------------------------------------------------------
# Live prices and books
# --------------------------------------------------------------------------------------------------------


_BOOK_TYPES = ("moneyline", "spread", "total")


@dataclass
class PollPlan:
    """What one poll collects: token -> (market id, outcome); the tokens that also get a book."""

    tokens: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    book_tokens: list[str] = field(default_factory=list)
    markets: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)


def plan_poll(
    targets: Sequence[store.PollTarget],
    *,
    now: datetime,
    tiers: Sequence[str] | None,
    spec: TierSpec,
    books_all_markets: bool,
) -> PollPlan:
    """Keep the markets whose event is in one of `tiers` (default: every tier within the first boundary)."""
    wanted = set(tiers) if tiers else set(spec.names[1:])
    plan = PollPlan()
    for target in targets:
        if target.start_time is None:
            continue
        tier = tier_for(hours_to_commence(target.start_time, now), spec)
        if tier is None or tier not in wanted:
            continue
        plan.markets += 1
        plan.by_tier[tier] = plan.by_tier.get(tier, 0) + 1
        outcomes = list(target.outcomes) + [None] * (len(target.token_ids) - len(target.outcomes))
        for token, outcome in zip(target.token_ids, outcomes, strict=False):
            plan.tokens[token] = (target.market_id, outcome)
            # game moneylines, spreads and totals get a book: picks fill a stake on it (odds_analytics.venues)
            if books_all_markets or (target.market_type in _BOOK_TYPES and target.period == "game"):
                plan.book_tokens.append(token)
    return plan


def poll_bucket(now: datetime, interval_seconds: int) -> datetime:
    """The poll's snapshot time: `now` floored to the poll interval, so two polls at once store one row."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % max(interval_seconds, 1), UTC)


async def read_poll_plan(tiers: Sequence[str] | None, *, now: datetime) -> PollPlan:
    settings = get_settings()
    spec = TierSpec.from_settings(settings)
    horizon = timedelta(hours=max(spec.boundaries) * 2 if spec.boundaries else 24 * 7)
    async with async_session_maker() as session:
        targets = await store.read_poll_targets(session, now=now, horizon=horizon)
    return plan_poll(
        targets, now=now, tiers=tiers, spec=spec, books_all_markets=settings.polymarket_books_all_markets
    )


@task(cache_policy=NONE)
async def fetch_quotes(token_ids: list[str]) -> dict[str, TokenQuote]:
    """Best bid, best ask, mid and spread of every token (batched `POST /prices`)."""
    clob = make_clob_client()
    try:
        return await clob.prices(token_ids)
    finally:
        await write_call_logs(clob.calls)
        await clob.aclose()


@task(cache_policy=NONE)
async def fetch_books(token_ids: list[str]) -> dict[str, OrderBook]:
    """Order books of the given tokens (batched `POST /books`), sorted best-first."""
    if not token_ids:
        return {}
    clob = make_clob_client()
    try:
        return await clob.books(token_ids)
    finally:
        await write_call_logs(clob.calls)
        await clob.aclose()


async def store_poll_rows(
    plan: PollPlan, quotes: dict[str, TokenQuote], books: dict[str, OrderBook], *, snapshot_time: datetime
) -> dict[str, int]:
    async with async_session_maker() as session:
        n_quotes = await store.insert_quotes(
            session,
            [(plan.tokens[t][0], plan.tokens[t][1], q) for t, q in quotes.items() if t in plan.tokens],
            snapshot_time=snapshot_time,
        )
        n_books = await store.insert_orderbooks(
            session,
            [(plan.tokens[t][0], b) for t, b in books.items() if t in plan.tokens],
            snapshot_time=snapshot_time,
        )
        await session.commit()
    return {"prices": n_quotes, "books": n_books}


@task(cache_policy=NONE, **_DB_RETRY)
async def store_poll(
    plan: PollPlan, quotes: dict[str, TokenQuote], books: dict[str, OrderBook], snapshot_time: datetime
) -> dict[str, int]:
    """Store one poll's prices and books (idempotent per token and snapshot time)."""
    return await store_poll_rows(plan, quotes, books, snapshot_time=snapshot_time)


@task(cache_policy=NONE)
async def read_poll_targets_task(tiers: list[str] | None = None) -> PollPlan:
    """Markets of the events in the tiers being collected."""
    return await read_poll_plan(tiers, now=clock.now())


# --------------------------------------------------------------------------------------------------------
# History backfill
# --------------------------------------------------------------------------------------------------------


@dataclass
class BackfillOutcome:
    token_id: str
    windows: int = 0
    points: int = 0
    error: str | None = None
    transient: bool = False  # the error was retryable (429/5xx/transport after the client's retries)


async def read_backfill_plan(
    *, now: datetime, lookback: timedelta, between: tuple[datetime, datetime] | None = None
) -> list[tuple[store.BackfillTarget, tuple[datetime, datetime]]]:
    """Every token with history still to fetch, with the range to fetch (resuming at its watermark).

    `between` limits the ranges to [start, end) (and reaches back to `start` even beyond `lookback`).
    """
    if between is not None:
        lookback = max(lookback, now - between[0])
    async with async_session_maker() as session:
        targets = await store.read_backfill_targets(session, since=now - lookback - timedelta(days=1))
        marks = await store.read_watermarks(session, [t.token_id for t in targets])
    plan = []
    for target in targets:
        mark = marks.get(target.token_id)
        rng = backfill_range(
            now=now,
            lookback=lookback,
            market_start=target.market_start,
            market_end=target.market_end,
            covered_from=mark.covered_from if mark else None,
            covered_to=mark.covered_to if mark else None,
        )
        if rng is not None and between is not None:
            lo, hi = max(rng[0], between[0]), min(rng[1], between[1])
            rng = (lo, hi) if lo < hi else None
        if rng is not None:
            plan.append((target, rng))
    return plan


async def backfill_token(
    clob: ClobClient,
    target: store.BackfillTarget,
    start: datetime,
    end: datetime,
    *,
    on_window: Callable[[int], None] | None = None,
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
                await store.record_backfill_error(
                    session,
                    token_id=target.token_id,
                    market_id=target.market_id,
                    error=outcome.error,
                    at=clock.now(),
                )
                await session.commit()
            return outcome
        at = clock.now()
        covered = covered_by_answer(window_start=window_start, window_end=window_end,
                                    point_times=[p.t for p in points], market_end=target.market_end, now=at)  # fmt: skip
        async with async_session_maker() as session:
            inserted = await store.store_history_window(
                session,
                market_id=target.market_id,
                token_id=target.token_id,
                outcome=target.outcome,
                points=points,
                window_start=covered[0] if covered else None,  # None: the watermark stays where it was
                window_end=covered[1] if covered else None,
                at=at,
            )
            if findings:
                await store.insert_findings(
                    session,
                    [
                        Finding(
                            f.severity, f.check_type, f.detail, f.token_id, target.market_id, window_start
                        )
                        for f in findings
                    ],
                    source="clob",
                )
            await session.commit()
        outcome.windows += 1
        outcome.points += inserted
        if on_window is not None:
            on_window(inserted)
        if window_end >= end:
            break
        window_start = next_history_start(window_start, window_end, covered)
    return outcome


async def run_backfill(
    plan: Sequence[tuple[store.BackfillTarget, tuple[datetime, datetime]]],
    *,
    concurrency: int,
    client: httpx.AsyncClient | None = None,
    on_token_done: Callable[[BackfillOutcome], None] | None = None,
) -> list[BackfillOutcome]:
    """Backfill every planned token with at most `concurrency` tokens in flight (no engine)."""
    clob = make_clob_client(client)
    semaphore = asyncio.Semaphore(max(concurrency, 1))

    async def one(target: store.BackfillTarget, rng: tuple[datetime, datetime]) -> BackfillOutcome:
        async with semaphore:
            result = await backfill_token(clob, target, *rng)
        if on_token_done is not None:
            on_token_done(result)
        return result

    try:
        return list(await asyncio.gather(*(one(t, r) for t, r in plan)))
    finally:
        await write_call_logs(clob.calls)
        await clob.aclose()


def backfill_verdict(outcomes: Sequence[BackfillOutcome], staleness: tuple[str, str]) -> str | None:
    """Why a backfill run must fail (after saving everything it could), or None.

    - the previous success is more than 5 days old (fine-grained history is at risk);
    - a token's windows still failed with a retryable error after the client's retries (the run is
      incomplete; the next run resumes at the watermark). Final errors (404, 400) are recorded on the
      token's watermark (`last_error`) and reported, but do not fail the run.
    """
    reasons = []
    level, message = staleness
    if level == "fail":
        reasons.append(message)
    transient = [o for o in outcomes if o.transient]
    if transient:
        reasons.append(f"{len(transient)} tokens stopped on retryable errors (first: {transient[0].error})")
    return "; ".join(reasons) or None


@task(cache_policy=NONE, task_run_name="backfill-{token_id:.10}", **_DB_RETRY)
async def backfill_token_history(  # noqa: PLR0917 - task parameters are positional in the UI too
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
    target = store.BackfillTarget(market_id, token_id, outcome, "", None, market_end)
    clob = make_clob_client()
    try:
        return await backfill_token(clob, target, start, end)
    finally:
        await write_call_logs(clob.calls)
        await clob.aclose()


@task(cache_policy=NONE)
async def read_backfill_plan_task(
    lookback_days: int,
) -> list[tuple[store.BackfillTarget, tuple[datetime, datetime]]]:
    """Tokens whose history is still missing, with the range to fetch."""
    return await read_backfill_plan(now=clock.now(), lookback=timedelta(days=lookback_days))


@task(cache_policy=NONE)
async def read_last_backfill_success_task() -> datetime | None:
    """When a backfill last stored a window successfully."""
    async with async_session_maker() as session:
        return await store.read_last_backfill_success(session)


# --------------------------------------------------------------------------------------------------------
# Import of saved responses
# --------------------------------------------------------------------------------------------------------

_TOKEN_IN_NAME = re.compile(r"(?<!\d)(\d{60,80})(?!\d)")


def read_json_file(path: Path) -> Any:
    """A `.json` or `.json.gz` file, size-capped; `PayloadError` naming the file when it is not readable JSON."""
    return read_payload_file(path)


def detect_kind(payload: Any) -> str:
    """events | markets | book | books | history | unknown, from the shape of a saved response."""
    if isinstance(payload, dict):
        if "history" in payload:
            return "history"
        if "bids" in payload or "asks" in payload:
            return "book"
        if isinstance(payload.get("events"), list):
            return "events"
        if isinstance(payload.get("markets"), list) and "question" not in payload:
            return "markets" if "slug" not in payload or "next_cursor" in payload else "events"
        if "condition_id" in payload and "tokens" in payload:
            return "unknown"  # a CLOB market: Gamma is our market index
        if "question" in payload or "clobTokenIds" in payload:
            return "markets"
        if "slug" in payload and "title" in payload:
            return "events"
        return "unknown"
    if isinstance(payload, list):
        first = next((item for item in payload if isinstance(item, dict)), None)
        if first is None:
            return "empty" if not payload else "unknown"
        if "bids" in first or "asks" in first:
            return "books"
        if "question" in first or "clobTokenIds" in first:
            return "markets"
        if "slug" in first and ("title" in first or "markets" in first):
            return "events"
    return "unknown"


@dataclass
class ImportCounts:
    files: int = 0
    events: int = 0
    markets: int = 0
    price_points: int = 0
    books: int = 0
    skipped: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, other: ImportCounts) -> None:
        for name in ("files", "events", "markets", "price_points", "books", "skipped"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for kind, n in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + n

    def as_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "events": self.events,
            "markets": self.markets,
            "price_points": self.price_points,
            "books": self.books,
            "skipped": self.skipped,
            "kinds": dict(self.kinds),
        }


async def _market_for_tokens(session: Any, token_ids: Iterable[str]) -> dict[str, tuple[str, str | None]]:
    from sqlalchemy import text

    sql = text(
        "SELECT tok.token_id, m.id, tok.outcome FROM polymarket_markets AS m "
        "CROSS JOIN LATERAL unnest(m.token_ids, m.outcomes) AS tok(token_id, outcome) "
        "WHERE tok.token_id = ANY(CAST(:tokens AS text[]))"
    )
    rows = (await session.execute(sql, {"tokens": sorted(set(token_ids))})).all()
    return {r[0]: (r[1], r[2]) for r in rows}


async def import_payload(
    payload: Any, *, name: str, token_id: str | None = None, at: datetime
) -> ImportCounts:
    """Parse one saved response completely, then store it in one transaction (all or nothing)."""
    from odds_analytics.polymarket import (
        parse_books,
        parse_gamma_events,
        parse_gamma_markets,
        parse_price_history,
    )

    kind = detect_kind(payload)
    counts = ImportCounts(files=1, kinds={kind: 1})
    if kind == "empty":
        return counts
    if kind == "unknown":
        raise PayloadError(f"{name}: not a Gamma events/markets list nor a CLOB book or prices-history")
    async with async_session_maker() as session:
        if kind == "events":
            events = parse_gamma_events(payload)
            counts.events = await store.upsert_events(session, events, at=at)
            counts.markets = sum(len(e.markets) for e in events)
        elif kind == "markets":
            counts.markets = await store.upsert_markets(session, parse_gamma_markets(payload), at=at)
        elif kind in ("book", "books"):
            books = parse_books(payload)
            owners = await _market_for_tokens(session, [b.token_id for b in books])
            counts.skipped = sum(1 for b in books if b.token_id not in owners)
            rows = [(owners[b.token_id][0], b) for b in books if b.token_id in owners]
            by_time: dict[datetime, list[tuple[str, OrderBook]]] = {}
            for market_id, book in rows:
                by_time.setdefault(book.book_time or at, []).append((market_id, book))
            for snapshot_time, group in by_time.items():
                counts.books += await store.insert_orderbooks(session, group, snapshot_time=snapshot_time)
        else:  # history
            token = token_id or (
                payload.get("token_id") if isinstance(payload.get("token_id"), str) else None
            )
            if token is None and (match := _TOKEN_IN_NAME.search(name)):
                token = match.group(1)
            if token is None:
                raise PayloadError(
                    f"{name}: prices-history needs a token id (--token-id, or one in the file name)"
                )
            points, findings = parse_price_history(payload, token_id=token)
            owners = await _market_for_tokens(session, [token])
            if token not in owners:
                raise PayloadError(
                    f"{name}: token {token[:12]}… is not a stored market's token; import the "
                    "Gamma markets or events first"
                )
            market_id, outcome = owners[token]
            counts.price_points = await store.insert_price_history(
                session, market_id=market_id, token_id=token, outcome=outcome, points=points, source="import"
            )
            counts.skipped = len(findings)
            await store.insert_findings(session, findings, source=f"import:{name}")
        await session.commit()
    return counts


async def _import_file(path: Path, token_id: str | None) -> ImportCounts:
    payload = read_json_file(path)
    try:
        return await import_payload(payload, name=path.name, token_id=token_id, at=clock.now())
    except PayloadError as exc:
        if str(path) in str(exc):
            raise
        raise PayloadError(f"{path}: {exc}"[:300]) from None  # which file, for an import of many
    except (OverflowError, ValueError) as exc:
        # a time at the edge of the calendar (a year-1 date with an offset) overflows while parsing; the
        # file is refused whole (its transaction never commits), like any other malformed payload
        raise PayloadError(f"{path}: {type(exc).__name__}: {exc}"[:300]) from None


async def run_import(paths: Sequence[Path], *, token_id: str | None = None) -> ImportCounts:
    """Import saved Gamma/CLOB responses (`.json`, `.json.gz`), idempotently."""
    total = ImportCounts()
    for path in paths:
        total.add(await _import_file(path, token_id))
    return total


@task(cache_policy=NONE, task_run_name="import-{path.name}", **_DB_RETRY)
async def import_polymarket_file(path: Path, token_id: str | None = None) -> dict[str, Any]:
    """Import one saved Gamma or CLOB response."""
    return (await _import_file(path, token_id)).as_dict()


# --------------------------------------------------------------------------------------------------------
# Whole steps without the engine (the CLI and tests call these; the flows compose the tasks above)
# --------------------------------------------------------------------------------------------------------


async def run_discover(
    *, closed: bool = False, link: bool = True, client: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    """Discover (every keyset page), upsert, then link: what `discover_polymarket` does, without the engine."""
    raw = await fetch_nba_events(closed=closed, client=client)
    events, findings = parse_events_leniently(raw)
    counts: dict[str, Any] = await store_events(events, findings, at=clock.now())
    if link:
        counts.update({f"link_{k}": v for k, v in (await run_link()).counts().items()})
    return counts


async def run_poll(
    tiers: Sequence[str] | None = None, *, client: httpx.AsyncClient | None = None
) -> dict[str, Any]:
    """One price poll (prices of every collected token, books of moneylines), without the engine."""
    now = clock.now()
    snapshot_time = poll_bucket(now, get_settings().price_poll_interval)
    plan = await read_poll_plan(tiers, now=now)
    if not plan.tokens:
        return {"markets": 0, "prices": 0, "books": 0, "by_tier": {}}
    clob = make_clob_client(client)
    try:
        quotes, books = await asyncio.gather(clob.prices(list(plan.tokens)), clob.books(plan.book_tokens))
    finally:
        await write_call_logs(clob.calls)
        await clob.aclose()
    stored = await store_poll_rows(plan, quotes, books, snapshot_time=snapshot_time)
    return {"markets": plan.markets, **stored, "by_tier": plan.by_tier}


async def read_status(*, now: datetime, horizon: timedelta = timedelta(days=7)) -> dict[str, Any]:
    """Backfill freshness, history at risk of expiring within `horizon`, and table counts."""
    from sqlalchemy import text

    from odds_analytics.polymarket import FINE_HISTORY_RETENTION, backfill_staleness, expires_within

    async with async_session_maker() as session:
        last = await store.read_last_backfill_success(session)
        targets = await store.read_backfill_targets(session, since=now - FINE_HISTORY_RETENTION - horizon)
        marks = await store.read_watermarks(session, [t.token_id for t in targets])
        counts_sql = text(
            "SELECT (SELECT count(*) FROM polymarket_events), (SELECT count(*) FROM polymarket_markets), "
            "(SELECT count(*) FROM polymarket_events WHERE link_status = 'linked'), "
            "(SELECT count(*) FROM polymarket_events WHERE link_status = 'ambiguous'), "
            "(SELECT max(snapshot_time) FROM polymarket_price_snapshots WHERE source = 'poll'), "
            "(SELECT count(*) FROM polymarket_price_snapshots)"
        )
        ev, mk, linked, ambiguous, last_poll, prices = (await session.execute(counts_sql)).one()
    expiring: dict[str, dict[str, Any]] = {}
    for target in targets:
        mark = marks.get(target.token_id)
        when = expires_within(
            now=now,
            horizon=horizon,
            market_start=target.market_start,
            market_end=target.market_end,
            covered_to=mark.covered_to if mark else None,
        )
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
        "events": ev,
        "markets": mk,
        "linked": linked,
        "ambiguous": ambiguous,
        "last_poll": last_poll,
        "price_rows": prices,
    }
