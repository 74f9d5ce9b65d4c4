"""The import's parser for the common case: an odds file straight to binary COPY rows (issue 17).

`parse_odds_file_fast(data, where=..., spec=...)`, which `tasks.import_oddsapi.parse_payload_file(path, spec,
fast=True)` calls for an odds file, returns what the general parser returns: the same
snapshot items with the same rows, findings and errors, but an event whose odds are *clean* (every shape as
the API sends it, every price valid, no data-quality finding) comes out as binary COPY rows
(`SnapshotItem.copy_rows`, see `tasks.storage.odds_copy`) built in one pass over its JSON, with no `OddsRow`
per price and no validation pass. Everything else goes through the general code, event by event: the fast
pass only ever *accepts* an event or hands it over (`None`), and on any doubt it hands it over — an odd type,
a timestamp it has not seen, a repeated (bookmaker, market) pair, a duplicate outcome, a price or market a
check would flag, a `last_update` after the snapshot time. The general parser then returns the same event
(with its findings) or raises the same `PayloadError`, so a file that does not parse is still refused whole,
with the same message. `tests/tasks/test_import_fast.py` compares both paths on the real files and on
hostile variants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from odds_analytics.oddsapi import (
    IMPORT_SOURCES,
    EventOdds,
    EventPayload,
    convert_price,
    markets_key,
    markets_text,
    parse_event,
    parse_event_odds,
    parse_timestamp,
    unwrap_odds_payload,
)
from odds_analytics.tiers import TierSpec, hours_to_commence
from odds_analytics.validation import (
    FUTURE_TOLERANCE,
    MAX_DECIMAL,
    MAX_OVERROUND,
    MIN_OVERROUND,
    base_market,
    validate_event_odds,
)
from odds_models.errors import PayloadError
from odds_models.odds_states import STATE_MARKETS
from odds_models.text import strip_nul
from tasks.storage.odds import SnapshotItem, json_text
from tasks.storage.odds_copy import outcome_part, text_field, timestamptz_field

__all__ = ["parse_odds_file_fast"]

_STATE_MARKETS = frozenset(STATE_MARKETS)
_TWO_WAY = ("h2h", "spreads", "totals")
_TOTALS_NAMES = frozenset(("Over", "Under"))


@dataclass
class _FastEvent:
    """One event's odds from the fast pass: identity, raw bookmakers, COPY row parts and what the checks
    left for later (the snapshot time is known only once every event of the file is read)."""

    event: EventPayload
    bookmakers: list[Any]
    copy_rows: list[bytes] = field(default_factory=list)
    markets: set[str] = field(default_factory=set)
    featured: bool = False  # a row of a market `odds_states` keeps
    latest_update: datetime | None = None  # as `EventOdds.latest_update`
    latest_row_update: datetime | None = None  # the latest update time of a market that has rows


_MISSING = object()
_TRUE_NO_NOTES = b"\x00\x00\x00\x01\x01" + b"\xff\xff\xff\xff"  # is_valid true, notes NULL


class _Stamps:
    """`last_update` values of one file, parsed once each (a few strings repeat thousands of times): the
    time and its COPY field."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.parsed: dict[Any, tuple[datetime | None, bytes]] = {None: (None, timestamptz_field(None))}

    def parse(self, value: Any) -> tuple[datetime | None, bytes] | None:
        """The time and its field, or None when the general parser must judge the value (and word the error)."""
        if type(value) is not str:
            return None  # unix seconds, junk
        try:
            stamp = parse_timestamp(value, endpoint=self.endpoint)
        except PayloadError:
            return None
        self.parsed[value] = found = (stamp, timestamptz_field(stamp))
        return found


class _Caches:
    """Per-process caches of pure functions of the values (prices, outcome parts, market families)."""

    def __init__(self) -> None:
        self.convert: dict[tuple[float, bool], tuple[float, int | None, bool]] = {}
        self.outcome: dict[tuple[str, str, float | None, float, int | None], bytes] = {}
        self.base: dict[str, str] = {}


_CACHE = _Caches()
_CACHE_MAX = 50_000  # entries per cache (the three seasons fill 26,057 outcome parts); emptied when full


