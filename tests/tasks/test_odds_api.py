"""The Odds API client against httpx.MockTransport: params, quota headers, retries and typed errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from odds_models.errors import (
    AuthRejected,
    ConfigError,
    PayloadError,
    QuotaExhausted,
    ServerError,
    TransportFailure,
)
from tasks.http import RetryPolicy, use_client_factory
from tasks.odds_api import OddsApiClient, make_odds_api_client

KEY = "unit-key-123"
FAST = RetryPolicy(max_attempts=5, max_wait_seconds=0.01, initial_wait_seconds=0.001)
QUOTA = {"x-requests-remaining": "480", "x-requests-used": "20", "x-requests-last": "3"}


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> tuple[OddsApiClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(recording))
    return OddsApiClient(api_key=KEY, client=http, retry=FAST), seen


def _sequence(*responses: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def test_odds_params_and_quota_headers() -> None:
    api, seen = _client(lambda r: httpx.Response(200, json=[], headers=QUOTA))
    response = await api.odds(
        regions=["us", "eu"],
        markets=["h2h", "totals"],
        odds_format="american",
        commence_from=datetime(2030, 1, 1, tzinfo=UTC),
    )
    params = dict(seen[0].url.params)
    assert seen[0].url.path == "/v4/sports/basketball_nba/odds"
    assert params == {
        "regions": "us,eu",
        "markets": "h2h,totals",
        "oddsFormat": "american",
        "dateFormat": "iso",
        "commenceTimeFrom": "2030-01-01T00:00:00Z",
        "apiKey": KEY,
    }
    assert (response.quota.remaining, response.quota.used, response.quota.last) == (480, 20, 3)
    record = api.calls[0]
    assert "apiKey" not in record.params
    assert KEY not in repr(record)


async def test_bookmakers_override_regions_and_endpoints() -> None:
    api, seen = _client(lambda r: httpx.Response(200, json={}, headers=QUOTA))
    await api.odds(bookmakers=["pinnacle"], regions=["us"])
    await api.scores(days_from=2)
    await api.scores()
    await api.event_odds("abc", markets=["player_points"])
    await api.historical_odds(date=datetime(2023, 1, 1, 12, tzinfo=UTC))
    await api.historical_events(date=datetime(2023, 1, 1, 12, tzinfo=UTC))
    await api.events()
    await api.sports()
    assert "regions" not in seen[0].url.params
    assert seen[0].url.params["bookmakers"] == "pinnacle"
    assert seen[1].url.params["daysFrom"] == "2"
    assert "daysFrom" not in seen[2].url.params
    assert seen[3].url.path == "/v4/sports/basketball_nba/events/abc/odds"
    assert seen[4].url.path == "/v4/historical/sports/basketball_nba/odds"
    assert seen[4].url.params["date"] == "2023-01-01T12:00:00Z"
    assert seen[5].url.path == "/v4/historical/sports/basketball_nba/events"
    assert [r.url.path for r in seen[6:]] == ["/v4/sports/basketball_nba/events", "/v4/sports"]
    with pytest.raises(ValueError):
        await api.scores(days_from=4)


async def test_429_then_200_honours_retry_after() -> None:
    api, seen = _client(
        _sequence(
            httpx.Response(429, headers={"Retry-After": "0"}, json={"error_code": "EXCEEDED_FREQ_LIMIT"}),
            httpx.Response(200, json=[], headers=QUOTA),
        )
    )
    response = await api.odds()
    assert len(seen) == 2
    assert response.attempts == 2
    assert api.calls[0].attempts == 2
    assert api.calls[0].status_code == 200


async def test_500_three_times_then_200() -> None:
    api, seen = _client(
        _sequence(
            *(httpx.Response(500, text="boom") for _ in range(3)), httpx.Response(200, json=[], headers=QUOTA)
        )
    )
    await api.odds()
    assert len(seen) == 4
    assert len(api.calls) == 1  # one logical call, one fetch_logs row
    assert api.calls[0].attempts == 4


async def test_500_forever_gives_up_with_server_error() -> None:
    api, seen = _client(lambda r: httpx.Response(503, text=f"down for {r.url}"))
    with pytest.raises(ServerError) as info:
        await api.odds()
    assert len(seen) == FAST.max_attempts
    assert KEY not in str(info.value)  # the body echoed the URL with the key
    assert KEY not in (api.calls[0].error or "")


async def test_timeout_is_retried_then_typed() -> None:
    api, seen = _client(lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)))
    started = time.perf_counter()
    with pytest.raises(TransportFailure, match="timed out"):
        await api.odds()
    assert len(seen) == FAST.max_attempts
    assert time.perf_counter() - started < 2


async def test_truncated_body_is_retried_then_payload_error() -> None:
    api, seen = _client(lambda r: httpx.Response(200, content=b'[{"id": "abc", "bookm', headers=QUOTA))
    with pytest.raises(PayloadError, match="not valid JSON"):
        await api.odds()
    assert len(seen) == api.retry.max_attempts  # a cut body is a transport fault: retried, then typed
    assert "not valid JSON" in (api.calls[0].error or "")
    assert api.calls[0].headers["x-requests-last"] == "3"  # the credits were spent: the log says so


async def test_invalid_key_and_out_of_credits_are_final() -> None:
    body = {"message": "API key is not valid", "error_code": "INVALID_KEY"}
    api, seen = _client(lambda r: httpx.Response(401, json=body))
    with pytest.raises(AuthRejected, match="ODDS_API_KEY"):
        await api.odds()
    assert len(seen) == 1
    body = {"message": "Usage quota has been reached.", "error_code": "OUT_OF_USAGE_CREDITS"}
    api, seen = _client(lambda r: httpx.Response(401, json=body))
    with pytest.raises(QuotaExhausted, match="OUT_OF_USAGE_CREDITS"):
        await api.scores()
    assert len(seen) == 1


def test_factory_needs_key_and_uses_injected_transport(settings_env: pytest.MonkeyPatch) -> None:
    from odds_models.settings import get_settings

    with pytest.raises(ConfigError, match="ODDS_API_KEY"):
        make_odds_api_client()
    settings_env.setenv("ODDS_API_KEY", KEY)
    settings_env.setenv("ODDS_API_BASE_URL", "http://replay.local")
    get_settings.cache_clear()
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=[]))
    with use_client_factory("oddsapi", lambda: httpx.AsyncClient(transport=transport)):
        api = make_odds_api_client()
    assert api.base_url == "http://replay.local"
    assert api._owns_client
