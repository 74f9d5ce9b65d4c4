"""Polymarket CLOB market data: book(s), price(s), midpoint(s), spread(s), last trade price and
prices-history, with the API's string encodings, `{"error": ...}` bodies, books in the CLOB's order (bids
ascending, asks descending: best last), 404 for closed markets, and the prices-history rules (token id as
`market`, startTs/endTs in seconds capped at 15 days, interval windows ending now, minimum fidelity for
`1w`/`1m`, resolved markets empty under `interval=max` unless fidelity >= 720)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from replay.deps import ReplayState, StateDep

__all__ = ["router"]

router = APIRouter(prefix="/clob")

NO_BOOK = "No orderbook exists for the requested token id"
MAX_BATCH = 500
MAX_RANGE = timedelta(days=15)
INTERVALS = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "1d": timedelta(days=1),
             "1w": timedelta(weeks=1), "1m": timedelta(days=30)}  # fmt: skip
MIN_FIDELITY = {"1w": 5, "1m": 10}


def _err(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _valid_token(token: str | None) -> bool:
    return bool(token) and token.isdigit()  # type: ignore[union-attr]


def _book_or_error(state: ReplayState, token: str | None) -> dict[str, Any] | JSONResponse:
    if not _valid_token(token):
        return _err(400, "Invalid token id")
    book = state.source.book(str(token), state.now())
    if book is None:
        return _err(404, NO_BOOK)
    return book


def _fmt(value: float) -> str:
    return f"{value:g}"


async def _json_list(request: Request) -> list[dict[str, Any]] | JSONResponse:
    try:
        body = await request.json()
    except ValueError:
        return _err(400, "Invalid payload")
    if not isinstance(body, list) or not all(isinstance(i, dict) for i in body):
        return _err(400, "Invalid payload")
    if len(body) > MAX_BATCH:
        return _err(400, f"too many items (max {MAX_BATCH})")
    return body


@router.get("/book")
async def book(request: Request, state: StateDep) -> JSONResponse:
    state.calls["clob"] += 1
    found = _book_or_error(state, request.query_params.get("token_id"))
    return found if isinstance(found, JSONResponse) else JSONResponse(found)


@router.post("/books")
async def books(request: Request, state: StateDep) -> JSONResponse:
    state.calls["clob"] += 1
    items = await _json_list(request)
    if isinstance(items, JSONResponse):
        return items
    out = []
    for item in items:
        token = str(item.get("token_id", ""))
        if not _valid_token(token):
            return _err(400, "Invalid token id")
        found = state.source.book(token, state.now())
        if found is not None:
            out.append(found)
    return JSONResponse(out)


def _side_price(state: ReplayState, token: str, side: str) -> str | None:
    quote = state.source.quote(token, state.now())
    if quote is None:
        return None
    # BUY answers the best bid and SELL the best ask: the price the *other* side would hit
    return _fmt(quote.bid if side == "BUY" else quote.ask)


@router.get("/price")
async def price(request: Request, state: StateDep) -> JSONResponse:
    state.calls["clob"] += 1
    token = request.query_params.get("token_id")
    side = (request.query_params.get("side") or "").upper()
    if not _valid_token(token):
        return _err(400, "Invalid token id")
    if side not in ("BUY", "SELL"):
        return _err(400, "Invalid side")
    value = _side_price(state, str(token), side)
    return _err(404, NO_BOOK) if value is None else JSONResponse({"price": value})


@router.post("/prices")
async def prices(request: Request, state: StateDep) -> JSONResponse:
    state.calls["clob"] += 1
    items = await _json_list(request)
    if isinstance(items, JSONResponse):
        return items
    out: dict[str, dict[str, str]] = {}
    for item in items:
        token, side = str(item.get("token_id", "")), str(item.get("side", "")).upper()
        if not _valid_token(token):
            return _err(400, "Invalid token id")
        if side not in ("BUY", "SELL"):
            return _err(400, "Invalid side")
        value = _side_price(state, token, side)
        if value is not None:
            out.setdefault(token, {})[side] = value
    return JSONResponse(out)


def _mid(quote: Any) -> str:
    return _fmt(quote.mid)


def _spread(quote: Any) -> str:
    return _fmt(round(quote.ask - quote.bid, 4))


def _one_quote(request: Request, state: ReplayState, key: str, value: Callable[[Any], str]) -> JSONResponse:
    """GET /midpoint, /spread: `{key: value}` of one token; 400 on a bad id, 404 with no book."""
    state.calls["clob"] += 1
    token = request.query_params.get("token_id")
    if not _valid_token(token):
        return _err(400, "Invalid token id")
    quote = state.source.quote(str(token), state.now())
    return _err(404, NO_BOOK) if quote is None else JSONResponse({key: value(quote)})


async def _many_quotes(
    request: Request, state: ReplayState, value: Callable[[Any], str], *, reject_bad_ids: bool
) -> JSONResponse:
    """POST /midpoints, /spreads: `{token: value}` for every token with a book."""
    state.calls["clob"] += 1
    items = await _json_list(request)
    if isinstance(items, JSONResponse):
        return items
    out: dict[str, str] = {}
    for item in items:
        token = str(item.get("token_id", ""))
        if not _valid_token(token):
            if reject_bad_ids:
                return _err(400, "Invalid token id")
            continue
        quote = state.source.quote(token, state.now())
        if quote is not None:
            out[token] = value(quote)
    return JSONResponse(out)


@router.get("/midpoint")
async def midpoint(request: Request, state: StateDep) -> JSONResponse:
    return _one_quote(request, state, "mid", _mid)


@router.post("/midpoints")
async def midpoints(request: Request, state: StateDep) -> JSONResponse:
    return await _many_quotes(request, state, _mid, reject_bad_ids=True)


@router.get("/spread")
async def spread(request: Request, state: StateDep) -> JSONResponse:
    return _one_quote(request, state, "spread", _spread)


@router.post("/spreads")
async def spreads(request: Request, state: StateDep) -> JSONResponse:
    return await _many_quotes(request, state, _spread, reject_bad_ids=False)


@router.get("/last-trade-price")
async def last_trade_price(request: Request, state: StateDep) -> JSONResponse:
    state.calls["clob"] += 1
    token = request.query_params.get("token_id")
    if not _valid_token(token):
        return _err(400, "Invalid token id")
    quote = state.source.quote(str(token), state.now())
    if quote is None:
        return _err(404, NO_BOOK)
    return JSONResponse({"price": _fmt(quote.last), "side": "BUY" if quote.last <= quote.bid else "SELL"})


def _history(
    state: ReplayState,
    token: str,
    *,
    start_ts: str | None,
    end_ts: str | None,
    interval: str | None,
    fidelity_raw: str | None,
) -> dict[str, Any] | JSONResponse:
    now = state.now()
    try:
        fidelity = int(fidelity_raw) if fidelity_raw is not None else 1
    except ValueError:
        return _err(400, "invalid 'fidelity'")
    if fidelity < 1:
        return _err(400, "invalid 'fidelity'")
    if interval is not None and (start_ts is not None or end_ts is not None):
        return _err(400, "'interval' and 'startTs'/'endTs' are mutually exclusive")
    if interval is not None:
        if interval not in (*INTERVALS, "max", "all"):
            return _err(400, f"invalid 'interval' {interval!r}")
        minimum = MIN_FIDELITY.get(interval)
        if minimum is not None and fidelity < minimum:
            return _err(400, f"minimum 'fidelity' for '{interval}' range is {minimum}")
        if interval in ("max", "all"):
            if state.source.market_closed(token, now) and fidelity < 720:
                return {"history": []}
            start = datetime(2020, 1, 1, tzinfo=UTC)
        else:
            start = now - INTERVALS[interval]
        end = now
    else:
        try:
            start = datetime.fromtimestamp(int(start_ts), UTC) if start_ts is not None else None
            end = datetime.fromtimestamp(int(end_ts), UTC) if end_ts is not None else now
        except ValueError:
            return _err(400, "invalid 'startTs' or 'endTs'")
        if start is None:
            start = end - timedelta(days=1)
        elif end_ts is not None and end - start > MAX_RANGE:
            return _err(400, "'startTs' and 'endTs' interval is too long")
    return {"history": state.source.history(token, start, end, fidelity, now)}


@router.get("/prices-history")
async def prices_history(request: Request, state: StateDep) -> JSONResponse:
    state.calls["clob"] += 1
    q = request.query_params
    token = q.get("market")
    if not token:
        return _err(400, "'market' is required")
    if not token.isdigit():
        return _err(400, "Invalid token id")
    result = _history(
        state, token, start_ts=q.get("startTs"), end_ts=q.get("endTs"), interval=q.get("interval"),
        fidelity_raw=q.get("fidelity"),
    )  # fmt: skip
    return result if isinstance(result, JSONResponse) else JSONResponse(result)


@router.post("/batch-prices-history")
async def batch_prices_history(request: Request, state: StateDep) -> JSONResponse:
    state.calls["clob"] += 1
    try:
        body = await request.json()
    except ValueError:
        return _err(400, "Invalid payload")
    markets = body.get("markets") if isinstance(body, dict) else None
    if not isinstance(markets, list) or not markets or len(markets) > 20:
        return _err(400, "'markets' must list 1 to 20 token ids")
    out: dict[str, Any] = {}
    for token in markets:
        result = _history(
            state, str(token),
            start_ts=None if body.get("start_ts") is None else str(body["start_ts"]),
            end_ts=None if body.get("end_ts") is None else str(body["end_ts"]),
            interval=body.get("interval"),
            fidelity_raw=None if body.get("fidelity") is None else str(body["fidelity"]),
        )  # fmt: skip
        if isinstance(result, JSONResponse):
            return result
        out[str(token)] = result["history"]
    return JSONResponse({"history": out})
