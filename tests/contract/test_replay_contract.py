"""The stand-in cannot drift from the real APIs: the project's clients and parsers run against the replay
service and against the real recorded responses (`../shared/fixtures`) alike, and the replay's objects
carry the real ones' fields with the same JSON types."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from odds_analytics.oddsapi import parse_odds_payload, parse_scores_payload
from odds_analytics.polymarket.clob import parse_book
from odds_analytics.polymarket.gamma import parse_gamma_event, parse_gamma_market
from odds_analytics.polymarket.history import parse_price_history
from odds_models.clock import FrozenClock
from odds_models.errors import AuthRejected, BadRequest, NotFound, QuotaExhausted
from replay.app import DEMO_API_KEY, create_app
from replay.simulate import SimulatedSource
from tasks.http import RetryPolicy
from tasks.odds_api import OddsApiClient
from tasks.polymarket_clob import ClobClient
from tasks.polymarket_gamma import GammaClient

pytestmark = pytest.mark.shared

SOURCE = SimulatedSource(seed=21, days=2)
QUOTA = {"x-requests-used": "10", "x-requests-remaining": "490", "x-requests-last": "3"}
NO_RETRY = RetryPolicy(max_attempts=1)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_same_shape(real: dict[str, Any], replay: dict[str, Any], required: set[str], where: str) -> None:
    """`required` fields of the real object exist in the replay's; shared fields have the same JSON type."""
    missing = {k for k in required if k in real and k not in replay}
    assert not missing, f"{where}: replay lacks {sorted(missing)}"
    for key in set(real) & set(replay):
        if real[key] is None or replay[key] is None:
            continue
        assert _json_type(real[key]) == _json_type(replay[key]), (
            f"{where}.{key}: {real[key]!r} vs {replay[key]!r}"
        )


def _replay_client(clock: FrozenClock, **kwargs: Any) -> httpx.AsyncClient:
    app = create_app(SOURCE, clock=clock, **kwargs)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app))


def _fixture_client(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers={**QUOTA, **(headers or {})})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def _load(fixtures_dir: Path, name: str) -> Any:
    return json.loads((fixtures_dir / name).read_text())


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(SOURCE.default_start() + timedelta(hours=4))


def _odds_client(http: httpx.AsyncClient, base: str) -> OddsApiClient:
    return OddsApiClient(api_key=DEMO_API_KEY, base_url=base, client=http, retry=NO_RETRY)


# ------------------------------------------------------------------------------------------------------
# The Odds API
# ------------------------------------------------------------------------------------------------------

EVENT_FIELDS = {"id", "sport_key", "commence_time", "home_team", "away_team", "bookmakers"}
BOOK_FIELDS = {"key", "title", "last_update", "markets"}
MARKET_FIELDS = {"key", "outcomes"}
OUTCOME_FIELDS = {"name", "price", "point"}


@pytest.mark.parametrize(
    "name",
    ["oddsapi_odds_basketball_nba_2021-11-13_edgebet.json", "oddsapi_odds_basketball_nba_2022-12-06_jiayuguo-webapp.json",
     "oddsapi_odds_basketball_nba_2023-12-11_bigdataproject.json"],
)  # fmt: skip
async def test_odds_client_and_parser_accept_real_and_replay_alike(
    fixtures_dir: Path, clock: FrozenClock, name: str
) -> None:
    real_body = _load(fixtures_dir, name)
    async with _fixture_client(real_body) as http:
        real = await _odds_client(http, "https://api.the-odds-api.com").odds()
    async with _replay_client(clock) as http:
        replay = await _odds_client(http, "http://replay/oddsapi").odds()
    real_parsed = parse_odds_payload(real.data, endpoint="/odds")
    replay_parsed = parse_odds_payload(replay.data, endpoint="/odds")
    assert real_parsed.events
    assert replay_parsed.events
    assert all(e.rows for e in replay_parsed.events)
    assert replay.quota.last == 3
    assert replay.quota.remaining is not None
    assert real.quota.remaining == 490
    real_event, replay_event = real.data[0], replay.data[0]
    assert_same_shape(real_event, replay_event, EVENT_FIELDS, "event")
    real_book, replay_book = real_event["bookmakers"][0], replay_event["bookmakers"][0]
    assert_same_shape(real_book, replay_book, BOOK_FIELDS, "bookmaker")
    real_h2h = next(m for m in real_book["markets"] if m["key"] == "h2h")
    replay_h2h = next(m for m in replay_book["markets"] if m["key"] == "h2h")
    assert_same_shape(real_h2h, replay_h2h, MARKET_FIELDS, "market")
    assert_same_shape(real_h2h["outcomes"][0], replay_h2h["outcomes"][0], OUTCOME_FIELDS, "outcome")
    for body in (real_h2h, replay_h2h):  # h2h outcomes are alphabetical in both
        assert [o["name"] for o in body["outcomes"]] == sorted(o["name"] for o in body["outcomes"])


