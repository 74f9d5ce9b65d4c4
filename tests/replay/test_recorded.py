"""The recorded source answers at simulated time from the latest snapshot at or before it."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from odds_models.clock import FrozenClock
from replay.app import DEMO_API_KEY, create_app
from replay.recorded import RecordedSource

EVENT = {
    "id": "a" * 32, "sport_key": "basketball_nba", "sport_title": "NBA", "commence_time": "2024-01-02T00:10:00Z",
    "home_team": "Boston Celtics", "away_team": "Miami Heat",
    "bookmakers": [{"key": "fanduel", "title": "FanDuel", "last_update": "2024-01-01T11:50:00Z", "markets": [
        {"key": "h2h", "last_update": "2024-01-01T11:50:00Z",
         "outcomes": [{"name": "Boston Celtics", "price": -250}, {"name": "Miami Heat", "price": 205}]}]}],
}  # fmt: skip


def _write(folder: Path, name: str, stamp: str, data: list, gz: bool = True) -> None:
    body = json.dumps({"timestamp": stamp, "data": data}).encode()
    folder.mkdir(parents=True, exist_ok=True)
    if gz:
        (folder / f"{name}.json.gz").write_bytes(gzip.compress(body))
    else:
        (folder / f"{name}.json").write_bytes(body)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    later = json.loads(json.dumps(EVENT))
    later["bookmakers"][0]["markets"][0]["outcomes"][0]["price"] = -300
    _write(tmp_path / "odds", "odds_2024-01-01", "2024-01-01T11:55:00Z", [EVENT])
    _write(tmp_path / "odds", "odds_2024-01-01b", "2024-01-01T17:55:00Z", [later], gz=False)
    return tmp_path


def test_odds_at_time_uses_the_latest_snapshot_at_or_before(folder: Path) -> None:
    source = RecordedSource(folder)
    assert source.default_start() == datetime(2024, 1, 1, 11, 55, tzinfo=UTC)
    assert source.odds(datetime(2024, 1, 1, 11, 54, tzinfo=UTC)) == []
    early = source.odds(datetime(2024, 1, 1, 17, 54, tzinfo=UTC))
    late = source.odds(datetime(2024, 1, 1, 17, 55, tzinfo=UTC))
    price = lambda events: events[0]["bookmakers"][0]["markets"][0]["outcomes"][0]["price"]  # noqa: E731
    assert price(early) == pytest.approx(1.4)  # American -250 served as decimal internally
    assert price(late) == pytest.approx(1 + 100 / 300, abs=1e-3)
    assert source.odds(datetime(2024, 1, 2, 4, 0, tzinfo=UTC)) == []  # finished games drop out
    snap = source.historical_odds(datetime(2024, 1, 1, 12, 0, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
    assert snap is not None
    assert snap.next_timestamp == datetime(2024, 1, 1, 17, 55, tzinfo=UTC)
    assert snap.previous_timestamp is None


async def test_recorded_american_prices_come_back_unchanged(folder: Path) -> None:
    clock = FrozenClock(datetime(2024, 1, 1, 12, 0, tzinfo=UTC))
    app = create_app(RecordedSource(folder), clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as api:
        r = await api.get("/oddsapi/v4/sports/basketball_nba/odds",
                          params={"apiKey": DEMO_API_KEY, "regions": "us", "oddsFormat": "american"})  # fmt: skip
        assert r.headers["x-replay-source"] == "recorded"
        assert r.json() == [EVENT]
        r = await api.get("/gamma/events/keyset", params={"closed": "false"})
        assert r.json() == {"events": []}


@pytest.mark.shared
def test_the_shared_recordings_load_and_step(data_dir: Path) -> None:
    source = RecordedSource(data_dir / "oddsapi_historical")
    assert len(source.odds_snapshots) > 500
    start = source.default_start()
    events = source.odds(start + timedelta(minutes=1))
    assert events
    assert all(len(e["id"]) == 32 for e in events)
    snap = source.historical_odds(datetime(2024, 4, 12, 12, 0, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert snap is not None
    assert snap.timestamp == datetime(2024, 4, 12, 11, 55, 39, tzinfo=UTC)
    assert snap.previous_timestamp == datetime(2024, 4, 12, 11, 50, 39, tzinfo=UTC)