def _fast_event(obj: Any, stamps: _Stamps, *, endpoint: str, index: int) -> _FastEvent | None:
    """The event's clean odds as COPY row parts, or None to hand the event to the general parser."""
    try:
        return _fast_event_or_none(obj, stamps, endpoint=endpoint, index=index)
    except UnicodeEncodeError:  # a lone surrogate (strip_nul has replaced them; a guard): the general parser
        return None


def _fast_event_or_none(obj: Any, stamps: _Stamps, *, endpoint: str, index: int) -> _FastEvent | None:
    if type(obj) is not dict:
        return None
    event = parse_event(obj, endpoint=endpoint, index=index)  # raises exactly as the general parser does
    books = obj.get("bookmakers", [])
    if books is None:
        books = []
    if type(books) is not list:
        return None
    result = _FastEvent(event=event, bookmakers=books)
    rows = result.copy_rows
    append = rows.append
    markets = result.markets
    teams = (event.home_team, event.away_team)
    pairs: set[tuple[str, str]] = set()
    updates: set[datetime | None] = set()  # of every market (`latest_update`)
    row_updates: set[datetime | None] = set()  # of the markets with rows
    known = stamps.parsed
    convert_cache = _CACHE.convert
    outcome_cache = _CACHE.outcome
    base_cache = _CACHE.base
    for book in books:
        if type(book) is not dict:
            return None
        book_key = book.get("key")
        if type(book_key) is not str or not book_key.strip():
            return None
        raw = book.get("last_update")
        found = known.get(raw, _MISSING) if type(raw) is str or raw is None else None
        if found is _MISSING:
            found = stamps.parse(raw)
        if found is None:
            return None
        book_update, book_field = found
        book_head = text_field(book_key)
        book_markets = book.get("markets", [])
        if type(book_markets) is not list:
            return None
        for market in book_markets:
            if type(market) is not dict:
                return None
            market_key = market.get("key")
            if type(market_key) is not str or not market_key.strip():
                return None
            raw = market.get("last_update")
            found = known.get(raw, _MISSING) if type(raw) is str or raw is None else None
            if found is _MISSING:
                found = stamps.parse(raw)
            if found is None:
                return None
            market_update, market_field = found
            updates.add(book_update)
            updates.add(market_update)
            outcomes = market.get("outcomes", [])
            if type(outcomes) is not list:
                return None
            pair = (book_key, market_key)
            if pair in pairs:
                return None  # the checks group rows by (bookmaker, market) across the event
            pairs.add(pair)
            markets.add(market_key)
            if not outcomes:
                continue
            parsed: list[tuple[str, str, float | None, float]] = []
            american = False
            all_american_ints = True
            for outcome in outcomes:
                if type(outcome) is not dict:
                    return None
                name = outcome.get("name")
                if type(name) is not str or not name.strip():
                    return None
                raw_price = outcome.get("price")
                kind = type(raw_price)
                if kind is float:
                    if not math.isfinite(raw_price):
                        return None
                    price = raw_price
                    all_american_ints = False
                elif kind is int:
                    if not abs(raw_price) < 1e300:
                        return None
                    price = float(raw_price)
                    if abs(raw_price) < 100:
                        all_american_ints = False
                else:
                    return None
                if price < 0:
                    american = True
                point = outcome.get("point")
                if point is not None:
                    kind = type(point)
                    if kind is int:
                        if not abs(point) < 1e300:
                            return None
                        point = float(point)
                    elif kind is not float or not math.isfinite(point):
                        return None
                desc = outcome.get("description")
                parsed.append((name, desc if type(desc) is str else "", point, price))
            american = american or all_american_ints  # `_market_is_american` with no format given
            converted = []
            for name, description, point, price in parsed:
                key = (price, american)
                conv = convert_cache.get(key)
                if conv is None:
                    conv = convert_price(price, american=american)
                    if len(convert_cache) >= _CACHE_MAX:
                        convert_cache.clear()
                    convert_cache[key] = conv
                dec, am, ok = conv
                if not ok or not 1.0 < dec <= MAX_DECIMAL:
                    return None  # price_out_of_range
                converted.append((name, description, point, dec, am))
            if len(converted) > 1 and len({(c[0], c[1], c[2]) for c in converted}) != len(converted):
                return None  # duplicate_outcome
            base = base_cache.get(market_key)
            if base is None:
                base = base_market(market_key)
                if len(base_cache) >= _CACHE_MAX:
                    base_cache.clear()
                base_cache[market_key] = base
            if base in _TWO_WAY:
                if len(converted) != 2:
                    return None  # missing_outcome
                a, b = converted
                if base == "totals":
                    if a[0] not in _TOTALS_NAMES or b[0] not in _TOTALS_NAMES:
                        return None
                    if a[2] is None or b[2] is None or abs(a[2] - b[2]) > 1e-9:
                        return None
                else:
                    if a[0] not in teams or b[0] not in teams:
                        return None
                    if base == "spreads" and (a[2] is None or b[2] is None or abs(a[2] + b[2]) > 1e-9):
                        return None
                overround = 1.0 / a[3] + 1.0 / b[3] - 1.0
                if overround < MIN_OVERROUND or overround > MAX_OVERROUND:
                    return None
                if market_key in _STATE_MARKETS:
                    result.featured = True
            row_updates.add(book_update)
            row_updates.add(market_update)
            head = book_head + text_field(market_key) + book_field + market_field + _TRUE_NO_NOTES
            for values in converted:
                part = outcome_cache.get(values) if values[2] != 0.0 else None  # 0.0 == -0.0: not cached
                if part is None:
                    am = values[4]
                    if am is not None and not -(2**31) <= am < 2**31:
                        return None
                    part = outcome_part(*values)
                    if values[2] != 0.0:
                        if len(outcome_cache) >= _CACHE_MAX:
                            outcome_cache.clear()
                        outcome_cache[values] = part
                append(head + part)
    updates.discard(None)
    row_updates.discard(None)
    result.latest_update = max(updates) if updates else None
    result.latest_row_update = max(row_updates) if row_updates else None
    return result


