"""The ledger's report: summaries with intervals, breakdowns, the verdict, Markdown, cumulative CLV (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from odds_analytics.ledger.bets import MIN_N
from odds_analytics.ledger.settle import bet_status

# --------------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------------


def _t_interval(values: np.ndarray, min_n: int) -> list[float] | None:
    if len(values) < min_n:
        return None
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    mean = float(values.mean())
    return [mean - half, mean + half]


def _roi_interval(profit: np.ndarray, stake: np.ndarray, min_n: int) -> list[float] | None:
    """ROI = sum(profit) / sum(stake), with the ratio estimator's standard error (delta method)."""
    n = len(profit)
    if n < min_n or stake.sum() <= 0:
        return None
    roi = profit.sum() / stake.sum()
    resid = profit - roi * stake
    se = math.sqrt(float((resid**2).sum()) / (n * (n - 1))) / float(stake.mean())
    half = float(stats.t.ppf(0.975, n - 1)) * se
    return [float(roi - half), float(roi + half)]


def _summary(bets: pd.DataFrame, min_n: int) -> dict[str, Any]:
    clv = bets["clv_prob"].dropna().to_numpy(dtype=float)
    decided = bets[bets["result"].isin(["win", "loss", "push"])]
    stake = decided["stake"].to_numpy(dtype=float)
    profit = decided["profit"].to_numpy(dtype=float)
    expected = bets["expected_return"].dropna().to_numpy(dtype=float)
    ci = _t_interval(clv, min_n)
    return {
        "bets": len(bets),
        "settled": int((bets["status"] == "settled").sum()),
        "open": int((bets["status"] == "open").sum()),
        "void": int((bets["status"] == "void").sum()),
        "no_close": int((bets["open_reason"] == "no close").sum()),
        "clv_n": len(clv),
        "clv_mean_pp": float(clv.mean() * 100) if len(clv) else None,
        "clv_ci_pp": [v * 100 for v in ci] if ci else None,
        "beat_close": int((clv > 0).sum()),
        "beat_close_share": float((clv > 0).mean()) if len(clv) else None,
        "results_n": len(decided),
        "wins": int((decided["result"] == "win").sum()),
        "losses": int((decided["result"] == "loss").sum()),
        "pushes": int((decided["result"] == "push").sum()),
        "turnover": float(stake.sum()),
        "profit": float(profit.sum()),
        "roi": float(profit.sum() / stake.sum()) if stake.sum() > 0 else None,
        "roi_ci": _roi_interval(profit, stake, min_n),
        "expected_return_n": len(expected),
        "expected_return_mean": float(expected.mean()) if len(expected) else None,
    }


BREAKDOWNS = ("source", "model", "market", "venue")


def ledger_report(bets: pd.DataFrame, *, now: datetime, min_n: int = MIN_N) -> dict[str, Any]:
    """The ledger's figures, overall and by source, model, market and venue (JSON-ready).

    `bets`: ledger rows with their game's commence_time and the model's name in `model` (None for manual).
    """
    frame = bet_status(bets, now=now) if len(bets) else bets.assign(status=[], open_reason=[])
    frame = frame.assign(model=frame["model"].fillna("none") if "model" in frame else "none")
    reasons = frame["open_reason"].dropna().value_counts()
    return {
        "as_of": now,
        "min_n": min_n,
        "overall": _summary(frame, min_n),
        "open_reasons": {str(k): int(v) for k, v in reasons.items()},
        "by": {
            key: [{key: str(value), **_summary(part, min_n)} for value, part in frame.groupby(key, sort=True)]
            for key in BREAKDOWNS
        },
    }


def _pp(value: float) -> str:
    return f"{value:+.2f}"


