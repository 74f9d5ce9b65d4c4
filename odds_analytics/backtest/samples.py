"""Small samples say so: the minimum counts behind a backtest figure, and the figures as text with their n.

Every mean, share, Sharpe or interval is printed with the count it rests on. Below the minimum it is not
printed at all: the text is "n too small (n=...)".

- `MIN_BETS` (30): settled bets needed for ROI, the win rate, the CLV mean, the beat-the-close share and the
  bootstrap interval of ROI.
- `MIN_BET_DAYS` (30): distinct days with a settled bet needed for the annualised Sharpe and Sortino (daily
  returns; a Sharpe from 3 days says nothing). The Sharpe comes with its standard error (Lo 2002, i.i.d.
  returns: se(SR) = sqrt((1 + SR²/2) / T) per day, times sqrt(365)).

CLV is in probability points: fair probability at the close minus the implied probability paid (1 / price);
it is shown as `+1.90 pp (clv 120/153 bets)`: 120 of the 153 bets had a close to compare with.

    >>> clv_text(1.9, 2, 153)
    'n too small (clv 2/153 bets)'
    >>> clv_text(1.9, 40, 153)
    '+1.900 pp (clv 40/153 bets)'
"""

from __future__ import annotations

from typing import Any

__all__ = ["MIN_BETS", "MIN_BET_DAYS", "clv_text", "headline_rows", "share_text", "too_small"]

MIN_BETS = 30
MIN_BET_DAYS = 30


def too_small(n: int, what: str = "n") -> str:
    return f"n too small ({what}={n})"


def _pct(value: float) -> str:
    return f"{value * 100:.2f} %"


def clv_text(mean_pp: float | None, clv_bets: int, bets: int) -> str:
    """The CLV mean in pp with its count, or "n too small" under `MIN_BETS` bets with a close."""
    count = f"clv {clv_bets}/{bets} bets"
    if clv_bets < MIN_BETS or mean_pp is None:
        return f"n too small ({count})"
    return f"{mean_pp:+.3f} pp ({count})"


def share_text(share: float | None, k: int, n: int) -> str:
    """A share k/n as a percentage with its count, or "n too small"."""
    if n < MIN_BETS or share is None:
        return f"n too small ({k}/{n})"
    return f"{_pct(share)} ({k}/{n})"


def headline_rows(m: dict[str, Any]) -> list[tuple[str, str]]:
    """A backtest's headline figures as (name, text) rows, each with its n: the CLI table and the report."""
    bets = int(m.get("bets") or 0)
    settled = int(m.get("wins") or 0) + int(m.get("losses") or 0)
    clv_bets = int(m.get("clv_bets") or 0)
    beat = m.get("clv_beat_share")
    beat_k = round(beat * clv_bets) if beat is not None else 0
    roi = m.get("roi")
    ci = m.get("roi_ci95")
    days = int(m.get("bet_days") or 0)
    sharpe, sortino, se = m.get("sharpe"), m.get("sortino"), m.get("sharpe_se")
    if days < MIN_BET_DAYS or sharpe is None:
        sharpe_text = f"n too small ({days} betting days; {MIN_BET_DAYS} needed)"
    else:
        sortino_text = "n/a" if sortino is None else f"{sortino:.2f}"
        sharpe_text = f"{sharpe:.2f} ± {se:.2f} se / {sortino_text} ({days} betting days)"
    p = m.get("p_value_vs_random")
    return [
        ("bets (void)", f"{bets} ({m.get('void_bets', 0)})"),
        ("turnover", "n/a" if m.get("turnover") is None else f"{m['turnover']:.3f}"),
        ("profit", "n/a" if m.get("profit") is None else f"{m['profit']:.3f}"),
        ("ROI", too_small(bets) if bets < MIN_BETS or roi is None else f"{_pct(roi)} (n={bets})"),
        ("ROI 95% CI", too_small(bets) if not ci else f"{_pct(ci[0])} .. {_pct(ci[1])} (n={bets})"),
        ("win rate", share_text(m.get("win_rate"), int(m.get("wins") or 0), settled)),
        ("CLV mean (pp)", clv_text(m.get("clv_mean_pp"), clv_bets, bets)),
        ("beat the close", share_text(beat, beat_k, clv_bets)),
        ("Sharpe ± se / Sortino (annualised)", sharpe_text),
        ("max drawdown (units)", "n/a" if m.get("max_drawdown") is None else f"{m['max_drawdown']:.3f}"),
        ("p-value vs random sides", "n/a" if p is None else f"{p:.3f} (n={bets})"),
    ]