async def test_scores_real_and_replay_parse_alike(fixtures_dir: Path, clock: FrozenClock) -> None:
    real_body = _load(fixtures_dir, "oddsapi_scores_basketball_nba_docs-example.json")
    clock.advance(hours=14)  # games in play and finished
    async with _replay_client(clock) as http:
        replay = await _odds_client(http, "http://replay/oddsapi").scores(days_from=1)
    assert replay.quota.last == 2
    real_rows, replay_rows = parse_scores_payload(real_body), parse_scores_payload(replay.data)
    assert real_rows
    assert replay_rows
    for real_game in real_body:
        replay_game = next(g for g in replay.data if (g["scores"] is None) == (real_game["scores"] is None))
        assert_same_shape(real_game, replay_game, set(real_game), "scores")
        if real_game["scores"]:
            assert_same_shape(real_game["scores"][0], replay_game["scores"][0], {"name", "score"}, "score")


async def test_sports_and_event_odds_shapes(fixtures_dir: Path, clock: FrozenClock) -> None:
    real_sports = _load(fixtures_dir, "oddsapi_sports_docs-example.json")
    props = _load(
        fixtures_dir, "oddsapi_event_odds_basketball_nba_playerprops_2024-02-22_orl-cle_bethelper.json"
    )
    async with _replay_client(clock) as http:
        api = _odds_client(http, "http://replay/oddsapi")
        sports = (await api.sports()).data
        event_id = (await api.events()).data[0]["id"]
        event = (await api.event_odds(event_id, markets=["h2h", "player_points"])).data
    assert_same_shape(real_sports[0], sports[0], set(real_sports[0]), "sport")
    assert isinstance(event, dict)
    assert isinstance(props, dict)
    assert_same_shape(props, event, set(props), "event odds")
    assert "last_update" not in props["bookmakers"][0]
    assert "last_update" not in event["bookmakers"][0]
    assert parse_odds_payload(event, endpoint="/events/{id}/odds").events[0].rows


@pytest.mark.parametrize(
    ("name", "error", "request_kwargs"),
    [
        ("oddsapi_error_INVALID_KEY_pasted.json", AuthRejected, {"api_keys": ("another-key",)}),
        ("oddsapi_error_OUT_OF_USAGE_CREDITS_pasted.json", QuotaExhausted, {"quota_total": 0}),
        ("oddsapi_error_MISSING_REGION_422_pasted.json", BadRequest, {"regions": None}),
        ("oddsapi_error_INVALID_MARKET_422_pasted.json", BadRequest, {"markets": ["player_points"]}),
        ("oddsapi_error_UNKNOWN_SPORT_pasted.json", NotFound, {"sport": "curling_xyz"}),
    ],
)
async def test_errors_map_to_the_same_typed_errors(
    fixtures_dir: Path, clock: FrozenClock, name: str, error: type[Exception], request_kwargs: dict[str, Any]
) -> None:
    real_body = _load(fixtures_dir, name)
    status = 422 if "422" in name else 404 if "UNKNOWN_SPORT" in name else 401
    app_kwargs = {k: v for k, v in request_kwargs.items() if k in ("api_keys", "quota_total")}
    call_kwargs = {k: v for k, v in request_kwargs.items() if k not in app_kwargs}
    async with _fixture_client(real_body, status) as http:
        with pytest.raises(error):
            await _odds_client(http, "https://api.the-odds-api.com").odds(**call_kwargs)
    async with _replay_client(clock, **app_kwargs) as http:
        response = await http.get(
            "http://replay/oddsapi/v4/sports/" + call_kwargs.get("sport", "basketball_nba") + "/odds",
            params={"apiKey": DEMO_API_KEY, **({"regions": "us"} if "regions" not in call_kwargs else {}),
                    **({"markets": ",".join(call_kwargs["markets"])} if "markets" in call_kwargs else {})},
        )  # fmt: skip
        assert response.status_code == status
        assert set(response.json()) == set(real_body)
        assert response.json()["error_code"] == real_body["error_code"]
        with pytest.raises(error):
            await _odds_client(http, "http://replay/oddsapi").odds(**call_kwargs)


# ------------------------------------------------------------------------------------------------------
# Polymarket
# ------------------------------------------------------------------------------------------------------

