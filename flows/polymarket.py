"""Polymarket flows: discover games, link them, poll prices and books, backfill history, import files.

Schedules (prefect.yaml): discovery hourly, the price poll every `PRICE_POLL_INTERVAL` seconds (the fetch
tier decides which events are collected, not how often), the history backfill every 3 days.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.utilities.annotations import quote

from flows.run_names import stamped, with_params
from odds_analytics.polymarket.history import BackfillOutcome, backfill_staleness, backfill_verdict
from odds_analytics.polymarket.poll import poll_bucket
from odds_models import clock
from odds_models.errors import OddsPipelineError
from odds_models.runtime import freeze_startup_objects
from odds_models.settings import get_settings
from tasks.polymarket_ingest import (
    backfill_token_history_task,
    fetch_books_task,
    fetch_gamma_events_task,
    fetch_quotes_task,
    import_polymarket_file_task,
    link_events_task,
    read_backfill_plan_task,
    read_last_backfill_success_task,
    read_poll_plan_task,
    store_gamma_events_task,
    store_poll_task,
)

__all__ = [
    "BackfillOverdue",
    "backfill_polymarket_history",
    "discover_polymarket",
    "import_polymarket_files",
    "link_polymarket",
    "poll_polymarket_prices",
    "progress_listeners",
]

# Callbacks `(done, total)` the backfill calls as tokens finish in this process: `odds polymarket backfill`
# draws its progress bar with one (the flow publishes a progress artifact either way).
progress_listeners: list[Callable[[int, int], None]] = []


class BackfillOverdue(OddsPipelineError):
    """The backfill is late (previous success > 5 days ago) or incomplete (retryable errors remained)."""


@flow(name="discover-polymarket", flow_run_name=stamped("discover-polymarket"), timeout_seconds=600)
async def discover_polymarket(closed: bool = False, link: bool = True) -> dict[str, Any]:
    """Discover NBA games on Polymarket (Gamma keyset pages), upsert them, then link them."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    # 1. every page of the series' game events
    raw_events = await fetch_gamma_events_task(closed=closed)
    # 2. parse and upsert events and markets (`quote`: plain data, Prefect need not walk it for futures)
    counts = await store_gamma_events_task(quote(raw_events))
    logger.info("discovered %d events, %d markets", counts["events"], counts["markets"])
    # 3. link to sportsbook events
    if link:
        report = await link_events_task(dry_run=False)
        counts.update({f"link_{k}": v for k, v in report.counts().items()})
        await _link_artifact(report, dry_run=False)
    return counts


async def _link_artifact(report: Any, *, dry_run: bool) -> None:
    """Link results where a person looks: counts, then the ambiguous and unmatched games."""
    from prefect.artifacts import acreate_markdown_artifact

    lines = [f"# Polymarket links{' (dry run)' if dry_run else ''}", ""]
    lines += [f"- {k}: {v}" for k, v in report.counts().items()]
    for title, results in (("Ambiguous (not linked)", report.ambiguous), ("Unmatched", report.unmatched)):
        if results:
            lines += ["", f"## {title}", "", "| polymarket event | note |", "|---|---|"]
            lines += [f"| {r.polymarket_event_id} | {r.note or ''} |" for r in results[:50]]
    await acreate_markdown_artifact(
        markdown="\n".join(lines), key="polymarket-links", description="Polymarket to sportsbook links"
    )


