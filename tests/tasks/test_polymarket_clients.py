"""Gamma and CLOB clients against httpx.MockTransport fakes: keyset paging, checks, batching, 429 backoff."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from odds_models.errors import PayloadError, RateLimited
from tasks.http import RetryPolicy
from tasks.polymarket_clob import ClobClient, DataApiHistoryRoute, make_clob_client
from tasks.polymarket_gamma import GammaClient, make_gamma_client

TOKEN_A = "1" * 77
TOKEN_B = "2" * 77
FAST = RetryPolicy(max_attempts=4, initial_wait_seconds=0.0, max_wait_seconds=0.01)


def _event(event_id: str, series: str = "10345", closed: bool = False) -> dict:
    return {
        "id": event_id,
        "slug": f"nba-bos-nyk-2025-11-{event_id}",
        "title": "Celtics vs. Knicks",
        "series": [{"id": series}],
        "closed": closed,
        "markets": [],
    }


async def test_gamma_pages_keyset_with_after_cursor_and_explicit_closed() -> None:
    seen: list[httpx.QueryParams] = []
    pages = {None: (["10", "11"], "c1"), "c1": (["12"], "c2"), "c2": (["13"], None)}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/events/keyset"
        seen.append(request.url.params)
        ids, cursor = pages[request.url.params.get("after_cursor")]
        body: dict = {"events": [_event(i) for i in ids]}
        if cursor:
            body["next_cursor"] = cursor
        return httpx.Response(200, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        gamma = GammaClient(base_url="https://gamma.test", client=http, retry=FAST)
        events = await gamma.iter_events(closed=False, series_id="10345", tag_id="100639")
    assert [e["id"] for e in events] == ["10", "11", "12", "13"]
    assert all(p["closed"] == "false" and p["series_id"] == "10345" and p["tag_id"] == "100639" for p in seen)
    assert "offset" not in seen[0]
    assert "cursor" not in seen[1]
    assert seen[1]["after_cursor"] == "c1"
    assert len(gamma.calls) == 3
    assert all(c.api == "gamma" for c in gamma.calls)


@pytest.mark.parametrize("event", [_event("1", series="2"), _event("1", closed=True)])
async def test_gamma_refuses_events_that_were_not_asked_for(event: dict) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"events": [event]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        gamma = GammaClient(base_url="https://gamma.test", client=http, retry=FAST)
        with pytest.raises(PayloadError):
            await gamma.events_page(closed=False, series_id="10345")


async def test_gamma_markets_by_condition_id_detects_an_ignored_filter() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params.get_list("condition_ids") == ["0xabc"]
        return httpx.Response(200, json={"markets": [{"id": "12", "conditionId": "0xe3b4"}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        gamma = GammaClient(base_url="https://gamma.test", client=http, retry=FAST)
        with pytest.raises(PayloadError, match="ignored the filter"):
            await gamma.markets(condition_ids=["0xabc"])


async def test_clob_prices_and_books_are_batched() -> None:
    calls: list[tuple[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append((request.url.path, body))
        if request.url.path == "/prices":
            tokens = {item["token_id"] for item in body}
            return httpx.Response(200, json={t: {"BUY": "0.40", "SELL": "0.42"} for t in tokens})
        books = [
            {
                "asset_id": item["token_id"],
                "bids": [{"price": "0.3", "size": "1"}, {"price": "0.4", "size": "2"}],
                "asks": [{"price": "0.5", "size": "1"}, {"price": "0.42", "size": "2"}],
            }
            for item in body
        ]
        return httpx.Response(200, json=books)

    tokens = [str(10**76 + i) for i in range(600)]
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        clob = ClobClient(base_url="https://clob.test", client=http, retry=FAST)
        quotes = await clob.prices(tokens)
        books = await clob.books(tokens)
    assert len(quotes) == 600
    assert quotes[tokens[0]].best_bid == 0.40
    assert quotes[tokens[0]].best_ask == 0.42
    assert [path for path, _ in calls] == ["/prices"] * 3 + ["/books"] * 2
    assert all(len(body) <= 500 for _, body in calls)
    assert books[tokens[5]].best_bid == 0.4
    assert books[tokens[5]].best_ask == 0.42


async def test_history_backs_off_on_429_and_5xx_then_succeeds() -> None:
    statuses = iter([429, 503, 200])
    seen: list[httpx.QueryParams] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.params)
        status = next(statuses)
        if status == 429:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "rate limited"})
        if status == 503:
            return httpx.Response(503, json={"error": "busy"})
        return httpx.Response(200, json={"history": [{"t": 1770394157, "p": 0.23}]})

    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        clob = ClobClient(base_url="https://clob.test", client=http, retry=FAST)
        points, _ = await clob.price_history(TOKEN_A, start, start + timedelta(days=15))
    assert len(points) == 1
    assert len(seen) == 3
    assert clob.calls[0].attempts == 3
    assert seen[0]["market"] == TOKEN_A
    assert seen[0]["fidelity"] == "1"
    assert int(seen[0]["endTs"]) - int(seen[0]["startTs"]) == 15 * 86400


async def test_history_gives_up_after_bounded_attempts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": "rate limited"})

    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        clob = ClobClient(base_url="https://clob.test", client=http, retry=FAST)
        with pytest.raises(RateLimited):
            await clob.price_history(TOKEN_A, start, start + timedelta(days=1))
    assert clob.calls[-1].attempts == FAST.max_attempts


async def test_history_window_longer_than_15_days_is_refused_before_calling() -> None:
    clob = ClobClient(
        base_url="https://clob.test",
        client=httpx.AsyncClient(transport=httpx.MockTransport(lambda r: pytest.fail("no call expected"))),
    )
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="15 days"):
        await clob.price_history(TOKEN_A, start, start + timedelta(days=15, seconds=1))


async def test_book_404_means_no_book() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"error": "No orderbook exists for the requested token id"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        clob = ClobClient(base_url="https://clob.test", client=http, retry=FAST)
        assert await clob.book(TOKEN_A) is None


async def test_data_api_route_is_swappable_and_pages() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.host == "data.test"
        assert request.url.path == "/v2/prices-history"
        assert request.url.params["token_id"] == TOKEN_B
        assert request.url.params["bucket_seconds"] == "60"
        if request.url.params.get("cursor") is None:
            return httpx.Response(200, json={"points": [{"t": 1770394157, "p": 0.2}], "next_cursor": "n1"})
        return httpx.Response(200, json={"points": [{"t": 1770394217, "p": 0.3}]})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        route = DataApiHistoryRoute("https://data.test", http)
        clob = ClobClient(base_url="https://clob.test", client=http, retry=FAST, history_route=route)
        start = datetime(2026, 2, 6, tzinfo=UTC)
        points, _ = await clob.price_history(TOKEN_B, start, start + timedelta(days=1))
    assert [p.p for p in points] == [0.2, 0.3]


def test_factories_read_base_urls_from_settings(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("POLYMARKET_GAMMA_URL", "http://127.0.0.1:9/gamma")
    settings_env.setenv("POLYMARKET_CLOB_URL", "http://127.0.0.1:9/clob/")
    settings_env.setenv("POLYMARKET_HISTORY_ROUTE", "data-api")
    assert make_gamma_client().base_url == "http://127.0.0.1:9/gamma"
    clob = make_clob_client()
    assert clob.base_url == "http://127.0.0.1:9/clob"
    assert isinstance(clob.history_route, DataApiHistoryRoute)


async def test_client_factory_routes_gamma_and_clob_and_is_undone(settings_env: pytest.MonkeyPatch) -> None:
    """One hook (`tasks.http.use_client_factory`) for every API: the client it builds is used and closed."""
    from tasks.http import http_client_for, use_client_factory

    settings_env.setenv("HTTP_MAX_ATTEMPTS", "2")
    built: list[httpx.AsyncClient] = []

    def factory(body: object) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200, json=body)))
        built.append(client)
        return client

    with (
        use_client_factory("gamma", lambda: factory({"events": []})),
        use_client_factory("clob", lambda: factory({TOKEN_A: {"BUY": "0.4", "SELL": "0.5"}})),
    ):
        gamma, clob = make_gamma_client(), make_clob_client()
        assert gamma.retry.max_attempts == clob.retry.max_attempts == 2  # RetryPolicy.from_settings
        assert (await gamma.events_page(closed=False)).items == []
        assert (await clob.prices([TOKEN_A]))[TOKEN_A].best_bid == 0.4
        await gamma.aclose()
        await clob.aclose()
    assert len(built) == 2
    assert all(c.is_closed for c in built)  # built by the hook, so owned and closed by the API client
    assert http_client_for("gamma") == (None, True)  # the block undid the hook
    explicit = httpx.AsyncClient()
    assert http_client_for("clob", explicit) == (explicit, False)  # an explicit client stays the caller's
    await explicit.aclose()
