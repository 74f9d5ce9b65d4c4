"""Decision times and the quotes a bettor sees at each one: every venue's price plus the fair probability.

Pure: DataFrames in (events, as-of odds, Polymarket asks), DataFrames out. The as-of reads upstream already
guarantee `snapshot_time <= decision_time`; `build_quotes` re-checks it and drops anything later, so even a
faulty reader cannot leak a future price into a decision.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from odds_analytics.fair import fair_prices
from odds_models.teams import resolve_team

__all__ = ["QUOTE_COLUMNS", "build_quotes", "decision_pairs", "polymarket_quotes"]

QUOTE_COLUMNS = [
    "request_index", "event_id", "decision_time", "hours_before", "home_team", "away_team", "commence_time",
    "market", "outcome", "side", "point", "venue", "price_decimal", "snapshot_time", "fair_prob", "fair_point",
]  # fmt: skip


def decision_pairs(events: pd.DataFrame, decision_hours: Sequence[float]) -> pd.DataFrame:
    """One row per (event, hours before tip-off): `request_index, event_id, decision_time, hours_before`."""
    if events.empty:
        return pd.DataFrame(columns=["request_index", "event_id", "decision_time", "hours_before"])
    parts = [
        pd.DataFrame(
            {
                "event_id": events["event_id"].to_numpy(),
                "decision_time": pd.to_datetime(events["commence_time"], utc=True) - pd.Timedelta(hours=h),
                "hours_before": float(h),
            }
        )
        for h in decision_hours
    ]
    pairs = pd.concat(parts, ignore_index=True).sort_values(["decision_time", "event_id"], kind="stable")
    pairs = pairs.reset_index(drop=True)
    pairs["request_index"] = np.arange(len(pairs))
    return pairs[["request_index", "event_id", "decision_time", "hours_before"]]


def polymarket_quotes(asks: pd.DataFrame, events: pd.DataFrame, fee_rate: float) -> pd.DataFrame:
    """Polymarket moneyline tokens as h2h quotes: decimal price 1 / (ask × (1 + fee)), outcome = full name."""
    if asks.empty:
        return pd.DataFrame(columns=["request_index", "market", "outcome", "point", "venue", "price_decimal",
                                     "snapshot_time"])  # fmt: skip
    df = asks.merge(events[["event_id", "home_team", "away_team"]], on="event_id", how="inner")
    names = {
        label: (team.name if (team := resolve_team(str(label))) else None) for label in df["outcome"].unique()
    }
    df["team"] = df["outcome"].map(names)
    df = df[(df["team"] == df["home_team"]) | (df["team"] == df["away_team"])]
    cost = df["best_ask"] * (1.0 + fee_rate)
    df = df[(cost > 0) & (cost < 1)]
    return pd.DataFrame(
        {
            "request_index": df["request_index"].to_numpy(),
            "market": "h2h",
            "outcome": df["team"].to_numpy(),
            "point": np.nan,
            "venue": "polymarket",
            "price_decimal": (1.0 / cost.loc[df.index]).to_numpy(),
            "snapshot_time": pd.to_datetime(df["snapshot_time"], utc=True).to_numpy(),
        }
    )


def _side(df: pd.DataFrame) -> np.ndarray:
    return np.select(
        [df["outcome"] == df["home_team"], df["outcome"] == df["away_team"], df["outcome"].str.lower() == "over",
         df["outcome"].str.lower() == "under"],
        ["home", "away", "over", "under"],
        default="other",
    )  # fmt: skip


def build_quotes(
    pairs: pd.DataFrame,
    events: pd.DataFrame,
    odds: pd.DataFrame,
    *,
    polymarket: pd.DataFrame | None = None,
    markets: Sequence[str] = ("h2h", "spreads", "totals"),
    venues: Sequence[str] | None = None,
    fair_basis: str = "consensus",
    sharp_books: Sequence[str] = ("pinnacle", "circasports", "lowvig", "betonlineag"),
    devig_method: str = "multiplicative",
    polymarket_fee_rate: float = 0.0,
) -> pd.DataFrame:
    """Every bettable quote at every decision, with the fair probability of its outcome (`QUOTE_COLUMNS`).

    The fair probability comes from all sportsbooks in `odds` (not only the bettable venues). It is attached
    only to quotes at the fair line's point (spreads/totals), so an edge is never computed across points.
    """
    odds = odds[odds["market"].isin(list(markets))]
    odds = odds[odds["snapshot_time"] <= odds["decision_time"]]  # belt and braces: no look-ahead
    fair = fair_prices(
        odds[["request_index", "bookmaker", "market", "outcome", "point", "price_decimal"]],
        basis=fair_basis,
        method=devig_method,
        sharp_books=sharp_books,
    )
    fair = fair[["request_index", "market", "outcome", "fair_prob", "point"]].rename(
        columns={"point": "fair_point"}
    )

    books = odds[
        ["request_index", "market", "outcome", "point", "bookmaker", "price_decimal", "snapshot_time"]
    ]
    books = books.rename(columns={"bookmaker": "venue"})
    if venues is not None:
        books = books[books["venue"].isin(list(venues))]
    frames = [books]
    if polymarket is not None and not polymarket.empty and "h2h" in markets:
        pm = polymarket[polymarket["snapshot_time"] <= polymarket["decision_time"]]
        frames.append(polymarket_quotes(pm, events, polymarket_fee_rate))
    quotes = (
        pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else books
    )
    ev = events[["event_id", "home_team", "away_team", "commence_time"]]
    quotes = quotes.merge(pairs, on="request_index", how="inner").merge(ev, on="event_id", how="inner")
    quotes = quotes.merge(fair, on=["request_index", "market", "outcome"], how="left")
    same_point = (quotes["point"] == quotes["fair_point"]) | (
        quotes["point"].isna() & quotes["fair_point"].isna()
    )
    quotes.loc[~same_point, "fair_prob"] = np.nan
    quotes["side"] = _side(quotes)
    quotes["price_decimal"] = quotes["price_decimal"].astype(float)
    return quotes[QUOTE_COLUMNS].reset_index(drop=True)
