"""Readers for notebooks and scripts: the stored data as pandas DataFrames, each call a Prefect flow run.

    df = load_odds(start=date(2024, 1, 1))    # a notebook call shows up as a run in the UI

Without `PREFECT_API_URL` Prefect starts a temporary local server for the first call. The same readers
without Prefect, for tests and async code, are the `read_*` functions of `tasks.storage.notebook`
(`await read_odds(...)`). Time filters: `start` is inclusive, `end` exclusive; a `date` means midnight UTC,
and an `end` date includes that whole day.

`pipeline_summary` (deployment `pipeline-summary`) counts every table and reports its freshness, and
publishes the same table as a Prefect artifact.
"""

from __future__ import annotations

import pandas as pd
from prefect import flow, get_run_logger
from prefect.artifacts import acreate_table_artifact

from odds_models.db import run_coro_blocking
from tasks.storage.bets import read_ledger_frame
from tasks.storage.notebook import (
    TimeBound,
    read_backtest_runs,
    read_closing_lines,
    read_events,
    read_fair_prices,
    read_fetch_logs,
    read_odds,
    read_polymarket_prices,
    read_predictions,
    summarize_tables_task,
)

__all__ = [
    "load_backtest_runs",
    "load_bets",
    "load_closing_lines",
    "load_events",
    "load_fair_prices",
    "load_fetch_logs",
    "load_odds",
    "load_polymarket_prices",
    "load_predictions",
    "pipeline_summary",
]


@flow(name="load-events", log_prints=False)
def load_events(
    start: TimeBound = None, end: TimeBound = None, status: list[str] | None = None
) -> pd.DataFrame:
    """Load games (tip-off in [start, end)) as a DataFrame."""
    return run_coro_blocking(read_events(start=start, end=end, status=status))


@flow(name="load-odds")
def load_odds(  # noqa: PLR0917 - flow parameters are positional in the UI too
    event_ids: list[str] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: list[str] | None = None,
    bookmakers: list[str] | None = None,
    valid_only: bool = False,
    limit: int | None = None,
) -> pd.DataFrame:
    """Load stored sportsbook prices (snapshot time in [start, end)) as a DataFrame."""
    return run_coro_blocking(
        read_odds(
            event_ids=event_ids,
            start=start,
            end=end,
            markets=markets,
            bookmakers=bookmakers,
            valid_only=valid_only,
            limit=limit,
        )
    )


@flow(name="load-fair-prices")
def load_fair_prices(  # noqa: PLR0917 - flow parameters are positional in the UI too
    event_ids: list[str] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: list[str] | None = None,
    basis: str = "consensus",
    method: str | None = None,
) -> pd.DataFrame:
    """Load devigged fair prices over time (one row per game, snapshot, market, outcome) as a DataFrame."""
    return run_coro_blocking(
        read_fair_prices(
            event_ids=event_ids, start=start, end=end, markets=markets, basis=basis, method=method
        )
    )


@flow(name="load-closing-lines")
def load_closing_lines(  # noqa: PLR0917 - flow parameters are positional in the UI too
    event_ids: list[str] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: list[str] | None = None,
    kind: str | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Load imported opening/closing lines (tip-off in [start, end)) as a DataFrame."""
    return run_coro_blocking(
        read_closing_lines(
            event_ids=event_ids, start=start, end=end, markets=markets, kind=kind, source=source
        )
    )


@flow(name="load-predictions")
def load_predictions(
    event_ids: list[str] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    markets: list[str] | None = None,
    model_name: str | None = None,
) -> pd.DataFrame:
    """Load model predictions (decision time in [start, end)) with their model as a DataFrame."""
    return run_coro_blocking(
        read_predictions(event_ids=event_ids, start=start, end=end, markets=markets, model_name=model_name)
    )


@flow(name="load-polymarket-prices")
def load_polymarket_prices(
    market_ids: list[str] | None = None,
    event_ids: list[str] | None = None,
    start: TimeBound = None,
    end: TimeBound = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Load Polymarket token prices (snapshot time in [start, end)) as a DataFrame."""
    return run_coro_blocking(
        read_polymarket_prices(
            market_ids=market_ids, event_ids=event_ids, start=start, end=end, source=source
        )
    )


@flow(name="load-backtest-runs")
def load_backtest_runs(strategy: str | None = None) -> pd.DataFrame:
    """Load stored backtest runs with their metrics as a DataFrame."""
    return run_coro_blocking(read_backtest_runs(strategy=strategy))


@flow(name="load-fetch-logs")
def load_fetch_logs(api: str | None = None, start: TimeBound = None, end: TimeBound = None) -> pd.DataFrame:
    """Load API call logs (cost, quota) as a DataFrame."""
    return run_coro_blocking(read_fetch_logs(api=api, start=start, end=end))


@flow(name="load-bets")
def load_bets(since: TimeBound = None, source: str | None = None) -> pd.DataFrame:
    """Load the bet ledger (placed on or after `since`) with each bet's game, close, CLV and result."""
    return run_coro_blocking(read_ledger_frame(since=since, source=source))


@flow(name="pipeline-summary")
async def pipeline_summary() -> pd.DataFrame:
    """Count and date every table; publish the result as the `pipeline-summary` table artifact."""
    logger = get_run_logger()
    # count
    rows = await summarize_tables_task()
    # publish
    await acreate_table_artifact(
        table=rows, key="pipeline-summary", description="Rows and newest timestamp of every table."
    )
    missing = [r["table"] for r in rows if not r["exists"]]
    if missing:
        logger.warning("tables missing (run `odds db upgrade`): %s", ", ".join(missing))
    logger.info("summarised %d tables, %d rows", len(rows), sum(r["rows"] for r in rows))
    frame = pd.DataFrame(rows)
    frame["latest"] = pd.to_datetime(frame["latest"], utc=True, format="ISO8601")
    return frame
