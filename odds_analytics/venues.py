"""Pick the venue of a side at the stake it gets: sportsbooks at their quoted price, Polymarket at its fill (pure).

A side's offers are the sportsbooks' quotes (a fixed decimal price, unlimited depth assumed) and Polymarket's
stored book for the side's token (`PolymarketBook`: asks and the market's fee terms), priced with
`odds_analytics.execution.fill_buy`. `choose_venue` then:

1. takes the *intended stake* `S`: the largest fractional-Kelly stake (`odds_analytics.staking`) any offer
   earns at its top price (a Polymarket offer's top price is its best ask with the fee), capped;
2. prices every offer at `S`: a sportsbook at its price, Polymarket at the fill of `S` dollars; an offer whose
   book cannot fill `S` is out (when no offer can, the best partial fill is kept and says so);
3. picks the best expected return `p_close × d(S) − 1`;
4. sizes the stake at the chosen venue's own price: on Polymarket the largest `s ≤ min(S, depth)` with
   `s ≤ Kelly stake at d(s)` (the fill's price worsens as `s` grows), found by bisection.

Without a policy (no bankroll) every offer is compared at stake 0, i.e. Polymarket at its best ask plus fee.

Polymarket markets map to a side as follows (`polymarket_sides`): a game moneyline's token is the team's h2h
side; a game spread `Spread: T (L)` gives team T the point L and the other team −L; a game total `O/U L` gives
Over and Under the point L. Spreads and totals are offered only when their line equals the line being
predicted exactly (the prediction's `current`: the consensus home spread or total), so the price is
compared with the sportsbooks' on the same line; anything else is left out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import pandas as pd

from odds_analytics.execution import (
    DEFAULT_FEE_TERMS,
    FeeTerms,
    Fill,
    GammaFees,
    fee_per_share,
    fee_terms,
    fill_buy,
    sorted_asks,
)
from odds_analytics.prices import optional_number
from odds_analytics.staking import StakePolicy
from odds_models.teams import resolve_team

__all__ = [
    "BOOK_COLUMNS",
    "EXECUTION_COLUMNS",
    "Offer",
    "PolymarketBook",
    "choose_venue",
    "polymarket_offers",
    "polymarket_sides",
    "stake_on_book",
]

# The stored books as `tasks.storage.books.read_polymarket_books_at_times` returns them.
BOOK_COLUMNS = [
    "request_index", "event_id", "decision_time", "market_id", "market_type", "team", "line", "token_id",
    "outcome", "snapshot_time", "asks", "best_ask", "fees_enabled", "fee_rate", "fee_exponent",
    "fee_taker_only", "fee_rebate_rate", "fee_type",
]  # fmt: skip
# What `choose_venue` adds to a recommendation row.
EXECUTION_COLUMNS = [
    "price_top",  # the chosen venue's top price (Polymarket: best ask with the fee), decimal
    "p_now",  # the side's fair probability now (devigged consensus) at the chosen point
    "stake",  # dollars
    "stake_limit",  # kelly | cap | depth | no edge
    "shares",  # Polymarket: shares bought
    "fill_price",  # Polymarket: average price per share before the fee
    "fee",  # Polymarket: dollars of fee
    "fee_rate",  # Polymarket: fee as a fraction of the notional (fill_price x (1 + fee_rate) = paid per share)
    "fee_terms",  # Polymarket: e.g. "0.03·(p(1−p))^1", "free", "... (assumed)"
    "fee_assumed",  # Polymarket: Gamma stated no fee terms; the conservative default was used
    "token_id",  # Polymarket
    "depth_ok",  # Polymarket: the book covered the stake compared (False: partial fill)
    "depth_dollars",  # Polymarket: what the whole ask side costs, fee included
    "book_time",  # Polymarket: when the book used was stored
]


@dataclass(frozen=True)
class PolymarketBook:
    """One token's stored asks (price, size) with its market's fee terms."""

    token_id: str
    market_id: str
    asks: tuple[tuple[float, float], ...]
    terms: FeeTerms
    snapshot_time: Any = None

    def fill(self, stake: float) -> Fill:
        return fill_buy(self.asks, stake, self.terms)


class Offer(NamedTuple):
    """A venue's offer on a side: the first five fields are the `recommend` candidate tuple."""

    venue: str
    point: float | None
    price: float  # top price, decimal
    p_close: float
    p_now: float
    book: PolymarketBook | None = None