GAMMA_MARKET_FIELDS = {
    "id", "question", "conditionId", "questionID", "slug", "outcomes", "outcomePrices", "clobTokenIds",
    "umaResolutionStatuses", "volume", "liquidity", "active", "closed", "archived", "restricted", "enableOrderBook",
    "negRisk", "orderPriceMinTickSize", "orderMinSize", "gameStartTime", "endDate", "startDate", "createdAt",
    "updatedAt", "sportsMarketType", "line", "groupItemTitle", "gameId",
}  # fmt: skip
GAMMA_EVENT_FIELDS = {
    "id", "ticker", "slug", "title", "description", "startDate", "creationDate", "endDate", "createdAt",
    "updatedAt", "active", "closed", "archived", "new", "featured", "restricted", "liquidity", "volume",
    "commentCount", "markets", "series", "tags", "seriesSlug",
}  # fmt: skip


async def test_gamma_client_and_parsers_accept_real_and_replay_alike(
    fixtures_dir: Path, clock: FrozenClock
) -> None:
    real_market = _load(
        fixtures_dir, "gamma_markets_single_nba_mem-okc-2025-03-27_total-239pt5_extraction-note.json"
    )
    real_event = _load(fixtures_dir, "gamma_events_nba_2890-mavs-grizzlies-2021_wom-strategy.json")
    real_event = real_event[0] if isinstance(real_event, list) else real_event
    async with _replay_client(clock) as http:
        gamma = GammaClient(base_url="http://replay/gamma", client=http, retry=NO_RETRY)
        events = await gamma.iter_events(closed=False, series_id="10345", tag_id="100639", limit=4)
        totals = [m for e in events for m in e["markets"] if m["sportsMarketType"] == "totals"]
        fetched = await gamma.markets(ids=[totals[0]["id"]])
    assert len(events) > 4  # several keyset pages
    assert_same_shape(real_market, fetched[0], GAMMA_MARKET_FIELDS, "gamma market")
    assert_same_shape(real_event, events[0], GAMMA_EVENT_FIELDS, "gamma event")
    for payload in (real_market, fetched[0]):
        parsed = parse_gamma_market(payload)
        assert parsed.classification.market_type == "total"
        assert parsed.token_ids
        assert all(isinstance(t, str) for t in parsed.token_ids)
        assert parsed.classification.line == 239.5 or payload is fetched[0]
    parsed_events = [parse_gamma_event(e) for e in events]
    assert all(p.markets for p in parsed_events)
    classified = {m.classification.market_type for p in parsed_events for m in p.markets}
    assert {"moneyline", "spread", "total", "player_prop"} <= classified


async def test_clob_client_and_parsers_accept_real_and_replay_alike(
    fixtures_dir: Path, clock: FrozenClock
) -> None:
    real_book = _load(fixtures_dir, "clob_book_NONNBA_2026-01-11_gorbachev.json")
    real_history = _load(fixtures_dir, "clob_prices_history_interval-1d_NONNBA_wom-strategy.json")
    real_mid = _load(fixtures_dir, "clob_midpoint_NONNBA_ra1nty.json")
    game = next(g for g in SOURCE.games if g.pm_created <= clock() < g.pm_closed_at)
    token = game.markets[0].token_ids[0]
    async with _replay_client(clock) as http:
        clob = ClobClient(base_url="http://replay/clob", client=http, retry=NO_RETRY)
        book = await clob.book(token)
        books = await clob.books([token, game.markets[0].token_ids[1]])
        quotes = await clob.prices([token])
        points, findings = await clob.price_history(token, clock() - timedelta(hours=6), clock())
        raw_book = (await http.get("http://replay/clob/book", params={"token_id": token})).json()
        raw_mid = (await http.get("http://replay/clob/midpoint", params={"token_id": token})).json()
        raw_history = (
            await http.get("http://replay/clob/prices-history", params={"market": token, "interval": "1d"})
        ).json()
        closed = await clob.book(next(g for g in SOURCE.games if g.pm_closed_at < clock()).markets[0].token_ids[0]) \
            if any(g.pm_closed_at < clock() for g in SOURCE.games) else None  # fmt: skip
    assert_same_shape(real_book, raw_book, set(real_book), "clob book")
    assert_same_shape(real_book["bids"][0], raw_book["bids"][0], {"price", "size"}, "book level")
    assert_same_shape(real_mid, raw_mid, {"mid"}, "midpoint")
    assert_same_shape(real_history["history"][0], raw_history["history"][0], {"t", "p"}, "history point")
    for payload in (real_book, raw_book):
        parsed = parse_book(payload)
        assert parsed.best_bid is not None
        assert parsed.bids[0].price == parsed.best_bid  # best first after parsing, whatever the wire order
    assert book is not None
    assert len(books) == 2
    assert quotes[token].best_bid == book.best_bid
    assert quotes[token].best_ask == book.best_ask
    assert len(points) == 361
    assert not findings
    assert parse_price_history(real_history)[0]
    assert closed is None
