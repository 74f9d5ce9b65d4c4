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

from flows.run_names import stamped
from odds_analytics.freshness import freshness_rows
from odds_models.clock import now
from odds_models.db import run_coro_blocking
from odds_models.runtime import freeze_startup_objects
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


@flow(name="load-events", log_prints=False, flow_run_name=stamped("load-events"), timeout_seconds=900)
def load_events(
    start: TimeBound = None, end: TimeBound = None, status: list[str] | None = None
) -> pd.DataFrame:
    """Load games (tip-off in [start, end)) as a DataFrame."""
    return run_coro_blocking(read_events(start=start, end=end, status=status))


@flow(name="load-odds", flow_run_name=stamped("load-odds"), timeout_seconds=900)
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


@flow(name="load-fair-prices", flow_run_name=stamped("load-fair-prices"), timeout_seconds=900)
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


@flow(name="load-closing-lines", flow_run_name=stamped("load-closing-lines"), timeout_seconds=900)
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


@flow(name="load-predictions", flow_run_name=stamped("load-predictions"), timeout_seconds=900)
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


@flow(name="load-polymarket-prices", flow_run_name=stamped("load-polymarket-prices"), timeout_seconds=900)
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


@flow(name="load-backtest-runs", flow_run_name=stamped("load-backtest-runs"), timeout_seconds=900)
def load_backtest_runs(strategy: str | None = None) -> pd.DataFrame:
    """Load stored backtest runs with their metrics as a DataFrame."""
    return run_coro_blocking(read_backtest_runs(strategy=strategy))


@flow(name="load-fetch-logs", flow_run_name=stamped("load-fetch-logs"), timeout_seconds=900)
def load_fetch_logs(api: str | None = None, start: TimeBound = None, end: TimeBound = None) -> pd.DataFrame:
    """Load API call logs (cost, quota) as a DataFrame."""
    return run_coro_blocking(read_fetch_logs(api=api, start=start, end=end))


@flow(name="load-bets", flow_run_name=stamped("load-bets"), timeout_seconds=900)
def load_bets(since: TimeBound = None, source: str | None = None) -> pd.DataFrame:
    """Load the bet ledger (placed on or after `since`) with each bet's game, close, CLV and result."""
    return run_coro_blocking(read_ledger_frame(since=since, source=source))


@flow(name="pipeline-summary", flow_run_name=stamped("pipeline-summary"), timeout_seconds=300)
async def pipeline_summary() -> pd.DataFrame:
    """Count and date every table; publish the result as the `pipeline-summary` table artifact."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    # count
    rows = await summarize_tables_task()
    # publish: the age of each source's newest row, the stale ones flagged
    shown = freshness_rows(rows, now())
    stale = [r["source"] for r in shown if r["status"].startswith("STALE")]
    await acreate_table_artifact(
        table=shown, key="pipeline-summary",
        description=f"Rows, newest row and its age per source at {now():%Y-%m-%d %H:%M} UTC; "
        + (f"STALE: {', '.join(stale)}" if stale else "no stale source"),
    )  # fmt: skip
    missing = [r["table"] for r in rows if not r["exists"]]
    if missing:
        logger.warning("tables missing (run `odds db upgrade`): %s", ", ".join(missing))
    for row in shown:
        if row["status"].startswith("STALE"):
            logger.warning("%s: %s", row["source"], row["status"])
    logger.info("summarised %d tables, %d rows", len(rows), sum(r["rows"] for r in rows))
    frame = pd.DataFrame(rows)
    frame["latest"] = pd.to_datetime(frame["latest"], utc=True, format="ISO8601")
    return frame
