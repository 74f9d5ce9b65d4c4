"""Readers for notebooks and scripts: the stored data as pandas DataFrames (`flows/notebook.py` wraps each
`read_*` in a `load_*` flow).

    frame = await read_odds(start=date(2024, 1, 1), markets=["spreads"])

Every query is read-only (`SET TRANSACTION READ ONLY`), built with SQLAlchemy Core, and binds every value.
Time filters: `start` is inclusive, `end` exclusive; a `date` means midnight UTC, and an `end` date includes
that whole day. Naive datetimes are read as UTC. Time columns come back as `datetime64[..., UTC]`, decided
by the column's SQL type, so a column that is all null (or a frame with no rows) is tz-aware too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import ColumnElement, DateTime, Select, func, select, text
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
    "read_closing_lines",
    "read_events",
    "read_fair_prices",
    "read_fetch_logs",
    "read_odds",
    "read_polymarket_prices",
    "read_predictions",
    "read_table_summary",
    "summarize_tables",
    "summarize_tables_task",
    "utc_columns",
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
    times = [c.name for c in statement.selected_columns if isinstance(c.type, DateTime)]
    return utc_columns(frame, times)


def utc_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`columns` of `frame` as `datetime64[ns, UTC]`, whatever they hold (all null, no rows, naive, aware)."""
    for column in columns:
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column], utc=True).astype("datetime64[ns, UTC]")
    return frame


def _ids(values: Sequence[str] | str | None) -> list[str] | None:
    if values is None:
        return None
    return [values] if isinstance(values, str) else list(values)


def _where_in(statement: Any, column: Any, values: Sequence[str] | str | None) -> Any:
    """`statement` narrowed to rows whose `column` is one of `values` (a string is one value); as is for None."""
    ids = _ids(values)
    return statement if ids is None else statement.where(column.in_(ids))


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
    statement = _where_in(statement, t.status, status)
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
    statement = _where_in(statement, o.event_id, event_ids)
    statement = _where_in(statement, o.market, markets)
    statement = _where_in(statement, o.bookmaker, bookmakers)
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
    statement = _where_in(statement, p.market_id, market_ids)
    statement = _where_in(statement, pe.event_id, event_ids)
    if source is not None:
        statement = statement.where(p.source == source)
    return await _frame(statement.order_by(p.market_id, p.snapshot_time, p.token_id))


