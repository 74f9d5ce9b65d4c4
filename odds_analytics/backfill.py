"""Planning a history backfill from the historical `/odds` endpoint (pure).

For each past game, the wanted snapshot times are `commence_time - offset` for each offset (hours before
tip). A wanted time already covered by a stored snapshot (any source) within the tolerance is skipped.
One historical call returns every game listed at that moment, so wanted times are grouped on the
provider's snapshot grid (5 minutes) and each group is one call of `cost_per_call` credits. Calls are
taken in order of how many wanted snapshots they fill (then by time) until the credit budget is spent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["BackfillCall", "BackfillPlan", "plan_backfill"]

GRID = timedelta(minutes=5)


def _floor_to_grid(moment: datetime, grid: timedelta = GRID) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = (moment - epoch) // grid
    return epoch + steps * grid


def _tolerance(offset_hours: float) -> timedelta:
    """A snapshot counts for an offset when it is within 10 % of it (at least 15 min, at most 3 h)."""
    return max(timedelta(minutes=15), min(timedelta(hours=3), timedelta(hours=offset_hours * 0.1)))


@dataclass(frozen=True)
class BackfillCall:
    date: datetime
    fills: tuple[tuple[str, float], ...]  # (event_id, offset hours)


@dataclass
class BackfillPlan:
    calls: list[BackfillCall] = field(default_factory=list)
    cost_per_call: int = 0
    budget: int = 0
    wanted: int = 0
    already_covered: int = 0
    dropped_for_budget: int = 0

    @property
    def credits(self) -> int:
        return self.cost_per_call * len(self.calls)

    @property
    def snapshots_filled(self) -> int:
        return sum(len(c.fills) for c in self.calls)

    def as_dict(self) -> dict[str, object]:
        return {
            "calls": len(self.calls),
            "credits": self.credits,
            "cost_per_call": self.cost_per_call,
            "budget": self.budget,
            "wanted_snapshots": self.wanted,
            "already_covered": self.already_covered,
            "snapshots_planned": self.snapshots_filled,
            "calls_dropped_for_budget": self.dropped_for_budget,
            "first": self.calls[0].date.isoformat() if self.calls else None,
            "last": self.calls[-1].date.isoformat() if self.calls else None,
        }


def plan_backfill(
    games: Sequence[tuple[str, datetime, Sequence[datetime]]],
    *,
    offsets_hours: Sequence[float],
    cost_per_call: int,
    budget: int,
    now: datetime,
) -> BackfillPlan:
    """Which historical calls to make: games are (event_id, commence_time, stored snapshot times)."""
    plan = BackfillPlan(cost_per_call=cost_per_call, budget=budget)
    groups: dict[datetime, list[tuple[str, float]]] = defaultdict(list)
    for event_id, commence, stored in games:
        for offset in offsets_hours:
            target = commence - timedelta(hours=offset)
            if target >= now:
                continue
            plan.wanted += 1
            tol = _tolerance(offset)
            if any(abs(s - target) <= tol for s in stored):
                plan.already_covered += 1
                continue
            groups[_floor_to_grid(target)].append((event_id, offset))
    ranked = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    affordable = budget // cost_per_call if cost_per_call > 0 else len(ranked)
    chosen = ranked[:affordable]
    plan.dropped_for_budget = len(ranked) - len(chosen)
    plan.calls = [BackfillCall(date=d, fills=tuple(sorted(f))) for d, f in sorted(chosen)]
    return plan
