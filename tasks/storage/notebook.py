"""Readers for notebooks and scripts: the stored data as pandas DataFrames (`flows/notebook.py` wraps each
`read_*` in a `load_*` flow).

    frame = await read_odds(start=date(2024, 1, 1), markets=["spreads"])

Every query is read-only (`SET TRANSACTION READ ONLY`), built with SQLAlchemy Core, and binds every value.
Time filters: `start` is inclusive, `end` exclusive; a `date` means midnight UTC, and an `end` date includes
that whole day. Naive datetimes are read as UTC. Time columns come back as `datetime64[..., UTC]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import ColumnElement, Select, func, select, text
from sqlmodel import SQLModel

from odds_models.db import async_session_maker
from odds_models.tables import (
    BacktestRun,
    Bet,
    ClosingLine,
    DataQualityLog,
    Event,
    FetchLog,
    ModelRecord,
    Odds,
    OddsSnapshot,
    PolymarketEvent,
    PolymarketMarket,
    PolymarketOrderbookSnapshot,
    PolymarketPriceSnapshot,
    Prediction,
)

__all__ = [
    "TimeBound",
    "as_utc_bound",
    "read_backtest_runs",
    "read_events",
    "read_fetch_logs",
    "read_odds",
    "read_polymarket_prices",
    "read_table_summary",
    "summarize_tables",
    "summarize_tables_task",
]

TimeBound = datetime | date | None

# (table, column that says how fresh it is) for the summary.
_FRESHNESS: list[tuple[type[SQLModel], str]] = [
    (Event, "updated_at"),
    (OddsSnapshot, "snapshot_time"),
    (Odds, "snapshot_time"),
    (ClosingLine, "created_at"),
    (FetchLog, "created_at"),
    (DataQualityLog, "created_at"),
    (PolymarketEvent, "updated_at"),
    (PolymarketMarket, "updated_at"),
    (PolymarketPriceSnapshot, "snapshot_time"),
    (PolymarketOrderbookSnapshot, "snapshot_time"),
    (ModelRecord, "created_at"),
    (Prediction, "decision_time"),
    (BacktestRun, "created_at"),
    (Bet, "placed_at"),
]
# Above this many rows (planner estimate) the summary reports the estimate instead of COUNT(*).
_EXACT_COUNT_LIMIT = 2_000_000


def as_utc_bound(value: TimeBound, *, end: bool = False) -> datetime | None:
    """A filter bound as an aware UTC datetime: dates are midnight UTC (the next midnight for an `end`)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    moment = datetime.combine(value, time(0), tzinfo=UTC)
    return moment + timedelta(days=1) if end else moment


def _window(column: Any, start: TimeBound, end: TimeBound) -> list[ColumnElement[bool]]:
    lo, hi = as_utc_bound(start), as_utc_bound(end, end=True)
    if lo is not None and hi is not None and hi <= lo:
        raise ValueError(f"end ({hi.isoformat()}) must be after start ({lo.isoformat()})")
    conditions = []
    if lo is not None:
        conditions.append(column >= lo)
    if hi is not None:
        conditions.append(column < hi)
    return conditions


async def _frame(statement: Select[Any]) -> pd.DataFrame:
    """Run a read-only SELECT and return its rows as a DataFrame (columns kept when empty)."""
    async with async_session_maker() as session:
        await session.execute(text("SET TRANSACTION READ ONLY"))
        result = await session.execute(statement)
        columns = list(result.keys())
        rows = result.all()
        await session.rollback()
    frame = pd.DataFrame.from_records([tuple(r) for r in rows], columns=columns)
    for column in frame.columns:
        present = frame[column].dropna()
        if len(present) and isinstance(present.iloc[0], datetime):
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _ids(values: Sequence[str] | str | None) -> list[str] | None:
    if values is None:
        return None
    return [values] if isinstance(values, str) else list(values)


