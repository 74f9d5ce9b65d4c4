"""Settling bets from final scores: moneyline, spread and total, with pushes. Vectorised, pure."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["bet_margin", "settle"]


def bet_margin(bets: pd.DataFrame) -> np.ndarray:
    """How far the bet won by (> 0 win, 0 push, < 0 loss); NaN when the game has no final score.

    Needs columns market, side (home/away/over/under), point, home_score, away_score.
    """
    home = bets["home_score"].astype(float).to_numpy()
    away = bets["away_score"].astype(float).to_numpy()
    side = bets["side"].to_numpy()
    market = bets["market"].to_numpy()
    point = bets["point"].astype(float).fillna(0.0).to_numpy()
    team_margin = np.where(side == "home", home - away, np.where(side == "away", away - home, np.nan))
    total = home + away
    margin = np.full(len(bets), np.nan)
    margin = np.where(market == "h2h", team_margin, margin)
    margin = np.where(market == "spreads", team_margin + point, margin)
    margin = np.where((market == "totals") & (side == "over"), total - point, margin)
    margin = np.where((market == "totals") & (side == "under"), point - total, margin)
    return margin


def settle(bets: pd.DataFrame) -> pd.DataFrame:
    """Adds `result` (win/loss/push/void) and `profit` (stake × (price - 1), 0, -stake, 0) to `bets`.

    A bet is void when its game has no final score (not played, postponed, cancelled).
    """
    out = bets.copy()
    margin = bet_margin(out)
    final = out["status"].eq("final").to_numpy() & np.isfinite(margin)
    result = np.where(~final, "void", np.where(margin > 0, "win", np.where(margin < 0, "loss", "push")))
    stake = out["stake"].astype(float).to_numpy()
    price = out["price_decimal"].astype(float).to_numpy()
    profit = np.where(result == "win", stake * (price - 1.0), np.where(result == "loss", -stake, 0.0))
    out["result"] = result
    out["profit"] = profit
    return out
