"""The Odds API v4 as the pipeline uses it: sports, events, odds, scores, event odds and the historical
endpoints, with the real parameter validation (422 + error_code), key checks (401 MISSING_KEY /
INVALID_KEY / OUT_OF_USAGE_CREDITS), quota headers on every response and the documented costs:

| endpoint | cost |
|---|---|
| /sports, /events | 0 |
| /odds | markets x regions (bookmakers: every 10 count as a region); 0 when no events |
| /scores | 1, 2 with daysFrom |
| /events/{id}/odds | unique markets returned x regions; 0 when empty |
| historical /odds | 10 x markets x regions; 0 when empty |
| historical /events | 1; 0 when empty |
| historical /events/{id}/odds | 10 x unique markets returned x regions |
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from replay.common import decimal_to_american, iso_z, parse_iso
from replay.deps import ReplayState, StateDep
from replay.source import HistoricalSnapshot

__all__ = ["FEATURED_MARKETS", "SPORTS", "router"]

router = APIRouter(prefix="/oddsapi/v4")

DOCS = "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html"
FEATURED_MARKETS = ("h2h", "spreads", "totals", "outrights", "h2h_lay", "outrights_lay")
REGIONS = ("us", "us2", "uk", "au", "eu")
_EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
_MARKET_KEY = re.compile(r"^(h2h|spreads|totals|alternate_spreads|alternate_totals|team_totals|"
                         r"alternate_team_totals|player_[a-z_]+|(h2h|spreads|totals)(_3_way)?_(q[1-4]|h[12]))$")  # fmt: skip
_ISO_SECONDS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
SPORTS: list[dict[str, Any]] = [
    {"key": "basketball_nba", "group": "Basketball", "title": "NBA", "description": "US Basketball",
     "active": True, "has_outrights": False},
    {"key": "basketball_nba_championship_winner", "group": "Basketball", "title": "NBA Championship Winner",
     "description": "Championship Winner", "active": True, "has_outrights": True},
    {"key": "americanfootball_nfl", "group": "American Football", "title": "NFL",
     "description": "US Football", "active": True, "has_outrights": False},
    {"key": "icehockey_nhl", "group": "Ice Hockey", "title": "NHL", "description": "US Ice Hockey",
     "active": True, "has_outrights": False},
    {"key": "baseball_mlb", "group": "Baseball", "title": "MLB", "description": "Major League Baseball",
     "active": False, "has_outrights": False},
]  # fmt: skip
_SPORT_KEYS = {s["key"] for s in SPORTS} | {"upcoming"}


class OddsApiError(Exception):
    """Raised inside a handler; rendered with the API's body shape and the quota headers."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _quota_headers(state: ReplayState, last: int) -> dict[str, str]:
    return {
        "x-requests-used": str(state.used),
        "x-requests-remaining": str(state.remaining),
        "x-requests-last": str(last),
    }


def error_response(state: ReplayState, exc: OddsApiError) -> JSONResponse:
    body = {"message": exc.message, "error_code": exc.code, "details_url": f"{DOCS}#{exc.code.lower()}"}
    return JSONResponse(body, status_code=exc.status, headers=_quota_headers(state, 0))


def _charge(state: ReplayState, route: str, cost: int, data: Any) -> JSONResponse:
    with state.lock:
        if cost > 0 and state.used + cost > state.quota_total:
            raise OddsApiError(
                401, "OUT_OF_USAGE_CREDITS",
                "Usage quota has been reached. See usage plans at https://the-odds-api.com",
            )  # fmt: skip
        state.used += cost
        state.credits_by_route[route] += cost
        headers = _quota_headers(state, cost)
    return JSONResponse(data, headers=headers)


def _check_key(state: ReplayState, request: Request) -> None:
    state.calls["oddsapi"] += 1
    key = request.query_params.get("apiKey") or request.query_params.get("api_key")
    if not key:
        raise OddsApiError(
            401, "MISSING_KEY", "API key is missing. Get an API key at https://the-odds-api.com"
        )
    if state.api_keys is not None and key not in state.api_keys:
        raise OddsApiError(
            401, "INVALID_KEY",
            "API key is not valid or has expired. Check the key or get a new one at https://the-odds-api.com",
        )  # fmt: skip


def _check_sport(sport: str) -> None:
    if sport not in _SPORT_KEYS:
        raise OddsApiError(
            404, "UNKNOWN_SPORT", f"Unknown sport: {sport}. Get a list of sports via /v4/sports"
        )


def _bool_param(request: Request, name: str, code: str) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return False
    if value not in ("true", "false"):
        raise OddsApiError(422, code, f"Invalid {name} parameter. Valid values are true or false")
    return value == "true"


