"""Sportsbook flows (The Odds API): sync events, the odds tick, scores, history backfill, file import.

Each flow reads as a recipe of tasks from `tasks.odds_ingest`; decisions (tiers, budget, plans) come from
`odds_analytics`. Every flow that calls the API (`sync-events`, `fetch-odds`, `fetch-scores`,
`backfill-odds-history`) first stores whatever an earlier run left in the spool; the file import does not. Flows return small
dicts and publish Prefect artifacts (fetch summary, quota, data quality) that never contain the key.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from prefect import flow, get_run_logger

from flows.run_names import dated, stamped, with_params
from odds_analytics.backfill import plan_backfill
from odds_analytics.quota import QuotaStatus, quota_crossed, quota_warnings
from odds_models import progress
from odds_models.clock import now
from odds_models.errors import BudgetExceeded, QuotaExhausted
from odds_models.runtime import freeze_startup_objects
from odds_models.settings import get_settings
from tasks.alerts import emit_quota_low
from tasks.odds_ingest import (
    SpooledFetch,
    backfill_candidates_task,
    check_budget,
    credits_spent_this_month_task,
    drain_spool_task,
    due_event_list_task,
    fetch_events_task,
    fetch_historical_odds_to_spool_task,
    fetch_odds_to_spool_task,
    fetch_scores_to_spool_task,
    import_files_task,
    odds_cost_from_settings,
    store_events_payload_task,
    store_spool_file_task,
)
from tasks.retry import BACKFILL_FLOW_RETRY, is_transient_db_error

__all__ = [
    "backfill_odds_history",
    "fetch_odds",
    "fetch_scores",
    "import_oddsapi_files",
    "summary_markdown",
    "sync_events",
]


def summary_markdown(title: str, summary: dict[str, Any]) -> str:
    """A two-column markdown table of a flow summary (scalars only)."""
    lines = [f"# {title}", "", "| item | value |", "|---|---|"]
    for key, value in summary.items():
        if isinstance(value, dict):
            shown = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            shown = f"{len(value)} item(s)"
        else:
            shown = str(value)
        lines.append(f"| {key} | {shown} |")
    return "\n".join(lines)


async def _artifacts(key: str, title: str, summary: dict[str, Any]) -> None:
    from prefect.artifacts import acreate_markdown_artifact

    await acreate_markdown_artifact(markdown=summary_markdown(title, summary), key=key, description=title)


async def _drain() -> dict[str, Any]:
    """Store what earlier runs spooled; a database outage is logged, not fatal here."""
    logger = get_run_logger()
    try:
        drained = await drain_spool_task()
    except Exception as exc:
        if not is_transient_db_error(exc):
            raise
        logger.error("spool: database unreachable (%s); spooled responses stay on disk", type(exc).__name__)
        return {"stored": 0, "error": type(exc).__name__}
    if drained.stored or drained.failed:
        logger.info("spool: stored %d earlier response(s), %d set aside in spool/failed/", drained.stored,
                    drained.failed)  # fmt: skip
    return {"stored": drained.stored, "failed": drained.failed}


async def _store_spooled(spooled: SpooledFetch) -> dict[str, Any]:
    """Store a paid response; when the database is down it stays in the spool for the next run."""
    logger = get_run_logger()
    try:
        return await store_spool_file_task(spooled.path)
    except Exception as exc:
        if not is_transient_db_error(exc):
            raise
        logger.error("database unreachable after a paid call; the response is kept in the spool (%s) and "
                     "the next run stores it", spooled.path.rsplit("/", 1)[-1])  # fmt: skip
        return {"spooled": 1}


async def _quota_check(spooled: SpooledFetch) -> list[str]:
    logger = get_run_logger()
    status = QuotaStatus(spooled.quota.get("remaining"), spooled.quota.get("used"), spooled.quota.get("last"))
    warnings = quota_warnings(status, get_settings().quota_warn_fractions)
    for message in warnings:
        logger.warning(message)
    level = quota_crossed(status, get_settings().quota_warn_fractions)
    if level is not None:  # once per level: the `odds: quota low` automation notifies on this event
        emit_quota_low(status, level, warnings[0] if warnings else f"quota below {level:.0%}")
    if warnings:
        await _artifacts("oddsapi-quota", "The Odds API quota", {"warning": warnings[0], **spooled.quota})
    return warnings


def _blocked(summary: dict[str, Any], exc: BudgetExceeded, logger: Any) -> dict[str, Any]:
    """The summary of a paid call the credit budget refused (logged as a warning)."""
    logger.warning(str(exc))
    summary["paid_call"] = f"blocked: {exc}"
    return summary


async def _within_budget(cost: int, what: str, summary: dict[str, Any], logger: Any) -> bool:
    """Whether `cost` more credits stay within this month's MONTHLY_CREDIT_BUDGET; if not, `_blocked`."""
    spent = await credits_spent_this_month_task()
    try:
        check_budget(spent=spent, cost=cost, budget=get_settings().monthly_credit_budget, what=what)
    except BudgetExceeded as exc:
        _blocked(summary, exc, logger)
        return False
    return True


