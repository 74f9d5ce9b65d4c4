"""The shared HTTP layer: one retry layer, typed errors, no leaked keys."""

from __future__ import annotations

import httpx
import pytest

from odds_models.errors import (
    AuthRejected,
    BadRequest,
    NotFound,
    PayloadError,
    QuotaExhausted,
    RateLimited,
    ServerError,
    TransportFailure,
)
from tasks.http import ApiClient, RetryPolicy

KEY = "SENTINEL-KEY-0123456789"
FAST = RetryPolicy(max_attempts=4, max_wait_seconds=0.05, initial_wait_seconds=0.01)


def make(handler: httpx.MockTransport | None = None, **kwargs: object) -> ApiClient:
    client = httpx.AsyncClient(transport=handler)
    return ApiClient(
        base_url="https://api.example", client=client, retry=FAST, secret_params={"apiKey": KEY}, **kwargs
    )  # type: ignore[arg-type]


def sequence(*responses: httpx.Response | Exception) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.MockTransport(handler), seen


async def test_429_then_200_honours_retry_after_and_sends_key() -> None:
    transport, seen = sequence(
        httpx.Response(429, headers={"Retry-After": "0"}, json={"error_code": "EXCEEDED_FREQ_LIMIT"}),
        httpx.Response(200, json=[{"ok": 1}]),
    )
    api = make(transport)
    response = await api.request("GET", "/v4/sports", params={"all": "true"})
    assert response.data == [{"ok": 1}]
    assert len(seen) == 2
    assert seen[0].url.params["apiKey"] == KEY
    record = api.calls[-1]
    assert record.attempts == 2
    assert record.status_code == 200
    assert "apiKey" not in record.params
    assert KEY not in repr(record)


async def test_500_three_times_then_200() -> None:
    transport, seen = sequence(*[httpx.Response(500, text="boom")] * 3, httpx.Response(200, json={}))
    response = await make(transport).request("GET", "/x")
    assert response.data == {}
    assert len(seen) == 4


async def test_persistent_5xx_gives_up_with_typed_error() -> None:
    transport, seen = sequence(httpx.Response(503, text="down"))
    with pytest.raises(ServerError, match="503"):
        await make(transport).request("GET", "/x")
    assert len(seen) == FAST.max_attempts


async def test_timeout_is_retried_then_typed() -> None:
    transport, seen = sequence(httpx.ReadTimeout("slow"))
    with pytest.raises(TransportFailure, match="timed out"):
        await make(transport).request("GET", "/x")
    assert len(seen) == FAST.max_attempts


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"message": "Api key is not valid", "error_code": "INVALID_KEY"}, AuthRejected),
        (
            401,
            {"message": "Usage quota has been reached", "error_code": "OUT_OF_USAGE_CREDITS"},
            QuotaExhausted,
        ),
        (422, {"message": "Invalid markets: x", "error_code": "INVALID_MARKET"}, BadRequest),
        (404, {"message": "Unknown sport", "error_code": "UNKNOWN_SPORT"}, NotFound),
    ],
)
async def test_final_errors_are_not_retried(status: int, body: dict, error: type[Exception]) -> None:
    transport, seen = sequence(httpx.Response(status, json=body))
    with pytest.raises(error) as info:
        await make(transport).request("GET", "/v4/sports/basketball_nba/odds")
    assert len(seen) == 1
    assert KEY not in str(info.value)


async def test_truncated_body_is_retried_then_a_payload_error() -> None:
    transport, seen = sequence(httpx.Response(200, content=b'[{"id": "abc", "bookm'))
    api = make(transport)
    with pytest.raises(PayloadError, match="not valid JSON"):
        await api.request("GET", "/x")
    assert len(seen) == FAST.max_attempts
    assert api.calls[-1].error
    assert api.calls[-1].status_code == 200


async def test_truncated_body_once_then_whole_body_is_not_lost() -> None:
    transport, seen = sequence(
        httpx.Response(200, content=b'[{"id": "ab'), httpx.Response(200, json=[{"id": "abc"}])
    )
    response = await make(transport).request("GET", "/x")
    assert response.data == [{"id": "abc"}]
    assert len(seen) == 2


async def test_key_never_in_transport_error_message() -> None:
    transport, _ = sequence(httpx.ConnectError(f"cannot reach https://api.example/x?apiKey={KEY}"))
    with pytest.raises(TransportFailure) as info:
        await make(transport).request("GET", "/x")
    assert KEY not in str(info.value)
    assert "apiKey=***" in str(info.value)


async def test_rate_limited_carries_retry_after() -> None:
    transport, _ = sequence(httpx.Response(429, headers={"Retry-After": "0.01"}))
    with pytest.raises(RateLimited) as info:
        await make(transport).request("GET", "/x")
    assert info.value.retry_after == pytest.approx(0.01)