def _formats(request: Request) -> tuple[str, str]:
    odds_format = request.query_params.get("oddsFormat", "decimal")
    if odds_format not in ("decimal", "american"):
        raise OddsApiError(
            422, "INVALID_ODDS_FORMAT", "Invalid oddsFormat. Valid values are decimal or american"
        )
    date_format = request.query_params.get("dateFormat", "iso")
    if date_format not in ("iso", "unix"):
        raise OddsApiError(422, "INVALID_DATE_FORMAT", "Invalid dateFormat. Valid values are iso or unix")
    for name, code in (
        ("includeLinks", "INVALID_INCLUDE_LINKS"),
        ("includeSids", "INVALID_INCLUDE_SIDS"),
        ("includeBetLimits", "INVALID_INCLUDE_BET_LIMITS"),
        ("includeMultipliers", "INVALID_INCLUDE_MULTIPLIERS"),
    ):
        _bool_param(request, name, code)
    return odds_format, date_format


def _event_ids(request: Request) -> set[str] | None:
    raw = request.query_params.get("eventIds")
    if raw is None:
        return None
    ids = [part.strip() for part in raw.split(",") if part.strip()]
    if not ids or any(not _EVENT_ID.match(i) for i in ids):
        raise OddsApiError(422, "INVALID_EVENT_IDS", "Invalid eventIds. Event ids are 32 characters")
    return set(ids)


def _commence_range(request: Request) -> tuple[datetime | None, datetime | None]:
    out: list[datetime | None] = []
    for name, code in (("commenceTimeFrom", "INVALID_COMMENCE_TIME_FROM"),
                       ("commenceTimeTo", "INVALID_COMMENCE_TIME_TO")):  # fmt: skip
        raw = request.query_params.get(name)
        if raw is None:
            out.append(None)
            continue
        value = parse_iso(raw) if _ISO_SECONDS.match(raw) else None
        if value is None:
            raise OddsApiError(422, code, f"Invalid {name}. Use ISO 8601 format, e.g. 2024-04-30T00:00:00Z")
        out.append(value)
    start, end = out
    if start is not None and end is not None and end <= start:
        raise OddsApiError(
            422, "INVALID_COMMENCE_TIME_RANGE", "commenceTimeTo must be later than commenceTimeFrom"
        )
    return start, end


def _books_and_regions(request: Request) -> tuple[set[str] | None, set[str] | None, int]:
    """(bookmaker keys or None, regions or None, region count for the cost)."""
    raw_books = request.query_params.get("bookmakers")
    if raw_books is not None:
        books = {b.strip() for b in raw_books.split(",") if b.strip()}
        if not books:
            raise OddsApiError(422, "INVALID_BOOKMAKERS", "Invalid bookmakers parameter")
        return books, None, math.ceil(len(books) / 10)
    raw_regions = request.query_params.get("regions")
    if not raw_regions:
        raise OddsApiError(
            422, "MISSING_REGION", "Missing regions parameter. Valid regions are us, us2, uk, au, eu"
        )
    regions = {r.strip() for r in raw_regions.split(",") if r.strip()}
    if not regions or not regions <= set(REGIONS):
        raise OddsApiError(
            422, "INVALID_REGION", f"Invalid regions: {raw_regions}. Valid regions are us, us2, uk, au, eu"
        )
    return None, regions, len(regions)


def _markets(request: Request, *, featured_only: bool) -> list[str]:
    raw = request.query_params.get("markets", "h2h")
    markets = [m.strip() for m in raw.split(",") if m.strip()]
    if not markets:
        raise OddsApiError(422, "MISSING_MARKET", "Missing markets parameter")
    if featured_only:
        bad = [m for m in markets if m not in FEATURED_MARKETS]
        if bad:
            raise OddsApiError(
                422, "INVALID_MARKET", f"Markets not supported by this endpoint: {','.join(bad)}"
            )
    else:
        bad = [m for m in markets if m not in FEATURED_MARKETS and not _MARKET_KEY.match(m)]
        if bad:
            raise OddsApiError(422, "INVALID_MARKET", f"Invalid markets: {','.join(bad)}")
    return list(dict.fromkeys(markets))


def _historical_date(request: Request) -> datetime:
    raw = request.query_params.get("date")
    if not raw:
        raise OddsApiError(422, "MISSING_HISTORICAL_TIMESTAMP", "Missing date parameter (ISO 8601)")
    value = parse_iso(raw)
    if value is None:
        raise OddsApiError(
            422, "INVALID_HISTORICAL_TIMESTAMP", f"Invalid date parameter: {raw}. Use ISO 8601"
        )
    return value


