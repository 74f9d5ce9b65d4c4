"""The replay routes speak the upstream contracts: status codes, error bodies, quota headers, costs,
keyset pagination, JSON-string fields, CLOB book order and prices-history rules."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from odds_models.clock import FrozenClock
from replay.app import DEMO_API_KEY, create_app
from replay.faults import FaultPlan
from replay.simulate import SimulatedSource

KEY = {"apiKey": DEMO_API_KEY}
ODDS = "/oddsapi/v4/sports/basketball_nba/odds"


@pytest.fixture(scope="module")
def source() -> SimulatedSource:
    return SimulatedSource(seed=4, days=2)


@pytest.fixture
def clock(source: SimulatedSource) -> FrozenClock:
    return FrozenClock(source.default_start() + timedelta(hours=2))


def _client(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://replay")  # type: ignore[arg-type]


@pytest.fixture
async def api(source: SimulatedSource, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(create_app(source, clock=clock, quota_total=500, control_routes=True)) as client:
        yield client


async def test_odds_cost_and_quota_headers(api: httpx.AsyncClient) -> None:
    r = await api.get(ODDS, params={**KEY, "regions": "us,us2", "markets": "h2h,spreads,totals"})
    assert r.status_code == 200
    assert r.headers["x-requests-last"] == "6"
    assert r.headers["x-requests-used"] == "6"
    assert r.headers["x-requests-remaining"] == "494"
    assert r.headers["x-replay-source"] == "simulated"
    books = {b["key"] for e in r.json() for b in e["bookmakers"]}
    assert "espnbet" in books
    assert "pinnacle" not in books
    r = await api.get(
        ODDS, params={**KEY, "bookmakers": ",".join(f"b{i}" for i in range(11)) + ",draftkings"}
    )
    assert r.headers["x-requests-last"] == "2"  # 12 bookmakers count as 2 regions (h2h only)
    assert {b["key"] for e in r.json() for b in e["bookmakers"]} == {"draftkings"}
    r = await api.get(f"{ODDS}", params={**KEY, "regions": "us", "eventIds": "0" * 32})
    assert r.json() == []
    assert r.headers["x-requests-last"] == "0"  # empty answers are free


async def test_free_endpoints_and_american_unix_formats(api: httpx.AsyncClient) -> None:
    r = await api.get("/oddsapi/v4/sports", params=KEY)
    assert r.headers["x-requests-last"] == "0"
    assert any(s["key"] == "basketball_nba" for s in r.json())
    r = await api.get("/oddsapi/v4/sports/basketball_nba/events", params={**KEY, "dateFormat": "unix"})
    assert r.headers["x-requests-last"] == "0"
    assert all(isinstance(e["commence_time"], int) for e in r.json())
    r = await api.get(ODDS, params={**KEY, "regions": "us", "oddsFormat": "american", "markets": "spreads"})
    prices = [
        o["price"] for e in r.json() for b in e["bookmakers"] for m in b["markets"] for o in m["outcomes"]
    ]
    assert prices
    assert all(isinstance(p, int) and abs(p) >= 100 for p in prices)
    assert {m["key"] for e in r.json() for b in e["bookmakers"] for m in b["markets"]} == {"spreads"}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({}, 401, "MISSING_KEY"),
        ({"apiKey": "wrong"}, 401, "INVALID_KEY"),
        ({**KEY}, 422, "MISSING_REGION"),
        ({**KEY, "regions": "mars"}, 422, "INVALID_REGION"),
        ({**KEY, "regions": "us", "markets": "player_points"}, 422, "INVALID_MARKET"),
        ({**KEY, "regions": "us", "oddsFormat": "fractional"}, 422, "INVALID_ODDS_FORMAT"),
        ({**KEY, "regions": "us", "eventIds": "abc"}, 422, "INVALID_EVENT_IDS"),
        ({**KEY, "regions": "us", "commenceTimeFrom": "2026-01-01"}, 422, "INVALID_COMMENCE_TIME_FROM"),
        ({**KEY, "regions": "us", "commenceTimeFrom": "2026-01-02T00:00:00Z",
          "commenceTimeTo": "2026-01-01T00:00:00Z"}, 422, "INVALID_COMMENCE_TIME_RANGE"),
    ],
)  # fmt: skip
async def test_odds_errors_use_the_api_body(
    api: httpx.AsyncClient, params: dict, status: int, code: str
) -> None:
    r = await api.get(ODDS, params=params)
    assert r.status_code == status
    body = r.json()
    assert body["error_code"] == code
    assert body["details_url"].endswith("#" + code.lower())
    assert r.headers["x-requests-last"] == "0"
    assert "wrong" not in r.text


async def test_unknown_sport_and_scores_cost(api: httpx.AsyncClient) -> None:
    r = await api.get("/oddsapi/v4/sports/curling_xyz/odds", params={**KEY, "regions": "us"})
    assert (r.status_code, r.json()["error_code"]) == (404, "UNKNOWN_SPORT")
    r = await api.get("/oddsapi/v4/sports/basketball_nba/scores", params=KEY)
    assert r.headers["x-requests-last"] == "1"
    r = await api.get("/oddsapi/v4/sports/basketball_nba/scores", params={**KEY, "daysFrom": "2"})
    assert r.headers["x-requests-last"] == "2"
    r = await api.get("/oddsapi/v4/sports/basketball_nba/scores", params={**KEY, "daysFrom": "4"})
    assert r.json()["error_code"] == "INVALID_SCORES_DAYS_FROM"


async def test_out_of_credits_is_401_not_429(source: SimulatedSource, clock: FrozenClock) -> None:
    async with _client(create_app(source, clock=clock, quota_total=4)) as api:
        first = await api.get(ODDS, params={**KEY, "regions": "us", "markets": "h2h,spreads,totals"})
        assert first.status_code == 200
        second = await api.get(ODDS, params={**KEY, "regions": "us", "markets": "h2h,spreads,totals"})
        assert second.status_code == 401
        assert second.json()["error_code"] == "OUT_OF_USAGE_CREDITS"
        assert second.headers["x-requests-remaining"] == "1"
        free = await api.get("/oddsapi/v4/sports", params=KEY)
        assert free.status_code == 200


async def test_event_odds_is_one_object_without_bookmaker_last_update(api: httpx.AsyncClient) -> None:
    event = (await api.get(ODDS, params={**KEY, "regions": "us"})).json()[0]
    r = await api.get(f"/oddsapi/v4/sports/basketball_nba/events/{event['id']}/odds",
                      params={**KEY, "regions": "us", "markets": "totals,player_points"})  # fmt: skip
    body = r.json()
    assert isinstance(body, dict)
    assert body["id"] == event["id"]
    assert all("last_update" not in b for b in body["bookmakers"])
    assert all("last_update" in m for b in body["bookmakers"] for m in b["markets"])
    assert r.headers["x-requests-last"] == "1"  # only markets with data are charged
    r = await api.get(
        f"/oddsapi/v4/sports/basketball_nba/events/{'f' * 32}/odds", params={**KEY, "regions": "us"}
    )
    assert (r.status_code, r.json()["error_code"]) == (404, "EVENT_NOT_FOUND")


async def test_historical_wrapper_steps_and_cost(api: httpx.AsyncClient, clock: FrozenClock) -> None:
    date = (clock() - timedelta(hours=1, minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = await api.get("/oddsapi/v4/historical/sports/basketball_nba/odds",
                      params={**KEY, "regions": "us", "markets": "h2h,spreads", "date": date})  # fmt: skip
    body = r.json()
    assert set(body) == {"timestamp", "previous_timestamp", "next_timestamp", "data"}
    assert body["timestamp"] <= date
    assert r.headers["x-requests-last"] == "20"
    r = await api.get("/oddsapi/v4/historical/sports/basketball_nba/odds",
                      params={**KEY, "regions": "us", "date": body["previous_timestamp"]})  # fmt: skip
    assert r.json()["next_timestamp"] == body["timestamp"]
    r = await api.get("/oddsapi/v4/historical/sports/basketball_nba/odds", params={**KEY, "regions": "us"})
    assert r.json()["error_code"] == "MISSING_HISTORICAL_TIMESTAMP"
    r = await api.get("/oddsapi/v4/historical/sports/basketball_nba/events", params={**KEY, "date": date})
    assert r.headers["x-requests-last"] == "1"


async def test_gamma_keyset_pages_cover_everything(api: httpx.AsyncClient, clock: FrozenClock) -> None:
    clock.advance(hours=30)
    full = (await api.get("/gamma/events/keyset", params={"closed": "false"})).json()
    assert "next_cursor" not in full
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "series_id": "10345", "closed": "false"}
        if cursor:
            params["after_cursor"] = cursor
        page = (await api.get("/gamma/events/keyset", params=params)).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page.get("next_cursor")
        if cursor is None:
            break
    assert seen == [e["id"] for e in full["events"]]
    assert len(seen) > 3
    r = await api.get("/gamma/events/keyset", params={"offset": "10"})
    assert r.status_code == 422
    closed = (await api.get("/gamma/events/keyset", params={"closed": "true"})).json()["events"]
    assert all(e["closed"] for e in closed)
    legacy = await api.get("/gamma/events", params={"offset": "2500"})
    assert legacy.status_code == 422
    legacy = await api.get("/gamma/markets", params={"limit": "5"})
    assert legacy.headers["deprecation"] == "true"


async def test_gamma_markets_filters_and_json_string_fields(api: httpx.AsyncClient) -> None:
    events = (await api.get("/gamma/events/keyset", params={"closed": "false"})).json()["events"]
    market = events[0]["markets"][1]
    assert isinstance(market["outcomes"], str)
    assert isinstance(json.loads(market["outcomePrices"])[0], str)
    r = await api.get(
        "/gamma/markets/keyset", params=[("id", market["id"]), ("id", events[1]["markets"][0]["id"])]
    )
    assert sorted(m["id"] for m in r.json()["markets"]) == sorted(
        [market["id"], events[1]["markets"][0]["id"]]
    )
    r = await api.get("/gamma/markets/keyset", params={"condition_ids": market["conditionId"]})
    assert [m["id"] for m in r.json()["markets"]] == [market["id"]]
    assert r.json()["markets"][0]["events"][0]["id"] == events[0]["id"]
    r = await api.get(f"/gamma/events/slug/{events[0]['slug']}")
    assert r.json()["id"] == events[0]["id"]


async def test_clob_contract(api: httpx.AsyncClient, source: SimulatedSource, clock: FrozenClock) -> None:
    game = next(g for g in source.games if g.pm_created <= clock() < g.pm_closed_at)
    token = game.markets[0].token_ids[0]
    book = (await api.get("/clob/book", params={"token_id": token})).json()
    assert isinstance(book["timestamp"], str)
    assert len(book["timestamp"]) == 13
    bids = [float(b["price"]) for b in book["bids"]]
    assert bids == sorted(bids)
    bid = (await api.get("/clob/price", params={"token_id": token, "side": "BUY"})).json()["price"]
    ask = (await api.get("/clob/price", params={"token_id": token, "side": "SELL"})).json()["price"]
    assert float(bid) == max(bids)
    assert float(bid) < float(ask)
    r = await api.post(
        "/clob/prices", json=[{"token_id": token, "side": "BUY"}, {"token_id": token, "side": "SELL"}]
    )
    assert r.json() == {token: {"BUY": bid, "SELL": ask}}
    mid = (await api.get("/clob/midpoint", params={"token_id": token})).json()["mid"]
    assert float(bid) < float(mid) < float(ask)
    assert (await api.get("/clob/price", params={"token_id": token, "side": "UP"})).json() == {
        "error": "Invalid side"
    }
    assert (await api.get("/clob/book", params={"token_id": "0x12"})).status_code == 400
    r = await api.get("/clob/book", params={"token_id": "1" * 77})
    assert (r.status_code, r.json()) == (404, {"error": "No orderbook exists for the requested token id"})
    r = await api.get("/clob/no-such-path")
    assert (r.status_code, r.text) == (404, "404 page not found")


async def test_prices_history_rules(
    api: httpx.AsyncClient, source: SimulatedSource, clock: FrozenClock
) -> None:
    game = next(g for g in source.games if g.pm_created <= clock())
    token = game.markets[0].token_ids[1]
    now = int(clock().timestamp())
    r = await api.get(
        "/clob/prices-history", params={"market": token, "startTs": now - 16 * 86400, "endTs": now}
    )
    assert (r.status_code, r.json()) == (400, {"error": "'startTs' and 'endTs' interval is too long"})
    r = await api.get("/clob/prices-history", params={"market": token, "startTs": now - 15 * 86400, "endTs": now,
                                                      "fidelity": 60})  # fmt: skip
    history = r.json()["history"]
    assert history
    assert all(isinstance(p["t"], int) and isinstance(p["p"], float) for p in history)
    assert history == sorted(history, key=lambda p: p["t"])
    r = await api.get("/clob/prices-history", params={"market": token, "interval": "1m", "fidelity": 5})
    assert r.json() == {"error": "minimum 'fidelity' for '1m' range is 10"}
    r = await api.get("/clob/prices-history", params={"market": "1" * 77, "interval": "1d"})
    assert r.json() == {"history": []}
    r = await api.get("/_replay/stats")
    assert r.json()["calls"]["clob"] >= 4


async def test_fault_plan_429_carries_retry_after(source: SimulatedSource, clock: FrozenClock) -> None:
    plan = FaultPlan.from_spec("/oddsapi/*:429=1,retry_after=3,max_consecutive=1")
    async with _client(create_app(source, clock=clock, faults=plan)) as api:
        first = await api.get("/oddsapi/v4/sports", params=KEY)
        second = await api.get("/oddsapi/v4/sports", params=KEY)
    assert first.status_code == 429
    assert first.headers["retry-after"] == "3"
    assert first.json()["error_code"] == "EXCEEDED_FREQ_LIMIT"
    assert second.status_code == 200  # max_consecutive lets the retry through
    assert plan.injected["429"] == 1
