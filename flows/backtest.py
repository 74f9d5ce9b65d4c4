"""Backtest flow: read prices as of each decision time, run a strategy, save the run and its report."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import acreate_markdown_artifact, acreate_table_artifact

from flows.run_names import backtest_run_name
from odds_analytics.backtest import BacktestConfig, decision_pairs, run_backtest_frames
from odds_analytics.backtest.config import scheduled_window
from odds_analytics.backtest.report import data_fingerprint, headline, summary_markdown, summary_table
from odds_models import progress
from odds_models.clock import now
from odds_models.errors import BadArgument, NoDataError
from odds_models.runtime import freeze_startup_objects
from odds_models.settings import get_settings
from tasks.storage.backtests import store_backtest_run_task, write_backtest_report_task
from tasks.storage.event_reads import (
    read_events_between_task,
    read_polymarket_asks_at_times_task,
    read_predictions_task,
)
from tasks.storage.reads import read_closing_lines_task, read_odds_at_times_task
from tasks.variables import BACKTEST_WINDOW, read_variable_task

__all__ = ["run_backtest", "scheduled_config"]


def scheduled_config(strategy: str, start: date, end: date) -> BacktestConfig:
    """The weekly run's config: defaults, with the assumed Polymarket fee terms of the settings
    (`POLYMARKET_DEFAULT_FEE_RATE`, `POLYMARKET_DEFAULT_FEE_EXPONENT`), as `odds backtest run` passes them."""
    settings = get_settings()
    return BacktestConfig(
        strategy=strategy,
        start=start,
        end=end,
        polymarket_default_fee_rate=settings.polymarket_default_fee_rate,
        polymarket_default_fee_exponent=settings.polymarket_default_fee_exponent,
    )


async def _none() -> None:
    return None


def _check_venues(config: BacktestConfig, odds: Any) -> None:
    """The bettable venues must be books priced in the window: a typo would otherwise bet nothing, silently."""
    if not config.venues:
        return
    books = sorted(set(odds["bookmaker"])) if len(odds) else []
    unknown = [v for v in config.venues if v not in books]
    if unknown:
        raise BadArgument(f"venues: {', '.join(map(repr, unknown))} not among the books priced between "
                          f"{config.start} and {config.end}: {', '.join(books) or 'none'}")  # fmt: skip


@flow(name="run-backtest", flow_run_name=backtest_run_name, timeout_seconds=3600)
async def run_backtest(
    config: BacktestConfig | None = None,
    model_name: str | None = None,
    write_report: bool = True,
    include_bets: bool = True,
) -> dict[str, Any]:
    """Backtest a strategy on stored history with no look-ahead; save to backtest_runs and a report folder."""
    freeze_startup_objects()  # start-up ends here (odds_models/runtime.py)
    logger = get_run_logger()
    if config is None:  # the weekly schedule: the Prefect Variable `backtest-window`, else the season to date
        strategy, start, end = scheduled_window(now().date(), await read_variable_task(BACKTEST_WINDOW))
        config = scheduled_config(strategy, start, end)
        logger.info("scheduled window: %s %s..%s", strategy, start, end)
    staleness = timedelta(minutes=config.max_staleness_minutes)
    stages = progress.begin(f"backtest {config.strategy}", total=4, unit="stages")
    # 1. the games and their decision times
    events = await read_events_between_task(config.start, config.end + timedelta(days=1))
    if events.empty:
        raise NoDataError(f"no games between {config.start} and {config.end} in the database; fetch or import "
                          "that history first (`odds status show` lists what is stored)")  # fmt: skip
    stages.advance("games")
    pairs = decision_pairs(events, config.decision_hours)
    pair_list = list(zip(pairs["event_id"], pairs["decision_time"].dt.to_pydatetime(), strict=True))
    # 2. prices as of each decision (one query, one index probe per decision), Polymarket asks, closing lines,
    #    model predictions: independent reads on their own connections, run concurrently (two cores, two
    #    backends); book, market and outcome come back as categoricals, which the engine groups on
    event_ids = events["event_id"].tolist()
    odds, asks, closing, predictions = await asyncio.gather(
        read_odds_at_times_task(pair_list, markets=config.markets, max_staleness=staleness, categorical=True),
        read_polymarket_asks_at_times_task(pair_list, max_staleness=staleness)
        if config.include_polymarket
        else _none(),
        read_closing_lines_task(event_ids, markets=config.markets, categorical=True),
        read_predictions_task(event_ids, model_name) if config.strategy == "clv_model" else _none(),
    )
    _check_venues(config, odds)
    stages.advance("prices read")
    # 3. the backtest itself (pure)
    result = run_backtest_frames(
        config,
        events=events,
        pairs=pairs,
        odds=odds,
        closing=closing,
        polymarket=asks,
        predictions=predictions,
    )
    run_key = config.key(data_fingerprint(events, odds, closing, asks, predictions))
    stages.advance("bets simulated")
    # 4. report folder, backtest_runs row, Prefect artifacts
    report_path = write_backtest_report_task(result, run_key) if write_report else None
    run_id = await store_backtest_run_task(run_key, result, report_path)
    await acreate_markdown_artifact(
        markdown=summary_markdown(result, run_key, report_path), key="backtest-summary"
    )
    await acreate_table_artifact(table=summary_table(result), key="backtest-breakdown")
    stages.advance("report")
    logger.info("backtest %s (%s %s..%s): %s; report %s", run_key, config.strategy, config.start, config.end,
                headline(result.metrics), report_path)  # fmt: skip
    out = {"run_key": run_key, "run_id": run_id, "report_path": report_path, **result.summary()}
    if include_bets:
        out["bets"] = result.bet_records()
    return out
