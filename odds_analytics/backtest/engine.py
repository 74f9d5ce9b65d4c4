"""The backtest engine: decisions → quotes → strategy → edge check → sizing → settlement → CLV → metrics.

Pure: it takes the DataFrames the look-ahead-free readers return and computes; the flow does the I/O.

    result = run_backtest_frames(config, events=events, pairs=pairs, odds=odds, closing=closing,
                                 polymarket=asks, predictions=predictions)
    result.metrics["roi"], result.bets  # one row per bet, with decision_time and the price's snapshot_time
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from odds_analytics.backtest.config import BacktestConfig
from odds_analytics.backtest.metrics import compute_metrics, equity_curve
from odds_analytics.backtest.quotes import build_quotes, decision_pairs
from odds_analytics.backtest.settlement import bet_margin, settle
from odds_analytics.backtest.sizing import edge, size_bets
from odds_analytics.backtest.strategies import StrategyContext, get_strategy
from odds_analytics.fair import closing_fair_prices, closing_value
from odds_analytics.jsonsafe import json_safe
from odds_analytics.prices import decimal_to_american
from odds_analytics.staleness import fresh_quotes

__all__ = ["BET_COLUMNS", "BacktestResult", "run_backtest_frames"]

BET_COLUMNS = [
    "event_id", "home_team", "away_team", "commence_time", "decision_time", "hours_before", "market",
    "outcome", "side", "point", "venue", "price_decimal", "price_american", "snapshot_time", "prob", "edge",
    "stake", "result", "profit", "close_prob", "close_point", "clv_prob", "beat_close", "month", "price_basis",
    "fee", "fee_terms", "fee_assumed",
]  # fmt: skip
# price_basis: `quoted` (a sportsbook's price), `book` (Polymarket, filled on the stored book at the stake) or
# `best ask` (Polymarket, no stored book at the decision: priced at the best ask, no depth known); fee: units
# of Polymarket taker fee in the stake; fee_terms / fee_assumed: the market's terms (assumed: Gamma stated none)


_TEXT_COLUMNS = ("event_id", "home_team", "away_team", "market", "outcome", "side", "venue")


@dataclass
class BacktestResult:
    """Parameters, metrics, every bet and the equity curve of one backtest."""

    config: BacktestConfig
    strategy_params: dict[str, Any]
    metrics: dict[str, Any]
    bets: pd.DataFrame
    equity: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)

    def bet_records(self) -> list[dict[str, Any]]:
        """Every bet as JSON-ready dicts (times ISO 8601 UTC, NaN → None)."""
        return [json_safe(row) for row in self.bets[BET_COLUMNS].to_dict("records")]

    def summary(self) -> dict[str, Any]:
        """Parameters and metrics (no bets): what the CLI prints and the artifact shows."""
        return {
            "strategy": self.config.strategy,
            "strategy_params": self.strategy_params,
            "start": self.config.start.isoformat(),
            "end": self.config.end.isoformat(),
            "decision_hours": self.config.decision_hours,
            "counts": self.counts,
            "metrics": self.metrics,
        }


def _opposite(bets: pd.DataFrame) -> pd.DataFrame:
    """The outcome on the other side of each bet: (alt_outcome, alt_side, alt_point)."""
    side = bets["side"].to_numpy()
    alt_side = np.select([side == "home", side == "away", side == "over", side == "under"],
                         ["away", "home", "under", "over"], default="other")  # fmt: skip
    alt_outcome = np.select(
        [alt_side == "home", alt_side == "away", alt_side == "over", alt_side == "under"],
        [bets["home_team"], bets["away_team"], "Over", "Under"],
        default="",
    )
    point = bets["point"].astype(float).to_numpy()
    alt_point = np.where(bets["market"].to_numpy() == "spreads", -point, point)
    return pd.DataFrame(
        {"alt_outcome": alt_outcome, "alt_side": alt_side, "alt_point": alt_point}, index=bets.index
    )


def _attach_alternatives(bets: pd.DataFrame, quotes: pd.DataFrame) -> pd.DataFrame:
    """The best price of the opposite outcome at the same decision (for the random-bets permutation)."""
    bets = pd.concat([bets, _opposite(bets)], axis=1)
    quotes = quotes[quotes["request_index"].isin(bets["request_index"].unique())]  # only the bets' decisions
    best = (
        quotes.groupby(["request_index", "market", "outcome", "point"], dropna=False)["price_decimal"]
        .max()
        .rename("alt_price")
        .reset_index()
        .rename(columns={"outcome": "alt_outcome", "point": "alt_point"})
    )
    bets["alt_point"] = bets["alt_point"].astype(float)
    best["alt_point"] = best["alt_point"].astype(float)
    bets = bets.merge(best, on=["request_index", "market", "alt_outcome", "alt_point"], how="left")
    return bets


def _alt_profit(bets: pd.DataFrame) -> np.ndarray:
    alt = bets[["market", "home_score", "away_score"]].assign(side=bets["alt_side"], point=bets["alt_point"])
    margin = bet_margin(alt)
    stake = bets["stake"].to_numpy(dtype=float)
    price = bets["alt_price"].to_numpy(dtype=float)
    profit = np.where(margin > 0, stake * (price - 1.0), np.where(margin < 0, -stake, 0.0))
    return np.where(np.isfinite(price) & np.isfinite(margin), profit, np.nan)


def _execution_columns(bets: pd.DataFrame) -> pd.DataFrame:
    """`price_basis`, `fee`, `fee_terms`, `fee_assumed` from each bet's execution (dropped: not JSON)."""
    executions = list(bets["execution"]) if "execution" in bets.columns else [None] * len(bets)
    stakes = bets["stake"].to_numpy(dtype=float) if len(bets) else np.array([])
    basis, fee, terms, assumed = [], [], [], []
    for ex, stake in zip(executions, stakes, strict=True):
        if ex is None:
            basis.append("quoted"), fee.append(0.0), terms.append(None), assumed.append(None)
        else:
            basis.append(ex.basis), fee.append(ex.fee(float(stake)))
            terms.append(ex.terms.label), assumed.append(bool(ex.terms.assumed))
    bets = bets.drop(columns=["execution"], errors="ignore")
    return bets.assign(price_basis=basis, fee=fee, fee_terms=terms, fee_assumed=assumed)