async def read_events(
    *, start: TimeBound = None, end: TimeBound = None, status: Sequence[str] | str | None = None
) -> pd.DataFrame:
    """Games whose tip-off (`commence_time`) is in [start, end), oldest first."""
    t = Event.__table__.c  # type: ignore[attr-defined]
    statement = select(
        t.id.label("event_id"),
        t.home_team,
        t.away_team,
        t.commence_time,
        t.status,
        t.home_score,
        t.away_score,
        t.completed_at,
        t.origin,
    ).where(*_window(t.commence_time, start, end))
    if (statuses := _ids(status)) is not None:
        statement = statement.where(t.status.in_(statuses))
    return await _frame(statement.order_by(t.commence_time, t.id))


async def read_odds(
    *,
    event_ids: Sequence[str] | str | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: Sequence[str] | str | None = None,
    bookmakers: Sequence[str] | str | None = None,
    valid_only: bool = False,
    limit: int | None = None,
) -> pd.DataFrame:
    """Every stored price (one row per snapshot, book, market, outcome, point) with its game and snapshot.

    Filters: games, snapshot time in [start, end), markets, bookmakers, only rows that passed validation.
    Sorted by event, snapshot time, bookmaker, market, outcome.
    """
    o = Odds.__table__.c  # type: ignore[attr-defined]
    s = OddsSnapshot.__table__.c  # type: ignore[attr-defined]
    e = Event.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(
            o.event_id,
            e.home_team,
            e.away_team,
            e.commence_time,
            o.snapshot_time,
            s.source,
            s.fetch_tier,
            s.hours_to_commence,
            o.bookmaker,
            o.market,
            o.outcome,
            o.description,
            o.point,
            o.price_decimal,
            o.price_american,
            o.bookmaker_last_update,
            o.is_valid,
            o.notes,
        )
        .join(OddsSnapshot.__table__, s.id == o.snapshot_id)  # type: ignore[attr-defined]
        .join(Event.__table__, e.id == o.event_id)  # type: ignore[attr-defined]
        .where(*_window(o.snapshot_time, start, end))
    )
    if (ids := _ids(event_ids)) is not None:
        statement = statement.where(o.event_id.in_(ids))
    if (wanted := _ids(markets)) is not None:
        statement = statement.where(o.market.in_(wanted))
    if (books := _ids(bookmakers)) is not None:
        statement = statement.where(o.bookmaker.in_(books))
    if valid_only:
        statement = statement.where(o.is_valid.is_(True))
    statement = statement.order_by(o.event_id, o.snapshot_time, o.bookmaker, o.market, o.outcome, o.point)
    if limit is not None:
        statement = statement.limit(limit)
    return await _frame(statement)


