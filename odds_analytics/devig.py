"""Remove the bookmaker's margin: implied probabilities in, fair probabilities (summing to 1) out.

`devig(implied_probabilities, method)` works for two or more outcomes of one market (the two sides of a
moneyline, spread or total; or all outcomes of a 3-way market). Methods:

- `multiplicative` (proportional): p_i = q_i / sum(q).
- `additive`: p_i = q_i - (sum(q) - 1) / n (the margin is shared equally). It can push a long shot below
  zero; then it raises `DevigError` rather than return a negative probability.
- `power`: p_i = q_i ** k with k solving sum(q_i ** k) = 1 (long shots carry more of the margin).
- `shin`: Shin's (1993) insider-trading model, z solving sum(p_i(z)) = 1 with
  p_i(z) = (sqrt(z^2 + 4 (1 - z) q_i^2 / S) - z) / (2 (1 - z)). For two outcomes it equals `additive`.
  A book with no margin (sum(q) <= 1) gets z = 0, i.e. the multiplicative answer.

>>> [round(p, 4) for p in devig([1 / 1.8, 1 / 2.1], "multiplicative")]
[0.5385, 0.4615]

`devig_two_way(q1, q2, method)` is the vectorised numpy form used by the backtest on millions of rows.
Bad input (fewer than two prices, non-positive, non-finite or >= 1 probabilities, unknown method) raises
`DevigError`, a `ValueError`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, get_args

import numpy as np

from odds_analytics.prices import as_number, finite_number

__all__ = ["DEVIG_METHODS", "DevigError", "DevigMethod", "devig", "devig_decimal", "devig_two_way"]

DevigMethod = Literal["multiplicative", "additive", "power", "shin"]
DEVIG_METHODS: tuple[str, ...] = get_args(DevigMethod)

_TOL = 1e-12


class DevigError(ValueError):
    """Implied probabilities that cannot be devigged (too few, non-finite, out of range), or a bad method."""


def _validate(implied_probabilities: Sequence[float], method: str) -> list[float]:
    if method not in DEVIG_METHODS:
        raise DevigError(f"unknown devig method {method!r}; choose one of {', '.join(DEVIG_METHODS)}")
    values = list(implied_probabilities)
    if len(values) < 2:
        raise DevigError(f"devig needs at least two outcomes' prices, got {len(values)}")
    out: list[float] = []
    for raw in values:
        q = finite_number(raw, "implied probability", DevigError)
        if q <= 0.0 or q >= 1.0:
            raise DevigError(f"implied probability must be in (0, 1) (a decimal price > 1), got {raw!r}")
        out.append(q)
    return out


def _bisect(func: Callable[[float], float], low: float, high: float) -> float:
    """Root of a monotone `func` on [low, high] (signs differ at the ends), to ~1e-15."""
    f_low = func(low)
    for _ in range(200):
        mid = 0.5 * (low + high)
        f_mid = func(mid)
        if f_mid == 0.0 or (high - low) < 1e-15:
            return mid
        if (f_mid > 0) == (f_low > 0):
            low, f_low = mid, f_mid
        else:
            high = mid
    return 0.5 * (low + high)


def _multiplicative(q: list[float]) -> list[float]:
    total = math.fsum(q)
    return [x / total for x in q]


def _additive(q: list[float]) -> list[float]:
    share = (math.fsum(q) - 1.0) / len(q)
    fair = [x - share for x in q]
    if min(fair) <= 0.0:
        raise DevigError(
            f"additive devig gives a non-positive probability for {q!r} (margin too large for a long shot); "
            "use multiplicative, power or shin"
        )
    return _multiplicative(fair)  # the sum is already 1; this removes float rounding


def _power(q: list[float]) -> list[float]:
    total = math.fsum(q)
    if abs(total - 1.0) < _TOL:
        return list(q)

    def excess(k: float) -> float:
        return math.fsum(x**k for x in q) - 1.0

    # sum(q^k) decreases in k; k > 1 for an overround, k < 1 for an underround.
    low, high = (1.0, 2.0) if total > 1.0 else (0.5, 1.0)
    while excess(high) > 0:
        high *= 2.0
    while excess(low) < 0:
        low /= 2.0
    k = _bisect(excess, low, high)
    fair = [x**k for x in q]
    return _multiplicative(fair)  # removes the last 1e-15 of rounding


def _shin_probs(q: list[float], total: float, z: float) -> list[float]:
    return [(math.sqrt(z * z + 4.0 * (1.0 - z) * x * x / total) - z) / (2.0 * (1.0 - z)) for x in q]


def _shin(q: list[float]) -> list[float]:
    total = math.fsum(q)
    if total <= 1.0 + _TOL:
        return _multiplicative(q)

    def excess(z: float) -> float:
        return math.fsum(_shin_probs(q, total, z)) - 1.0

    # excess(0) = sqrt(S) - 1 > 0 and excess(z -> 1) = sum(q^2)/S - 1 < 0: one root in (0, 1).
    z = _bisect(excess, 0.0, 1.0 - 1e-12)
    return _multiplicative(_shin_probs(q, total, z))


_METHODS = {"multiplicative": _multiplicative, "additive": _additive, "power": _power, "shin": _shin}


def devig(
    implied_probabilities: Sequence[float], method: DevigMethod | str = "multiplicative"
) -> list[float]:
    """Fair probabilities (same order, summing to 1) from one book's implied probabilities of one market.

    `implied_probabilities` are 1 / decimal odds of every outcome of the market (two or more).
    """
    q = _validate(implied_probabilities, method)
    return _METHODS[method](q)


def devig_decimal(
    decimal_prices: Sequence[float], method: DevigMethod | str = "multiplicative"
) -> list[float]:
    """`devig` from decimal odds (each > 1) instead of implied probabilities."""
    implied: list[float] = []
    for raw in decimal_prices:
        d = as_number(raw, "decimal price", DevigError)
        if not math.isfinite(d) or d <= 1.0:
            raise DevigError(f"decimal price must be finite and > 1, got {raw!r}")
        implied.append(1.0 / d)
    return devig(implied, method)


def devig_two_way(
    q1: np.ndarray, q2: np.ndarray, method: DevigMethod | str = "multiplicative"
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised two-outcome devig: arrays of implied probabilities in, fair (p1, p2) out.

    Rows with an invalid input (non-finite, outside (0, 1)), or a non-positive additive result, give NaN
    instead of raising, so one bad row does not sink a million-row computation.
    """
    if method not in DEVIG_METHODS:
        raise DevigError(f"unknown devig method {method!r}; choose one of {', '.join(DEVIG_METHODS)}")
    a = np.asarray(q1, dtype=float)
    b = np.asarray(q2, dtype=float)
    valid = np.isfinite(a) & np.isfinite(b) & (a > 0) & (a < 1) & (b > 0) & (b < 1)
    a = np.where(valid, a, np.nan)
    b = np.where(valid, b, np.nan)
    total = a + b
    if method == "multiplicative":
        p1 = a / total
    elif method in ("additive", "shin"):
        # For two outcomes Shin's model reduces to the additive one (Clarke, Kovalchik & Ingram 2017);
        # a book without margin gets the multiplicative answer, as in `devig(..., "shin")`.
        p1 = a - (total - 1.0) / 2.0
        p2 = b - (total - 1.0) / 2.0
        if method == "shin":
            no_margin = total <= 1.0 + _TOL
            p1 = np.where(no_margin, a / total, p1)
            p2 = np.where(no_margin, b / total, p2)
        bad = (p1 <= 0) | (p2 <= 0)
        p1 = np.where(bad, np.nan, p1)
        return p1, 1.0 - p1
    else:  # power: bisection on k for every row at once, in log space
        la, lb = np.log(a), np.log(b)
        low = np.where(total > 1.0, 1.0, 1e-3)
        high = np.where(total > 1.0, 64.0, 1.0)
        for _ in range(60):
            mid = 0.5 * (low + high)
            over = np.exp(mid * la) + np.exp(mid * lb) > 1.0
            low = np.where(over, mid, low)
            high = np.where(over, high, mid)
        k = 0.5 * (low + high)
        f1, f2 = np.exp(k * la), np.exp(k * lb)
        p1 = f1 / (f1 + f2)
    return p1, 1.0 - p1
