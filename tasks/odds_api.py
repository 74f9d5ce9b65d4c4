"""The Odds API v4 client: every endpoint the pipeline uses, quota headers read on every response.

Built on `tasks.http.ApiClient` (the one retry layer: 429 honouring Retry-After, 5xx, transport errors;
401/422 raise typed errors at once). The key travels as the `apiKey` query parameter through
`secret_params`, so it never appears in a log line, an error message, a `CallRecord` or the database.

    async with make_odds_api_client() as api:          # or make_odds_api_client(httpx.AsyncClient(...))
        response = await api.odds(regions=["us"], markets=["h2h", "spreads", "totals"])
        response.data, response.quota, api.calls

Each method returns an `OddsApiResponse` (parsed JSON, quota figures, endpoint); parsing into typed values
is `odds_analytics.oddsapi`'s job.

Credits: every attempt of a call is counted (`credits_of`): its `x-requests-last` when the answer carried
the quota headers; 0 for an error answer without them; for an attempt that got no answer (a timeout after
the server may have charged) what the same request cost when it was answered, else the documented cost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from odds_analytics.quota import QuotaStatus, attempt_credits, odds_call_cost, quota_from_headers
from odds_models.errors import ConfigError
from odds_models.settings import Settings, get_settings
from tasks.http import ApiClient, Attempt, CallRecord, RetryPolicy, client_options

__all__ = ["OddsApiClient", "OddsApiResponse", "make_odds_api_client"]


@dataclass
class OddsApiResponse:
    data: Any
    quota: QuotaStatus
    endpoint: str
    status_code: int
    attempts: int


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("datetimes sent to The Odds API must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv(values: Sequence[str] | None) -> str | None:
    return ",".join(values) if values else None


class OddsApiClient(ApiClient):
    """Async client of The Odds API v4 (`/v4/...`)."""

    api_name = "oddsapi"

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str = "https://api.the-odds-api.com",
        sport: str = "basketball_nba",
        client: httpx.AsyncClient | None = None,
        timeout: float = 20.0,
        retry: RetryPolicy | None = None,
        on_call: Callable[[CallRecord], None] | None = None,
        owns_client: bool | None = None,
    ) -> None:
        if not api_key:
            raise ConfigError("ODDS_API_KEY is not set; The Odds API needs a key")
        super().__init__(base_url=base_url, client=client, timeout=timeout, retry=retry,
                         secret_params={"apiKey": api_key}, on_call=on_call, owns_client=owns_client)  # fmt: skip
        self.sport = sport

    async def __aenter__(self) -> OddsApiClient:
        return self

    def credits_of(self, attempts: Sequence[Attempt], cost: int | None) -> int | None:
        """Every attempt's credits (see the module docstring; the rule is `odds_analytics.quota`)."""
        answers: list[tuple[int | None, Mapping[str, str] | None]] = [
            (a.status_code, a.headers) for a in attempts
        ]
        return attempt_credits(answers, cost or 0)

    async def _get(
        self, path: str, params: dict[str, Any] | None = None, *, cost: int = 0
    ) -> OddsApiResponse:
        response = await self.request("GET", path, params=params, cost=cost)
        return OddsApiResponse(
            data=response.data,
            quota=quota_from_headers(response.headers),
            endpoint=response.endpoint,
            status_code=response.status_code,
            attempts=response.attempts,
        )

    @staticmethod
    def _odds_params(
        *,
        regions: Sequence[str] | None,
        markets: Sequence[str] | None,
        bookmakers: Sequence[str] | None,
        odds_format: str,
        event_ids: Sequence[str] | None = None,
        commence_from: datetime | None = None,
        commence_to: datetime | None = None,
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "markets": _csv(markets),
            "oddsFormat": odds_format,
            "dateFormat": "iso",
            "eventIds": _csv(event_ids),
            "commenceTimeFrom": _iso(commence_from) if commence_from else None,
            "commenceTimeTo": _iso(commence_to) if commence_to else None,
        }
        if bookmakers:
            params["bookmakers"] = _csv(bookmakers)  # overrides regions (and its cost)
        else:
            params["regions"] = _csv(regions)
        return params

    # -- free ---------------------------------------------------------------------------------------------

    async def sports(self, *, all_sports: bool = False) -> OddsApiResponse:
        """`GET /v4/sports` (free; a quota check)."""
        return await self._get("/v4/sports", {"all": "true" if all_sports else None})

    async def events(
        self, *, sport: str | None = None, commence_from: datetime | None = None,
        commence_to: datetime | None = None, event_ids: Sequence[str] | None = None,
    ) -> OddsApiResponse:  # fmt: skip
        """`GET /v4/sports/{sport}/events` (free)."""
        return await self._get(
            f"/v4/sports/{sport or self.sport}/events",
            {
                "dateFormat": "iso",
                "commenceTimeFrom": _iso(commence_from) if commence_from else None,
                "commenceTimeTo": _iso(commence_to) if commence_to else None,
                "eventIds": _csv(event_ids),
            },
        )

    # -- paid -----------------------------------------------------------------------------------------------

    async def odds(
        self, *, sport: str | None = None, regions: Sequence[str] | None = ("us",),
        markets: Sequence[str] | None = ("h2h", "spreads", "totals"), bookmakers: Sequence[str] | None = None,
        odds_format: str = "decimal", event_ids: Sequence[str] | None = None,
        commence_from: datetime | None = None, commence_to: datetime | None = None,
    ) -> OddsApiResponse:  # fmt: skip
        """`GET /v4/sports/{sport}/odds`: featured markets for the slate (markets × regions credits)."""
        return await self._get(
            f"/v4/sports/{sport or self.sport}/odds",
            self._odds_params(regions=regions, markets=markets, bookmakers=bookmakers, odds_format=odds_format,
                              event_ids=event_ids, commence_from=commence_from, commence_to=commence_to),
            cost=odds_call_cost(markets or ("h2h",), regions or (), bookmakers or ()),
        )  # fmt: skip

    async def event_odds(
        self, event_id: str, *, sport: str | None = None, regions: Sequence[str] | None = ("us",),
        markets: Sequence[str] | None = ("player_points",), bookmakers: Sequence[str] | None = None,
        odds_format: str = "decimal",
    ) -> OddsApiResponse:  # fmt: skip
        """`GET /v4/sports/{sport}/events/{id}/odds`: any market (props, periods) for one event."""
        return await self._get(
            f"/v4/sports/{sport or self.sport}/events/{event_id}/odds",
            self._odds_params(
                regions=regions, markets=markets, bookmakers=bookmakers, odds_format=odds_format
            ),
            cost=odds_call_cost(
                markets or ("h2h",), regions or (), bookmakers or ()
            ),  # at most: markets returned
        )

    async def scores(self, *, sport: str | None = None, days_from: int | None = None) -> OddsApiResponse:
        """`GET /v4/sports/{sport}/scores` (1 credit; 2 with `daysFrom`, which must be 1-3)."""
        if days_from is not None and not 1 <= days_from <= 3:
            raise ValueError("days_from must be 1, 2 or 3")
        return await self._get(
            f"/v4/sports/{sport or self.sport}/scores",
            {"daysFrom": days_from, "dateFormat": "iso"},
            cost=2 if days_from else 1,
        )

    async def historical_odds(
        self, *, date: datetime, sport: str | None = None, regions: Sequence[str] | None = ("us",),
        markets: Sequence[str] | None = ("h2h", "spreads", "totals"), bookmakers: Sequence[str] | None = None,
        odds_format: str = "decimal", event_ids: Sequence[str] | None = None,
    ) -> OddsApiResponse:  # fmt: skip
        """`GET /v4/historical/sports/{sport}/odds?date=`: the snapshot at or before `date` (10× cost)."""
        params = self._odds_params(regions=regions, markets=markets, bookmakers=bookmakers,
                                   odds_format=odds_format, event_ids=event_ids)  # fmt: skip
        params["date"] = _iso(date)
        cost = odds_call_cost(markets or ("h2h",), regions or (), bookmakers or (), historical=True)
        return await self._get(f"/v4/historical/sports/{sport or self.sport}/odds", params, cost=cost)

    async def historical_events(self, *, date: datetime, sport: str | None = None) -> OddsApiResponse:
        """`GET /v4/historical/sports/{sport}/events?date=` (1 credit; 0 when empty)."""
        return await self._get(
            f"/v4/historical/sports/{sport or self.sport}/events",
            {"date": _iso(date), "dateFormat": "iso"},
            cost=1,
        )


def make_odds_api_client(
    client: httpx.AsyncClient | None = None,
    *,
    settings: Settings | None = None,
    on_call: Callable[[CallRecord], None] | None = None,
) -> OddsApiClient:
    """The client from settings (`ODDS_API_KEY`, `ODDS_API_BASE_URL`, timeouts, retry policy).

    Pass `client` to inject transport, or set one for every client with `tasks.http.use_client_factory("oddsapi", …)`.
    """
    settings = settings or get_settings()
    key = settings.api_key_value()
    if not key:
        raise ConfigError("ODDS_API_KEY is not set; set it in the environment or .env")
    return OddsApiClient(
        api_key=key,
        base_url=settings.odds_api_base_url,
        sport=settings.odds_api_sport,
        **client_options("oddsapi", settings, client, on_call),
    )
