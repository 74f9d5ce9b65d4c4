"""Text renderings of a backtest (markdown and table artifacts) and the data fingerprint of a run. Pure."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from odds_analytics.backtest.engine import BacktestResult

__all__ = ["data_fingerprint", "headline", "summary_markdown", "summary_table"]


def data_fingerprint(*frames: pd.DataFrame | None) -> str:
    """A short hash of the inputs' shapes and content, so the same parameters on new data are a new run."""
    digest = hashlib.sha256()
    for frame in frames:
        if frame is None or frame.empty:
            digest.update(b"-")
            continue
        digest.update(str(frame.shape).encode())
        digest.update(pd.util.hash_pandas_object(frame.astype(str), index=False).values.tobytes())
    return digest.hexdigest()[:16]


def _fmt(value: Any, pct: bool = False) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value * 100:.2f} %" if pct else f"{value:.3f}"
    return str(value)


def summary_markdown(result: BacktestResult, run_key: str, report_path: str | None) -> str:
    """The run's headline figures as markdown (the Prefect artifact and the report's README)."""
    m = result.metrics
    ci = m.get("roi_ci95")
    ci_text = f"[{ci[0] * 100:.2f} %, {ci[1] * 100:.2f} %]" if ci else "n/a"
    lines = [
        f"# Backtest `{result.config.strategy}` {result.config.start} → {result.config.end}",
        "",
        f"run_key `{run_key}`; decision hours {result.config.decision_hours}; params {result.strategy_params}",
        "",
        "| metric | value |",
        "|---|---|",
        f"| bets | {m.get('bets')} (void {m.get('void_bets')}) |",
        f"| turnover | {_fmt(m.get('turnover'))} |",
        f"| profit | {_fmt(m.get('profit'))} |",
        f"| ROI | {_fmt(m.get('roi'), pct=True)} (95 % CI {ci_text}) |",
        f"| win rate | {_fmt(m.get('win_rate'), pct=True)} |",
        f"| CLV mean | {_fmt(m.get('clv_mean_pp'))} pp, beat close {_fmt(m.get('clv_beat_share'), pct=True)} |",
        f"| Sharpe / Sortino | {_fmt(m.get('sharpe'))} / {_fmt(m.get('sortino'))} ({m.get('sharpe_basis')}) |",
        f"| max drawdown | {_fmt(m.get('max_drawdown'))} units ({_fmt(m.get('max_drawdown_pct'), pct=True)}) |",
        f"| p-value vs random sides | {_fmt(m.get('p_value_vs_random'))} |",
    ]
    if report_path:
        lines += ["", f"Report: `{report_path}`"]
    return "\n".join(lines)


def summary_table(result: BacktestResult) -> list[dict[str, Any]]:
    """One row per breakdown group (market, venue, month, hours before): bets, turnover, profit, ROI, CLV."""

    def _r(value: float | None, digits: int) -> float | None:
        return None if value is None else round(value, digits)

    return [
        {
            "dimension": dimension,
            "group": str(group.get(dimension)),
            "bets": group["bets"],
            "turnover": _r(group["turnover"], 3),
            "profit": _r(group["profit"], 3),
            "roi": _r(group["roi"], 4),
            "clv_mean_pp": _r(group["clv_mean_pp"], 3),
        }
        for dimension, groups in result.metrics.get("breakdowns", {}).items()
        for group in groups
    ]


def headline(metrics: dict[str, Any]) -> str:
    """The figures a log line shows, rounded: `312 bets, ROI +2.4%, CLV +0.8 pp (56% beat the close), Sharpe 1.12`."""

    def pct(value: Any, signed: bool = True) -> str:
        return "n/a" if value is None else f"{value:+.1%}" if signed else f"{value:.0%}"

    clv = metrics.get("clv_mean_pp")
    sharpe = metrics.get("sharpe")
    return (f"{metrics.get('bets', 0):,} bets, ROI {pct(metrics.get('roi'))}, "
            f"CLV {'n/a' if clv is None else f'{clv:+.1f} pp'} ({pct(metrics.get('clv_beat_share'), False)} beat "
            f"the close), Sharpe {'n/a' if sharpe is None else f'{sharpe:.2f}'}")  # fmt: skip
