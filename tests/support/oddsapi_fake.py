"""A fake The Odds API (httpx.MockTransport) for the sportsbook integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from odds_models.clock import FrozenClock, use_clock
from odds_models.settings import get_settings
from tasks.http import use_client_factory

T0 = datetime(2030, 1, 10, 12, 0, tzinfo=UTC)
SENTINEL = "SENTINEL-KEY-7f3a9c"
TEAMS = [
    ("Boston Celtics", "Miami Heat"),
    ("Utah Jazz", "Denver Nuggets"),
    ("Chicago Bulls", "Orlando Magic"),
]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeOddsApi:
    """Serves /events, /odds, /scores, historical /odds; `faults[path_suffix]` is a queue of overrides."""

    now: Callable[[], datetime]
    faults: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)
    used: int = 0

    def events(self) -> list[dict[str, Any]]:
        base = self.now()
        return [
            {"id": f"{i:032x}", "sport_key": "basketball_nba", "sport_title": "NBA",
             "commence_time": _iso(base + timedelta(hours=2 + 20 * i)), "home_team": h, "away_team": a}
            for i, (h, a) in enumerate(TEAMS)
        ]  # fmt: skip

    def odds(self) -> list[dict[str, Any]]:
        out = []
        for ev in self.events():
            h, a = ev["home_team"], ev["away_team"]
            out.append({**ev, "bookmakers": [{"key": "draftkings", "title": "DraftKings",
                                              "last_update": _iso(self.now() - timedelta(minutes=3)), "markets": [
                {"key": "h2h", "outcomes": [{"name": a, "price": 2.6}, {"name": h, "price": 1.55}]},
                {"key": "spreads", "outcomes": [{"name": a, "price": 1.91, "point": 5.5},
                                                {"name": h, "price": 1.91, "point": -5.5}]},
                {"key": "totals", "outcomes": [{"name": "Over", "price": 1.91, "point": 220.5},
                                               {"name": "Under", "price": 1.91, "point": 220.5}]}]}]})  # fmt: skip
        return out

    def scores(self) -> list[dict[str, Any]]:
        out = []
        for i, ev in enumerate(self.events()):
            done = i == 0
            out.append({**ev, "completed": done, "last_update": _iso(self.now()) if done else None,
                        "scores": [{"name": ev["home_team"], "score": "101"}, {"name": ev["away_team"], "score": "99"}]
                        if done else None})  # fmt: skip
        return out

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        for suffix, queue in self.faults.items():
            if path.endswith(suffix) and queue:
                fault = queue.pop(0)
                if isinstance(fault, Exception):
                    raise fault
                return fault
        if path.endswith("/events"):
            body, cost = self.events(), 0
        elif path.startswith("/v4/historical") and path.endswith("/odds"):
            body, cost = {"timestamp": _iso(self.now() - timedelta(days=1)), "data": self.odds()}, 30
        elif path.endswith("/odds"):
            body, cost = self.odds(), 3
        elif path.endswith("/scores"):
            body, cost = self.scores(), 2 if "daysFrom" in request.url.params else 1
        else:
            return httpx.Response(404, json={"message": "Unknown sport", "error_code": "UNKNOWN_SPORT"})
        self.used += cost
        headers = {"x-requests-used": str(self.used), "x-requests-remaining": str(500 - self.used),
                   "x-requests-last": str(cost)}  # fmt: skip
        return httpx.Response(200, json=body, headers=headers)


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    frozen = FrozenClock(T0)
    with use_clock(frozen):
        yield frozen


@pytest.fixture
def fake_api(clock: FrozenClock, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[FakeOddsApi]:
    """The fake API, wired in: sentinel key, fast retries, a private spool folder."""
    monkeypatch.setenv("ODDS_API_KEY", SENTINEL)
    monkeypatch.setenv("HTTP_MAX_RETRY_WAIT_SECONDS", "0.01")
    monkeypatch.setenv("ODDS_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    api = FakeOddsApi(now=clock)
    with use_client_factory("oddsapi", lambda: httpx.AsyncClient(transport=httpx.MockTransport(api.handler))):
        yield api
    get_settings.cache_clear()
