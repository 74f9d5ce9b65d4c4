"""Pure parsing and normalising of The Odds API v4 payloads (no I/O).

Accepted shapes:
- `/odds`: a list of event objects with `bookmakers`;
- `/events/{id}/odds`: one event object (`last_update` only on markets, `description` on prop outcomes);
- the historical wrapper `{"timestamp", "previous_timestamp"?, "next_timestamp"?, "data": ...}` around
  either of the above (or around a list of events without bookmakers, from `/historical/.../events`);
- `/events`: a list of events without bookmakers;
- `/scores`: a list of events with `completed`, `scores` (null or `[{name, score: str}]`), `last_update`.

Prices: American prices are integers (`-110`, `240`), decimal prices are floats above 1. The format is given
by the caller or detected per market (`odds_format=None`). Every parser either returns typed values or
raises `PayloadError` naming the endpoint and the problem; it never returns half a payload.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from odds_analytics.prices import american_to_decimal, decimal_to_american
from odds_models.clock import parse_iso_utc, sane_time
from odds_models.errors import PayloadError
from odds_models.text import strip_nul

__all__ = [
    "IMPORT_SOURCES",
    "EventOdds",
    "EventPayload",
    "OddsEnvelope",
    "OddsRow",
    "ParsedOddsPayload",
    "RejectedEvent",
    "ScoreUpdate",
    "american_to_decimal",
    "convert_price",
    "decimal_to_american",
    "detect_payload_kind",
    "markets_key",
    "markets_text",
    "odds_row_key",
    "optional_timestamp",
    "parse_event",
    "parse_event_odds",
    "parse_events_payload",
    "parse_odds_payload",
    "parse_scores_payload",
    "parse_timestamp",
    "plan_status_changes",
    "require_list",
    "unwrap_odds_payload",
]

MAX_PRICE = 100_000.0  # beyond any real quote in either format; keeps American prices inside int32
MAX_SCORE = 100_000  # far beyond any real score; keeps scores inside the int32 columns

OddsFormat = Literal["decimal", "american"]
PayloadKind = Literal["odds", "event_odds", "historical_odds", "historical_event_odds", "events",
                      "historical_events"]  # fmt: skip


# --------------------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------------------


def parse_timestamp(value: Any, *, endpoint: str = "", what: str = "timestamp") -> datetime:
    """ISO 8601 (`...Z` or an offset) or unix seconds → aware UTC datetime; PayloadError otherwise."""
    if isinstance(value, bool):
        raise PayloadError(f"{endpoint}: {what} is not a time: {value!r}", endpoint=endpoint)
    if isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > 1e11:
            raise PayloadError(f"{endpoint}: {what} is not a time: {value!r}", endpoint=endpoint)
        try:
            moment = datetime.fromtimestamp(value, UTC)
        except (OverflowError, ValueError, OSError):  # before year 1 (negative seconds)
            raise PayloadError(f"{endpoint}: {what} is out of range: {value!r}", endpoint=endpoint) from None
        return sane_time(moment, what=f"{endpoint}: {what} {value!r}", endpoint=endpoint)
    if not isinstance(value, str) or not value:
        raise PayloadError(
            f"{endpoint}: {what} is missing or not a string: {value!r}"[:300], endpoint=endpoint
        )
    try:
        parsed = parse_iso_utc(value.strip())
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00, which is before year 1 in UTC
        raise PayloadError(
            f"{endpoint}: {what} is out of range: {value!r}"[:300], endpoint=endpoint
        ) from None
    except ValueError:
        raise PayloadError(
            f"{endpoint}: {what} is not ISO 8601: {value!r}"[:300], endpoint=endpoint
        ) from None
    return sane_time(parsed, what=f"{endpoint}: {what} {value!r}"[:200], endpoint=endpoint)


def optional_timestamp(value: Any, *, endpoint: str, what: str) -> datetime | None:
    if value is None:
        return None
    return parse_timestamp(value, endpoint=endpoint, what=what)


def _require_str(obj: dict[str, Any], name: str, *, endpoint: str, where: str) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(
            f"{endpoint}: {where} has no valid `{name}` (got {type(value).__name__})", endpoint=endpoint
        )
    return value


def _require_dict(value: Any, *, endpoint: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError(
            f"{endpoint}: {where} is not an object (got {type(value).__name__})", endpoint=endpoint
        )
    return value


def require_list(value: Any, *, endpoint: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise PayloadError(
            f"{endpoint}: {where} is not a list (got {type(value).__name__})", endpoint=endpoint
        )
    return value


# --------------------------------------------------------------------------------------------------------
# types
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventPayload:
    """An event as The Odds API lists it (teams are full names)."""

    id: str
    sport_key: str
    home_team: str
    away_team: str
    commence_time: datetime


@dataclass(slots=True)
class OddsRow:
    """One normalised price. `price_decimal` is always set; `price_american` as given or converted."""

    event_id: str
    bookmaker: str
    market: str
    outcome: str
    description: str
    point: float | None
    price_decimal: float
    price_american: int | None
    bookmaker_last_update: datetime | None
    market_last_update: datetime | None
    raw_price: float = 0.0
    price_valid: bool = True


def odds_row_key(row: OddsRow) -> tuple[str, str, str, str, float | None]:
    """The part of the `odds` unique key inside one snapshot."""
    return (row.bookmaker, row.market, row.outcome, row.description, row.point)


MARKETS_KEY_MAX = 512


def markets_key(bookmakers: Sequence[Any]) -> str:
    """The market part of a snapshot's key: the sorted, comma-joined market keys its bookmakers hold.

    A featured file (`h2h,spreads,totals`) and a player-props file of the same event and moment get
    different keys, so both are stored. Keys longer than 512 characters end in `+md5:<hash of the whole>`.
    Migration 0002 computes the same value in SQL for the rows stored before it.

    >>> markets_key([{"markets": [{"key": "totals"}, {"key": "h2h"}]}, {"markets": [{"key": "h2h"}]}])
    'h2h,totals'
    """
    keys: set[str] = set()
    for book in bookmakers:
        markets = book.get("markets") if isinstance(book, dict) else None
        for market in markets if isinstance(markets, list) else ():
            key = market.get("key") if isinstance(market, dict) else None
            if isinstance(key, str):
                keys.add(key)
    return markets_text(keys)


def markets_text(keys: set[str]) -> str:
    """`markets_key` from the set of market keys already collected."""
    text = ",".join(sorted(keys))
    if len(text) > MARKETS_KEY_MAX:
        digest = hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()
        text = f"{text[: MARKETS_KEY_MAX - 37]}+md5:{digest}"
    return text


@dataclass(frozen=True)
class RejectedEvent:
    """An event of an odds response that did not parse: where it was, its id if readable, and why."""

    index: int
    event_id: str | None
    reason: str


@dataclass
class EventOdds:
    """One event's odds in one response: the raw bookmakers (kept as JSONB) and the normalised rows."""

    event: EventPayload
    bookmakers: list[Any]
    rows: list[OddsRow] = field(default_factory=list)
    duplicates: list[OddsRow] = field(default_factory=list)
    latest_update: datetime | None = None


