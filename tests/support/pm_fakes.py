"""A fake CLOB (httpx.MockTransport handler) and DB seed helpers for the Polymarket integration tests.

Imported by the tests (through this folder's conftest) and by the crash-test subprocess (by path).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

MAX_SPAN = 15 * 86400


def token(n: int) -> str:
    return str(10**76 + n)


def price_at(token_id: str, t: int) -> float:
    return round(0.2 + 0.6 * ((t // 3600 + int(token_id[-3:])) % 100) / 100, 4)


class FakeClob:
    """History: one point every `step` seconds on the epoch grid, both window ends inclusive (so adjacent
    windows repeat their boundary point, as the real API does). 400 beyond 15 days; the first
    `rate_limit_first` history calls answer 429. Prices and books for any token; books sent worst-first."""

    def __init__(self, *, step: int = 3600, rate_limit_first: int = 0, delay: float = 0.0) -> None:
        self.step = step
        self.rate_limit_left = rate_limit_first
        self.delay = delay
        self.history_calls: list[tuple[str, int, int, int]] = []
        self.status_429 = 0
        self.bid, self.ask = 0.45, 0.47

    def expected(self, token_id: str, start: datetime, end: datetime) -> list[int]:
        lo, hi = int(start.timestamp()), int(end.timestamp())
        first = -(-lo // self.step) * self.step
        return list(range(first, hi + 1, self.step))

    async def handler(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            await asyncio.sleep(self.delay)
        path = request.url.path
        if path == "/prices-history":
            params = request.url.params
            if self.rate_limit_left > 0:
                self.rate_limit_left -= 1
                self.status_429 += 1
                return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "Too Many Requests"})
            tok, lo, hi = params["market"], int(params["startTs"]), int(params["endTs"])
            self.history_calls.append((tok, lo, hi, int(params.get("fidelity", "0"))))
            if hi - lo > MAX_SPAN:
                return httpx.Response(400, json={"error": "'startTs' and 'endTs' interval is too long"})
            first = -(-lo // self.step) * self.step
            history = [{"t": t, "p": price_at(tok, t)} for t in range(first, hi + 1, self.step)]
            return httpx.Response(200, json={"history": history})
        if path == "/prices":
            body = json.loads(request.content)
            return httpx.Response(
                200, json={i["token_id"]: {"BUY": str(self.bid), "SELL": str(self.ask)} for i in body}
            )
        if path == "/books":
            body = json.loads(request.content)
            return httpx.Response(200, json=[self.book(i["token_id"]) for i in body])
        if path == "/book":
            return httpx.Response(200, json=self.book(request.url.params["token_id"]))
        return httpx.Response(404, text="404 page not found")

    def book(self, token_id: str) -> dict[str, Any]:
        # the API's order: bids ascending, asks descending (best last)
        return {
            "market": "0x" + "b" * 64,
            "asset_id": token_id,
            "timestamp": "1768131333289",
            "hash": "h" + token_id[-6:],
            "bids": [
                {"price": "0.01", "size": "1000"},
                {"price": "0.44", "size": "50"},
                {"price": str(self.bid), "size": "20"},
            ],
            "asks": [
                {"price": "0.99", "size": "1000"},
                {"price": "0.50", "size": "40"},
                {"price": str(self.ask), "size": "10"},
            ],
            "tick_size": "0.01",
            "min_order_size": "5",
        }

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self.handler))


def gamma_event(
    event_id: str,
    slug: str,
    *,
    game_start: datetime,
    market_start: datetime,
    tokens: tuple[str, str],
    extra_markets: list[dict[str, Any]] | None = None,
    closed: bool = False,
) -> dict[str, Any]:
    """A Gamma event with a moneyline market (and optional extra markets), as the API would send it."""
    gst = game_start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")
    moneyline = {
        "id": f"{event_id}1",
        "question": "Celtics vs. Knicks",
        "conditionId": "0x" + event_id.rjust(64, "0"),
        "slug": slug,
        "outcomes": '["Celtics", "Knicks"]',
        "outcomePrices": '["0.45", "0.55"]',
        "clobTokenIds": json.dumps(list(tokens)),
        "sportsMarketType": "moneyline",
        "gameStartTime": gst,
        "startDate": market_start.isoformat().replace("+00:00", "Z"),
        "active": True,
        "closed": closed,
    }
    return {
        "id": event_id,
        "slug": slug,
        "ticker": slug,
        "title": "Celtics vs. Knicks",
        "series": [{"id": "10345"}],
        "startTime": game_start.isoformat().replace("+00:00", "Z"),
        "closed": closed,
        "markets": [moneyline, *(extra_markets or [])],
    }


def spread_market(market_id: str, slug: str, tokens: tuple[str, str]) -> dict[str, Any]:
    return {
        "id": market_id,
        "question": "Spread: Knicks (-4.5)",
        "slug": slug + "-spread-home-4pt5",
        "outcomes": '["Knicks", "Celtics"]',
        "clobTokenIds": json.dumps(list(tokens)),
        "sportsMarketType": "spreads",
        "line": 4.5,
        "closed": False,
    }


async def insert_sportsbook_event(event_id: str, home: str, away: str, commence: datetime) -> None:
    from sqlalchemy.dialects.postgresql import insert

    from odds_models.db import async_session_maker
    from odds_models.tables import Event

    async with async_session_maker() as session:
        await session.execute(
            insert(Event.__table__)
            .values(id=event_id, home_team=home, away_team=away, commence_time=commence)
            .on_conflict_do_nothing()
        )
        await session.commit()


def now_floor(delta: timedelta = timedelta(0)) -> datetime:
    return datetime(2026, 3, 1, 12, 0, tzinfo=UTC) + delta


def run_sync(coro: Any) -> Any:
    from odds_models.db import run_coro_blocking

    return run_coro_blocking(coro)
