"""Text renderings of a backtest (markdown and table artifacts) and the data fingerprint of a run. Pure."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd

from odds_analytics.backtest.engine import BacktestResult
from odds_analytics.backtest.samples import MIN_BET_DAYS, MIN_BETS, headline_rows

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


def summary_markdown(result: BacktestResult, run_key: str, report_path: str | None) -> str:
    """The run's headline figures as markdown (the Prefect artifact and the report's README), each with its
    n; below the minimum counts of `odds_analytics.backtest.samples` a figure reads "n too small"."""
    m = result.metrics
    counts = result.counts
    lines = [
        f"# Backtest `{result.config.strategy}` {result.config.start} → {result.config.end}",
        "",
        f"run_key `{run_key}`; decision hours {result.config.decision_hours}; params {result.strategy_params}",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {name} | {value} |" for name, value in headline_rows(m)],
        "",
        f"Sharpe basis: {m.get('sharpe_basis')}. CLV = fair probability at the close minus the implied "
        f"probability paid, in probability points. Minimum counts: {MIN_BETS} bets for ROI, shares, means and "
        f"the ROI interval; {MIN_BET_DAYS} betting days for Sharpe/Sortino.",
    ]
    if "stale_quotes" in counts:
        lines += [
            "",
            f"Staleness bound {result.config.max_quote_age_minutes:g} min: {counts['stale_quotes']} of "
            f"{counts['quotes_read']} quotes read were older at their decision and not used; "
            f"{counts['decisions_without_current_price']} of {counts['decisions']} decisions had no current price.",
        ]
    if counts.get("polymarket_bets"):
        lines += ["", polymarket_pricing_line(counts)]
    if report_path:
        lines += ["", f"Report: `{report_path}`"]
    return "\n".join(lines)


def polymarket_pricing_line(counts: dict[str, Any]) -> str:
    """How the Polymarket bets were priced, one sentence (the CLI and the report print it)."""
    return (
        f"Polymarket: {counts['polymarket_bets']} bets, {counts['polymarket_bets_on_book']} filled on the stored "
        f"book at the stake, {counts['polymarket_bets_best_ask_only']} at the best ask only (no book at the "
        f"decision: depth unknown, the stake assumed to fill at the best ask); "
        f"{counts['polymarket_bets_fee_assumed']} with assumed fee terms (Gamma stated none); fees "
        f"{counts['polymarket_fees']:.4g} units."
    )


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
            "clv n/N": f"{group['clv_bets']}/{group['bets']}",
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
