"""Decision times and the quotes a bettor sees at each one: every venue's price plus the fair probability.

Pure: DataFrames in (events, as-of odds, Polymarket asks), DataFrames out. The as-of reads upstream already
guarantee `snapshot_time <= decision_time`; `build_quotes` re-checks it and drops anything later, so even a
faulty reader cannot leak a future price into a decision.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from odds_analytics.execution import DEFAULT_FEE_TERMS, FeeTerms, fee_per_share, sorted_asks
from odds_analytics.fair import fair_prices
from odds_analytics.prices import optional_number
from odds_analytics.venues import PolymarketBook, fee_terms_of
from odds_models.teams import resolve_team

__all__ = ["QUOTE_COLUMNS", "PolymarketExecution", "build_quotes", "decision_pairs", "polymarket_quotes"]

QUOTE_COLUMNS = [
    "request_index", "event_id", "decision_time", "hours_before", "home_team", "away_team", "commence_time",
    "market", "outcome", "side", "point", "venue", "price_decimal", "snapshot_time", "fair_prob", "fair_point",
    "execution",
]  # fmt: skip
# `execution`: a `PolymarketExecution` on Polymarket quotes (fee terms, and the book when one is stored), None
# on sportsbook quotes


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


@dataclass(frozen=True)
class PolymarketExecution:
    """How a Polymarket quote is bought: the market's fee terms and, when a stored book at or before the
    decision is current, that book (the stake is filled on it after sizing); else only the best ask is known
    and the quote is priced there, `book` None."""

    terms: FeeTerms
    best_ask: float
    book: PolymarketBook | None = None

    @property
    def basis(self) -> str:
        """`book` (filled on the stored book at the stake) or `best ask` (no book: no depth known)."""
        return "book" if self.book is not None else "best ask"

    def fee(self, stake: float) -> float:
        """Dollars (units) of fee a buy of `stake` pays: the fill's fee on the book; at the best ask,
        stake × fee per share / cost per share."""
        if self.book is not None:
            return self.book.fill(stake).fee
        per_share = fee_per_share(self.best_ask, self.terms)
        return stake * per_share / (self.best_ask + per_share)


def polymarket_quotes(
    asks: pd.DataFrame,
    events: pd.DataFrame,
    default_terms: FeeTerms = DEFAULT_FEE_TERMS,
    max_book_age: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Polymarket moneyline tokens as h2h quotes at their top price (outcome = the team's full name).

    Fee terms are each market's own (`fees_enabled`, `fee_rate`, `fee_exponent`, ... as stored from Gamma;
    `default_terms`, flagged `assumed`, when Gamma stated none: the live path's rule, `fee_terms_of`). When
    the row carries a stored book (`asks`, `book_time`) at or before the decision and no older than
    `max_book_age`, the top price is that book's best ask with its fee and the `execution` column keeps the
    book, so the engine fills the sized stake on it; otherwise the price is `1 / (best_ask + fee per share)`
    and the execution says `best ask` (no depth known). A book with no valid ask makes no quote."""
    columns = ["request_index", "market", "outcome", "point", "venue", "price_decimal", "snapshot_time",
               "execution"]  # fmt: skip
    if asks.empty:
        return pd.DataFrame(columns=columns)
    df = asks.merge(events[["event_id", "home_team", "away_team"]], on="event_id", how="inner")
    names = {
        label: (team.name if (team := resolve_team(str(label))) else None) for label in df["outcome"].unique()
    }
    df["team"] = df["outcome"].map(names)
    df = df[(df["team"] == df["home_team"]) | (df["team"] == df["away_team"])]
    rows = []
    for row in df.to_dict(orient="records"):
        terms = fee_terms_of({**row, "default_terms": default_terms})
        decided = pd.Timestamp(row["decision_time"])
        book_time = row.get("book_time")
        has_book = (
            book_time is not None
            and not pd.isna(book_time)
            and pd.Timestamp(book_time) <= decided
            and (max_book_age is None or decided - pd.Timestamp(book_time) <= max_book_age)
        )
        if has_book:
            levels = tuple(sorted_asks(row.get("asks") or []))
            if not levels:
                continue
            book = PolymarketBook(str(row["token_id"]), str(row["market_id"]), levels, terms, book_time)
            top, snapshot = book.fill(0.0).top_decimal, book_time
            execution = PolymarketExecution(terms, levels[0][0], book)
        else:
            ask = optional_number(row.get("best_ask"))
            if ask is None or not 0.0 < ask < 1.0:
                continue
            cost = ask + fee_per_share(ask, terms)
            if not 0.0 < cost < 1.0:
                continue
            top, snapshot = 1.0 / cost, row["snapshot_time"]
            execution = PolymarketExecution(terms, ask)
        if top is None or top <= 1.0:
            continue
        rows.append((row["request_index"], "h2h", row["team"], np.nan, "polymarket", float(top),
                     pd.Timestamp(snapshot), execution))  # fmt: skip
    out = pd.DataFrame(rows, columns=columns)
    out["snapshot_time"] = pd.to_datetime(out["snapshot_time"], utc=True)
    return out


