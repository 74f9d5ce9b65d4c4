"""Serve real historical Odds API responses from a folder, as they were.

The folder holds bodies of `GET /v4/historical/sports/basketball_nba/odds` (and optionally of the
historical events endpoint), plain or gzipped JSON, e.g. `../shared/data/oddsapi_historical`:
`odds/<season>/odds_<date>_<kind>.json.gz` and `events/<season>/events_<date>.json.gz`. Any file whose
body is the historical wrapper `{"timestamp", "data": [...]}` with events carrying `bookmakers` counts as
an odds snapshot; without `bookmakers`, as an events snapshot.

- `/odds` at simulated time t answers from the latest recorded snapshot at or before t (the events in it
  that have not finished: commence_time later than t - 3 h);
- the historical endpoints answer from the snapshot at or before `date`, with the recorded
  `previous_timestamp` / `next_timestamp` (or the neighbouring files' timestamps where absent);
- `/events` lists the events of the latest events (or odds) snapshot at or before t;
- there are no recorded scores or Polymarket data: those endpoints answer empty lists.

The recorded prices are American; the routes convert them when decimal odds are asked for.
"""

from __future__ import annotations

import bisect
import gzip
import json
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from odds_models.errors import PayloadError
from replay.common import american_to_decimal, parse_iso
from replay.source import HistoricalSnapshot, Quote

__all__ = ["RecordedSnapshot", "RecordedSource", "scan_folder"]

IN_PLAY_WINDOW = timedelta(hours=3)


class RecordedSnapshot:
    """One recorded file: its timestamp, neighbours as recorded, and (lazily) its events."""

    def __init__(self, path: Path, timestamp: datetime, kind: str) -> None:
        self.path = path
        self.timestamp = timestamp
        self.kind = kind  # odds | events
        self.previous: datetime | None = None
        self.next: datetime | None = None

    def data(self) -> list[dict[str, Any]]:
        return _load(self.path)["data"]


@lru_cache(maxsize=64)
def _load(path: Path) -> dict[str, Any]:
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        body = json.loads(raw)
    except (OSError, ValueError) as exc:
        raise PayloadError(f"recorded file {path.name} is not readable JSON: {exc}") from None
    if not isinstance(body, dict) or not isinstance(body.get("data"), list) or "timestamp" not in body:
        raise PayloadError(f"recorded file {path.name} is not a historical wrapper {{timestamp, data}}")
    return body


def _read_header(path: Path) -> tuple[datetime, str, datetime | None, datetime | None]:
    body = _load(path)
    stamp = parse_iso(str(body["timestamp"]))
    if stamp is None:
        raise PayloadError(f"recorded file {path.name}: bad timestamp {body['timestamp']!r}")
    data = body["data"]
    kind = (
        "odds"
        if any("bookmakers" in e for e in data if isinstance(e, dict)) or "odds" in path.name
        else "events"
    )
    prev = parse_iso(str(body["previous_timestamp"])) if body.get("previous_timestamp") else None
    nxt = parse_iso(str(body["next_timestamp"])) if body.get("next_timestamp") else None
    return stamp, kind, prev, nxt


