"""Stakes: flat, or fractional Kelly with caps. A bet without a positive edge gets no stake, ever.

Order of checks (the known weakness we must not repeat is a minimum stake applied before the edge check):
1. edge = p × price − 1 must be > 0 (for strategies that estimate p);
2. the stake is computed (flat, or bankroll × kelly_fraction × f*, f* = (p(b+1) − 1) / b, b = price − 1);
3. caps lower it (max_bet_fraction × bankroll, max_stake);
4. a stake below `min_stake` is skipped, never raised to it.
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd

__all__ = ["edge", "kelly_fraction", "size_bets"]


def edge(prob: np.ndarray | float, price: np.ndarray | float) -> np.ndarray:
    """Expected profit per unit staked: p × decimal − 1 (NaN when p is unknown)."""
    return np.asarray(prob, dtype=float) * np.asarray(price, dtype=float) - 1.0


def kelly_fraction(prob: np.ndarray | float, price: np.ndarray | float) -> np.ndarray:
    """Full-Kelly share of bankroll for a win probability and a decimal price; <= 0 means do not bet."""
    b = np.asarray(price, dtype=float) - 1.0
    return (np.asarray(prob, dtype=float) * (b + 1.0) - 1.0) / b


def size_bets(
    bets: pd.DataFrame,
    *,
    staking: str,
    stake: float,
    bankroll: float,
    kelly_frac: float,
    max_bet_fraction: float,
    max_stake: float | None,
    min_stake: float,
    requires_edge: bool,
) -> pd.DataFrame:
    """Adds `edge` and `stake` to candidate bets (sorted by decision time) and drops the unstaked ones.

    Kelly compounds: the bankroll at a decision is the start plus the profit of bets whose games ended (tip
    + 3 h) by then, which needs `settle_profit_per_unit` (the bet's profit per unit if it were staked,
    from the settled result) and `commence_time`.
    """
    if bets.empty:
        return bets.assign(edge=[], stake=[])
    bets = bets.sort_values(["decision_time", "event_id", "market"], kind="stable").reset_index(drop=True)
    e = edge(bets["prob"].to_numpy(), bets["price_decimal"].to_numpy())
    bets["edge"] = e
    if requires_edge:
        bets = bets[np.isfinite(e) & (e > 0)].reset_index(drop=True)
    if staking == "flat" or not requires_edge:
        stakes = np.full(len(bets), float(stake))
        if max_stake is not None:
            stakes = np.minimum(stakes, max_stake)
    else:
        stakes = _kelly_stakes(bets, bankroll, kelly_frac, max_bet_fraction, max_stake)
    bets["stake"] = stakes
    keep = (bets["stake"] > 0) & (bets["stake"] >= min_stake)
    return bets[keep].reset_index(drop=True)


def _kelly_stakes(
    bets: pd.DataFrame, bankroll: float, kelly_frac: float, max_bet_fraction: float, max_stake: float | None
) -> np.ndarray:
    f = kelly_fraction(bets["prob"].to_numpy(), bets["price_decimal"].to_numpy())
    decisions = bets["decision_time"].to_numpy()
    ends = (pd.to_datetime(bets["commence_time"], utc=True) + pd.Timedelta(hours=3)).to_numpy()
    ppu = bets["settle_profit_per_unit"].to_numpy()
    stakes = np.zeros(len(bets))
    pending: list[tuple[np.datetime64, int]] = []
    current = bankroll
    for i in range(len(bets)):
        while pending and pending[0][0] <= decisions[i]:
            _, j = heapq.heappop(pending)
            current += stakes[j] * ppu[j]
        if not np.isfinite(f[i]) or f[i] <= 0 or current <= 0:
            continue
        s = current * kelly_frac * f[i]
        s = min(s, current * max_bet_fraction)
        if max_stake is not None:
            s = min(s, max_stake)
        stakes[i] = s
        heapq.heappush(pending, (ends[i], i))
    return stakes