def _time_value(text: Any, date_format: str) -> Any:
    if date_format == "unix" and isinstance(text, str):
        parsed = parse_iso(text)
        return int(parsed.timestamp()) if parsed else text
    return text


def _shape_event(
    event: dict[str, Any],
    *,
    markets: list[str] | None,
    books: set[str] | None,
    regions: set[str] | None,
    state: ReplayState,
    odds_format: str,
    date_format: str,
    bookmaker_last_update: bool = True,
) -> dict[str, Any]:
    """Filter an internal event (decimal prices) to what the request asked for, in its formats."""
    out = {k: v for k, v in event.items() if k != "bookmakers"}
    out["commence_time"] = _time_value(out.get("commence_time"), date_format)
    if "bookmakers" not in event:
        return out
    shaped = []
    for book in event["bookmakers"]:
        key = book.get("key", "")
        if books is not None and key not in books:
            continue
        if regions is not None:
            region = state.source.region_of(key)
            if region is not None and region not in regions:
                continue
        book_markets = []
        for market in book.get("markets", []):
            if markets is not None and market.get("key") not in markets:
                continue
            m = dict(market)
            if "last_update" in m:
                m["last_update"] = _time_value(m["last_update"], date_format)
            outcomes = []
            for outcome in market.get("outcomes", []):
                o = dict(outcome)
                if odds_format == "american" and isinstance(o.get("price"), int | float):
                    o["price"] = decimal_to_american(float(o["price"]))
                outcomes.append(o)
            m["outcomes"] = outcomes
            book_markets.append(m)
        if not book_markets:
            continue
        b = {k: v for k, v in book.items() if k != "markets"}
        if bookmaker_last_update and "last_update" in b:
            b["last_update"] = _time_value(b["last_update"], date_format)
        else:
            b.pop("last_update", None)
        b["markets"] = book_markets
        shaped.append(b)
    out["bookmakers"] = shaped
    return out


def _filter_events(
    events: list[dict[str, Any]], ids: set[str] | None, start: datetime | None, end: datetime | None
) -> list[dict[str, Any]]:
    out = []
    for event in events:
        if ids is not None and event.get("id") not in ids:
            continue
        commence = parse_iso(str(event.get("commence_time", "")))
        if commence is not None:
            if start is not None and commence < start:
                continue
            if end is not None and commence > end:
                continue
        out.append(event)
    return out


def _wrap(snapshot: HistoricalSnapshot, data: Any, date_format: str) -> dict[str, Any]:
    def stamp(value: datetime | None) -> Any:
        return _time_value(iso_z(value), date_format) if value is not None else None

    return {
        "timestamp": stamp(snapshot.timestamp),
        "previous_timestamp": stamp(snapshot.previous_timestamp),
        "next_timestamp": stamp(snapshot.next_timestamp),
        "data": data,
    }


def _nba_only(sport: str) -> bool:
    return sport in ("basketball_nba", "upcoming")


# ------------------------------------------------------------------------------------------------------
# routes
# ------------------------------------------------------------------------------------------------------