@flow(name="sync-events", log_prints=False, flow_run_name=stamped("sync-events"), timeout_seconds=300)
async def sync_events() -> dict[str, Any]:
    """List upcoming NBA games (free /events) and upsert them."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    spool = await _drain()
    # the free call, then the upsert (never erases scores or a later status)
    fetched = await fetch_events_task()
    stored = await store_events_payload_task(fetched)
    return {"spool": spool, **stored}


@flow(name="fetch-odds", flow_run_name=stamped("fetch-odds"), timeout_seconds=600)
async def fetch_odds(force: bool = False, predict_after: bool = True) -> dict[str, Any]:
    """The tick: sync events (free), then one paid /odds call when some game is due in its tier."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    summary: dict[str, Any] = {"spool": await _drain()}
    # 1. the slate (free)
    summary["events"] = await store_events_payload_task(await fetch_events_task())
    # 2. is any game due a snapshot in its tier?
    due = await due_event_list_task()
    summary["due"] = len(due)
    if not due and not force:
        summary["paid_call"] = "skipped: no game is due a snapshot"
        logger.info(summary["paid_call"])
        return summary
    # 3. the budget allows it?
    if not await _within_budget(odds_cost_from_settings(), "The /odds call", summary, logger):
        await _artifacts("oddsapi-fetch-odds", "fetch-odds", summary)
        return summary
    # 4. one paid call for the whole slate (credits reserved under the budget lock, spooled), then store
    try:
        spooled = await fetch_odds_to_spool_task()
    except BudgetExceeded as exc:  # a run at the same moment took the last credits
        return _blocked(summary, exc, logger)
    stored = await _store_spooled(spooled)
    summary.update(paid_call="done", events_in_response=spooled.events, cost=spooled.cost,
                   quota=spooled.quota, stored=stored)  # fmt: skip
    summary["quota_warnings"] = await _quota_check(spooled)
    await _artifacts("oddsapi-fetch-odds", "fetch-odds", summary)
    if stored.get("quality_issues"):
        await _artifacts("oddsapi-data-quality", "Odds data quality",
                         {k: stored.get(k, 0) for k in ("quality_issues", "odds_invalid", "odds_rejected")})  # fmt: skip
    # 5. new prices: score upcoming games with the latest models (a failure never fails the fetch)
    if predict_after and stored.get("snapshots"):
        summary["predict"] = await _predict_after_fetch(logger)
    return summary


async def _predict_after_fetch(logger: Any) -> dict[str, Any] | str:
    from prefect import tags

    from flows.model import predict

    try:
        with tags("subflow", "after-fetch"):  # tells it apart from the scheduled predict runs in the UI
            return await predict()
    except Exception as exc:  # the prices are stored; a model problem must not fail the tick
        logger.warning("predict after fetch failed: %s: %s", type(exc).__name__, exc)
        return f"failed: {type(exc).__name__}"