@dataclass
class ParsedOddsPayload:
    """A parsed odds response: its kind, the snapshot time when the payload states one, and the events."""

    kind: PayloadKind
    events: list[EventOdds]
    timestamp: datetime | None = None  # historical wrapper's `timestamp`
    previous_timestamp: datetime | None = None
    next_timestamp: datetime | None = None
    rejected: list[RejectedEvent] = field(default_factory=list)  # lenient parsing only

    @property
    def latest_update(self) -> datetime | None:
        times = [e.latest_update for e in self.events if e.latest_update is not None]
        return max(times) if times else None


@dataclass(frozen=True)
class ScoreUpdate:
    """One game of a `/scores` response; scores are integers (they arrive as strings) or None."""

    event: EventPayload
    completed: bool
    home_score: int | None
    away_score: int | None
    last_update: datetime | None

    @property
    def status(self) -> str:
        if self.completed:
            return "final"
        if self.home_score is not None or self.away_score is not None:
            return "live"
        return "scheduled"


# --------------------------------------------------------------------------------------------------------
# parsers
# --------------------------------------------------------------------------------------------------------


def parse_event(obj: Any, *, endpoint: str = "/odds", index: int | None = None) -> EventPayload:
    """The identity of an event object (id, teams, commence_time); PayloadError if any is missing."""
    where = "event" if index is None else f"event #{index}"
    data = _require_dict(obj, endpoint=endpoint, where=where)
    event_id = _require_str(data, "id", endpoint=endpoint, where=where)
    where = f"event {event_id}"
    home = _require_str(data, "home_team", endpoint=endpoint, where=where)
    away = _require_str(data, "away_team", endpoint=endpoint, where=where)
    commence = parse_timestamp(data.get("commence_time"), endpoint=endpoint, what=f"{where} commence_time")
    sport = data.get("sport_key")
    return EventPayload(
        id=event_id,
        sport_key=sport if isinstance(sport, str) and sport else "basketball_nba",
        home_team=home,
        away_team=away,
        commence_time=commence,
    )


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is int:
        return float(value) if abs(value) < 1e300 else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def _market_is_american(prices: list[float], raw: list[Any], odds_format: OddsFormat | None) -> bool:
    if odds_format is not None:
        return odds_format == "american"
    if any(p < 0 for p in prices):
        return True  # negative prices exist only in American odds
    return bool(prices) and all(isinstance(r, int) and abs(r) >= 100 for r in raw)