@router.get("/sports")
async def sports(request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    show_all = _bool_param(request, "all", "INVALID_ALL_SPORTS_PARAM")
    data = [s for s in SPORTS if show_all or s["active"]]
    return _charge(state, "sports", 0, data)


@router.get("/sports/{sport}/events")
async def events(sport: str, request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    _check_sport(sport)
    _, date_format = _formats(request)
    ids = _event_ids(request)
    start, end = _commence_range(request)
    rows = _filter_events(state.source.events(state.now()), ids, start, end) if _nba_only(sport) else []
    data = [{**e, "commence_time": _time_value(e.get("commence_time"), date_format)} for e in rows]
    return _charge(state, "events", 0, data)


@router.get("/sports/{sport}/odds")
async def odds(sport: str, request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    _check_sport(sport)
    books, regions, region_count = _books_and_regions(request)
    markets = _markets(request, featured_only=True)
    odds_format, date_format = _formats(request)
    ids = _event_ids(request)
    start, end = _commence_range(request)
    rows = _filter_events(state.source.odds(state.now()), ids, start, end) if _nba_only(sport) else []
    data = [
        _shape_event(e, markets=markets, books=books, regions=regions, state=state,
                     odds_format=odds_format, date_format=date_format)
        for e in rows
    ]  # fmt: skip
    cost = len(markets) * region_count if data else 0
    return _charge(state, "odds", cost, data)


@router.get("/sports/{sport}/scores")
async def scores(sport: str, request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    _check_sport(sport)
    _, date_format = _formats(request)
    raw = request.query_params.get("daysFrom")
    days_from = None
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= 3:
            raise OddsApiError(
                422, "INVALID_SCORES_DAYS_FROM", "Invalid daysFrom parameter. Valid values are 1 to 3"
            )
        days_from = int(raw)
    ids = _event_ids(request)
    rows = state.source.scores(state.now(), days_from) if _nba_only(sport) else []
    rows = _filter_events(rows, ids, None, None)
    data = [
        {**r, "commence_time": _time_value(r.get("commence_time"), date_format),
         "last_update": _time_value(r.get("last_update"), date_format)}
        for r in rows
    ]  # fmt: skip
    return _charge(state, "scores", 2 if days_from else 1, data)


@router.get("/sports/{sport}/events/{event_id}/odds")
async def event_odds(sport: str, event_id: str, request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    _check_sport(sport)
    if not _EVENT_ID.match(event_id):
        raise OddsApiError(422, "INVALID_EVENT_ID", "Invalid event id. Event ids are 32 characters")
    books, regions, region_count = _books_and_regions(request)
    markets = _markets(request, featured_only=False)
    odds_format, date_format = _formats(request)
    found = [e for e in state.source.odds(state.now()) if e.get("id") == event_id] if _nba_only(sport) else []
    if not found:
        raise OddsApiError(
            404, "EVENT_NOT_FOUND", "Event not found. The event may have expired or the id is invalid"
        )
    data = _shape_event(found[0], markets=markets, books=books, regions=regions, state=state,
                        odds_format=odds_format, date_format=date_format, bookmaker_last_update=False)  # fmt: skip
    returned = {m["key"] for b in data["bookmakers"] for m in b["markets"]}
    return _charge(state, "event_odds", len(returned) * region_count, data)


@router.get("/historical/sports/{sport}/odds")
async def historical_odds(sport: str, request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    _check_sport(sport)
    date = _historical_date(request)
    books, regions, region_count = _books_and_regions(request)
    markets = _markets(request, featured_only=True)
    odds_format, date_format = _formats(request)
    ids = _event_ids(request)
    start, end = _commence_range(request)
    snap = state.source.historical_odds(date, state.now()) if _nba_only(sport) else None
    if snap is None:
        return _charge(state, "historical_odds", 0, {"timestamp": None, "previous_timestamp": None,
                                                     "next_timestamp": None, "data": []})  # fmt: skip
    rows = _filter_events(snap.data, ids, start, end)
    data = [
        _shape_event(e, markets=markets, books=books, regions=regions, state=state,
                     odds_format=odds_format, date_format=date_format)
        for e in rows
    ]  # fmt: skip
    cost = 10 * len(markets) * region_count if data else 0
    return _charge(state, "historical_odds", cost, _wrap(snap, data, date_format))


@router.get("/historical/sports/{sport}/events")
async def historical_events(sport: str, request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    _check_sport(sport)
    date = _historical_date(request)
    _, date_format = _formats(request)
    ids = _event_ids(request)
    start, end = _commence_range(request)
    snap = state.source.historical_events(date, state.now()) if _nba_only(sport) else None
    if snap is None:
        return _charge(state, "historical_events", 0, {"timestamp": None, "previous_timestamp": None,
                                                       "next_timestamp": None, "data": []})  # fmt: skip
    rows = _filter_events(snap.data, ids, start, end)
    data = [{**e, "commence_time": _time_value(e.get("commence_time"), date_format)} for e in rows]
    return _charge(state, "historical_events", 1 if data else 0, _wrap(snap, data, date_format))


@router.get("/historical/sports/{sport}/events/{event_id}/odds")
async def historical_event_odds(sport: str, event_id: str, request: Request, state: StateDep) -> JSONResponse:
    _check_key(state, request)
    _check_sport(sport)
    if not _EVENT_ID.match(event_id):
        raise OddsApiError(422, "INVALID_EVENT_ID", "Invalid event id. Event ids are 32 characters")
    date = _historical_date(request)
    books, regions, region_count = _books_and_regions(request)
    markets = _markets(request, featured_only=False)
    odds_format, date_format = _formats(request)
    snap = state.source.historical_odds(date, state.now()) if _nba_only(sport) else None
    found = [e for e in snap.data if e.get("id") == event_id] if snap else []
    if snap is None or not found:
        raise OddsApiError(404, "EVENT_NOT_FOUND", "Event not found at this timestamp")
    data = _shape_event(found[0], markets=markets, books=books, regions=regions, state=state,
                        odds_format=odds_format, date_format=date_format, bookmaker_last_update=False)  # fmt: skip
    returned = {m["key"] for b in data["bookmakers"] for m in b["markets"]}
    return _charge(
        state, "historical_event_odds", 10 * len(returned) * region_count, _wrap(snap, data, date_format)
    )