@flow(name="fetch-scores", flow_run_name=stamped("fetch-scores"), timeout_seconds=300)
async def fetch_scores(days_from: int | None = 1) -> dict[str, Any]:
    """Fetch /scores (paid: 1 credit, 2 with days_from) and move games through their lifecycle."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    summary: dict[str, Any] = {"spool": await _drain()}
    if not await _within_budget(2 if days_from else 1, "The /scores call", summary, logger):
        return summary
    try:
        spooled = await fetch_scores_to_spool_task(days_from)
    except BudgetExceeded as exc:
        return _blocked(summary, exc, logger)
    stored = await _store_spooled(spooled)
    summary.update(paid_call="done", games=spooled.events, cost=spooled.cost, quota=spooled.quota,
                   stored=stored)  # fmt: skip
    summary["quota_warnings"] = await _quota_check(spooled)
    await _artifacts("oddsapi-fetch-scores", "fetch-scores", summary)
    return summary


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=UTC)


@flow(
    name="backfill-odds-history",
    flow_run_name=dated("backfill-odds-history", "start", "end"),
    timeout_seconds=3600,
    **BACKFILL_FLOW_RETRY,
)
async def backfill_odds_history(
    start: date,
    end: date,
    credit_budget: int = 1000,
    offsets_hours: list[float] | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Fill missing snapshots of past games from historical /odds within a credit budget (plan, then spend)."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    settings = get_settings()
    summary: dict[str, Any] = {"spool": await _drain()}
    # 1. plan: which historical moments fill the most missing snapshots, within the budget
    games = await backfill_candidates_task(_day_start(start), _day_start(end) + timedelta(days=1))
    plan = plan_backfill(games, offsets_hours=offsets_hours or [24.0, 12.0, 3.0, 0.5],
                         cost_per_call=odds_cost_from_settings(historical=True), budget=credit_budget,
                         now=now())  # fmt: skip
    summary["plan"] = plan.as_dict()
    logger.info("backfill plan: %d call(s), %d credits, %d snapshot(s) for %d game(s)", len(plan.calls),
                plan.credits, plan.snapshots_filled, len(games))  # fmt: skip
    await _artifacts("oddsapi-backfill-plan", "Backfill plan", plan.as_dict())
    if dry_run or not plan.calls:
        return summary
    # 2. spend: one historical call per planned moment, stored as it arrives
    done = stored_rows = 0
    with progress.step("backfill odds history", total=len(plan.calls), unit="calls") as shown:
        for call in plan.calls:
            spent = await credits_spent_this_month_task()
            try:
                check_budget(spent=spent, cost=plan.cost_per_call, budget=settings.monthly_credit_budget,
                             what="A historical /odds call")  # fmt: skip
                spooled = await fetch_historical_odds_to_spool_task(call.date)
            except (BudgetExceeded, QuotaExhausted) as exc:
                logger.warning("backfill stopped after %d call(s): %s", done, exc)
                summary["stopped"] = str(exc)
                break
            stored = await _store_spooled(spooled)
            stored_rows += int(stored.get("odds_rows", 0))
            done += 1
            shown.advance(str(call.date))
    summary.update(calls_made=done, odds_rows=stored_rows)
    return summary


@flow(
    name="import-oddsapi-files",
    flow_run_name=with_params("import-oddsapi-files", "paths"),
    timeout_seconds=3600,
)
async def import_oddsapi_files(paths: list[str], reject_invalid: bool | None = None) -> dict[str, Any]:
    """Import saved Odds API responses (.json / .json.gz files or folders); idempotent."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    summary = await import_files_task(paths, reject_invalid)
    await _artifacts("oddsapi-import", "Odds API import", {k: v for k, v in summary.items() if k != "errors"})
    return summary