def convert_price(price: float, *, american: bool) -> tuple[float, int | None, bool]:
    """(decimal, american, valid). Invalid prices keep a decimal placeholder of `price` and valid=False."""
    if abs(price) > MAX_PRICE:
        return price, None, False
    if american:
        try:
            return american_to_decimal(price), round(price), True
        except ValueError:
            return price, None, False
    try:
        american_price = decimal_to_american(price)
    except ValueError:
        return price, None, False
    if (
        abs(american_price) > MAX_PRICE
    ):  # a decimal price a hair above 1 (1.00000001 -> -10^10): nonsense, and
        return price, None, False  # beyond int4, where it would fail the whole write
    return price, american_price, True


def _fail(endpoint: str, message: str) -> PayloadError:
    return PayloadError(f"{endpoint}: {message}"[:300], endpoint=endpoint)


def _key_of(obj: Any, *, endpoint: str, where: str) -> str:
    value = obj.get("key")
    if type(value) is not str or not value.strip():
        raise _fail(endpoint, f"{where} has no valid `key` (got {type(value).__name__})")
    return value


def parse_event_odds(
    obj: Any, *, endpoint: str, index: int | None, odds_format: OddsFormat | None
) -> EventOdds:
    # The hot path of every import: messages are only built when something is wrong.
    event = parse_event(obj, endpoint=endpoint, index=index)
    where = f"event {event.id}"
    books = obj.get("bookmakers", [])
    if books is None:
        books = []
    books = require_list(books, endpoint=endpoint, where=f"{where} bookmakers")
    result = EventOdds(event=event, bookmakers=books)
    seen: set[tuple[str, str, str, str, float | None]] = set()
    latest: datetime | None = None
    stamps: dict[Any, datetime | None] = {None: None}

    def stamp_of(value: Any, what: Callable[[], str]) -> datetime | None:
        try:
            return stamps[value]
        except KeyError:
            pass
        except TypeError:  # unhashable junk
            return parse_timestamp(value, endpoint=endpoint, what=what())
        parsed_stamp = parse_timestamp(value, endpoint=endpoint, what=what())
        stamps[value] = parsed_stamp
        return parsed_stamp

    for b_index, book in enumerate(books):
        if type(book) is not dict:
            raise _fail(
                endpoint, f"{where} bookmaker #{b_index} is not an object (got {type(book).__name__})"
            )
        book_key = _key_of(book, endpoint=endpoint, where=f"{where} bookmaker #{b_index}")
        book_update = stamp_of(
            book.get("last_update"), lambda bk=book_key: f"{where} bookmaker {bk} last_update"
        )
        markets = book.get("markets", [])
        if type(markets) is not list:
            raise _fail(endpoint, f"{where} bookmaker {book_key} markets is not a list")
        for m_index, market in enumerate(markets):
            if type(market) is not dict:
                raise _fail(endpoint, f"{where} bookmaker {book_key} market #{m_index} is not an object")
            market_key = _key_of(
                market, endpoint=endpoint, where=f"{where} bookmaker {book_key} market #{m_index}"
            )
            market_update = stamp_of(
                market.get("last_update"),
                lambda bk=book_key, mk=market_key: f"{where} bookmaker {bk} market {mk} last_update",
            )
            for stamp in (book_update, market_update):
                if stamp is not None and (latest is None or stamp > latest):
                    latest = stamp
            outcomes = market.get("outcomes", [])
            if type(outcomes) is not list:
                raise _fail(
                    endpoint, f"{where} bookmaker {book_key} market {market_key} outcomes is not a list"
                )
            parsed: list[tuple[str, str, float | None, float, Any]] = []
            for o_index, outcome in enumerate(outcomes):
                if type(outcome) is not dict:
                    raise _fail(endpoint, f"{where} bookmaker {book_key} market {market_key} outcome #{o_index} "
                                          "is not an object")  # fmt: skip
                name = outcome.get("name")
                if type(name) is not str or not name.strip():
                    raise _fail(endpoint, f"{where} bookmaker {book_key} market {market_key} outcome #{o_index} "
                                          f"has no valid `name` (got {type(name).__name__})")  # fmt: skip
                raw_price = outcome.get("price")
                price = _number(raw_price)
                if price is None:
                    raise _fail(endpoint, f"{where} bookmaker {book_key} market {market_key} outcome {name!r} "
                                          f"has no numeric price ({raw_price!r})")  # fmt: skip
                point_raw = outcome.get("point")
                point = None if point_raw is None else _number(point_raw)
                if point_raw is not None and point is None:
                    raise _fail(endpoint, f"{where} bookmaker {book_key} market {market_key} outcome {name!r} "
                                          f"has a non-numeric point ({point_raw!r})")  # fmt: skip
                desc = outcome.get("description")
                parsed.append((name, desc if type(desc) is str else "", point, price, raw_price))
            american = _market_is_american([p[3] for p in parsed], [p[4] for p in parsed], odds_format)
            for name, description, point, price, _raw in parsed:
                dec, am, ok = convert_price(price, american=american)
                row = OddsRow(
                    event.id, book_key, market_key, name, description, point, dec, am, book_update, market_update,
                    price, ok,
                )  # fmt: skip
                key = odds_row_key(row)
                if key in seen:
                    result.duplicates.append(row)
                    continue
                seen.add(key)
                result.rows.append(row)
    result.latest_update = latest
    return result


