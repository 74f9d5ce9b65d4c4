"""Polymarket CLOB client (prices, books, price history), market data only, no auth.

- `prices(tokens)`: one `POST /prices` per 250 tokens gives best bid (`BUY`) and best ask (`SELL`) of every
  token; `books(tokens)`: one `POST /books` per 500 tokens.
- `price_history(token, start, end)`: one window of at most 15 days (the API answers 400 beyond) at the
  finest fidelity (1 minute). The route is a strategy object (`ClobHistoryRoute` today,
  `DataApiHistoryRoute` for the announced successor `data-api.polymarket.com/v2/prices-history`), chosen by
  `POLYMARKET_HISTORY_ROUTE`.

Retries (429 honouring Retry-After, 5xx, transport) live in `tasks.http.ApiClient`; this module adds none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Protocol

import httpx

from odds_analytics.polymarket.clob import OrderBook, TokenQuote, parse_books, parse_price_quotes
from odds_analytics.polymarket.history import HISTORY_WINDOW, HistoryPoint, parse_price_history
from odds_analytics.polymarket.parsing import PolymarketFinding
from odds_models.errors import NotFound, PayloadError
from odds_models.settings import get_settings
from tasks.http import ApiClient, CallRecord, client_options

__all__ = [
    "ClobClient",
    "ClobHistoryRoute",
    "DataApiHistoryRoute",
    "HistoryRoute",
    "make_clob_client",
]

FINEST_FIDELITY_MINUTES = 1
BATCH_BOOKS = 500
BATCH_PRICE_TOKENS = 250  # two items (BUY, SELL) per token, 500 items per request


class HistoryRoute(Protocol):
    """How one window of a token's price history is requested and read."""

    async def fetch(
        self, client: ApiClient, token_id: str, start: datetime, end: datetime
    ) -> tuple[list[HistoryPoint], list[PolymarketFinding]]: ...


class ClobHistoryRoute:
    """`GET {clob}/prices-history?market=<token>&startTs&endTs&fidelity=1` (t seconds, p float)."""

    path = "/prices-history"

    async def fetch(
        self, client: ApiClient, token_id: str, start: datetime, end: datetime
    ) -> tuple[list[HistoryPoint], list[PolymarketFinding]]:
        params = {
            "market": token_id,
            "startTs": int(start.timestamp()),
            "endTs": int(end.timestamp()),
            "fidelity": FINEST_FIDELITY_MINUTES,
        }
        response = await client.request("GET", self.path, params=params)
        return parse_price_history(response.data, token_id=token_id)


class DataApiHistoryRoute:
    """The successor: `GET {data-api}/v2/prices-history?token_id&start&end&bucket_seconds=60`, cursor paged."""

    path = "/v2/prices-history"

    def __init__(self, base_url: str, http: httpx.AsyncClient | None = None) -> None:
        self.api = ApiClient(base_url=base_url, client=http)
        self.api.api_name = "data-api"

    async def fetch(
        self, client: ApiClient, token_id: str, start: datetime, end: datetime
    ) -> tuple[list[HistoryPoint], list[PolymarketFinding]]:
        points: list[HistoryPoint] = []
        findings: list[PolymarketFinding] = []
        cursor: str | None = None
        for _ in range(1000):
            params = {
                "token_id": token_id,
                "start": int(start.timestamp()),
                "end": int(end.timestamp()) + 1,
                "bucket_seconds": 60,
                "limit": 10000,
                "cursor": cursor,
            }
            self.api.on_call = client.on_call
            data = (await self.api.request("GET", self.path, params=params)).data
            if isinstance(data, dict) and "history" not in data:
                # the successor names its list `points` (fields t/p as on the CLOB route)
                data = {**data, "history": data.get("points", data.get("data"))}
            page_points, page_findings = parse_price_history(data, token_id=token_id)
            points.extend(page_points)
            findings.extend(page_findings)
            cursor = data.get("next_cursor") if isinstance(data, dict) else None
            if not cursor:
                break
        return points, findings


class ClobClient(ApiClient):
    """Market-data calls of the CLOB."""

    api_name = "clob"

    def __init__(self, *, history_route: HistoryRoute | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.history_route: HistoryRoute = history_route or ClobHistoryRoute()

    async def aclose(self) -> None:
        await super().aclose()
        route_api = getattr(self.history_route, "api", None)
        if isinstance(route_api, ApiClient):
            await route_api.aclose()

    async def book(self, token_id: str) -> OrderBook | None:
        """`GET /book`; None when the market has no book (404: closed or resolved)."""
        try:
            data = (await self.request("GET", "/book", params={"token_id": token_id})).data
        except NotFound:
            return None
        books = parse_books(data)
        if books[0].token_id != token_id:
            raise PayloadError(f"clob /book: asked for {token_id[:12]}…, got {books[0].token_id[:12]}…")
        return books[0]

    async def books(self, token_ids: Iterable[str]) -> dict[str, OrderBook]:
        """`POST /books` in batches of 500: books by token id (tokens without a book are absent)."""
        tokens = list(dict.fromkeys(token_ids))
        out: dict[str, OrderBook] = {}
        for start in range(0, len(tokens), BATCH_BOOKS):
            chunk = tokens[start : start + BATCH_BOOKS]
            data = (await self.request("POST", "/books", json_body=[{"token_id": t} for t in chunk])).data
            for book in parse_books(data if data is not None else []):
                if book.token_id not in chunk:
                    raise PayloadError(
                        f"clob /books: answered token {book.token_id[:12]}… that was not asked"
                    )
                out[book.token_id] = book
        return out

    async def prices(self, token_ids: Iterable[str]) -> dict[str, TokenQuote]:
        """`POST /prices` in batches: best bid (BUY) and best ask (SELL), mid and spread per token."""
        tokens = list(dict.fromkeys(token_ids))
        out: dict[str, TokenQuote] = {}
        for start in range(0, len(tokens), BATCH_PRICE_TOKENS):
            chunk = tokens[start : start + BATCH_PRICE_TOKENS]
            body = [{"token_id": t, "side": side} for t in chunk for side in ("BUY", "SELL")]
            data = (await self.request("POST", "/prices", json_body=body)).data
            quotes = parse_price_quotes(data if data is not None else {})
            strays = set(quotes) - set(chunk)
            if strays:
                raise PayloadError(f"clob /prices: answered {len(strays)} tokens that were not asked")
            out.update(quotes)
        return out

    async def price_history(
        self, token_id: str, start: datetime, end: datetime
    ) -> tuple[list[HistoryPoint], list[PolymarketFinding]]:
        """One window (≤ 15 days) of a token's history at 1-minute fidelity, both ends inclusive."""
        if end < start:
            raise ValueError("end before start")
        if end - start > HISTORY_WINDOW:
            raise ValueError(f"a prices-history window is at most 15 days, got {end - start}")
        return await self.history_route.fetch(self, token_id, start, end)


def make_clob_client(
    client: httpx.AsyncClient | None = None, *, on_call: Callable[[CallRecord], None] | None = None
) -> ClobClient:
    """A CLOB client on `POLYMARKET_CLOB_URL`, history route from `POLYMARKET_HISTORY_ROUTE` (transport:
    `client`, else `use_client_factory("clob", …)`)."""
    settings = get_settings()
    options = client_options("clob", settings, client, on_call)
    route: HistoryRoute = ClobHistoryRoute()
    if getattr(settings, "polymarket_history_route", "clob") == "data-api":
        route = DataApiHistoryRoute(settings.polymarket_data_api_url, options["client"])
    return ClobClient(base_url=settings.polymarket_clob_url, history_route=route, **options)
