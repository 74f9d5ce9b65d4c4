"""The Odds API credits: quota headers, call costs, warnings, the budget check and a month plan (pure).

Costs (API_NOTES §1.1): `/sports`, `/events` are free; `/odds` costs markets × regions (10 bookmakers count
as one region); `/scores` 1, or 2 with `daysFrom`; historical `/odds` 10 × markets × regions; historical
`/events` 1; event odds: markets returned × regions. Empty results cost 0.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from odds_analytics.tiers import TierSpec, due_events, hours_to_commence

__all__ = [
    "MonthPlan",
    "QuotaStatus",
    "attempt_credits",
    "budget_allows",
    "month_start",
    "odds_call_cost",
    "plan_month",
    "quota_crossed",
    "quota_from_headers",
    "quota_warnings",
    "region_units",
    "snapshots_per_game",
]


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(str(value).strip()))
    except ValueError:
        return None


@dataclass(frozen=True)
class QuotaStatus:
    """The quota headers of one response (integers; None when absent)."""

    remaining: int | None
    used: int | None
    last: int | None

    @property
    def fraction_remaining(self) -> float | None:
        if self.remaining is None or self.used is None or self.remaining + self.used <= 0:
            return None
        return self.remaining / (self.remaining + self.used)


def quota_from_headers(headers: Mapping[str, str]) -> QuotaStatus:
    """Read `x-requests-remaining`, `x-requests-used`, `x-requests-last` (strings) from response headers."""
    lower = {k.lower(): v for k, v in headers.items()}
    return QuotaStatus(
        remaining=_int_header(lower, "x-requests-remaining"),
        used=_int_header(lower, "x-requests-used"),
        last=_int_header(lower, "x-requests-last"),
    )


def quota_warnings(status: QuotaStatus, fractions: Sequence[float] = (0.2, 0.1)) -> list[str]:
    """One message for the lowest threshold crossed (e.g. 10 % when 8 % remain); empty when healthy."""
    frac = status.fraction_remaining
    if frac is None:
        return []
    crossed = [f for f in sorted(fractions) if frac <= f]
    if not crossed:
        return []
    return [
        f"The Odds API quota is low: {status.remaining} credits remaining ({frac:.1%} of "
        f"{(status.remaining or 0) + (status.used or 0)}), below the {crossed[0]:.0%} warning level."
    ]


def quota_crossed(status: QuotaStatus, fractions: Sequence[float] = (0.2, 0.1)) -> float | None:
    """The lowest warning fraction this call took the quota below, or None.

    "Crossed" means the quota was above the fraction before the call (`remaining + last`) and is at or below
    it after, so an alert fires once per level, not on every later call. Without `last` (the call's cost),
    any level at or below the current fraction counts as crossed.

    >>> quota_crossed(QuotaStatus(remaining=95, used=905, last=10), (0.2, 0.1))  # 10.5 % -> 9.5 %
    0.1
    >>> quota_crossed(QuotaStatus(remaining=85, used=915, last=10), (0.2, 0.1)) is None  # already below
    True
    """
    after = status.fraction_remaining
    if after is None:
        return None
    total = (status.remaining or 0) + (status.used or 0)
    before = (status.remaining or 0) + status.last if status.last is not None else None
    crossed = [f for f in sorted(fractions) if after <= f and (before is None or before / total > f)]
    return crossed[0] if crossed else None


def attempt_credits(answers: Sequence[tuple[int | None, Mapping[str, str] | None]], cost: int) -> int:
    """Credits of every attempt of one call: (status or None, headers or None) each; `cost` is documented.

    - an answer with `x-requests-last`: that figure (the API's own count; a body cut mid-transfer keeps it);
    - an error answer (status >= 400) without it: 0 (errors are not charged);
    - a success without the quota headers: the documented `cost`;
    - no answer at all (a timeout, a connection cut before the headers), which the server may have charged:
      what the same request cost when it was answered in this call (the last `x-requests-last`), else `cost`.

    >>> attempt_credits([(None, None), (200, {"x-requests-last": "3"})], 3)
    6
    >>> attempt_credits([(None, None), (200, {"x-requests-last": "0"})], 3)  # an empty slate: free
    0
    """
    lasts = [quota_from_headers(headers).last for _, headers in answers if headers is not None]
    known = [last for last in lasts if last is not None]
    unanswered = known[-1] if known else cost
    total = 0
    for status, headers in answers:
        last = quota_from_headers(headers).last if headers is not None else None
        if last is not None:
            total += last
        elif status is None:
            total += unanswered
        elif status < 400:
            total += cost
    return total


def region_units(regions: Sequence[str], bookmakers: Sequence[str] = ()) -> int:
    """Regions for cost purposes: `bookmakers` wins when set (every 10 books = 1 region)."""
    if bookmakers:
        return max(1, math.ceil(len(bookmakers) / 10))
    return max(1, len(regions))


def odds_call_cost(
    markets: Sequence[str],
    regions: Sequence[str],
    bookmakers: Sequence[str] = (),
    *,
    historical: bool = False,
) -> int:
    """Credits of one `/odds` call (× 10 for historical) when it returns events."""
    cost = max(1, len(markets)) * region_units(regions, bookmakers)
    return cost * 10 if historical else cost


def month_start(moment: datetime) -> datetime:
    """First instant of `moment`'s calendar month (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_end(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    return month_start(moment) + timedelta(days=days)


def budget_allows(*, spent_this_month: int, cost: int, budget: int) -> bool:
    """True when a paid call of `cost` keeps the month within `budget` (free calls always pass)."""
    return cost <= 0 or spent_this_month + cost <= budget


def snapshots_per_game(spec: TierSpec, *, listed_hours_ahead: float = 7 * 24.0) -> dict[str, float]:
    """Snapshots a game gets in each tier when listed `listed_hours_ahead` before tip and polled on time."""
    edges = [listed_hours_ahead, *spec.boundaries, 0.0]
    result: dict[str, float] = {}
    for i, name in enumerate(spec.names):
        hi, lo = edges[i], edges[i + 1]
        span_hours = max(0.0, min(hi, listed_hours_ahead) - lo) if i == 0 else max(0.0, hi - lo)
        result[name] = math.ceil(span_hours * 60.0 / spec.intervals_minutes[i]) if span_hours > 0 else 0
    return result


@dataclass
class MonthPlan:
    """Simulated rest of the month: paid calls, credits, and snapshots per game by tier."""

    start: datetime
    end: datetime
    tick_minutes: float
    cost_per_call: int
    games: int
    calls: int = 0
    credits: int = 0
    spent_so_far: int = 0
    budget: int = 0
    snapshots_by_tier: dict[str, float] = field(default_factory=dict)

    @property
    def projected_total(self) -> int:
        return self.spent_so_far + self.credits

    @property
    def within_budget(self) -> bool:
        return self.projected_total <= self.budget

    def as_dict(self) -> dict[str, object]:
        return {
            "from": self.start.isoformat(),
            "until": self.end.isoformat(),
            "tick_minutes": self.tick_minutes,
            "cost_per_call": self.cost_per_call,
            "games": self.games,
            "paid_calls": self.calls,
            "credits_planned": self.credits,
            "credits_spent_this_month": self.spent_so_far,
            "projected_month_total": self.projected_total,
            "monthly_budget": self.budget,
            "within_budget": self.within_budget,
            "snapshots_per_game_by_tier": self.snapshots_by_tier,
        }


def plan_month(
    commence_times: Sequence[datetime],
    *,
    now: datetime,
    spec: TierSpec,
    cost_per_call: int,
    tick_minutes: float = 30.0,
    spent_so_far: int = 0,
    budget: int = 0,
    until: datetime | None = None,
    last_requested: Sequence[datetime | None] | None = None,
) -> MonthPlan:
    """Simulate the `fetch-odds` tick from `now` to the month end over the known schedule.

    The same decision as the real tick (`tiers.due_events`): at each tick, one paid `/odds` call happens
    when some listed game is due in its tier, and that call covers every listed game (the slate), so each
    game's clock restarts then, whether or not books priced it yet. `last_requested` (per game, optional)
    is when a paid call last covered it. Every call is charged `cost_per_call`: a call that returns no
    game at all costs 0, so the plan is an upper bound, exact when some listed game always has odds.
    Returns credits and average snapshots per game by tier.
    """
    end = until or month_end(now)
    plan = MonthPlan(start=now, end=end, tick_minutes=tick_minutes, cost_per_call=cost_per_call,
                     games=len(commence_times), spent_so_far=spent_so_far, budget=budget)  # fmt: skip
    names = spec.names
    last: list[datetime | None] = (
        list(last_requested) if last_requested is not None else [None] * len(commence_times)
    )
    counts = dict.fromkeys(names, 0)
    step = timedelta(minutes=tick_minutes)
    t = now
    while t < end:
        listed = [(str(i), c, last[i]) for i, c in enumerate(commence_times) if c > t]
        if due_events(listed, now=t, spec=spec):
            plan.calls += 1
            plan.credits += cost_per_call
            for key, c, _ in listed:
                index = spec.index(hours_to_commence(c, t))
                if index is not None:
                    counts[names[index]] += 1
                    last[int(key)] = t
        t += step
    games = max(1, len(commence_times))
    plan.snapshots_by_tier = {name: round(n / games, 2) for name, n in counts.items()}
    return plan