def summary_cells(s: Mapping[str, Any]) -> dict[str, str]:
    """A summary's figures as text: every CLV and ROI figure with its count, intervals or "n too small"."""
    n_all = s["bets"]
    clv = f"{_pp(s['clv_mean_pp'])} pp ({s['clv_n']}/{n_all})" if s["clv_n"] else f"- (0/{n_all})"
    clv_ci = f"{_pp(s['clv_ci_pp'][0])} to {_pp(s['clv_ci_pp'][1])} pp" if s["clv_ci_pp"] else "n too small"
    beat = f"{s['beat_close']}/{s['clv_n']} ({s['beat_close_share']:.0%})" if s["clv_n"] else "-"
    roi = f"{s['roi']:+.1%} ({s['results_n']}/{n_all})" if s["roi"] is not None else f"- (0/{n_all})"
    roi_ci = f"{s['roi_ci'][0]:+.1%} to {s['roi_ci'][1]:+.1%}" if s["roi_ci"] else "n too small"
    expected = (
        f"{s['expected_return_mean']:+.2%} ({s['expected_return_n']}/{n_all})"
        if s["expected_return_n"]
        else "-"
    )
    return {
        "bets": str(n_all),
        "settled / open / void": f"{s['settled']} / {s['open']} / {s['void']}",
        "CLV mean (n/N)": clv,
        "CLV 95 % interval": clv_ci,
        "beat the close": beat,
        "ROI (n/N)": roi,
        "ROI 95 % interval": roi_ci,
        "profit": f"{s['profit']:+.2f}",
        "expected return (published)": expected,
    }


def verdict(summary: Mapping[str, Any], min_n: int = MIN_N) -> str:
    """One sentence: did these bets beat the close, as far as their CLV interval can tell?"""
    n, ci = summary["clv_n"], summary["clv_ci_pp"]
    if ci is None:
        return f"Too few bets with a close ({n}) to tell whether they beat it: an interval needs {min_n}."
    if ci[0] > 0:
        return f"These bets beat the close: the 95 % interval of their CLV is above 0 ({n} bets)."
    if ci[1] < 0:
        return f"These bets lost to the close: the 95 % interval of their CLV is below 0 ({n} bets)."
    return (
        f"No evidence that these bets beat the close: the 95 % interval of their CLV includes 0 ({n} bets)."
    )


def report_markdown(report: Mapping[str, Any], *, title: str = "Bet ledger", heading: str = "#") -> list[str]:
    """The report as Markdown lines: the overall figures, then one table per breakdown."""
    overall = report["overall"]
    lines = [f"{heading} {title}", ""]
    if not overall["bets"]:
        return [*lines, "No bets in the ledger yet.", ""]
    reasons = ", ".join(f"{k} {v}" for k, v in report["open_reasons"].items())
    lines += [
        f"As of {pd.Timestamp(report['as_of']):%Y-%m-%d %H:%M} UTC: {overall['bets']} bets, {overall['settled']} "
        f"settled, {overall['open']} open"
        + (f" ({reasons})" if reasons else "")
        + f", {overall['void']} void. "
        f"CLV is the fair closing probability of the side at the bet's line minus the implied probability paid, "
        f"in probability points (pp); intervals are 95 % and need {report['min_n']} bets.",
        "",
    ]
    lines += [verdict(overall, report["min_n"]), ""]
    cells = summary_cells(overall)
    header = ["", *cells.keys()]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.append("| **all** | " + " | ".join(cells.values()) + " |")
    for key in BREAKDOWNS:
        for row in report["by"][key]:
            lines.append(f"| {key}: {row[key]} | " + " | ".join(summary_cells(row).values()) + " |")
    lines.append("")
    return lines


def cumulative_clv(bets: pd.DataFrame) -> pd.DataFrame:
    """Bets with a close in tip-off order: `clv_pp` and the running sum overall (`cumulative_pp`) and per
    source (`source_cumulative_pp`)."""
    have = bets[bets["clv_prob"].notna()].copy()
    if have.empty:
        return have.assign(clv_pp=[], cumulative_pp=[], source_cumulative_pp=[])
    have = have.sort_values(["commence_time", "placed_at", "id"], kind="stable").reset_index(drop=True)
    have["clv_pp"] = have["clv_prob"].astype(float) * 100
    have["cumulative_pp"] = have["clv_pp"].cumsum()
    have["source_cumulative_pp"] = have.groupby("source")["clv_pp"].cumsum()
    return have
