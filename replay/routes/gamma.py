"""Polymarket Gamma as the pipeline uses it: `/sports`, keyset `/events/keyset` and `/markets/keyset`
(`after_cursor`, `next_cursor` absent on the last page, `offset` rejected), the deprecated offset lists
(with their deprecation headers, 422 past offset 2000), single lookups by id and slug. `closed` defaults
to false. Unknown parameters are ignored, as upstream. Market `outcomes`, `outcomePrices` and
`clobTokenIds` are JSON strings inside the JSON."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from replay.deps import StateDep

__all__ = ["router"]

router = APIRouter(prefix="/gamma")

SPORTS_ROWS: list[dict[str, Any]] = [
    {"id": 34, "sport": "nba", "image": "https://polymarket-upload.s3.us-east-2.amazonaws.com/nba.png",
     "resolution": "https://www.nba.com/", "ordering": "away", "tags": "1,745,100639", "series": "10345",
     "createdAt": "2025-10-01T00:00:00Z"},
    {"id": 10, "sport": "nfl", "image": "https://polymarket-upload.s3.us-east-2.amazonaws.com/nfl.png",
     "resolution": "https://www.nfl.com/", "ordering": "away", "tags": "1,450,100639", "series": "10187",
     "createdAt": "2025-08-01T00:00:00Z"},
]  # fmt: skip
_DEPRECATION = {
    "deprecation": "true",
    "sunset": "Fri, 01 May 2026 00:00:00 GMT",
    "warning": '299 - "use /markets/keyset"',
}


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"type": "validation error", "error": message}, status_code=422)


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return raw.lower() == "true"


def _many(request: Request, name: str) -> set[str] | None:
    values = [v for item in request.query_params.getlist(name) for v in item.split(",") if v.strip()]
    return {v.strip() for v in values} if values else None


def _event_matches(event: dict[str, Any], request: Request) -> bool:
    closed = _flag(request, "closed")
    if event["closed"] != (closed if closed is not None else False):
        return False
    active = _flag(request, "active")
    if active is not None and event["active"] != active:
        return False
    ids, slugs = _many(request, "id"), _many(request, "slug")
    if ids is not None and event["id"] not in ids:
        return False
    if slugs is not None and event["slug"] not in slugs:
        return False
    series = request.query_params.get("series_id")
    if series is not None and series not in {s["id"] for s in event.get("series", [])}:
        return False
    tag = request.query_params.get("tag_id")
    if tag is not None and tag not in {t["id"] for t in event.get("tags", [])}:
        return False
    event_date = request.query_params.get("event_date")
    if event_date is not None and event.get("eventDate") != event_date:
        return False
    for name, field, cmp in (
        ("start_date_min", "startDate", 1), ("start_date_max", "startDate", -1),
        ("end_date_min", "endDate", 1), ("end_date_max", "endDate", -1),
    ):  # fmt: skip
        bound = request.query_params.get(name)
        if bound is not None and _cmp(event.get(field, ""), bound) * cmp < 0:
            return False
    return True


def _cmp(value: str, bound: str) -> int:
    """Compare ISO timestamps by their first 19 characters (Gamma accepts dates and datetimes)."""
    a, b = value[:19].replace(" ", "T"), bound[:19].replace(" ", "T")
    return (a > b) - (a < b)


def _market_matches(market: dict[str, Any], request: Request) -> bool:
    closed = _flag(request, "closed")
    if market["closed"] != (closed if closed is not None else False):
        return False
    checks = (
        ("id", {market["id"]}),
        ("slug", {market["slug"]}),
        ("condition_ids", {market["conditionId"]}),
        ("clob_token_ids", set(json.loads(market["clobTokenIds"]))),
        ("sports_market_types", {market.get("sportsMarketType")}),
        ("game_id", {str(market.get("gameId"))}),
    )
    for name, have in checks:
        wanted = _many(request, name)
        if wanted is not None and not wanted & have:
            return False
    tag = request.query_params.get("tag_id")
    return tag is None or tag in {"1", "745", "100639"}


def _by_id(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: int(r["id"]))


def _encode(last_id: str) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode()


def _decode(cursor: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith("id:") or not text[3:].isdigit():
        return None
    return int(text[3:])


def _keyset(rows: list[dict[str, Any]], request: Request, key: str, max_limit: int) -> JSONResponse:
    if "offset" in request.query_params:
        return _bad("offset is not supported on keyset endpoints; use after_cursor")
    raw_limit = request.query_params.get("limit", str(max_limit))
    if not raw_limit.isdigit():
        return _bad("limit must be a positive integer")
    limit = max(1, min(int(raw_limit), max_limit))
    cursor = request.query_params.get("after_cursor")
    if cursor:
        after = _decode(cursor)
        if after is None:
            return _bad("invalid after_cursor")
        rows = [r for r in rows if int(r["id"]) > after]
    page = rows[:limit]
    body: dict[str, Any] = {key: page}
    if len(rows) > limit:
        body["next_cursor"] = _encode(page[-1]["id"])
    return JSONResponse(body)


def _legacy(rows: list[dict[str, Any]], request: Request, default_limit: int) -> JSONResponse:
    raw_offset = request.query_params.get("offset", "0")
    raw_limit = request.query_params.get("limit", str(default_limit))
    if not raw_offset.isdigit() or not raw_limit.isdigit():
        return _bad("limit and offset must be non-negative integers")
    offset = int(raw_offset)
    if offset > 2000:
        return _bad("offset too large, use /markets/keyset for deeper pagination")
    page = rows[offset : offset + min(int(raw_limit), 500)]
    return JSONResponse(page, headers=_DEPRECATION)


def _not_found() -> JSONResponse:
    return JSONResponse({"type": "not found error", "error": "not found"}, status_code=404)


@router.get("/sports")
async def sports(state: StateDep) -> JSONResponse:
    state.calls["gamma"] += 1
    return JSONResponse(SPORTS_ROWS)


def _events(state: StateDep, request: Request) -> list[dict[str, Any]]:
    state.calls["gamma"] += 1
    return _by_id([e for e in state.source.gamma_events(state.now()) if _event_matches(e, request)])


def _markets(state: StateDep, request: Request) -> list[dict[str, Any]]:
    state.calls["gamma"] += 1
    return _by_id([m for m in state.source.gamma_markets(state.now()) if _market_matches(m, request)])


@router.get("/events/keyset")
async def events_keyset(request: Request, state: StateDep) -> JSONResponse:
    return _keyset(_events(state, request), request, "events", 500)


@router.get("/events")
async def events_legacy(request: Request, state: StateDep) -> JSONResponse:
    return _legacy(_events(state, request), request, 20)


@router.get("/events/slug/{slug}")
async def event_by_slug(slug: str, state: StateDep) -> JSONResponse:
    state.calls["gamma"] += 1
    found = [e for e in state.source.gamma_events(state.now()) if e["slug"] == slug]
    return JSONResponse(found[0]) if found else _not_found()


@router.get("/events/{event_id}")
async def event_by_id(event_id: str, state: StateDep) -> JSONResponse:
    state.calls["gamma"] += 1
    found = [e for e in state.source.gamma_events(state.now()) if e["id"] == event_id]
    return JSONResponse(found[0]) if found else _not_found()


@router.get("/markets/keyset")
async def markets_keyset(request: Request, state: StateDep) -> JSONResponse:
    return _keyset(_markets(state, request), request, "markets", 100)


@router.get("/markets")
async def markets_legacy(request: Request, state: StateDep) -> JSONResponse:
    return _legacy(_markets(state, request), request, 20)


@router.get("/markets/slug/{slug}")
async def market_by_slug(slug: str, state: StateDep) -> JSONResponse:
    state.calls["gamma"] += 1
    found = [m for m in state.source.gamma_markets(state.now()) if m["slug"] == slug]
    return JSONResponse(found[0]) if found else _not_found()


@router.get("/markets/{market_id}")
async def market_by_id(market_id: str, state: StateDep) -> JSONResponse:
    state.calls["gamma"] += 1
    found = [m for m in state.source.gamma_markets(state.now()) if market_id in (m["id"], m["conditionId"])]
    return JSONResponse(found[0]) if found else _not_found()
