"""Stakes: flat, or fractional Kelly with caps. A bet without a positive edge gets no stake, ever.

Order of checks (the known weakness we must not repeat is a minimum stake applied before the edge check):
1. edge = p × price − 1 must be > 0 (for strategies that estimate p);
2. the stake is computed (flat, or bankroll × kelly_fraction × f*, f* = (p(b+1) − 1) / b, b = price − 1);
3. caps lower it (max_bet_fraction × bankroll, max_stake);
4. a stake below `min_stake` is skipped, never raised to it.

A Polymarket bet whose quote carries a stored book (`execution.book`, `odds_analytics.backtest.quotes`) is
then filled on that book, as the live recommendations do (`odds_analytics.venues`): its price becomes the
fill's decimal odds at the stake (fee included) and the stake is at most what the book can fill. Flat: the
flat stake, cut to the book's depth, dropped when the edge at the fill price is not positive. Kelly: the
largest s ≤ min(stake at the top price, depth) with s ≤ the Kelly stake at the fill price of s (bisection;
the fill's price worsens as s grows). One unit is one dollar of the book.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np
import pandas as pd

from odds_analytics.venues import stake_on_book

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
    books = _books(bets)
    price = bets["price_decimal"].to_numpy(dtype=float).copy()
    if staking == "flat" or not requires_edge:
        stakes = np.full(len(bets), float(stake))
        if max_stake is not None:
            stakes = np.minimum(stakes, max_stake)
        prob = bets["prob"].to_numpy(dtype=float)
        for i, book in books:
            stakes[i] = min(stakes[i], book.fill(0.0).depth_dollars)
            price[i] = _fill_decimal(book, stakes[i], price[i])
            if requires_edge and not prob[i] * price[i] - 1.0 > 0:
                stakes[i] = 0.0
    else:
        stakes = _kelly_stakes(bets, bankroll, kelly_frac=kelly_frac, max_bet_fraction=max_bet_fraction,
                               max_stake=max_stake, books=dict(books), price=price)  # fmt: skip
    if books:
        bets["price_top"] = bets["price_decimal"]
        bets["price_decimal"] = price
        bets["edge"] = edge(bets["prob"].to_numpy(), price)
    bets["stake"] = stakes
    keep = (bets["stake"] > 0) & (bets["stake"] >= min_stake)
    return bets[keep].reset_index(drop=True)


def _books(bets: pd.DataFrame) -> list[tuple[int, Any]]:
    """(row, book) of the bets filled on a stored Polymarket book."""
    if "execution" not in bets.columns:
        return []
    return [(i, ex.book) for i, ex in enumerate(bets["execution"]) if ex is not None and ex.book is not None]


def _fill_decimal(book: Any, stake: float, top: float) -> float:
    """The decimal odds a stake gets on the book (the top price for a zero stake)."""
    decimal = book.fill(stake).decimal if stake > 0 else None
    return float(decimal) if decimal is not None else top


def _kelly_stakes(
    bets: pd.DataFrame,
    bankroll: float,
    *,
    kelly_frac: float,
    max_bet_fraction: float,
    max_stake: float | None,
    books: dict[int, Any] | None = None,
    price: np.ndarray | None = None,
) -> np.ndarray:
    """Compounding fractional-Kelly stakes. `books`: row -> stored book to fill on; `price` (updated in place)
    gets the fill's decimal odds of those rows, and their profit per unit follows it."""
    books = books or {}
    f = kelly_fraction(bets["prob"].to_numpy(), bets["price_decimal"].to_numpy())
    prob = bets["prob"].to_numpy(dtype=float)
    decisions = bets["decision_time"].to_numpy()
    ends = (pd.to_datetime(bets["commence_time"], utc=True) + pd.Timedelta(hours=3)).to_numpy()
    ppu = bets["settle_profit_per_unit"].to_numpy(dtype=float).copy()
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
        if i in books and price is not None:
            book, p, cash = books[i], prob[i], current

            def target(d: float, p: float = p, cash: float = cash) -> float:
                k = float(kelly_fraction(p, d))
                if not np.isfinite(k) or k <= 0:
                    return 0.0
                t = min(cash * kelly_frac * k, cash * max_bet_fraction)
                return min(t, max_stake) if max_stake is not None else t

            s = stake_on_book(book, target, min(s, book.fill(0.0).depth_dollars))
            price[i] = _fill_decimal(book, s, price[i])
            if ppu[i] > 0:  # a win pays at the fill's price
                ppu[i] = price[i] - 1.0
            if s <= 0:
                continue
        stakes[i] = s
        heapq.heappush(pending, (ends[i], i))
    return stakes
