"""What the demo reads from its database: tip times, the report's figures, and every row's key.

    async with async_session_maker() as session:
        figures = await read_demo_figures(session=session)

Plain functions take a session (tests call them); the Prefect tasks open their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.ledger import bet_status, ledger_report
from odds_models import clock
from odds_models.db import async_session_maker
from tasks.storage.bets import read_ledger

__all__ = [
    "FINGERPRINT_SQL",
    "read_demo_figures",
    "read_demo_figures_task",
    "read_table_fingerprints",
    "read_table_fingerprints_task",
    "read_tip_times",
    "read_tip_times_task",
]

# The natural key (and the values that must agree) of every data table: two runs over the same span,
# with and without faults, must give the same set of tuples, and no tuple twice.
FINGERPRINT_SQL: dict[str, str] = {
    "events": "SELECT id, home_team, away_team, status, home_score, away_score FROM events",
    "odds_snapshots": "SELECT event_id, source, snapshot_time, markets FROM odds_snapshots",
    "odds": "SELECT event_id, snapshot_time, bookmaker, market, outcome, description, point, price_decimal "
    "FROM odds",
    "polymarket_events": "SELECT id, slug, event_id, link_status FROM polymarket_events",
    "polymarket_markets": "SELECT id, condition_id, market_type, line FROM polymarket_markets",
    "polymarket_price_snapshots": "SELECT token_id, source, snapshot_time, price, best_bid, best_ask "
    "FROM polymarket_price_snapshots",
    "polymarket_orderbook_snapshots": "SELECT token_id, snapshot_time, best_bid, best_ask "
    "FROM polymarket_orderbook_snapshots",
    "predictions": "SELECT event_id, market, outcome, decision_time FROM predictions",
    "bets": "SELECT source, event_id, market, outcome, venue, placed_at FROM bets",
}
_COUNTED = ("events", "odds_snapshots", "odds", "fetch_logs", "data_quality_logs", "polymarket_events",
            "polymarket_markets", "polymarket_price_snapshots", "polymarket_orderbook_snapshots", "closing_lines",
            "backtest_runs", "models", "predictions", "bets")  # fmt: skip


async def read_tip_times(*, session: AsyncSession, start: datetime, end: datetime) -> list[datetime]:
    """Scheduled tips of the stored games in the span (6 h either side)."""
    rows = await session.execute(
        text("SELECT commence_time FROM events WHERE commence_time BETWEEN :a AND :b ORDER BY 1"),
        {"a": start - timedelta(hours=6), "b": end + timedelta(hours=6)},
    )
    return [r[0] for r in rows]


async def read_table_fingerprints(*, session: AsyncSession) -> dict[str, dict[str, Any]]:
    """Per table: the rows (as tuples) and how many stored rows repeat a key."""
    out: dict[str, dict[str, Any]] = {}
    for table, sql in FINGERPRINT_SQL.items():
        rows = [tuple(_plain(v) for v in r) for r in (await session.execute(text(sql))).all()]
        out[table] = {"rows": rows, "duplicates": len(rows) - len(set(rows))}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 6)
    return value


async def read_demo_figures(*, session: AsyncSession) -> dict[str, Any]:
    """Counts per table, calls and credits by API, quality findings, link results, analysis rows, the
    data of the line-movement chart (the game with the most snapshots) and the bet ledger."""

    async def rows(sql: str, **params: Any) -> list[Any]:
        return list((await session.execute(text(sql), params)).all())

    figures: dict[str, Any] = {}
    # table names come from _COUNTED above, never from input
    figures["counts"] = {table: (await rows(f"SELECT count(*) FROM {table}"))[0][0] for table in _COUNTED}
    figures["events_by_status"] = dict(await rows("SELECT status, count(*) FROM events GROUP BY 1"))
    figures["fetch_logs"] = [
        {"api": r[0], "calls": r[1], "errors": r[2], "credits": r[3], "retried": r[4]}
        for r in await rows(
            "SELECT api, count(*), count(error), coalesce(sum(cost), 0), count(*) FILTER (WHERE attempts > 1) "
            "FROM fetch_logs GROUP BY api ORDER BY api"
        )
    ]
    figures["quality"] = [
        {"check": r[0], "severity": r[1], "count": r[2]}
        for r in await rows(
            "SELECT check_type, severity, count(*) FROM data_quality_logs GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 12"
        )
    ]
    figures["links"] = dict(await rows("SELECT link_status, count(*) FROM polymarket_events GROUP BY 1"))
    # the fee terms the markets stated (Gamma, migration 0006): free, a schedule, or none (priced as assumed)
    figures["pm_fees"] = dict(await rows(
        "SELECT CASE WHEN fees_enabled IS FALSE THEN 'free' WHEN fee_rate IS NOT NULL AND fee_exponent IS NOT NULL "
        "THEN coalesce(fee_type, 'fees') || ' ' || fee_rate || '·(p(1−p))^' || fee_exponent "
        "ELSE 'no terms stated (assumed default)' END, count(*) FROM polymarket_markets GROUP BY 1 ORDER BY 2 DESC"
    ))  # fmt: skip
    figures["backtests"] = [
        {"strategy": r[0], "metrics": r[1]} for r in await rows("SELECT strategy, metrics FROM backtest_runs")
    ]
    figures["models"] = [
        {"name": r[0], "kind": r[1], "metrics": r[2]}
        for r in await rows("SELECT name, kind, metrics FROM models")
    ]
    figures["chart"] = await _chart_data(rows)
    figures["ledger"] = await _ledger_figures(session=session)
    return figures


async def _ledger_figures(*, session: AsyncSession) -> dict[str, Any]:
    """The ledger's report (`odds_analytics.ledger.ledger_report`) and its bets as plain records."""
    ledger = await read_ledger(session=session)
    report = ledger_report(ledger, now=clock.now())
    bets = bet_status(ledger, now=clock.now()) if len(ledger) else ledger.assign(status=[], open_reason=[])
    records = [
        {
            k: (None if pd.isna(v) else v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
            for k, v in r.items()
        }
        for r in bets.to_dict(orient="records")
    ]
    return {"report": report, "bets": records}


async def _chart_data(rows: Callable[..., Awaitable[list[Any]]]) -> dict[str, Any] | None:
    best = await rows(
        "SELECT e.id, e.home_team, e.away_team, e.commence_time, count(DISTINCT s.snapshot_time) AS n, "
        "EXISTS (SELECT 1 FROM polymarket_events p WHERE p.event_id = e.id) AS linked "
        "FROM events e JOIN odds_snapshots s ON s.event_id = e.id "
        "WHERE s.snapshot_time < e.commence_time GROUP BY e.id "
        "ORDER BY e.status = 'final' DESC, linked DESC, n DESC, e.id LIMIT 1"
    )
    if not best:
        return None
    event_id, home, away, commence, _, _ = best[0]
    prices = await rows(
        "SELECT snapshot_time, bookmaker, outcome, price_decimal FROM odds WHERE event_id = :e AND market = 'h2h' "
        "AND snapshot_time <= :c ORDER BY snapshot_time",
        e=event_id, c=commence,
    )  # fmt: skip
    spreads = await rows(
        "SELECT snapshot_time, bookmaker, point FROM odds WHERE event_id = :e AND market = 'spreads' "
        "AND outcome = :h AND snapshot_time <= :c ORDER BY snapshot_time",
        e=event_id, h=home, c=commence,
    )  # fmt: skip
    polymarket = await rows(
        "SELECT ps.snapshot_time, ps.outcome, coalesce(ps.mid, ps.price), ps.source "
        "FROM polymarket_price_snapshots ps JOIN polymarket_markets m ON m.id = ps.market_id "
        "JOIN polymarket_events pe ON pe.id = m.polymarket_event_id "
        "WHERE pe.event_id = :e AND m.market_type = 'moneyline' AND m.period = 'game' AND ps.snapshot_time <= :c "
        "ORDER BY ps.snapshot_time",
        e=event_id, c=commence,
    )  # fmt: skip
    return {
        "event_id": event_id,
        "home": home,
        "away": away,
        "commence": commence,
        "h2h": [(r[0], r[1], r[2], r[3]) for r in prices],
        "spreads": [(r[0], r[1], r[2]) for r in spreads],
        "polymarket": [(r[0], r[1], r[2], r[3]) for r in polymarket],
    }


# ------------------------------------------------------------------------------------------------------
# Prefect tasks
# ------------------------------------------------------------------------------------------------------


@task(cache_policy=NONE, task_run_name="read-tip-times")
async def read_tip_times_task(start: datetime, end: datetime) -> list[datetime]:
    """Scheduled tips of the stored games in the span (after the first event sync)."""
    async with async_session_maker() as session:
        return await read_tip_times(session=session, start=start, end=end)


@task(cache_policy=NONE, task_run_name="read-demo-figures")
async def read_demo_figures_task() -> dict[str, Any]:
    """The report's figures: counts, calls and credits, quality, links, analysis rows, chart data."""
    async with async_session_maker() as session:
        return await read_demo_figures(session=session)


@task(cache_policy=NONE, task_run_name="read-table-fingerprints")
async def read_table_fingerprints_task() -> dict[str, dict[str, Any]]:
    """Every stored row's key, per table (runs are compared on them)."""
    async with async_session_maker() as session:
        return await read_table_fingerprints(session=session)