async def read_closing_lines(
    *,
    event_ids: Sequence[str] | str | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: Sequence[str] | str | None = None,
    kind: str | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Imported opening and closing lines (`closing_lines`: kaggle, sbr) with their game; tip-off in [start, end).

    One row per (game, source, kind, market, outcome): `point`, `price_american`, `price_decimal`. `kind` is
    `close` or `open`. Sorted by tip-off, game, market, outcome.
    """
    c = ClosingLine.__table__.c  # type: ignore[attr-defined]
    e = Event.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(
            c.event_id,
            e.home_team,
            e.away_team,
            e.commence_time,
            c.source,
            c.kind,
            c.market,
            c.outcome,
            c.point,
            c.price_american,
            c.price_decimal,
            c.created_at,
        )
        .join(Event.__table__, e.id == c.event_id)  # type: ignore[attr-defined]
        .where(*_window(e.commence_time, start, end))
    )
    statement = _where_in(statement, c.event_id, event_ids)
    statement = _where_in(statement, c.market, markets)
    if kind is not None:
        statement = statement.where(c.kind == kind)
    if source is not None:
        statement = statement.where(c.source == source)
    return await _frame(
        statement.order_by(e.commence_time, c.event_id, c.market, c.outcome, c.kind, c.source)
    )


async def read_predictions(
    *,
    event_ids: Sequence[str] | str | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: Sequence[str] | str | None = None,
    model_name: str | None = None,
) -> pd.DataFrame:
    """Model predictions (`predictions`) with their model and game; decision time in [start, end).

    `current_value` is the fair probability (or line) at the decision, `predicted_delta` the predicted
    move to the close, `predicted_close` their sum, `expected_clv` the edge at `best_venue`.
    """
    p = Prediction.__table__.c  # type: ignore[attr-defined]
    m = ModelRecord.__table__.c  # type: ignore[attr-defined]
    e = Event.__table__.c  # type: ignore[attr-defined]
    statement = (
        select(
            p.event_id,
            e.home_team,
            e.away_team,
            e.commence_time,
            p.market,
            p.outcome,
            p.decision_time,
            p.current_value,
            p.predicted_delta,
            p.predicted_close,
            p.best_venue,
            p.best_price_decimal,
            p.expected_clv,
            m.name.label("model_name"),
            m.kind.label("model_kind"),
            m.version.label("model_version"),
            p.model_id,
            p.created_at,
        )
        .join(ModelRecord.__table__, m.id == p.model_id)  # type: ignore[attr-defined]
        .join(Event.__table__, e.id == p.event_id)  # type: ignore[attr-defined]
        .where(*_window(p.decision_time, start, end))
    )
    statement = _where_in(statement, p.event_id, event_ids)
    statement = _where_in(statement, p.market, markets)
    if model_name is not None:
        statement = statement.where(m.name == model_name)
    return await _frame(statement.order_by(p.event_id, p.decision_time, p.market, p.outcome, p.id))


async def read_fair_prices(
    *,
    event_ids: Sequence[str] | str | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: Sequence[str] | str | None = None,
    basis: str = "consensus",
    method: str | None = None,
) -> pd.DataFrame:
    """Devigged (no-vig) fair prices over time: one row per (game, snapshot time, market, outcome).

    From the valid stored prices of each snapshot (`read_odds`), the margin of every book is removed
    (`method`, default setting DEVIG_METHOD) and combined by `basis` (`consensus`: the median of the books at
    the most common line; `sharp`, `sharp_consensus`; see `odds_analytics.fair`). Columns: `event_id`,
    `snapshot_time`, `market`, `outcome`, `fair_prob`, `fair_decimal` (1 / fair_prob), `point`, `n_books`,
    `basis`, with the game's teams and tip-off.
    """
    from odds_analytics.fair import fair_prices
    from odds_models.settings import get_settings

    settings = get_settings()
    odds = await read_odds(event_ids=event_ids, start=start, end=end, markets=markets, valid_only=True)
    games = odds[["event_id", "home_team", "away_team", "commence_time"]].drop_duplicates("event_id")
    quotes = odds[["event_id", "snapshot_time", "bookmaker", "market", "outcome", "point", "price_decimal"]]
    fair = fair_prices(
        quotes.rename(columns={"snapshot_time": "decision_time"}), basis=basis,
        method=method or settings.devig_method, sharp_books=settings.sharp_books,
    ).rename(columns={"decision_time": "snapshot_time"})  # fmt: skip
    fair = fair.merge(games, on="event_id", how="left") if len(fair) else fair.assign(
        home_team=pd.Series(dtype=object), away_team=pd.Series(dtype=object), commence_time=pd.Series(dtype=object)
    )  # fmt: skip
    fair["fair_prob"] = pd.to_numeric(fair["fair_prob"], errors="coerce").astype(float)
    fair["fair_decimal"] = 1.0 / fair["fair_prob"]
    fair["point"] = pd.to_numeric(fair["point"], errors="coerce").astype(float)
    columns = ["event_id", "home_team", "away_team", "commence_time", "snapshot_time", "market", "outcome",
               "point", "fair_prob", "fair_decimal", "n_books", "basis"]  # fmt: skip
    fair = utc_columns(fair[columns].copy(), ["commence_time", "snapshot_time"])
    return fair.sort_values(["event_id", "snapshot_time", "market", "outcome"], ignore_index=True)


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