# The `odds_snapshots.source` of an imported file, by its payload kind: a historical file's snapshot is the
# same moment a live backfill would store (`historical`, so it adds nothing twice).
IMPORT_SOURCES: dict[str, str] = {"odds": "import:odds", "event_odds": "import:event_odds",
                                  "historical_odds": "historical", "historical_event_odds": "historical"}  # fmt: skip


class OddsEnvelope(NamedTuple):
    """An odds response's wrapper read: its kind, the historical times (None otherwise) and the event objects."""

    kind: PayloadKind
    timestamp: datetime | None
    previous_timestamp: datetime | None
    next_timestamp: datetime | None
    events: list[Any]


def unwrap_odds_payload(data: Any, *, endpoint: str) -> OddsEnvelope:
    """The envelope of `/odds`, `/events/{id}/odds` or a historical wrapper (`data` already NUL-stripped);
    the event objects are not parsed. PayloadError if the wrapper or its times are malformed."""
    kind = detect_payload_kind(data, endpoint=endpoint)
    timestamp = previous = nxt = None
    if kind.startswith("historical"):
        timestamp = parse_timestamp(data.get("timestamp"), endpoint=endpoint, what="historical timestamp")
        previous = optional_timestamp(data.get("previous_timestamp"), endpoint=endpoint,
                                       what="previous_timestamp")  # fmt: skip
        nxt = optional_timestamp(data.get("next_timestamp"), endpoint=endpoint, what="next_timestamp")
        inner = data["data"]
        items = [inner] if isinstance(inner, dict) else require_list(inner, endpoint=endpoint, where="data")
    elif kind == "event_odds":
        items = [data]
    else:
        items = require_list(data, endpoint=endpoint, where="response")
    return OddsEnvelope(kind, timestamp, previous, nxt, items)