async def read_polymarket_prices(
    *,
    market_ids: Sequence[str] | str | None = None,
    event_ids: Sequence[str] | str | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Polymarket token prices (both sides, bid/ask/mid/spread) with their market and linked game."""
    p = PolymarketPriceSnapshot.__table__.c  # type: ignore[attr-defined]
    m = PolymarketMarket.__table__.c  # type: ignore[attr-defined]
    pe = PolymarketEvent.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(
            p.market_id,
            pe.event_id,
            m.market_type,
            m.period,
            m.team,
            m.line,
            m.question,
            p.token_id,
            p.outcome,
            p.source,
            p.snapshot_time,
            p.price,
            p.best_bid,
            p.best_ask,
            p.mid,
            p.spread,
        )
        .join(PolymarketMarket.__table__, m.id == p.market_id)  # type: ignore[attr-defined]
        .outerjoin(PolymarketEvent.__table__, pe.id == m.polymarket_event_id)  # type: ignore[attr-defined]
        .where(*_window(p.snapshot_time, start, end))
    )
    if (ids := _ids(market_ids)) is not None:
        statement = statement.where(p.market_id.in_(ids))
    if (games := _ids(event_ids)) is not None:
        statement = statement.where(pe.event_id.in_(games))
    if source is not None:
        statement = statement.where(p.source == source)
    return await _frame(statement.order_by(p.market_id, p.snapshot_time, p.token_id))


async def read_backtest_runs(*, strategy: str | None = None) -> pd.DataFrame:
    """Stored backtests, newest first; `metrics` and `params` are expanded into `metric.*`/`param.*` columns."""
    b = BacktestRun.__table__.c  # type: ignore[attr-defined]
    statement = select(
        b.id,
        b.run_key,
        b.strategy,
        b.status,
        b.start_date,
        b.end_date,
        b.params,
        b.metrics,
        b.report_path,
        b.created_at,
    )
    if strategy is not None:
        statement = statement.where(b.strategy == strategy)
    frame = await _frame(statement.order_by(b.created_at.desc(), b.id.desc()))
    for column, prefix in (("metrics", "metric."), ("params", "param.")):
        expanded = pd.json_normalize([v or {} for v in frame[column]]).add_prefix(prefix)
        expanded.index = frame.index
        frame = frame.join(expanded)
    return frame


async def read_fetch_logs(
    *, api: str | None = None, start: TimeBound = None, end: TimeBound = None
) -> pd.DataFrame:
    """API calls (never keys) with cost and the quota figures the provider reported, newest first."""
    f = FetchLog.__table__.c  # type: ignore[attr-defined]
    statement = select(
        f.created_at,
        f.api,
        f.endpoint,
        f.status_code,
        f.cost,
        f.requests_used,
        f.requests_remaining,
        f.requests_last,
        f.latency_ms,
        f.attempts,
        f.error,
        f.flow_run_id,
    ).where(*_window(f.created_at, start, end))
    if api is not None:
        statement = statement.where(f.api == api)
    return await _frame(statement.order_by(f.created_at.desc(), f.id.desc()))


async def read_table_summary() -> pd.DataFrame:
    """One row per table: whether it exists, rows (exact, or the planner estimate above 2M), newest timestamp.

    A missing table (schema not created: run `odds db upgrade`) is reported, not raised.
    """
    rows = []
    async with async_session_maker() as session:
        await session.execute(text("SET TRANSACTION READ ONLY"))
        for model, time_column in _FRESHNESS:
            table = model.__table__  # type: ignore[attr-defined]
            found = (
                await session.execute(
                    text("SELECT to_regclass(:name) IS NOT NULL, (SELECT reltuples::bigint FROM pg_class "
                         "WHERE oid = to_regclass(:name))"),
                    {"name": table.name},
                )
            ).one()  # fmt: skip
            exists, estimate = bool(found[0]), found[1]
            if not exists:
                rows.append(
                    {"table": table.name, "exists": False, "rows": 0, "approximate": False, "latest": None}
                )
                continue
            approximate = estimate is not None and estimate > _EXACT_COUNT_LIMIT
            count = estimate if approximate else await session.scalar(select(func.count()).select_from(table))
            latest = await session.scalar(select(func.max(table.c[time_column])))
            rows.append(
                {"table": table.name, "exists": True, "rows": int(count or 0), "approximate": approximate,
                 "latest": latest}
            )  # fmt: skip
        await session.rollback()
    frame = pd.DataFrame(rows, columns=["table", "exists", "rows", "approximate", "latest"])
    frame["latest"] = pd.to_datetime(frame["latest"], utc=True)
    return frame


# ------------------------------------------------------------------------------------------------------
# Prefect tasks
# ------------------------------------------------------------------------------------------------------


async def summarize_tables() -> list[dict[str, Any]]:
    """Count every table and find its newest timestamp (JSON-friendly rows)."""
    frame = await read_table_summary()
    return [
        {
            "table": r.table,
            "exists": bool(r.exists),
            "rows": int(r.rows),
            "approximate": bool(r.approximate),
            "latest": None if pd.isna(r.latest) else r.latest.isoformat(),
        }
        for r in frame.itertuples()
    ]


summarize_tables_task = task(summarize_tables, cache_policy=NONE, task_run_name="summarize-tables")
