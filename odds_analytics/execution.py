"""What a Polymarket buy really costs: the market's fee terms and the fill of a stake on the stored book (pure).

Fee terms come from Gamma, per market (`feesEnabled`, `feeSchedule: {rate, exponent, takerOnly, rebateRate}`,
`feeType`). A taker pays, per fill at price `p` (a probability, dollars per share) for `C` shares,

    fee = C × rate × (p × (1 − p)) ** exponent          (dollars; docs.polymarket.com/trading/fees)

and a maker pays nothing. `feesEnabled: false` means the market is free. When Gamma states no terms we
never assume 0: `DEFAULT_FEE_TERMS` (rate 0.03, exponent 1: the highest documented sports rate with the
exponent that charges the most, since p(1 − p) ≤ 0.25) is used and the result says `assumed=True`.

Buying with a stake of `S` dollars walks the asks from the cheapest up (sorted here, whatever order they
were stored in): at a level of price `p` each share costs `p + rate × (p(1 − p))^exponent` (the fee is paid
on top, in dollars; the stake covers price and fee), so `S` buys shares until it is spent or the book is.
The fill reports the shares, the average price per share (no fee), the fee, the effective decimal odds
(`shares / dollars spent`: each share pays $1) and the implied probability paid (its inverse), and whether
the book was deep enough: a partial fill says so and is never priced at the best ask.

    >>> terms = FeeTerms(enabled=True, rate=0.03, exponent=1.0)
    >>> fill = fill_buy([(0.40, 100.0), (0.50, 1000.0)], 60.0, terms)
    >>> round(fill.shares, 4), fill.complete
    (137.9901, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_FEE_TERMS",
    "FREE",
    "FeeTerms",
    "Fill",
    "GammaFees",
    "fee_per_share",
    "fee_terms",
    "fill_buy",
    "parse_gamma_fees",
    "sorted_asks",
    "taker_fee",
]


@dataclass(frozen=True)
class FeeTerms:
    """The fee terms a fill is priced with. `assumed`: Gamma gave none, these are the conservative default."""

    enabled: bool
    rate: float = 0.0
    exponent: float = 1.0
    taker_only: bool = True
    rebate_rate: float | None = None
    fee_type: str | None = None
    assumed: bool = False

    @property
    def label(self) -> str:
        """One short phrase for tables: `free`, `0.03·(p(1−p))^1`, with `(assumed)` when defaulted."""
        if not self.enabled or self.rate == 0:
            text = "free"
        else:
            text = f"{self.rate:g}·(p(1−p))^{self.exponent:g}"
        return text + (" (assumed)" if self.assumed else "")


FREE = FeeTerms(enabled=False)
DEFAULT_FEE_TERMS = FeeTerms(enabled=True, rate=0.03, exponent=1.0, assumed=True)


@dataclass(frozen=True)
class GammaFees:
    """A Gamma market's fee fields as stated (None: absent or unreadable), the shape stored per market."""

    fees_enabled: bool | None = None
    rate: float | None = None
    exponent: float | None = None
    taker_only: bool | None = None
    rebate_rate: float | None = None
    fee_type: str | None = None

    def columns(self) -> dict[str, Any]:
        """The `polymarket_markets` columns (migration 0006)."""
        return {
            "fees_enabled": self.fees_enabled,
            "fee_rate": self.rate,
            "fee_exponent": self.exponent,
            "fee_taker_only": self.taker_only,
            "fee_rebate_rate": self.rebate_rate,
            "fee_type": self.fee_type,
        }