def detect_payload_kind(data: Any, *, endpoint: str = "file") -> PayloadKind:
    """Which response this is: `/odds` list, event odds object, historical wrapper (of either), events."""
    if isinstance(data, list):
        if data and all(isinstance(item, dict) and "bookmakers" not in item for item in data):
            return "events"
        return "odds"
    if isinstance(data, dict):
        if "data" in data and "timestamp" in data:
            inner = data["data"]
            if isinstance(inner, dict):
                return "historical_event_odds"
            if (
                isinstance(inner, list)
                and inner
                and all(isinstance(item, dict) and "bookmakers" not in item for item in inner)
            ):
                return "historical_events"
            return "historical_odds"
        if "bookmakers" in data:
            return "event_odds"
        if {"message", "error_code"} <= data.keys():
            raise PayloadError(f"{endpoint}: this is an API error body ({data.get('error_code')}), not odds",
                               endpoint=endpoint)  # fmt: skip
    raise PayloadError(
        f"{endpoint}: not an Odds API odds payload (expected a list of events, an event object or a "
        f"historical wrapper; got {type(data).__name__})",
        endpoint=endpoint,
    )


def parse_odds_payload(
    data: Any, *, endpoint: str = "/odds", odds_format: OddsFormat | None = None, lenient: bool = False
) -> ParsedOddsPayload:
    """Parse `/odds`, `/events/{id}/odds` or a historical wrapper into events with normalised rows.

    Raises PayloadError (naming `endpoint` and the problem) on any missing required field; returns
    nothing partial. Events without bookmakers parse to an `EventOdds` with no rows.

    `lenient=True` (paid responses): an event that does not parse is left out and listed in `rejected`
    (index, id when readable, reason) so the good events of the same response are kept. The envelope
    (wrapper, list) must still parse, and a response in which no event parses raises PayloadError.
    """
    kind, timestamp, previous, nxt, items = unwrap_odds_payload(strip_nul(data), endpoint=endpoint)
    if not lenient:
        events = [
            parse_event_odds(item, endpoint=endpoint, index=i, odds_format=odds_format)
            for i, item in enumerate(items)
        ]
        return ParsedOddsPayload(kind=kind, events=events, timestamp=timestamp, previous_timestamp=previous,
                                 next_timestamp=nxt)  # fmt: skip
    events, rejected = [], []
    for i, item in enumerate(items):
        try:
            events.append(parse_event_odds(item, endpoint=endpoint, index=i, odds_format=odds_format))
        except PayloadError as exc:
            raw_id = item.get("id") if isinstance(item, dict) else None
            rejected.append(RejectedEvent(i, raw_id[:64] if isinstance(raw_id, str) else None, str(exc)))
    if rejected and not events:
        first = rejected[0].reason
        more = f" (and {len(rejected) - 1} more event(s))" if len(rejected) > 1 else ""
        raise PayloadError(f"{first}{more}"[:300], endpoint=endpoint)
    return ParsedOddsPayload(kind=kind, events=events, timestamp=timestamp, previous_timestamp=previous,
                             next_timestamp=nxt, rejected=rejected)  # fmt: skip


