"""Odds conversions: American <-> decimal <-> implied probability, and overround.

Conventions: decimal odds include the stake (2.50 pays 1.50 profit per 1 staked, > 1); American odds are
+150 / -200 (never between -100 and +100 exclusive; +100 and -100 are both even money); an implied
probability is 1 / decimal, in (0, 1). Bad input raises `InvalidPriceError` (a `ValueError`).

>>> american_to_decimal(-200)
1.5
>>> decimal_to_american(2.5)
150
>>> round(overround([1 / 1.91, 1 / 1.91]), 4)
0.0471
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = [
    "InvalidPriceError",
    "american_to_decimal",
    "american_to_implied",
    "as_number",
    "decimal_to_american",
    "decimal_to_implied",
    "finite_number",
    "implied_to_american",
    "implied_to_decimal",
    "optional_number",
    "overround",
    "profit_per_unit",
]


class InvalidPriceError(ValueError):
    """A price or probability that no sportsbook can quote (non-finite, out of range)."""


def as_number(value: Any, what: str, error: type[ValueError] = InvalidPriceError) -> float:
    """`value` as a float, else `error`: "`what` must be a number"."""
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise error(f"{what} must be a number, got {value!r}") from exc


def finite_number(value: Any, what: str, error: type[ValueError] = InvalidPriceError) -> float:
    """`value` as a finite float, else `error`: "`what` must be a number" or "... must be finite"."""
    number = as_number(value, what, error)
    if not math.isfinite(number):
        raise error(f"{what} must be finite, got {value!r}")
    return number


def optional_number(value: Any) -> float | None:
    """`value` as a finite float, or None when it is missing, not a number, NaN or infinite (never raises)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def american_to_decimal(american: float) -> float:
    """American odds to decimal odds: +150 -> 2.5, -200 -> 1.5, +100/-100 -> 2.0."""
    a = finite_number(american, "American odds")
    if -100 < a < 100:
        raise InvalidPriceError(f"American odds must be <= -100 or >= +100, got {american!r}")
    if a > 0:
        return 1.0 + a / 100.0
    return 1.0 + 100.0 / -a


def decimal_to_american(decimal: float) -> int:
    """Decimal odds to American odds, rounded to the nearest integer: 2.5 -> 150, 1.5 -> -200."""
    d = finite_number(decimal, "decimal odds")
    if d <= 1.0:
        raise InvalidPriceError(f"decimal odds must be > 1, got {decimal!r}")
    if d >= 2.0:
        return round((d - 1.0) * 100.0)
    return round(-100.0 / (d - 1.0))


def decimal_to_implied(decimal: float) -> float:
    """Decimal odds to the implied probability 1 / decimal (vig included): 2.0 -> 0.5."""
    d = finite_number(decimal, "decimal odds")
    if d <= 1.0:
        raise InvalidPriceError(f"decimal odds must be > 1, got {decimal!r}")
    return 1.0 / d


def implied_to_decimal(probability: float) -> float:
    """Implied probability in (0, 1) to decimal odds 1 / p: 0.4 -> 2.5."""
    p = finite_number(probability, "probability")
    if not 0.0 < p < 1.0:
        raise InvalidPriceError(f"probability must be in (0, 1), got {probability!r}")
    return 1.0 / p


def american_to_implied(american: float) -> float:
    """American odds to implied probability: -110 -> 0.5238, +150 -> 0.4."""
    return decimal_to_implied(american_to_decimal(american))


def implied_to_american(probability: float) -> int:
    """Implied probability to American odds (rounded): 0.4 -> +150, 2/3 -> -200."""
    return decimal_to_american(implied_to_decimal(probability))


def overround(implied_probabilities: Iterable[float]) -> float:
    """The bookmaker's margin: sum of implied probabilities minus 1 (0.0476 for -110/-110)."""
    values = [finite_number(p, "probability") for p in implied_probabilities]
    if not values:
        raise InvalidPriceError("overround needs at least one probability")
    for p in values:
        if p <= 0.0:
            raise InvalidPriceError(f"probabilities must be positive, got {p!r}")
    return math.fsum(values) - 1.0


def profit_per_unit(decimal: float) -> float:
    """Net profit of a winning 1-unit stake at decimal odds (2.5 -> 1.5)."""
    d = finite_number(decimal, "decimal odds")
    if d <= 1.0:
        raise InvalidPriceError(f"decimal odds must be > 1, got {decimal!r}")
    return d - 1.0
