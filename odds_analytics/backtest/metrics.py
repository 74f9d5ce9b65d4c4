"""Honest metrics of a list of settled bets.

- bets, turnover (sum of stakes), profit, ROI on turnover, win rate (wins / (wins + losses); pushes out);
- CLV against the devigged close: `clv_prob` = fair closing probability of the bet's outcome (at the bet's
  point) − 1 / price, its mean in probability points, and the share of bets with clv_prob > 0;
- Sharpe and Sortino, annualised, on **daily returns of the bankroll**: each calendar day from the first to
  the last game (days without bets count as 0), return = profit settled that day / bankroll at the start
  of the day (starting bankroll + earlier profit); × √365. Sortino uses the downside deviation (target 0);
- max drawdown of the equity curve (bankroll + cumulative profit, games in tip-off order): units and share
  of the running peak;
- bootstrap 95 % confidence interval of ROI (bets resampled with replacement);
- small samples (`odds_analytics.backtest.samples`): the ROI interval needs `MIN_BETS` settled bets and the
  Sharpe and Sortino `MIN_BET_DAYS` distinct days with a settled bet, else they are None (the text says "n
  too small"); the Sharpe comes with its standard error `sharpe_se`; `bet_days` is the count behind it;
- permutation p-value against random bets: the same bets with each side flipped to the opposite outcome
  (its best price at the same decision) with probability 1/2; p = (1 + #{ROI_random >= ROI}) / (1 + n);
- breakdowns by market, venue, month (US/Eastern, of tip-off) and hours before tip-off.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from odds_analytics.backtest.samples import MIN_BET_DAYS, MIN_BETS
from odds_analytics.jsonsafe import json_safe

__all__ = ["SHARPE_BASIS", "breakdown", "compute_metrics", "equity_curve"]

SHARPE_BASIS = (
    "daily bankroll returns (settled profit / bankroll at start of day, zero-bet days included), ×√365"
)


def _roi(profit: np.ndarray, stake: np.ndarray) -> float:
    turnover = float(stake.sum())
    return float(profit.sum() / turnover) if turnover > 0 else float("nan")


def equity_curve(bets: pd.DataFrame, bankroll: float) -> pd.DataFrame:
    """Bankroll after each settled bet, in tip-off order: commence_time, profit, equity, drawdown."""
    settled = bets[bets["result"] != "void"].sort_values(["commence_time", "decision_time"], kind="stable")
    equity = bankroll + settled["profit"].cumsum()
    peak = np.maximum.accumulate(np.concatenate([[bankroll], equity.to_numpy()]))[1:]
    return pd.DataFrame(
        {"commence_time": settled["commence_time"].to_numpy(), "profit": settled["profit"].to_numpy(),
         "equity": equity.to_numpy(), "drawdown": (peak - equity.to_numpy())}
    )  # fmt: skip


def _daily_returns(settled: pd.DataFrame, bankroll: float) -> np.ndarray:
    if settled.empty:
        return np.array([])
    day = pd.to_datetime(settled["commence_time"], utc=True).dt.tz_convert("America/New_York").dt.date
    daily = settled.groupby(day)["profit"].sum()
    index = pd.date_range(min(daily.index), max(daily.index), freq="D").date
    daily = daily.reindex(index, fill_value=0.0)
    start_bank = bankroll + daily.cumsum().shift(1, fill_value=0.0)
    return (daily / start_bank.where(start_bank > 0)).fillna(0.0).to_numpy()


def _sharpe_sortino(returns: np.ndarray) -> tuple[float | None, float | None]:
    if len(returns) < 2:
        return None, None
    mean, sd = float(returns.mean()), float(returns.std(ddof=1))
    sharpe = mean / sd * math.sqrt(365) if sd > 0 else None
    downside = np.minimum(returns, 0.0)
    dd = float(np.sqrt((downside**2).mean()))
    sortino = mean / dd * math.sqrt(365) if dd > 0 else None
    return sharpe, sortino


def _bet_days(settled: pd.DataFrame) -> int:
    """Distinct US/Eastern days of tip-off with at least one settled bet (the n behind the Sharpe)."""
    if settled.empty:
        return 0
    day = pd.to_datetime(settled["commence_time"], utc=True).dt.tz_convert("America/New_York").dt.date
    return int(day.nunique())


def _sharpe_se(sharpe: float | None, days: int) -> float | None:
    """Standard error of an annualised Sharpe from `days` daily returns (Lo 2002, i.i.d. returns)."""
    if sharpe is None or days < 2:
        return None
    daily = sharpe / math.sqrt(365)
    return math.sqrt((1 + daily**2 / 2) / days) * math.sqrt(365)


def _bootstrap_roi(
    profit: np.ndarray, stake: np.ndarray, n: int, rng: np.random.Generator
) -> list[float] | None:
    if n == 0 or len(profit) < 2:
        return None
    rois = np.empty(n)
    chunk = max(1, 2_000_000 // len(profit))
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        idx = rng.integers(0, len(profit), size=(size, len(profit)))
        rois[start : start + size] = profit[idx].sum(axis=1) / stake[idx].sum(axis=1)
    return [float(np.quantile(rois, 0.025)), float(np.quantile(rois, 0.975))]


def _permutation_p(settled: pd.DataFrame, n: int, rng: np.random.Generator) -> float | None:
    if n == 0 or settled.empty or "alt_profit" not in settled:
        return None
    profit = settled["profit"].to_numpy()
    alt = settled["alt_profit"].to_numpy()
    has_alt = np.isfinite(alt)
    if not has_alt.any():
        return None
    alt = np.where(has_alt, alt, profit)
    turnover = float(settled["stake"].sum())
    observed = profit.sum() / turnover
    count = 0
    chunk = max(1, 2_000_000 // len(profit))
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        flip = rng.random((size, len(profit))) < 0.5
        rois = np.where(flip, alt, profit).sum(axis=1) / turnover
        count += int((rois >= observed - 1e-12).sum())
    return (1 + count) / (1 + n)


def _summary(settled: pd.DataFrame) -> dict[str, Any]:
    columns = _summary_columns(settled)
    return _summary_of(columns, np.arange(len(settled)))


def _summary_columns(settled: pd.DataFrame) -> dict[str, np.ndarray]:
    clv = settled["clv_prob"] if "clv_prob" in settled else pd.Series(np.nan, index=settled.index)
    return {
        "result": settled["result"].to_numpy(dtype=object),
        "stake": settled["stake"].to_numpy(dtype=float),
        "profit": settled["profit"].to_numpy(dtype=float),
        "price": settled["price_decimal"].to_numpy(dtype=float),
        "clv": clv.to_numpy(dtype=float),
    }


def _summary_of(columns: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, Any]:
    """The summary metrics of the bets at positions `rows` (numpy on the columns: no frame per group)."""
    result = columns["result"][rows]
    stake, profit = columns["stake"][rows], columns["profit"][rows]
    price = columns["price"][rows]
    clv = columns["clv"][rows]
    clv = clv[~np.isnan(clv)]
    wins = int((result == "win").sum())
    losses = int((result == "loss").sum())
    return {
        "bets": len(rows),
        "turnover": float(stake.sum()),
        "profit": float(profit.sum()),
        "roi": _roi(profit, stake) if len(rows) else None,
        "win_rate": wins / (wins + losses) if wins + losses else None,
        "wins": wins,
        "losses": losses,
        "pushes": int((result == "push").sum()),
        "avg_price": float(price.sum() / len(price)) if len(rows) else None,
        "clv_bets": len(clv),
        "clv_mean_pp": float(clv.sum() / len(clv) * 100) if len(clv) else None,
        "clv_beat_share": float((clv > 0).sum() / len(clv)) if len(clv) else None,
    }


def breakdown(settled: pd.DataFrame, by: str) -> list[dict[str, Any]]:
    """Summary metrics per value of column `by` (in sorted order of the values)."""
    if settled.empty:
        return []
    columns = _summary_columns(settled)
    groups = settled.groupby(by, sort=True).indices
    return [{by: key, **_summary_of(columns, rows)} for key, rows in groups.items()]


def compute_metrics(
    bets: pd.DataFrame, *, bankroll: float, n_bootstrap: int, n_permutations: int, seed: int
) -> dict[str, Any]:
    """All metrics of settled bets (void bets are counted, then left out). JSON-ready (no NaN)."""
    rng = np.random.default_rng(seed)
    settled = bets[bets["result"] != "void"]
    metrics = _summary(settled)
    metrics["void_bets"] = int((bets["result"] == "void").sum())
    metrics["avg_edge"] = (
        float(settled["edge"].mean()) if len(settled) and settled["edge"].notna().any() else None
    )
    returns = _daily_returns(settled, bankroll)
    bet_days = _bet_days(settled)
    sharpe, sortino = _sharpe_sortino(returns) if bet_days >= MIN_BET_DAYS else (None, None)
    metrics.update(
        sharpe=sharpe, sortino=sortino, sharpe_se=_sharpe_se(sharpe, len(returns)), sharpe_basis=SHARPE_BASIS,
        days=len(returns), bet_days=bet_days, min_bets=MIN_BETS, min_bet_days=MIN_BET_DAYS,
    )  # fmt: skip
    curve = equity_curve(bets, bankroll)
    if len(curve):
        peak = np.maximum.accumulate(np.concatenate([[bankroll], curve["equity"].to_numpy()]))[1:]
        metrics["max_drawdown"] = float(curve["drawdown"].max())
        metrics["max_drawdown_pct"] = float((curve["drawdown"] / peak).max())
        metrics["final_bankroll"] = float(curve["equity"].iloc[-1])
    else:
        metrics.update(max_drawdown=0.0, max_drawdown_pct=0.0, final_bankroll=bankroll)
    stake = settled["stake"].to_numpy(dtype=float)
    profit = settled["profit"].to_numpy(dtype=float)
    metrics["roi_ci95"] = (
        _bootstrap_roi(profit, stake, n_bootstrap, rng) if len(settled) >= MIN_BETS else None
    )
    metrics["p_value_vs_random"] = _permutation_p(settled, n_permutations, rng)
    metrics["breakdowns"] = {
        key: breakdown(settled, col)
        for key, col in (
            ("market", "market"),
            ("venue", "venue"),
            ("month", "month"),
            ("hours_before", "hours_before"),
        )
    }
    return json_safe(metrics)
