"""Gamma events and markets as plain data (`ParsedEvent`, `ParsedMarket`), ready for storage.

Gamma's `"2025-11-10 00:30:00+00"` (not ISO) is accepted; token ids stay decimal strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from odds_analytics.execution import GammaFees, parse_gamma_fees
from odds_analytics.polymarket.classify import MarketClass, classify_market
from odds_analytics.polymarket.parsing import (
    PolymarketFinding,
    field_bool,
    field_date,
    field_num,
    field_str,
    parse_gamma_datetime,
    parse_json_list,
    require_id,
)
from odds_models.errors import PayloadError
from odds_models.teams import resolve_team

__all__ = [
    "ParsedEvent",
    "ParsedMarket",
    "parse_events_leniently",
    "parse_gamma_event",
    "parse_gamma_events",
    "parse_gamma_market",
    "parse_gamma_markets",
]


@dataclass
class ParsedMarket:
    """A Gamma market, ready for `polymarket_markets`."""

    id: str
    question: str
    classification: MarketClass
    outcomes: list[str]
    token_ids: list[str]
    outcome_prices: list[float | None]
    polymarket_event_id: str | None = None
    condition_id: str | None = None
    slug: str | None = None
    sports_market_type: str | None = None
    game_start_time: datetime | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    closed_time: datetime | None = None
    active: bool | None = None
    closed: bool | None = None
    resolved_outcome: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    fees: GammaFees | None = None  # feesEnabled / feeSchedule / feeType as stated (odds_analytics.execution)


@dataclass
class ParsedEvent:
    """A Gamma event (one game for NBA), with its markets."""

    id: str
    slug: str
    title: str
    ticker: str | None = None
    series_id: str | None = None
    event_date: date | None = None
    start_time: datetime | None = None
    game_start_time: datetime | None = None
    away_team: str | None = None
    home_team: str | None = None
    active: bool | None = None
    closed: bool | None = None
    ended: bool | None = None
    score: str | None = None
    markets: list[ParsedMarket] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _resolved_outcome(
    closed: bool | None, status: Any, outcomes: list[str], prices: list[float | None]
) -> str | None:
    # Settled only when closed AND resolved by UMA; ["0.5","0.5"] then means void.
    if closed is not True or status != "resolved" or len(prices) != len(outcomes) or not outcomes:
        return None
    if all(p is not None and abs(p - 0.5) < 1e-9 for p in prices):
        return "void"
    for outcome, price in zip(outcomes, prices, strict=True):
        if price is not None and price >= 0.999:
            return outcome
    return None


def parse_gamma_market(payload: Any, *, event_id: str | None = None) -> ParsedMarket:
    """One Gamma market object. Raises `PayloadError` when it breaks the contract."""
    if not isinstance(payload, dict):
        raise PayloadError(f"gamma market: expected an object, got {type(payload).__name__}")
    market_id = require_id(payload, "id", "gamma market")
    what = f"gamma market {market_id}"
    question = payload.get("question")
    if question is not None and not isinstance(question, str):
        raise PayloadError(f"{what}: question is not a string")
    question = question or ""
    outcomes = parse_json_list(payload.get("outcomes"), name=f"{what} outcomes")
    token_ids = parse_json_list(payload.get("clobTokenIds"), name=f"{what} clobTokenIds", allow_int=True)
    raw_prices = parse_json_list(payload.get("outcomePrices"), name=f"{what} outcomePrices", allow_int=False)
    prices = [field_num(p, name=f"{what} outcomePrices") for p in raw_prices]
    if token_ids and outcomes and len(token_ids) != len(outcomes):
        raise PayloadError(f"{what}: {len(outcomes)} outcomes but {len(token_ids)} token ids")
    for token in token_ids:
        if not token.isdigit():
            raise PayloadError(f"{what}: token id {token[:20]!r} is not a decimal string")
    smt = field_str(payload.get("sportsMarketType"))
    line = field_num(payload.get("line"), name=f"{what} line")
    slug = field_str(payload.get("slug"))
    group_title = field_str(payload.get("groupItemTitle"))
    classification = classify_market(
        question,
        sports_market_type=smt,
        line=line,
        slug=slug,
        outcomes=outcomes,
        group_item_title=group_title,
    )
    if event_id is None:
        nested = payload.get("events")
        if (
            isinstance(nested, list)
            and nested
            and isinstance(nested[0], dict)
            and nested[0].get("id") is not None
        ):
            event_id = str(nested[0]["id"])
    closed = field_bool(payload.get("closed"))
    return ParsedMarket(
        id=market_id,
        question=question,
        classification=classification,
        outcomes=outcomes,
        token_ids=token_ids,
        outcome_prices=prices,
        polymarket_event_id=event_id,
        condition_id=field_str(payload.get("conditionId")) or None,
        slug=slug,
        sports_market_type=smt,
        game_start_time=parse_gamma_datetime(payload.get("gameStartTime"), name=f"{what} gameStartTime"),
        start_date=parse_gamma_datetime(payload.get("startDate"), name=f"{what} startDate"),
        end_date=parse_gamma_datetime(payload.get("endDate"), name=f"{what} endDate"),
        closed_time=parse_gamma_datetime(payload.get("closedTime"), name=f"{what} closedTime"),
        active=field_bool(payload.get("active")),
        closed=closed,
        resolved_outcome=_resolved_outcome(closed, payload.get("umaResolutionStatus"), outcomes, prices),
        raw=payload,
        fees=parse_gamma_fees(payload),
    )


def _teams_from_title(title: str) -> tuple[str | None, str | None]:
    # "Pistons vs. 76ers": away first (Polymarket NBA ordering is away).
    match = re.match(r"(?i)^\s*(.+?)\s+(?:vs\.?|@|at)\s+(.+?)\s*$", title)
    if not match:
        return None, None
    away, home = resolve_team(match.group(1)), resolve_team(match.group(2))
    if away is None or home is None:
        return None, None
    return away.name, home.name


def parse_gamma_event(payload: Any) -> ParsedEvent:
    """One Gamma event object with its nested markets. Raises `PayloadError` when it breaks the contract."""
    from odds_analytics.linking import parse_ticker

    if not isinstance(payload, dict):
        raise PayloadError(f"gamma event: expected an object, got {type(payload).__name__}")
    event_id = require_id(payload, "id", "gamma event")
    what = f"gamma event {event_id}"
    slug = payload.get("slug")
    if not isinstance(slug, str) or not slug:
        raise PayloadError(f"{what}: missing 'slug'")
    title = payload.get("title") if isinstance(payload.get("title"), str) else ""
    ticker = field_str(payload.get("ticker"))
    series_id = None
    series = payload.get("series")
    if isinstance(series, list) and series and isinstance(series[0], dict):
        series_id = field_str(series[0].get("id"))
    series_id = series_id or field_str(payload.get("seriesId"))
    markets_payload = payload.get("markets") or []
    if not isinstance(markets_payload, list):
        raise PayloadError(f"{what}: markets is not a list")
    markets = [parse_gamma_market(m, event_id=event_id) for m in markets_payload]
    away, home = _teams_from_title(title)
    parsed_ticker = parse_ticker(ticker or "") or parse_ticker(slug)
    if parsed_ticker is not None:
        away, home = parsed_ticker.away.name, parsed_ticker.home.name
    game_start = next((m.game_start_time for m in markets if m.game_start_time), None)
    event_date = field_date(payload.get("eventDate"), name=f"{what} eventDate")
    if event_date is None and parsed_ticker is not None:
        event_date = parsed_ticker.game_date
    score = payload.get("score")
    return ParsedEvent(
        id=event_id,
        slug=slug,
        title=title,
        ticker=ticker,
        series_id=series_id,
        event_date=event_date,
        start_time=parse_gamma_datetime(payload.get("startTime"), name=f"{what} startTime")
        or parse_gamma_datetime(payload.get("startDate"), name=f"{what} startDate"),
        game_start_time=game_start,
        away_team=away,
        home_team=home,
        active=field_bool(payload.get("active")),
        closed=field_bool(payload.get("closed")),
        ended=field_bool(payload.get("ended")),
        score=score if isinstance(score, str) and score else None,
        markets=markets,
        raw={k: v for k, v in payload.items() if k != "markets"},
    )


def _unwrap_list(payload: Any, key: str, what: str) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict) and isinstance(payload.get(key), list):
        return payload[key]
    if isinstance(payload, dict) and "id" in payload:
        return [payload]
    raise PayloadError(f"{what}: expected a list, {{{key!r}: [...]}} or one object")


def parse_gamma_events(payload: Any) -> list[ParsedEvent]:
    """A list of events, a keyset page `{"events": [...], "next_cursor"}`, or one event."""
    return [parse_gamma_event(item) for item in _unwrap_list(payload, "events", "gamma events")]


def parse_gamma_markets(payload: Any) -> list[ParsedMarket]:
    """A list of markets, a keyset page `{"markets": [...], "next_cursor"}`, or one market."""
    return [parse_gamma_market(item) for item in _unwrap_list(payload, "markets", "gamma markets")]


def parse_events_leniently(raw_events: Iterable[Any]) -> tuple[list[ParsedEvent], list[PolymarketFinding]]:
    """Parse each event; one broken event becomes an error finding instead of failing the whole page."""
    parsed: list[ParsedEvent] = []
    findings: list[PolymarketFinding] = []
    for raw in raw_events:
        try:
            parsed.append(parse_gamma_event(raw))
        except PayloadError as exc:
            event_id = raw.get("id") if isinstance(raw, dict) else None
            findings.append(PolymarketFinding("error", "pm_event_payload", f"event {event_id}: {exc}"))
    return parsed, findings