def scan_folder(folder: Path) -> tuple[list[RecordedSnapshot], list[RecordedSnapshot]]:
    """(odds snapshots, events snapshots), each sorted by timestamp."""
    if not folder.exists():
        raise PayloadError(f"recorded folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith((".json", ".json.gz")))
    odds: list[RecordedSnapshot] = []
    events: list[RecordedSnapshot] = []
    for path in files:
        stamp, kind, prev, nxt = _read_header(path)
        snap = RecordedSnapshot(path, stamp, kind)
        snap.previous, snap.next = prev, nxt
        (odds if kind == "odds" else events).append(snap)
    if not odds:
        raise PayloadError(f"recorded folder {folder} holds no historical odds files")
    for group in (odds, events):
        group.sort(key=lambda s: s.timestamp)
        for i, snap in enumerate(group):
            if snap.previous is None and i > 0:
                snap.previous = group[i - 1].timestamp
            if snap.next is None and i + 1 < len(group):
                snap.next = group[i + 1].timestamp
    return odds, events


def _decimal_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of a recorded event with American prices turned into decimal (the routes' internal form)."""
    out = dict(event)
    if "bookmakers" not in event:
        return out
    books = []
    for raw_book in event.get("bookmakers", []):
        book = dict(raw_book)
        markets = []
        for raw_market in raw_book.get("markets", []):
            market = dict(raw_market)
            outcomes = []
            for raw_outcome in raw_market.get("outcomes", []):
                outcome = dict(raw_outcome)
                price = outcome.get("price")
                if isinstance(price, int | float) and (price <= -100 or price >= 100):
                    outcome["price"] = round(american_to_decimal(price), 4)
                outcomes.append(outcome)
            market["outcomes"] = outcomes
            markets.append(market)
        book["markets"] = markets
        books.append(book)
    out["bookmakers"] = books
    return out


class RecordedSource:
    """Real Odds API responses from `folder`, served at simulated time. No Polymarket data."""

    label = "recorded"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.odds_snapshots, self.events_snapshots = scan_folder(self.folder)
        self._odds_times = [s.timestamp for s in self.odds_snapshots]
        self._events_times = [s.timestamp for s in self.events_snapshots]

    def default_start(self) -> datetime:
        return self.odds_snapshots[0].timestamp

    def end_time(self) -> datetime:
        return self.odds_snapshots[-1].timestamp

    def region_of(self, bookmaker: str) -> str | None:
        return None  # recorded with regions=us: every book counts as the requested region

    def _at(self, moment: datetime, kind: str = "odds") -> RecordedSnapshot | None:
        snaps, times = (
            (self.odds_snapshots, self._odds_times)
            if kind == "odds"
            else (self.events_snapshots, self._events_times)
        )
        i = bisect.bisect_right(times, moment)
        return snaps[i - 1] if i else None

    def odds(self, now: datetime) -> list[dict[str, Any]]:
        snap = self._at(now)
        if snap is None:
            return []
        return [_decimal_event(e) for e in snap.data() if _not_finished(e, now)]

    def events(self, now: datetime) -> list[dict[str, Any]]:
        snap = self._at(now, "events") or self._at(now)
        if snap is None:
            return []
        keys = ("id", "sport_key", "sport_title", "commence_time", "home_team", "away_team")
        return [{k: e[k] for k in keys if k in e} for e in snap.data() if _not_finished(e, now)]

    def scores(self, now: datetime, days_from: int | None) -> list[dict[str, Any]]:
        return []

    def historical_odds(self, date: datetime, now: datetime) -> HistoricalSnapshot | None:
        snap = self._at(min(date, now))
        if snap is None:
            return None
        return HistoricalSnapshot(
            snap.timestamp, snap.previous, snap.next, [_decimal_event(e) for e in snap.data()]
        )

    def historical_events(self, date: datetime, now: datetime) -> HistoricalSnapshot | None:
        snap = self._at(min(date, now), "events") or self._at(min(date, now))
        if snap is None:
            return None
        keys = ("id", "sport_key", "sport_title", "commence_time", "home_team", "away_team")
        return HistoricalSnapshot(
            snap.timestamp, snap.previous, snap.next, [{k: e[k] for k in keys if k in e} for e in snap.data()]
        )

    # -- no Polymarket in recordings ---------------------------------------------------------------------

    def gamma_events(self, now: datetime) -> list[dict[str, Any]]:
        return []

    def gamma_markets(self, now: datetime) -> list[dict[str, Any]]:
        return []

    def token_exists(self, token_id: str) -> bool:
        return False

    def book(self, token_id: str, now: datetime) -> dict[str, Any] | None:
        return None

    def quote(self, token_id: str, now: datetime) -> Quote | None:
        return None

    def history(
        self, token_id: str, start: datetime, end: datetime, fidelity_minutes: int, now: datetime
    ) -> list[dict[str, Any]]:
        return []

    def market_closed(self, token_id: str, now: datetime) -> bool:
        return False


def _not_finished(event: dict[str, Any], now: datetime) -> bool:
    commence = parse_iso(str(event.get("commence_time", "")))
    return commence is None or commence > now - IN_PLAY_WINDOW
