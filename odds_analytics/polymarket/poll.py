"""One price poll: which markets it collects (by fetch tier) and the snapshot time it stores them at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from odds_analytics.tiers import TierSpec, hours_to_commence, tier_for

__all__ = ["PollPlan", "PollTarget", "plan_poll", "poll_bucket"]


@dataclass(frozen=True)
class PollTarget:
    """An open market of an upcoming game, as stored."""

    market_id: str
    market_type: str
    period: str
    outcomes: tuple[str, ...]
    token_ids: tuple[str, ...]
    start_time: datetime | None


_BOOK_TYPES = ("moneyline", "spread", "total")


@dataclass
class PollPlan:
    """What one poll collects: token -> (market id, outcome); the tokens that also get a book."""

    tokens: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    book_tokens: list[str] = field(default_factory=list)
    markets: int = 0
    by_tier: dict[str, int] = field(default_factory=dict)


def plan_poll(
    targets: Sequence[PollTarget],
    *,
    now: datetime,
    tiers: Sequence[str] | None,
    spec: TierSpec,
    books_all_markets: bool,
) -> PollPlan:
    """Keep the markets whose event is in one of `tiers` (default: every tier within the first boundary)."""
    wanted = set(tiers) if tiers else set(spec.names[1:])
    plan = PollPlan()
    for target in targets:
        if target.start_time is None:
            continue
        tier = tier_for(hours_to_commence(target.start_time, now), spec)
        if tier is None or tier not in wanted:
            continue
        plan.markets += 1
        plan.by_tier[tier] = plan.by_tier.get(tier, 0) + 1
        outcomes = list(target.outcomes) + [None] * (len(target.token_ids) - len(target.outcomes))
        for token, outcome in zip(target.token_ids, outcomes, strict=False):
            plan.tokens[token] = (target.market_id, outcome)
            # game moneylines, spreads and totals get a book: picks fill a stake on it (odds_analytics.venues)
            if books_all_markets or (target.market_type in _BOOK_TYPES and target.period == "game"):
                plan.book_tokens.append(token)
    return plan


def poll_bucket(now: datetime, interval_seconds: int) -> datetime:
    """The poll's snapshot time: `now` floored to the poll interval, so two polls at once store one row."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % max(interval_seconds, 1), UTC)