def _number(value: Any) -> float | None:
    """A finite, non-negative number (or numeric string); None otherwise."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number >= 0 else None


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def parse_gamma_fees(payload: Mapping[str, Any]) -> GammaFees:
    """The fee fields of one Gamma market object. Never raises: an unreadable field is None (and a market
    with no readable terms is later priced with `DEFAULT_FEE_TERMS`, flagged)."""
    schedule = payload.get("feeSchedule")
    schedule = schedule if isinstance(schedule, Mapping) else {}
    fee_type = payload.get("feeType")
    return GammaFees(
        fees_enabled=_flag(payload.get("feesEnabled")),
        rate=_number(schedule.get("rate")),
        exponent=_number(schedule.get("exponent")),
        taker_only=_flag(schedule.get("takerOnly")),
        rebate_rate=_number(schedule.get("rebateRate")),
        fee_type=fee_type if isinstance(fee_type, str) and fee_type else None,
    )


def fee_terms(fees: GammaFees | None, default: FeeTerms = DEFAULT_FEE_TERMS) -> FeeTerms:
    """The terms to price a taker buy with: free when Gamma says `feesEnabled: false`; the schedule when it
    states a rate and an exponent; else `default`, marked `assumed` (never a silent 0)."""
    if fees is not None and fees.fees_enabled is False:
        return FeeTerms(enabled=False, fee_type=fees.fee_type)
    if fees is not None and fees.rate is not None and fees.exponent is not None:
        return FeeTerms(
            enabled=True,
            rate=fees.rate,
            exponent=fees.exponent,
            taker_only=fees.taker_only if fees.taker_only is not None else True,
            rebate_rate=fees.rebate_rate,
            fee_type=fees.fee_type,
        )
    return FeeTerms(
        enabled=default.enabled,
        rate=default.rate,
        exponent=default.exponent,
        taker_only=default.taker_only,
        rebate_rate=default.rebate_rate,
        fee_type=fees.fee_type if fees is not None else default.fee_type,
        assumed=True,
    )


def fee_per_share(price: float, terms: FeeTerms, *, taker: bool = True) -> float:
    """Dollars of fee per share bought at `price` (a probability): `rate × (p(1 − p))^exponent`; 0 for a
    maker, or when fees are off."""
    if not taker or not terms.enabled or terms.rate == 0:
        return 0.0
    return terms.rate * (price * (1.0 - price)) ** terms.exponent


def taker_fee(shares: float, price: float, terms: FeeTerms, *, taker: bool = True) -> float:
    """The fee in dollars for `shares` at `price`: `shares × rate × (p(1 − p))^exponent`.

    >>> round(taker_fee(100, 0.5, FeeTerms(enabled=True, rate=0.03, exponent=1.0)), 6)
    0.75
    """
    return shares * fee_per_share(price, terms, taker=taker)


def sorted_asks(levels: Iterable[Any]) -> list[tuple[float, float]]:
    """Ask levels as (price, size) pairs, cheapest first. Accepts (price, size) pairs or mappings with `price`
    and `size` (the stored JSON); drops levels with a price outside (0, 1) or no size."""
    out = []
    for level in levels:
        if isinstance(level, Mapping):
            price, size = _number(level.get("price")), _number(level.get("size"))
        else:
            price, size = (_number(v) for v in level)
        if price is None or size is None or not 0.0 < price < 1.0 or size <= 0.0:
            continue
        out.append((price, size))
    return sorted(out)


@dataclass(frozen=True)
class Fill:
    """A taker buy of `stake` dollars walked through the asks.

    - `shares`: shares bought; `spent`: dollars paid, fee included (= stake when `complete`);
    - `notional`: dollars paid for the shares alone; `fee`: dollars of fee; `avg_price` = notional / shares;
    - `decimal`: effective decimal odds `shares / spent` (each share pays $1); `implied` = 1 / decimal, the
      probability paid. With nothing to buy (stake 0) they are the marginal price at the best ask, fee
      included; with an empty book they are None;
    - `best_ask`, `top_decimal`: the best ask and its decimal odds with the fee (what a tiny stake gets);
    - `complete`: the book covered the stake; `depth_dollars`: what buying every ask would cost, fee included;
    - `levels`: levels touched.
    """

    stake: float
    spent: float
    shares: float
    notional: float
    fee: float
    avg_price: float | None
    decimal: float | None
    implied: float | None
    best_ask: float | None
    top_decimal: float | None
    complete: bool
    depth_dollars: float
    levels: int
    terms: FeeTerms

    @property
    def fee_rate_of_notional(self) -> float | None:
        """The fee as a fraction of the notional (`fill_price × (1 + this)` is the price paid per share)."""
        return self.fee / self.notional if self.notional > 0 else None


def fill_buy(asks: Iterable[Any], stake: float, terms: FeeTerms, *, taker: bool = True) -> Fill:
    """Buy `stake` dollars (fee included) of a token by walking its asks, cheapest first.

    `asks`: (price, size) pairs or `{"price", "size"}` mappings in any order, prices as probabilities and
    sizes in shares. Raises ValueError for a negative or non-finite stake.
    """
    if not math.isfinite(stake) or stake < 0:
        raise ValueError(f"stake must be a finite amount >= 0, not {stake}")
    levels = sorted_asks(asks)
    costs = [(p, s, p + fee_per_share(p, terms, taker=taker)) for p, s in levels]
    depth = sum(s * c for _, s, c in costs)
    if not levels:
        return Fill(stake, 0.0, 0.0, 0.0, 0.0, None, None, None, None, None, stake == 0, 0.0, 0, terms)
    best_ask, _, best_cost = costs[0]
    remaining, shares, notional, fee, used = stake, 0.0, 0.0, 0.0, 0
    for price, size, cost in costs:
        if remaining <= 1e-12:
            break
        take = min(size, remaining / cost)
        used += 1
        shares += take
        notional += take * price
        fee += take * (cost - price)
        remaining -= take * cost
    spent = notional + fee
    complete = remaining <= 1e-9 * max(1.0, stake)
    if shares > 0:
        decimal, avg = shares / spent, notional / shares
    else:
        decimal, avg = 1.0 / best_cost, best_ask
    return Fill(
        stake=stake,
        spent=spent,
        shares=shares,
        notional=notional,
        fee=fee,
        avg_price=avg,
        decimal=decimal,
        implied=1.0 / decimal,
        best_ask=best_ask,
        top_decimal=1.0 / best_cost,
        complete=complete,
        depth_dollars=depth,
        levels=used,
        terms=terms,
    )
