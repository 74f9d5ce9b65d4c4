"""The Odds API credit budget: what this month spent, and reservations taken before every paid call.

A paid call first *reserves* its documented cost: under a PostgreSQL advisory lock (one per database), the
month's spend is read (`fetch_logs.cost`, open reservations included), the budget checked, and a
`fetch_logs` row inserted with `cost` = the credits reserved and `settled_at` NULL. Two runs at once
therefore queue on the lock and the second sees the first's reservation: they cannot overspend together.

The call then runs; a retry that may be charged again first extends the reservation (`extend`), or stops
with `BudgetExceeded`. The call's `fetch_logs` dict carries the reservation's id, and writing it (with the
paid response it came with, or alone when the call failed) *settles* the row in place: real cost, status,
quota figures, `settled_at`. Settling is an upsert on the id, so writing it twice (two drains of one spool
entry) changes nothing. A reservation whose call never settles (the process was killed mid-call) keeps
counting its credits: the budget errs on the side of holding.

    reservation = await reserve_credits(endpoint="/v4/sports/basketball_nba/odds", credits=3,
                                        what="The /odds call")
    api.before_retry = reservation.extend
    ...                                   # the call; its fetch_log dict gets {"id": reservation.id}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.quota import budget_allows, month_start
from odds_models.clock import now
from odds_models.errors import BudgetExceeded

__all__ = [
    "CREDITS_LOCK",
    "Reservation",
    "check_budget",
    "credits_spent",
    "credits_spent_this_month",
    "reserve_credits",
]

# pg_advisory_xact_lock key of the Odds API credit budget ("oddscred" as a 64-bit integer)
CREDITS_LOCK = int.from_bytes(b"oddscred", "big") - 2**63


def check_budget(*, spent: int, cost: int, budget: int, what: str) -> None:
    """Raise BudgetExceeded when a paid call would take the month over the budget (free calls pass)."""
    if not budget_allows(spent_this_month=spent, cost=cost, budget=budget):
        raise BudgetExceeded(
            f"{what} would cost {cost} credits; {spent} of the monthly budget of {budget} are spent "
            f"({budget - spent} left). Paid calls are stopped until next month; raise MONTHLY_CREDIT_BUDGET to "
            "allow more. Free calls (/events, /sports) continue."
        )


async def credits_spent(*, session: AsyncSession, since: datetime) -> int:
    """Credits of every Odds API call since `since`, open reservations included."""
    value = (
        await session.execute(
            text("SELECT COALESCE(sum(cost), 0) FROM fetch_logs WHERE api = 'oddsapi' AND created_at >= :s"),
            {"s": since},
        )
    ).scalar_one()
    return int(value)


async def credits_spent_this_month(at: datetime | None = None) -> int:
    """Credits spent (or reserved) since the start of this calendar month (UTC), from fetch_logs."""
    from odds_models.db import async_session_maker

    async with async_session_maker() as session:
        return await credits_spent(session=session, since=month_start(at or now()))


async def _locked_spend(at: datetime, *, session: AsyncSession) -> int:
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CREDITS_LOCK})
    return await credits_spent(session=session, since=month_start(at))


@dataclass
class Reservation:
    """An open credit reservation: its `fetch_logs` row id and the credits it holds."""

    id: int
    credits: int
    what: str
    budget: int
    created_at: datetime

    async def extend(self, total: int) -> None:
        """Hold `total` credits for the call (a retry may be charged again); BudgetExceeded if no room."""
        if total <= self.credits:
            return
        from odds_models.db import async_session_maker

        async with async_session_maker() as session:
            spent = await _locked_spend(self.created_at, session=session)
            check_budget(
                spent=spent, cost=total - self.credits, budget=self.budget, what=f"A retry of {self.what}"
            )
            await session.execute(
                text("UPDATE fetch_logs SET cost = :c WHERE id = :id AND settled_at IS NULL"),
                {"c": total, "id": self.id},
            )
            await session.commit()
        self.credits = total


async def reserve_credits(
    *,
    endpoint: str,
    credits: int,
    what: str,
    params: dict[str, Any] | None = None,
    budget: int | None = None,
    at: datetime | None = None,
) -> Reservation:
    """Reserve `credits` for one paid call under the budget lock; BudgetExceeded (nothing reserved) if over."""
    from odds_models.db import async_session_maker
    from odds_models.settings import get_settings

    budget = get_settings().monthly_credit_budget if budget is None else budget
    at = at or now()
    async with async_session_maker() as session:
        spent = await _locked_spend(at, session=session)
        check_budget(spent=spent, cost=credits, budget=budget, what=what)
        row_id = (
            await session.execute(
                text(
                    "INSERT INTO fetch_logs (api, endpoint, params, cost, attempts, created_at, settled_at) "
                    "VALUES ('oddsapi', :endpoint, CAST(:params AS jsonb), :cost, 0, :at, NULL) RETURNING id"
                ),
                {
                    "endpoint": endpoint,
                    "params": json.dumps(params or {}, default=str),
                    "cost": credits,
                    "at": at,
                },
            )
        ).scalar_one()
        await session.commit()
    return Reservation(id=int(row_id), credits=credits, what=what, budget=budget, created_at=at)
