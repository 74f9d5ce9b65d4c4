"""Turn predicted closes into bets: the best price now per side, its expected CLV and expected return (pure).

One CLV everywhere (recommendations, backtests, the bet ledger): **CLV = fair probability at the close minus
the implied probability paid**, in probability (shown as percentage points). For a pick, the close is the
predicted one: `expected_clv = p_close - 1 / d`. The **expected return** on stake is a second, separately
named figure: `exp_return = p_close * d - 1` (= d x expected_clv; at +400, d = 5, it is five times the CLV).
`p_close` is the side's fair probability at the *predicted* close:
- h2h: the predicted close fair probability itself (home: current + predicted move; away: 1 minus it).
- spreads and totals: the closing line is priced at an even fair 50 %, so a line `x` points better than
  the predicted close is worth `Phi(x / sd)` (sd = 12.5 points for the margin, 18 for the total).
Sportsbooks are compared at their quoted decimal prices; Polymarket (moneyline only) at its best ask,
grossed up by the taker fee: the decimal price of buying at ask `a` with fee rate `f` is `1 / (a (1 + f))`.
With stored books (`polymarket_books`), Polymarket is instead priced at the fill of the pick's stake with
its market's fee terms, moneylines and spreads/totals on the predicted line (`odds_analytics.venues`).
Both sides of every market are scored; one is recommended when its expected return clears `min_edge`
(so only positive-expected-value sides are ever recommended).

Example:
    >>> recs = recommend(predictions, quotes, polymarket_asks=asks, fee_rate=0.0, min_edge=0.01)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from odds_analytics.execution import FeeTerms
from odds_analytics.features import MARGIN_SD_POINTS, TOTAL_SD_POINTS
from odds_analytics.staking import StakePolicy
from odds_analytics.venues import EXECUTION_COLUMNS, choose_venue, polymarket_offers

__all__ = [
    "RECOMMENDATION_COLUMNS",
    "polymarket_decimal",
    "recommend",
    "side_close_probability",
    "side_values",
]

RECOMMENDATION_COLUMNS = [
    "event_id",
    "market",
    "side",
    "outcome",
    "current",
    "predicted_delta",
    "predicted_close",
    "best_venue",
    "best_point",
    "best_price_decimal",
    "p_close",
    "expected_clv",
    "exp_return",
    "edge_now",
    "recommended",
]


def polymarket_decimal(ask: float, fee_rate: float = 0.0) -> float:
    """The decimal price of buying a Polymarket share at `ask` (a probability) with a taker fee rate."""
    if not 0 < ask < 1:
        raise ValueError(f"ask must be in (0, 1), not {ask}")
    return 1.0 / (ask * (1.0 + fee_rate))


def side_close_probability(market: str, side: str, point: float | None, predicted_close: float) -> float:
    """Fair probability at the predicted close of a bet on `side` ('home'/'away' or 'over'/'under').

    `predicted_close` is the home fair probability (h2h), the home spread (spreads) or the total (totals);
    `point` is the bet's own line (the home point for home, the away point for away, the total).
    """
    if market == "h2h":
        p_home = float(np.clip(predicted_close, 1e-6, 1 - 1e-6))
        return p_home if side == "home" else 1.0 - p_home
    if point is None or np.isnan(point):
        return np.nan
    if market == "spreads":
        away_close = -predicted_close
        close = predicted_close if side == "home" else away_close
        return float(norm.cdf((point - close) / MARGIN_SD_POINTS))
    if market == "totals":
        diff = predicted_close - point if side == "over" else point - predicted_close
        return float(norm.cdf(diff / TOTAL_SD_POINTS))
    raise ValueError(f"unknown market {market!r}")


def side_values(
    market: str, home_team: str, away_team: str, current: float, predicted_delta: float
) -> list[tuple[str, str, float, float]]:
    """Both sides of a market in their own orientation: (side, outcome, current, predicted_close).

    h2h: each outcome's fair probability (away = 1 - home); spreads: each team's own point (away = -home);
    totals: the total for both Over and Under. This is the shape `predictions` rows and the backtest's
    `clv_model` strategy use (a fair closing probability, or the outcome's closing line).

    >>> side_values("spreads", "Boston Celtics", "Miami Heat", -5.5, -1.0)[1]
    ('away', 'Miami Heat', 5.5, 6.5)
    """
    close = current + predicted_delta
    if market == "h2h":
        return [("home", home_team, current, close), ("away", away_team, 1.0 - current, 1.0 - close)]
    if market == "spreads":
        return [("home", home_team, current, close), ("away", away_team, -current, -close)]
    if market == "totals":
        return [("over", "Over", current, close), ("under", "Under", current, close)]
    raise ValueError(f"unknown market {market!r}")


def _book_offers(quotes: pd.DataFrame, market: str) -> pd.DataFrame:
    """One row per (event, side, book): point and decimal price."""
    parts = []
    for side, price_col in (("home", "home_price"), ("away", "away_price")):
        part = quotes[["event_id", "bookmaker", "value", price_col]].rename(
            columns={price_col: "price", "bookmaker": "venue"}
        )
        if market == "spreads":
            part = part.assign(point=part["value"] if side == "home" else -part["value"])
        elif market == "totals":
            part = part.assign(point=part["value"])
        else:
            part = part.assign(point=np.nan)
        name = side if market != "totals" else ("over" if side == "home" else "under")
        parts.append(part.assign(side=name)[["event_id", "side", "venue", "point", "price"]])
    return pd.concat(parts, ignore_index=True)


def recommend(
    predictions: pd.DataFrame,
    quotes: pd.DataFrame,
    *,
    polymarket_asks: pd.DataFrame | None = None,
    fee_rate: float = 0.0,
    min_edge: float = 0.01,
    polymarket_books: pd.DataFrame | None = None,
    stake_policy: StakePolicy | None = None,
    default_fee_terms: FeeTerms | None = None,
) -> pd.DataFrame:
    """Score both sides of every predicted market at the best venue now.

    predictions: event_id, market, home_team, away_team, current, predicted_delta (home / Over orientation).
    In the result, `current`, `predicted_delta` and `predicted_close` are in each side's own orientation
    (`side_values`): the away team's point, the away win probability.
    quotes: each book's latest quote before the decision (`features.book_quotes` rows: event_id, market,
    bookmaker, value, home_price, away_price). polymarket_asks: event_id, outcome (team name), best_ask.
    Returns `RECOMMENDATION_COLUMNS`, best expected return first.

    Execution at a stake (`odds_analytics.venues`): with `polymarket_books` (`venues.polymarket_sides` rows)
    Polymarket is priced at the fill of the stake on its stored book with its market's fee terms (moneylines,
    and spreads/totals on the predicted line) instead of at `polymarket_asks`; with `stake_policy` every pick
    gets a fractional-Kelly stake and venues are compared at it. Either adds `venues.EXECUTION_COLUMNS`.
    """
    execution = polymarket_books is not None or stake_policy is not None
    rows = []
    for pred in predictions.itertuples(index=False):
        market = pred.market
        predicted_close = float(pred.current + pred.predicted_delta)
        book_quotes = quotes[(quotes["event_id"] == pred.event_id) & (quotes["market"] == market)]
        offers = _book_offers(book_quotes, market) if not book_quotes.empty else pd.DataFrame()
        sides = ("over", "under") if market == "totals" else ("home", "away")
        oriented = {
            v[0]: v
            for v in side_values(
                market, pred.home_team, pred.away_team, float(pred.current), float(pred.predicted_delta)
            )
        }
        for side in sides:
            _, outcome, side_current, side_close = oriented[side]
            candidates = []
            if not offers.empty:
                for offer in offers[offers["side"] == side].itertuples(index=False):
                    point = None if pd.isna(offer.point) else float(offer.point)
                    p_close = side_close_probability(market, side, point, predicted_close)
                    p_now = side_close_probability(market, side, point, float(pred.current))
                    candidates.append((offer.venue, point, float(offer.price), p_close, p_now))
            asks_used = not execution and polymarket_asks is not None and not polymarket_asks.empty
            if market == "h2h" and asks_used:
                asks = polymarket_asks[
                    (polymarket_asks["event_id"] == pred.event_id) & (polymarket_asks["outcome"] == outcome)
                ]
                for ask in asks["best_ask"].dropna():
                    if 0 < ask < 1:
                        p_close = side_close_probability(market, side, None, predicted_close)
                        p_now = side_close_probability(market, side, None, float(pred.current))
                        candidates.append(
                            ("polymarket", None, polymarket_decimal(float(ask), fee_rate), p_close, p_now)
                        )
            if polymarket_books is not None:  # Polymarket at its fill price (odds_analytics.venues)
                candidates.extend(
                    polymarket_offers(
                        polymarket_books, event_id=pred.event_id, market=market, side=side,
                        current=float(pred.current), predicted_close=predicted_close,
                        probability=side_close_probability, default_terms=default_fee_terms,
                    )
                )  # fmt: skip
            if not candidates:
                continue
            if execution:  # compared at the stake each venue would get (odds_analytics.venues)
                venue, point, price, p_close, p_now, extra = choose_venue(candidates, stake_policy)
            else:
                venue, point, price, p_close, p_now = max(candidates, key=lambda c: c[3] * c[2])
                extra = {}
            exp_return = p_close * price - 1.0
            rows.append(
                {
                    "event_id": pred.event_id,
                    "market": market,
                    "side": side,
                    "outcome": outcome,
                    "current": side_current,
                    "predicted_delta": side_close - side_current,
                    "predicted_close": side_close,
                    "best_venue": venue,
                    "best_point": point,
                    "best_price_decimal": price,
                    "p_close": p_close,
                    "expected_clv": p_close - 1.0 / price,
                    "exp_return": exp_return,
                    "edge_now": p_now * price - 1.0,
                    "recommended": bool(exp_return >= min_edge and exp_return > 0),
                    **extra,
                }
            )
    out = pd.DataFrame(rows, columns=RECOMMENDATION_COLUMNS + (EXECUTION_COLUMNS if execution else []))
    return out.sort_values("exp_return", ascending=False, ignore_index=True)