def polymarket_sides(books: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Each stored book with the side it prices: `market` (h2h/spreads/totals), `side`, `point` (the side's
    own line; None for h2h). Books of tokens that map to no side of the event are left out.

    `events`: event_id, home_team, away_team (full names)."""
    cols = [*BOOK_COLUMNS, "market", "side", "point"]
    if books.empty:
        return pd.DataFrame(columns=cols)
    teams = events.drop_duplicates("event_id").set_index("event_id")[["home_team", "away_team"]]
    rows = []
    for book in books.to_dict(orient="records"):
        if book["event_id"] not in teams.index:
            continue
        home, away = teams.loc[book["event_id"]]
        kind, label = book["market_type"], str(book.get("outcome") or "")
        line = optional_number(book.get("line"))
        market = side = None
        point: float | None = None
        if kind == "total" and line is not None and label.lower() in ("over", "under"):
            market, side, point = "totals", label.lower(), line
        elif kind in ("moneyline", "spread"):
            team = resolve_team(label)
            name = team.name if team is not None else None
            side = "home" if name == home else ("away" if name == away else None)
            if kind == "moneyline":
                market = "h2h"
            elif line is not None and side is not None:
                line_team = resolve_team(str(book.get("team") or ""))
                if line_team is not None and line_team.name in (home, away):
                    market, point = "spreads", line if line_team.name == name else -line
        if market is None or side is None:
            continue
        rows.append({**book, "market": market, "side": side, "point": point})
    return pd.DataFrame(rows, columns=cols)


def fee_terms_of(row: dict[str, Any]) -> FeeTerms:
    """The fee terms of a stored book row (its market's columns), the flagged default when unstated."""
    fees = GammaFees(
        fees_enabled=None if pd.isna(row.get("fees_enabled")) else bool(row["fees_enabled"]),
        rate=optional_number(row.get("fee_rate")),
        exponent=optional_number(row.get("fee_exponent")),
        taker_only=None if pd.isna(row.get("fee_taker_only")) else bool(row["fee_taker_only"]),
        rebate_rate=optional_number(row.get("fee_rebate_rate")),
        fee_type=row.get("fee_type") if isinstance(row.get("fee_type"), str) else None,
    )
    return fee_terms(fees, default=row.get("default_terms") or DEFAULT_FEE_TERMS)


def _asks(raw: Any) -> tuple[tuple[float, float], ...]:
    return tuple(sorted_asks(raw or []))


def polymarket_offers(
    sides: pd.DataFrame,
    *,
    event_id: str,
    market: str,
    side: str,
    current: float,
    predicted_close: float,
    probability: Callable[[str, str, float | None, float], float],
    default_terms: FeeTerms | None = None,
) -> list[Offer]:
    """The Polymarket offers of one side. `sides`: `polymarket_sides` rows; `current` and `predicted_close`:
    the prediction's value now and at the predicted close (home fair probability, home spread or total);
    `probability`: `recommend.side_close_probability` (market, side, point, value -> the side's fair
    probability). Spreads and totals only on the line being predicted (`current`), exactly."""
    if sides.empty:
        return []
    mine = sides[(sides["event_id"] == event_id) & (sides["market"] == market) & (sides["side"] == side)]
    offers = []
    for row in mine.to_dict(orient="records"):
        point = optional_number(row.get("point"))
        if market == "spreads":
            home_point = point if side == "home" else (-point if point is not None else None)
            if home_point is None or abs(home_point - current) > 1e-9:
                continue
        elif market == "totals" and (point is None or abs(point - current) > 1e-9):
            continue
        terms = fee_terms_of({**row, "default_terms": default_terms})
        book = PolymarketBook(str(row["token_id"]), str(row["market_id"]), _asks(row.get("asks")), terms,
                              row.get("snapshot_time"))  # fmt: skip
        top = book.fill(0.0).top_decimal
        if top is None or top <= 1.0:
            continue
        p_close = probability(market, side, point, predicted_close)
        offers.append(
            Offer("polymarket", point, top, p_close, probability(market, side, point, current), book)
        )
    return offers


def stake_on_book(book: Any, target: Callable[[float], float], limit: float) -> float:
    """The largest s <= limit with s <= target(d(s)), d(s) the decimal odds of `book.fill(s)` (bisection).

    `target` is the stake the policy wants at decimal odds d (live: `policy.stake(p, d)`; the backtest's
    Kelly sizing: its own target), so a stake that walks the book down to worse prices asks for less."""

    def gap(s: float) -> float:
        d = book.fill(s).decimal
        return (target(d) if d is not None else 0.0) - s

    if limit <= 0 or gap(0.0) <= 0:
        return 0.0
    if gap(limit) >= 0:
        return limit
    lo, hi = 0.0, limit
    for _ in range(60):
        mid = (lo + hi) / 2
        if gap(mid) >= 0:
            lo = mid
        else:
            hi = mid
    return lo


def choose_venue(
    candidates: Sequence[tuple[Any, ...]], policy: StakePolicy | None
) -> tuple[str, float | None, float, float, float, dict[str, Any]]:
    """(venue, point, decimal paid at the stake, p_close, p_now, `EXECUTION_COLUMNS` values) of the best offer.

    `candidates`: `Offer`s, or plain (venue, point, price, p_close, p_now) sportsbook tuples."""
    offers = [c if isinstance(c, Offer) else Offer(*c) for c in candidates]
    if not offers:
        raise ValueError("no offer to choose from")
    intended = max((policy.stake(o.p_close, o.price) for o in offers), default=0.0) if policy else 0.0
    priced: list[tuple[Offer, float, Fill | None]] = []
    for offer in offers:
        if offer.book is None:
            priced.append((offer, offer.price, None))
            continue
        fill = offer.book.fill(intended)
        if fill.decimal is not None:
            priced.append((offer, fill.decimal, fill))
    full = [x for x in priced if x[2] is None or x[2].complete]
    pool = full or priced
    if not pool:
        raise ValueError("no offer has a price")
    offer, price, fill = max(pool, key=lambda x: x[0].p_close * x[1])
    extra: dict[str, Any] = dict.fromkeys(EXECUTION_COLUMNS)
    extra.update(price_top=offer.price, p_now=offer.p_now)
    stake = 0.0
    if policy is not None and offer.book is None:
        stake = _cents(min(policy.stake(offer.p_close, price), intended))
    elif policy is not None and offer.book is not None:
        depth = offer.book.fill(0.0).depth_dollars
        stake = _cents(
            stake_on_book(offer.book, lambda d: policy.stake(offer.p_close, d), min(intended, depth))
        )
    if offer.book is not None:
        compared = fill
        fill = offer.book.fill(stake)
        if stake > 0 and fill.decimal is not None:
            price = fill.decimal
        extra.update(
            shares=fill.shares,
            fill_price=fill.avg_price,
            fee=fill.fee,
            fee_rate=fill.fee_rate_of_notional
            if fill.shares > 0
            else _marginal_fee_rate(fill.best_ask, fill.terms),
            fee_terms=fill.terms.label,
            fee_assumed=fill.terms.assumed,
            token_id=offer.book.token_id,
            depth_ok=bool(compared.complete) if compared is not None else None,
            depth_dollars=fill.depth_dollars,
            book_time=offer.book.snapshot_time,
        )
    extra.update(stake=stake, stake_limit=_limit(stake, offer, price, policy, extra.get("depth_dollars")))
    return offer.venue, offer.point, float(price), offer.p_close, offer.p_now, extra


def _cents(amount: float) -> float:
    """Dollars rounded down to the cent (never above what the limits allow)."""
    return math.floor(max(amount, 0.0) * 100 + 1e-9) / 100


def _limit(stake: float, offer: Offer, price: float, policy: StakePolicy | None, depth: float | None) -> str:
    """What bound the stake: `no edge` (0), `depth` (the book), `cap` (MAX_STAKE_FRACTION) or `kelly`."""
    if policy is None or stake <= 0:
        return "no edge"
    if depth is not None and stake >= _cents(depth) - 0.01 and depth < policy.cap:
        return "depth"
    if policy.uncapped(offer.p_close, price) > policy.cap and stake >= _cents(policy.cap) - 0.01:
        return "cap"
    return "kelly"


def _marginal_fee_rate(best_ask: float | None, terms: FeeTerms) -> float | None:
    if best_ask is None or best_ask <= 0:
        return None
    return fee_per_share(best_ask, terms) / best_ask
