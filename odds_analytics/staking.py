"""How much to stake on a pick: fractional Kelly on the expected return at the price paid, capped (pure).

With `p` the side's fair probability at the predicted close and `d` the decimal odds actually paid (a
Polymarket fill at the stake, fee included), full Kelly is `f* = (p × d − 1) / (d − 1)` of the bankroll
(0 when there is no edge). We stake `kelly_fraction × f* × bankroll`, at most `max_stake_fraction ×
bankroll`; on Polymarket also at most what the book can fill (`odds_analytics.venues`).

    >>> policy = StakePolicy(bankroll=1000.0, kelly_fraction=0.25, max_stake_fraction=0.02)
    >>> round(kelly(0.55, 2.0), 4), policy.stake(0.55, 2.0)   # f* = 0.1 -> 0.25 x 0.1 x 1000 = 25 -> cap 20
    (0.1, 20.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["StakePolicy", "kelly"]


def kelly(p: float, d: float) -> float:
    """Full-Kelly fraction of the bankroll for a bet at decimal odds `d` won with probability `p` (>= 0)."""
    if not (math.isfinite(p) and math.isfinite(d)) or d <= 1.0:
        return 0.0
    return max(0.0, (p * d - 1.0) / (d - 1.0))


@dataclass(frozen=True)
class StakePolicy:
    """Bankroll (dollars), the Kelly fraction (settings `KELLY_FRACTION`) and the cap per bet as a fraction
    of the bankroll (`MAX_STAKE_FRACTION`)."""

    bankroll: float
    kelly_fraction: float = 0.25
    max_stake_fraction: float = 0.02

    def __post_init__(self) -> None:
        if not math.isfinite(self.bankroll) or self.bankroll <= 0:
            raise ValueError(f"bankroll must be a positive amount, not {self.bankroll}")
        if not 0 < self.kelly_fraction <= 1:
            raise ValueError(f"kelly_fraction must be in (0, 1], not {self.kelly_fraction}")
        if not 0 < self.max_stake_fraction <= 1:
            raise ValueError(f"max_stake_fraction must be in (0, 1], not {self.max_stake_fraction}")

    @property
    def cap(self) -> float:
        """The most one bet may stake, in dollars."""
        return self.bankroll * self.max_stake_fraction

    def uncapped(self, p: float, d: float) -> float:
        """The fractional-Kelly stake before the cap, in dollars."""
        return self.kelly_fraction * kelly(p, d) * self.bankroll

    def stake(self, p: float, d: float) -> float:
        """The fractional-Kelly stake at decimal odds `d`, capped, in dollars (0 without an edge)."""
        return min(self.uncapped(p, d), self.cap)