def parse_events_payload(data: Any, *, endpoint: str = "/events") -> list[EventPayload]:
    """Parse `/events` (a list) or the historical events wrapper into events."""
    data = strip_nul(data)
    if isinstance(data, dict) and "data" in data:
        data = data["data"]
    items = require_list(data, endpoint=endpoint, where="response")
    return [parse_event(item, endpoint=endpoint, index=i) for i, item in enumerate(items)]


def _score_value(value: Any, *, endpoint: str, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{endpoint}: {where} score is not a number: {value!r}", endpoint=endpoint)
    number: int | None = None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 12:
        number = int(value.strip())
    if number is not None and 0 <= number <= MAX_SCORE:
        return number
    raise PayloadError(
        f"{endpoint}: {where} score is not a whole number from 0 to {MAX_SCORE}: {value!r}"[:300],
        endpoint=endpoint,
    )


def parse_scores_payload(data: Any, *, endpoint: str = "/scores") -> list[ScoreUpdate]:
    """Parse `/scores`: scores are strings (or null before tip); teams are matched by name."""
    items = require_list(strip_nul(data), endpoint=endpoint, where="response")
    updates: list[ScoreUpdate] = []
    for i, item in enumerate(items):
        event = parse_event(item, endpoint=endpoint, index=i)
        where = f"event {event.id}"
        completed = item.get("completed", False)
        if not isinstance(completed, bool):
            raise PayloadError(f"{endpoint}: {where} `completed` is not a boolean", endpoint=endpoint)
        scores = item.get("scores")
        home = away = None
        if scores is not None:
            for s_index, entry_obj in enumerate(
                require_list(scores, endpoint=endpoint, where=f"{where} scores")
            ):
                entry = _require_dict(entry_obj, endpoint=endpoint, where=f"{where} score #{s_index}")
                name = _require_str(entry, "name", endpoint=endpoint, where=f"{where} score #{s_index}")
                value = _score_value(entry.get("score"), endpoint=endpoint, where=f"{where} {name}")
                if name == event.home_team:
                    home = value
                elif name == event.away_team:
                    away = value
                else:
                    raise PayloadError(
                        f"{endpoint}: {where} has a score for {name!r}, which is neither team",
                        endpoint=endpoint,
                    )
        last_update = optional_timestamp(
            item.get("last_update"), endpoint=endpoint, what=f"{where} last_update"
        )
        updates.append(ScoreUpdate(event=event, completed=completed, home_score=home, away_score=away,
                                   last_update=last_update))  # fmt: skip
    return updates


def plan_status_changes(
    known: Sequence[tuple[str, datetime, str]],
    updates: Sequence[ScoreUpdate],
    *,
    now: datetime,
    days_from: int | None,
    moved_hours: float = 12.0,
    grace: timedelta = timedelta(hours=1),
) -> tuple[list[str], list[str]]:
    """(cancelled ids, postponed ids) from a `/scores` response and the stored events.

    - moved: a game the response lists as not started whose commence_time moved by more than
      `moved_hours` → postponed;
    - vanished: a stored scheduled/live game that should have been in the response (it started between
      `now - days_from` days and `now - grace`) but is not → cancelled. Without `days_from` the response
      omits completed games, so nothing is judged vanished.
    """
    seen = {u.event.id: u for u in updates}
    postponed: list[str] = []
    cancelled: list[str] = []
    by_id = {event_id: (commence, status) for event_id, commence, status in known}
    for event_id, update in seen.items():
        old = by_id.get(event_id)
        if old is None or old[1] == "final" or update.status != "scheduled":
            continue
        if abs((update.event.commence_time - old[0]).total_seconds()) > moved_hours * 3600:
            postponed.append(event_id)
    if days_from:
        window_start = now - timedelta(days=days_from)
        for event_id, (commence, status) in by_id.items():
            if event_id in seen or status not in ("scheduled", "live"):
                continue
            if window_start <= commence <= now - grace:
                cancelled.append(event_id)
    return sorted(cancelled), sorted(postponed)
