"""Control routes (`/_replay/...`), mounted only with `create_app(..., control=True)`: read and move the
simulated clock, read the counters (calls, credits, faults)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from odds_models.clock import FrozenClock
from replay.common import iso_z, parse_iso
from replay.deps import StateDep

__all__ = ["router"]

router = APIRouter(prefix="/_replay")


@router.get("/clock")
async def get_clock(state: StateDep) -> dict[str, Any]:
    return {"now": iso_z(state.now()), "source": state.source.label}


@router.post("/clock")
async def move_clock(request: Request, state: StateDep) -> JSONResponse:
    clock = state.clock
    if not isinstance(clock, FrozenClock):
        return JSONResponse(
            {"error": "the replay clock is the system clock; start it with a FrozenClock"}, 409
        )
    body = await request.json()
    if "now" in body:
        moment = parse_iso(str(body["now"]))
        if moment is None:
            return JSONResponse({"error": "now must be ISO 8601 with a zone"}, 422)
        clock.set(moment)
    elif "advance_seconds" in body:
        clock.advance(seconds=float(body["advance_seconds"]))
    return JSONResponse({"now": iso_z(clock())})


@router.get("/stats")
async def stats(state: StateDep) -> dict[str, Any]:
    return {
        "source": state.source.label,
        "now": iso_z(state.now()),
        "calls": dict(state.calls),
        "credits_used": state.used,
        "credits_remaining": state.remaining,
        "credits_by_route": dict(state.credits_by_route),
        "requests_seen_by_fault_plan": state.faults.requests,
        "faults_injected": dict(state.faults.injected),
    }