@flow(name="link-polymarket", flow_run_name=stamped("link-polymarket"), timeout_seconds=600)
async def link_polymarket(dry_run: bool = False) -> dict[str, Any]:
    """Link Polymarket games to sportsbook events (unique matches only; ambiguous and misses reported)."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    report = await link_events_task(dry_run=dry_run)
    for result in report.ambiguous:
        logger.warning("ambiguous: %s %s (%s)", result.polymarket_event_id, result.note, result.candidate_ids)
    logger.info("link: %s", report.counts())
    await _link_artifact(report, dry_run=dry_run)
    groups = {"matched": report.linked, "ambiguous": report.ambiguous, "unmatched": report.unmatched}
    return {
        **report.counts(),
        "ambiguous_events": [r.polymarket_event_id for r in report.ambiguous],
        "unmatched_events": [r.polymarket_event_id for r in report.unmatched],
        "results": {name: [{"polymarket_event_id": r.polymarket_event_id, "event_id": r.event_id, "note": r.note,
                            "candidates": r.candidate_ids} for r in results]
                    for name, results in groups.items()},
    }  # fmt: skip


@flow(name="poll-polymarket-prices", flow_run_name=stamped("poll-polymarket-prices"), timeout_seconds=300)
async def poll_polymarket_prices(tiers: list[str] | None = None) -> dict[str, Any]:
    """Poll best bid/ask, mid and spread of every market in the collected tiers, and moneyline books."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    snapshot_time = poll_bucket(clock.now(), get_settings().price_poll_interval)
    # 1. which markets: the events in the tiers being collected
    plan = await read_poll_plan_task(tiers)
    if not plan.tokens:
        logger.info("no Polymarket markets in tiers %s", tiers or "default")
        return {"markets": 0, "prices": 0, "books": 0}
    # 2. prices of every token (batched) and books of moneylines (all markets by setting)
    quotes, books = await asyncio.gather(
        fetch_quotes_task(list(plan.tokens)), fetch_books_task(plan.book_tokens)
    )
    # 3. store, idempotent per token and snapshot time (`quote`: plain data, not walked for futures)
    stored = await store_poll_task(plan, quote(quotes), quote(books), snapshot_time)
    logger.info("polled %d markets (%s): %s", plan.markets, plan.by_tier, stored)
    return {"markets": plan.markets, **stored, "by_tier": plan.by_tier}


@flow(
    name="backfill-polymarket-history",
    flow_run_name=stamped("backfill-polymarket-history"),
    timeout_seconds=7200,
)
async def backfill_polymarket_history(
    lookback_days: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """Backfill Polymarket price history (≤15-day windows, 1-minute fidelity) from each token's watermark.

    `start`/`end` limit the history to [start, end); `concurrency` overrides POLYMARKET_BACKFILL_CONCURRENCY.
    """
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    from prefect.artifacts import acreate_progress_artifact, aupdate_progress_artifact

    logger = get_run_logger()
    settings = get_settings()
    # 1. how stale is the last successful backfill (warn past 3 days, fail loudly past 5)
    level, message = backfill_staleness(await read_last_backfill_success_task(), clock.now())
    if level in ("warn", "fail"):
        logger.warning(message)
    # 2. which tokens miss which range
    plan = await read_backfill_plan_task(lookback_days or settings.polymarket_backfill_days, start, end)
    artifact_id = await acreate_progress_artifact(progress=0.0, description="Polymarket history backfill")
    # 3. fetch and store, at most POLYMARKET_BACKFILL_CONCURRENCY tokens at once
    semaphore = asyncio.Semaphore(concurrency or settings.polymarket_backfill_concurrency)
    done: list[BackfillOutcome] = []

    async def one(target: Any, rng: Any) -> BackfillOutcome:
        async with semaphore:
            result = await backfill_token_history_task(target.token_id, target.market_id, target.outcome, *rng,
                                                  market_end=target.market_end)  # fmt: skip
        done.append(result)
        # the artifact moves in steps of 5 % (and at the end): one server call per token was most of a
        # short backfill's time on a busy machine
        step = max(1, len(plan) // 20)
        if len(done) % step == 0 or len(done) == len(plan):
            await aupdate_progress_artifact(artifact_id, progress=100.0 * len(done) / max(len(plan), 1))
        for listener in progress_listeners:
            listener(len(done), len(plan))
        return result

    outcomes = await asyncio.gather(*(one(t, r) for t, r in plan))
    summary = {
        "tokens": len(plan),
        "windows": sum(o.windows for o in outcomes),
        "points": sum(o.points for o in outcomes),
        "errors": sum(1 for o in outcomes if o.error),
        "staleness": level,
    }
    logger.info("backfill: %s", summary)
    # 4. the data is saved either way; a backfill more than 5 days late, or one stopped by retryable
    #    errors, still fails the run, loudly
    reason = backfill_verdict(outcomes, (level, message))
    if reason:
        raise BackfillOverdue(f"{reason}. This run saved {summary['points']} points; the next run resumes.")
    return summary


@flow(
    name="import-polymarket-files",
    flow_run_name=with_params("import-polymarket-files", "paths"),
    timeout_seconds=3600,
)
async def import_polymarket_files(paths: list[str], token_id: str | None = None) -> dict[str, Any]:
    """Import saved Gamma and CLOB responses (.json / .json.gz), idempotently."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    totals: dict[str, Any] = {}
    for path in paths:
        counts = await import_polymarket_file_task(Path(path), token_id)
        for key, value in counts.items():
            if isinstance(value, int):
                totals[key] = totals.get(key, 0) + value
    return totals