def _polymarket_counts(bets: pd.DataFrame) -> dict[str, Any]:
    """How the Polymarket bets were priced: on a stored book at the stake, or at the best ask only (no depth
    known), with assumed fee terms, and the fees paid (units)."""
    pm = bets[bets["venue"] == "polymarket"] if len(bets) else bets
    if pm.empty:
        return {}
    return {
        "polymarket_bets": len(pm),
        "polymarket_bets_on_book": int((pm["price_basis"] == "book").sum()),
        "polymarket_bets_best_ask_only": int((pm["price_basis"] == "best ask").sum()),
        "polymarket_bets_fee_assumed": int(pm["fee_assumed"].astype(bool).sum()),
        "polymarket_fees": float(pm["fee"].sum()),
    }


def run_backtest_frames(
    config: BacktestConfig,
    *,
    events: pd.DataFrame,
    odds: pd.DataFrame,
    closing: pd.DataFrame,
    pairs: pd.DataFrame | None = None,
    polymarket: pd.DataFrame | None = None,
    predictions: pd.DataFrame | None = None,
    context: StrategyContext | None = None,
) -> BacktestResult:
    """Run one backtest on data already read as of each decision time (see module docstring).

    `pairs` must be the `decision_pairs(events, config.decision_hours)` the odds were read for (computed
    here when omitted, for callers that read with the same function).
    """
    strategy = get_strategy(config.strategy, **config.strategy_params)
    pairs = pairs if pairs is not None else decision_pairs(events, config.decision_hours)
    # a price older than the bound at its decision is not used: not bet, not in the fair price (every venue)
    max_age = pd.Timedelta(minutes=config.max_quote_age_minutes)
    quotes_read = len(odds) + (len(polymarket) if polymarket is not None else 0)
    odds, stale = fresh_quotes(odds, max_age)
    if polymarket is not None:
        polymarket, stale_pm = fresh_quotes(polymarket, max_age)
        stale += stale_pm
    quotes = build_quotes(
        pairs, events, odds, polymarket=polymarket, markets=config.markets, venues=config.venues,
        fair_basis=config.fair_basis, sharp_books=config.sharp_books, devig_method=config.devig_method,
        polymarket_default_terms=config.polymarket_default_terms(), max_book_age=max_age,
    )  # fmt: skip
    ctx = context or StrategyContext()
    if predictions is not None:
        ctx.predictions = predictions
    chosen = strategy.select(quotes, ctx) if len(quotes) else quotes.assign(prob=[])
    chosen = chosen.merge(
        events[["event_id", "status", "home_score", "away_score"]], on="event_id", how="left"
    )

    # Edge first, then one bet per (event, market): the earliest decision with a positive edge.
    chosen = chosen.assign(
        edge=edge(chosen["prob"].to_numpy(dtype=float), chosen["price_decimal"].to_numpy(dtype=float))
    )
    if strategy.requires_edge:
        chosen = chosen[np.isfinite(chosen["edge"]) & (chosen["edge"] > 0)]
    chosen = chosen.sort_values(["decision_time", "event_id", "market"], kind="stable")
    if config.one_bet_per_market:
        chosen = chosen.drop_duplicates(["event_id", "market"], keep="first")
    unit = settle(chosen.assign(stake=1.0))
    chosen = chosen.assign(settle_profit_per_unit=unit["profit"].to_numpy())
    sized = size_bets(
        chosen, staking=config.staking, stake=config.stake, bankroll=config.bankroll,
        kelly_frac=config.kelly_fraction, max_bet_fraction=config.max_bet_fraction, max_stake=config.max_stake,
        min_stake=config.min_stake, requires_edge=strategy.requires_edge,
    )  # fmt: skip
    bets = settle(sized)
    bets = _attach_alternatives(bets, quotes)
    bets["alt_profit"] = _alt_profit(bets) if len(bets) else []
    window = pd.Timedelta(minutes=config.close_window_minutes)
    closing_fair = closing_fair_prices(
        closing, basis=config.fair_basis, method=config.devig_method, sharp_books=config.sharp_books,
        close_window=window,
    )  # fmt: skip
    bets = closing_value(bets, closing_fair)
    commence = pd.to_datetime(bets["commence_time"], utc=True)
    bets["month"] = commence.dt.tz_convert("America/New_York").dt.strftime("%Y-%m") if len(bets) else []
    bets["price_american"] = [decimal_to_american(p) for p in bets["price_decimal"]]
    metrics = compute_metrics(
        bets, bankroll=config.bankroll, n_bootstrap=config.n_bootstrap, n_permutations=config.n_permutations,
        seed=config.seed,
    )  # fmt: skip
    bets = bets.sort_values(["decision_time", "event_id", "market"], kind="stable").reset_index(drop=True)
    bets = _execution_columns(bets)
    for col in bets.columns:  # categorical inputs (the as-of reads, the quotes) give plain text bets
        if isinstance(bets[col].dtype, pd.CategoricalDtype) or col in _TEXT_COLUMNS:
            bets[col] = bets[col].astype("str")
    counts = {
        "events": len(events),
        "decisions": len(pairs),
        "decisions_with_prices": int(quotes["request_index"].nunique()) if len(quotes) else 0,
        "decisions_without_current_price": len(pairs)
        - (int(quotes["request_index"].nunique()) if len(quotes) else 0),
        "max_quote_age_minutes": config.max_quote_age_minutes,
        "quotes_read": quotes_read,
        "stale_quotes": stale,
        "quotes": len(quotes),
        "candidates": len(chosen),
        "bets": len(bets),
        **_polymarket_counts(bets),
    }
    return BacktestResult(
        config, strategy.params(), metrics, bets, equity_curve(bets, config.bankroll), counts
    )
