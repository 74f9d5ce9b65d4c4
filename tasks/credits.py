"""The Odds API credit budget: what this month spent, and reservations taken before every paid call.

A paid call first *reserves* its documented cost: under a PostgreSQL advisory lock (one per database), the
month's spend is read (`fetch_logs.cost`, open reservations included), the budget checked, and a
`fetch_logs` row inserted with `cost` = the credits reserved and `settled_at` NULL. Two runs at once
therefore queue on the lock and the second sees the first's reservation: they cannot overspend together.

The call then runs; a retry that may be charged again first extends the reservation (`extend`), or stops
with `BudgetExceeded`. The call's `fetch_logs` dict carries the reservation's id, and writing it (with the
paid response it came with, or alone when the call failed) *settles* the row in place: real cost, status,
quota figures, `settled_at`. Settling is an upsert on the id, so writing it twice (two drains of one spool
entry) changes nothing.

A reservation whose call never settles (the process was killed mid-call) keeps counting its credits: the
budget errs on the side of holding. Once it is older than `STALE_RESERVATION` (longer than any call can
take) and a later response brought the quota headers, the next reservation *reconciles* it
(`reconcile_stale_reservations`): the API's `x-requests-used` between the last answer before it and the first
answer after it, minus what `fetch_logs` counted for the calls in between, is what the killed call(s) can
have cost; each is settled at that (at most what it reserved, in order), with an `error` saying so. Without
an answer on both sides, or with another call still in flight in between, it stays counted in full. Credits
spent by another user of the same key in between are attributed to the killed call: too much, never too
little.

    reservation = await reserve_credits(endpoint="/v4/sports/basketball_nba/odds", credits=3,
                                        what="The /odds call")
    api.before_retry = reservation.extend
    ...                                   # the call; its fetch_log dict gets {"id": reservation.id}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel.ext.asyncio.session import AsyncSession

from odds_analytics.quota import budget_allows, month_start
from odds_models.clock import now
from odds_models.errors import BudgetExceeded

__all__ = [
    "CREDITS_LOCK",
    "STALE_RESERVATION",
    "Reservation",
    "check_budget",
    "credits_spent",
    "credits_spent_this_month",
    "reconcile_stale_reservations",
    "reserve_credits",
]

# pg_advisory_xact_lock key of the Odds API credit budget ("oddscred" as a 64-bit integer)
CREDITS_LOCK = int.from_bytes(b"oddscred", "big") - 2**63
# an open reservation older than this belongs to a call that will never settle it (a call takes at most
# HTTP_MAX_ATTEMPTS x (timeout + retry wait), minutes; a spooled response that settles it later still wins)
STALE_RESERVATION = timedelta(hours=1)


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
    if await reconcile_stale_reservations(at=at, session=session):
        await session.commit()  # kept even when the budget then refuses the call (the commit ends the lock)
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CREDITS_LOCK})
    return await credits_spent(session=session, since=month_start(at))


_HEADER_ROW = """
SELECT id, created_at, requests_used FROM fetch_logs
WHERE api = 'oddsapi' AND settled_at IS NOT NULL AND requests_used IS NOT NULL AND {side}
ORDER BY created_at {order}, id {order} LIMIT 1
"""


async def reconcile_stale_reservations(*, at: datetime, session: AsyncSession) -> int:
    """Settle the open reservations older than `STALE_RESERVATION` that the quota headers of the answers
    around them account for (see the module docstring); returns how many. Run under the budget lock; the
    caller commits."""
    cutoff = at - STALE_RESERVATION
    stale = (
        await session.execute(
            text("SELECT id, created_at FROM fetch_logs WHERE api = 'oddsapi' AND settled_at IS NULL "
                 "AND created_at < :cutoff ORDER BY created_at, id"),
            {"cutoff": cutoff},
        )
    ).all()  # fmt: skip
    done: set[int] = set()
    for reservation in stale:
        if reservation.id in done:
            continue
        key = {"c": reservation.created_at, "i": reservation.id}
        before = (await session.execute(
            text(_HEADER_ROW.format(side="(created_at, id) < (:c, :i)", order="DESC")), key)).first()  # fmt: skip
        after = (await session.execute(
            text(_HEADER_ROW.format(side="(created_at, id) > (:c, :i)", order="ASC")), key)).first()  # fmt: skip
        if before is None or after is None or after.requests_used < before.requests_used:
            continue  # no answer on one side, or the quota was reset in between: keep it counted
        between = {"bc": before.created_at, "bi": before.id, "ac": after.created_at, "ai": after.id}
        window = "api = 'oddsapi' AND (created_at, id) > (:bc, :bi) AND (created_at, id) <= (:ac, :ai)"
        open_rows = (
            await session.execute(
                text(f"SELECT id, cost, created_at FROM fetch_logs WHERE {window} AND settled_at IS NULL "
                     "ORDER BY created_at, id"),
                between,
            )
        ).all()  # fmt: skip
        if any(row.created_at >= cutoff for row in open_rows):
            continue  # a call still in flight in between: its charge may or may not be in the headers yet
        logged = (
            await session.execute(
                text(
                    f"SELECT COALESCE(sum(cost), 0) FROM fetch_logs WHERE {window} AND settled_at IS NOT NULL"
                ),
                between,
            )
        ).scalar_one()
        left = after.requests_used - before.requests_used - int(logged)
        for row in open_rows:
            charged = max(0, min(int(row.cost or 0), left))
            left -= charged
            await session.execute(
                text("UPDATE fetch_logs SET cost = :cost, settled_at = :at, error = :error "
                     "WHERE id = :id AND settled_at IS NULL"),
                {"cost": charged, "at": at, "id": row.id,
                 "error": f"never settled (the run was killed mid-call): {charged} of {row.cost} credits reserved "
                          f"were charged, by x-requests-used {before.requests_used} -> {after.requests_used}"},
            )  # fmt: skip
            done.add(row.id)
    return len(done)


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
