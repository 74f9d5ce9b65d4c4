"""Saving backtests: one `backtest_runs` row per run_key (re-running updates it, never duplicates) and a
report folder with CSV, JSON and PNG charts.

Report folder (`get_settings().reports_dir / "backtests" / "<strategy>_<start>_<end>_<run_key[:8]>"`):
`summary.json` (parameters and metrics), `bets.csv` (every bet with decision and snapshot times),
`breakdown_<market|venue|month|hours_before>.csv`, `equity.png` (equity curve) and `clv_hist.png` (CLV
histogram).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from prefect import task
from prefect.cache_policies import NONE
from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.backtest.engine import BET_COLUMNS, BacktestResult
from odds_analytics.jsonsafe import json_safe
from odds_models.db import async_session_maker
from odds_models.settings import get_settings
from tasks.retry import DB_WRITE_RETRY

__all__ = [
    "report_dir_for",
    "save_backtest_run",
    "store_backtest_run",
    "store_backtest_run_task",
    "write_backtest_report",
    "write_backtest_report_task",
    "write_report",
]


_UPSERT = """
INSERT INTO backtest_runs (run_key, strategy, status, start_date, end_date, params, metrics, bets, report_path,
                           created_at)
VALUES (:run_key, :strategy, 'completed', :start, :end, CAST(:params AS jsonb), CAST(:metrics AS jsonb),
        CAST(:bets AS jsonb), :report_path, now())
ON CONFLICT (run_key) DO UPDATE SET
    metrics = EXCLUDED.metrics, bets = EXCLUDED.bets, report_path = EXCLUDED.report_path
RETURNING id
"""


async def save_backtest_run(
    *, session: AsyncSession, run_key: str, result: BacktestResult, report_path: str | None
) -> int:
    """Upsert the run by `run_key`; returns its id. The caller commits."""
    params = {**result.config.model_dump(mode="json"), "strategy_params": result.strategy_params}
    row = await session.execute(
        text(_UPSERT),
        {
            "run_key": run_key,
            "strategy": result.config.strategy,
            "start": result.config.start,
            "end": result.config.end,
            "params": json.dumps(json_safe(params)),
            "metrics": json.dumps(json_safe({**result.metrics, "counts": result.counts})),
            "bets": json.dumps(result.bet_records()),
            "report_path": report_path,
        },
    )
    return int(row.scalar_one())


def report_dir_for(result: BacktestResult, run_key: str, root: Path | None = None) -> Path:
    """Where a run's report goes."""
    base = root if root is not None else get_settings().reports_dir / "backtests"
    cfg = result.config
    return base / f"{cfg.strategy}_{cfg.start.isoformat()}_{cfg.end.isoformat()}_{run_key[:8]}"


def write_report(result: BacktestResult, directory: Path) -> Path:
    """Write summary.json, bets.csv, breakdown CSVs, equity.png and clv_hist.png into `directory`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    summary = json_safe(result.summary())
    (directory / "summary.json").write_text(json.dumps(summary, indent=2))
    result.bets[BET_COLUMNS].to_csv(directory / "bets.csv", index=False)
    for name, rows in result.metrics.get("breakdowns", {}).items():
        pd.DataFrame(rows).to_csv(directory / f"breakdown_{name}.csv", index=False)

    fig, ax = plt.subplots(figsize=(9, 4))
    if len(result.equity):
        ax.plot(pd.to_datetime(result.equity["commence_time"]), result.equity["equity"], lw=1.2)
    ax.axhline(result.config.bankroll, color="grey", lw=0.8, ls="--")
    ax.set_title(f"Equity: {result.config.strategy} ({result.metrics.get('bets', 0)} bets)")
    ax.set_ylabel("bankroll (units)")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(directory / "equity.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    clv = result.bets["clv_prob"].dropna() * 100 if "clv_prob" in result.bets else pd.Series(dtype=float)
    if len(clv):
        ax.hist(clv, bins=40, color="tab:blue", alpha=0.8)
        ax.axvline(0, color="black", lw=0.8)
    ax.set_title(f"CLV vs devigged close (pp): clv {len(clv)}/{len(result.bets)} bets")
    ax.set_xlabel("close fair probability - bet implied probability (pp)")
    fig.tight_layout()
    fig.savefig(directory / "clv_hist.png", dpi=110)
    plt.close(fig)
    return directory


def write_backtest_report(result: BacktestResult, run_key: str) -> str:
    """Write the report folder (CSV, JSON, PNG) and return its path."""
    return str(write_report(result, report_dir_for(result, run_key)))


write_backtest_report_task = task(
    write_backtest_report, cache_policy=NONE, task_run_name="write-backtest-report"
)


async def store_backtest_run(run_key: str, result: BacktestResult, report_path: str | None) -> int:
    """Save the run to `backtest_runs` (one row per run_key)."""
    async with async_session_maker() as session:
        run_id = await save_backtest_run(
            session=session, run_key=run_key, result=result, report_path=report_path
        )
        await session.commit()
    return run_id


store_backtest_run_task = task(store_backtest_run, **DB_WRITE_RETRY, task_run_name="store-backtest-run")