def _codes_of(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes and their distinct values (categoricals: their own codes, no hashing)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(dtype=np.int64), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Index(uniques)


def _row_keys(left: pd.DataFrame, right: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """One int64 key per row of `left` and of `right` over `cols`, equal exactly when all values are equal."""
    lkey = np.zeros(len(left), dtype=np.int64)
    rkey = np.zeros(len(right), dtype=np.int64)
    for col in cols:
        joint, _ = pd.factorize(pd.concat([left[col], right[col]], ignore_index=True), use_na_sentinel=False)
        width = int(joint.max()) + 1 if len(joint) else 1
        lkey = lkey * width + joint[: len(left)]
        rkey = rkey * width + joint[len(left) :]
    return lkey, rkey


SIDES = ["home", "away", "over", "under", "other"]


def _take(values: pd.Series, positions: np.ndarray) -> Any:
    """`values` at `positions`; text as a categorical."""
    if values.dtype.kind in "OU" or str(values.dtype) == "str":
        codes, uniques = pd.factorize(values)
        return pd.Categorical.from_codes(codes[positions], uniques.astype(object))
    return values.array.take(positions)


def _side(outcome: pd.Series, home_code: np.ndarray, away_code: np.ndarray) -> np.ndarray:
    """Codes in `SIDES` (home / away / over / under / other) of each quote; `home_code`: the code of its
    home team among `outcome`'s values (-1 when absent)."""
    codes, values = _codes_of(outcome)
    lower = values.str.lower() if len(values) else values
    over = np.append(np.asarray(lower == "over", dtype=bool), False)[codes]
    under = np.append(np.asarray(lower == "under", dtype=bool), False)[codes]
    valid = codes >= 0
    return np.select(
        [valid & (codes == home_code), valid & (codes == away_code), over, under], [0, 1, 2, 3], default=4
    )


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
    polymarket_default_terms: FeeTerms = DEFAULT_FEE_TERMS,
    max_book_age: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Every bettable quote at every decision, with the fair probability of its outcome (`QUOTE_COLUMNS`).

    The fair probability comes from all sportsbooks in `odds` (not only the bettable venues). It is attached
    only to quotes at the fair line's point (spreads/totals), so an edge is never computed across points.
    Quotes keep the order of `odds` (then Polymarket's); a quote whose pair or event is unknown is dropped.
    """
    odds = odds[odds["market"].isin(list(markets)) & (odds["snapshot_time"] <= odds["decision_time"])]
    # (the second condition is belt and braces: no look-ahead even from a faulty reader)
    fair = fair_prices(
        odds[["request_index", "bookmaker", "market", "outcome", "point", "price_decimal"]],
        basis=fair_basis,
        method=devig_method,
        sharp_books=sharp_books,
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
        frames.append(polymarket_quotes(pm, events, polymarket_default_terms, max_book_age))
    quotes = (
        pd.concat([f for f in frames if len(f)], ignore_index=True) if any(len(f) for f in frames) else books
    )
    quotes = quotes.reset_index(drop=True)
    ev = events[["event_id", "home_team", "away_team", "commence_time"]].reset_index(drop=True)
    pairs = pairs.reset_index(drop=True)
    pair_pos = pd.Index(pairs["request_index"]).get_indexer(quotes["request_index"])
    pair_event = pd.Index(ev["event_id"]).get_indexer(pairs["event_id"])
    keep = pair_pos >= 0
    keep[keep] = pair_event[pair_pos[keep]] >= 0
    quotes, pair_pos = quotes[keep].reset_index(drop=True), pair_pos[keep]
    event_pos = pair_event[pair_pos]
    # Per-pair and per-game values are taken by position; text comes as categoricals (one string per pair or
    # game, not one per quote)
    for col in ("event_id", "decision_time", "hours_before"):
        quotes[col] = _take(pairs[col], pair_pos)
    for col in ("home_team", "away_team", "commence_time"):
        quotes[col] = _take(ev[col], event_pos)

    # the fair probability of each quote's (decision, market, outcome), only at the fair line's point
    qkey, fkey = _row_keys(quotes, fair, ["request_index", "market", "outcome"])
    fair_pos = pd.Index(fkey).get_indexer(qkey)
    found = fair_pos >= 0
    fair_prob = np.where(found, fair["fair_prob"].to_numpy(dtype=float)[fair_pos], np.nan)
    fair_point = np.where(found, fair["point"].to_numpy(dtype=float)[fair_pos], np.nan)
    point = quotes["point"].to_numpy(dtype=float)
    same_point = (point == fair_point) | (np.isnan(point) & np.isnan(fair_point))
    quotes["fair_prob"] = np.where(same_point, fair_prob, np.nan)
    quotes["fair_point"] = fair_point

    # home / away by code: each pair's teams looked up once among the outcome names, not once per quote
    _, outcomes = _codes_of(quotes["outcome"])
    known = pair_event >= 0
    home, away = np.full(len(pairs), -2), np.full(len(pairs), -2)
    home[known] = outcomes.get_indexer(ev["home_team"].to_numpy()[pair_event[known]])
    away[known] = outcomes.get_indexer(ev["away_team"].to_numpy()[pair_event[known]])
    quotes["side"] = pd.Categorical.from_codes(
        _side(quotes["outcome"], home[pair_pos], away[pair_pos]), SIDES
    )
    quotes["price_decimal"] = quotes["price_decimal"].astype(float)
    if "execution" not in quotes.columns:
        quotes["execution"] = None
    else:
        quotes["execution"] = quotes["execution"].astype(object).where(quotes["execution"].notna(), None)
    return quotes[QUOTE_COLUMNS]