def parse_odds_file_fast(data: Any, *, where: str, spec: TierSpec) -> list[SnapshotItem]:
    """`parse_odds_payload` then `build_snapshot_items` of an odds file's JSON, with the fast pass per event."""
    envelope = unwrap_odds_payload(strip_nul(data), endpoint=where)
    kind, timestamp, objs = envelope.kind, envelope.timestamp, envelope.events
    stamps = _Stamps(where)
    events: list[_FastEvent | EventOdds] = []
    for i, obj in enumerate(objs):
        fast = _fast_event(obj, stamps, endpoint=where, index=i)
        events.append(
            fast if fast is not None else parse_event_odds(obj, endpoint=where, index=i, odds_format=None)
        )
    source = IMPORT_SOURCES[kind]
    times = [e.latest_update for e in events if e.latest_update is not None]
    when = timestamp or (max(times) if times else None)
    if when is None and any(e.copy_rows if isinstance(e, _FastEvent) else e.rows for e in events):
        raise PayloadError("odds payload: no snapshot time (no timestamp and no last_update)")
    items = []
    for i, parsed in enumerate(events):
        at = when or parsed.event.commence_time
        hours = hours_to_commence(parsed.event.commence_time, at)
        index = spec.index(hours)
        tier = None if index is None else spec.names[index]
        ev = parsed
        if isinstance(parsed, _FastEvent):
            late = parsed.latest_row_update
            if not (parsed.copy_rows and late is not None and late > at + FUTURE_TOLERANCE):
                items.append(SnapshotItem(
                    event=parsed.event, source=source, snapshot_time=at, fetch_tier=tier,
                    hours_to_commence=round(hours, 4), raw=[], rows=[],
                    markets=markets_text(parsed.markets), copy_rows=parsed.copy_rows, featured=parsed.featured,
                    raw_json=json_text(parsed.bookmakers), raw_count=len(parsed.bookmakers),
                ))  # fmt: skip
                continue
            ev = parse_event_odds(objs[i], endpoint=where, index=i, odds_format=None)  # future_timestamp
        items.append(SnapshotItem(
            event=ev.event, source=source, snapshot_time=at, fetch_tier=tier, hours_to_commence=round(hours, 4),
            raw=ev.bookmakers, rows=ev.rows, findings=validate_event_odds(ev, snapshot_time=at),
            markets=markets_key(ev.bookmakers),
        ))  # fmt: skip
    return items
