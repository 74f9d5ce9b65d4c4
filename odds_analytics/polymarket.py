"""Polymarket payloads as plain data: Gamma events and markets, CLOB books, prices and price history.

Pure functions, no I/O. Conventions:
- every time is an aware UTC `datetime`; Gamma's `"2025-11-10 00:30:00+00"` (not ISO) is accepted, so are
  ISO strings with `Z`, fractions and offsets; a time without an offset is taken as UTC;
- prices are probabilities in [0, 1] (floats); sizes are shares;
- token ids are decimal strings and are never turned into numbers;
- order books are returned best-first whatever order the API used: bids high to low, asks low to high
  (the CLOB sends bids ascending and asks descending, best last).

A payload that breaks the contract raises `PayloadError`; a single bad point inside an otherwise valid payload
is dropped and reported as a `Finding` (the storage layer writes findings to `data_quality_logs`).

    >>> classify_market("Spread: Knicks (-4.5)").line
    -4.5
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from odds_analytics.execution import GammaFees, parse_gamma_fees
from odds_models.errors import PayloadError
from odds_models.teams import Team, resolve_team

__all__ = [
    "BACKFILL_FAIL_AFTER",
    "BACKFILL_WARN_AFTER",
    "FINE_HISTORY_RETENTION",
    "HISTORY_WINDOW",
    "BookLevel",
    "Finding",
    "HistoryPoint",
    "MarketClass",
    "OrderBook",
    "ParsedEvent",
    "ParsedMarket",
    "TokenQuote",
    "backfill_range",
    "backfill_staleness",
    "book_metrics",
    "classify_market",
    "covered_by_answer",
    "expires_within",
    "find_teams",
    "history_windows",
    "next_history_start",
    "parse_book",
    "parse_books",
    "parse_gamma_datetime",
    "parse_gamma_event",
    "parse_gamma_events",
    "parse_gamma_market",
    "parse_gamma_markets",
    "parse_json_list",
    "parse_price_history",
    "parse_price_quotes",
    "sort_levels",
]


# --------------------------------------------------------------------------------------------------------
# Small parsers
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """A data-quality observation: a value dropped or kept with a warning."""

    severity: str  # info | warning | error
    check_type: str
    detail: str
    token_id: str | None = None
    market_id: str | None = None
    at: datetime | None = None


def parse_gamma_datetime(value: Any, *, name: str = "time") -> datetime | None:
    """Parse a Gamma/CLOB time into an aware UTC datetime; None/'' stay None.

    Accepts `"2025-11-10 00:30:00+00"`, ISO 8601 (`Z`, fractions, offsets), `YYYY-MM-DD` (midnight UTC).
    Raises `PayloadError` for anything else.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{name}: expected a time string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before year 1 once in UTC
        raise PayloadError(f"{name}: {value[:40]!r} is out of range") from None
    except ValueError:
        raise PayloadError(f"{name}: {value[:40]!r} is not a time") from None


def _parse_date(value: Any, *, name: str) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{name}: expected YYYY-MM-DD, got {type(value).__name__}")
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise PayloadError(f"{name}: {value[:20]!r} is not a date") from None


def parse_json_list(value: Any, *, name: str, allow_int: bool = False) -> list[str]:
    """Gamma's JSON-encoded list fields (`outcomes`, `outcomePrices`, `clobTokenIds`) as a list of strings.

    Accepts the JSON string or an already-decoded list. Integers are accepted only when `allow_int` (token
    ids, converted losslessly); floats never (a float token id has already lost digits).
    """
    if value is None or value == "":
        return []
    decoded = value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except (ValueError, RecursionError):  # JSONDecodeError, and the int-digits limit
            raise PayloadError(f"{name}: not a JSON-encoded list: {value[:60]!r}") from None
    if not isinstance(decoded, list):
        raise PayloadError(f"{name}: expected a list, got {type(decoded).__name__}")
    out: list[str] = []
    for item in decoded:
        if isinstance(item, str):
            out.append(item)
        elif allow_int and isinstance(item, int) and not isinstance(item, bool):
            out.append(str(item))
        else:
            raise PayloadError(f"{name}: element {item!r:.40} is not a string")
    return out


def _num(value: Any, *, name: str) -> float | None:
    """A number that may arrive as a string; None/'' stay None; NaN/inf and junk raise PayloadError."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise PayloadError(f"{name}: expected a number, got a boolean")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise PayloadError(f"{name}: number too large") from None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise PayloadError(f"{name}: {value[:30]!r} is not a number") from None
    else:
        raise PayloadError(f"{name}: expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise PayloadError(f"{name}: {value!r} is not finite")
    return number


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _require_id(payload: dict[str, Any], key: str, what: str) -> str:
    value = payload.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{what}: missing {key!r}")
    return value


# --------------------------------------------------------------------------------------------------------
# Market classification
# --------------------------------------------------------------------------------------------------------

_PROP_STATS = {
    "points": "points",
    "rebounds": "rebounds",
    "assists": "assists",
    "threes": "threes",
    "three_pointers": "threes",
    "3pt": "threes",
    "steals": "steals",
    "blocks": "blocks",
    "turnovers": "turnovers",
    "pra": "pra",
    "points_rebounds_assists": "pra",
    "double_double": "double_double",
    "triple_double": "triple_double",
}
_STAT_WORDS = (
    ("points + rebounds + assists", "pra"),
    ("pts+reb+ast", "pra"),
    ("pra", "pra"),
    ("double-double", "double_double"),
    ("double double", "double_double"),
    ("triple-double", "triple_double"),
    ("triple double", "triple_double"),
    ("three-pointers", "threes"),
    ("three pointers", "threes"),
    ("3-pointers", "threes"),
    ("threes", "threes"),
    ("3pt", "threes"),
    ("rebounds", "rebounds"),
    ("assists", "assists"),
    ("points", "points"),
    ("steals", "steals"),
    ("blocks", "blocks"),
    ("turnovers", "turnovers"),
)
_FUTURES = re.compile(
    r"(?i)\b(champion(ship)?|finals|mvp|most valuable|rookie of the year|defensive player|sixth man|"
    r"most improved|coach of the year|clutch player|conference|division|make the playoffs|playoffs?|"
    r"play-in|seed|win total|regular season wins|draft|first pick|all-star|award|season)\b"
)
_NUM = r"([+-]?\d+(?:\.\d+)?)"
_PERIODS = (
    (re.compile(r"(?i)\b(1h|1st half|first half|first-half)\b"), "1h"),
    (re.compile(r"(?i)\b(2h|2nd half|second half|second-half)\b"), "2h"),
    (re.compile(r"(?i)\b(q1|1q|1st quarter|first quarter)\b"), "q1"),
    (re.compile(r"(?i)\b(q2|2q|2nd quarter|second quarter)\b"), "q2"),
    (re.compile(r"(?i)\b(q3|3q|3rd quarter|third quarter)\b"), "q3"),
    (re.compile(r"(?i)\b(q4|4q|4th quarter|fourth quarter)\b"), "q4"),
)
_SMT_PERIODS = (
    ("first_half", "1h"),
    ("1h", "1h"),
    ("second_half", "2h"),
    ("first_quarter", "q1"),
    ("1q", "q1"),
    ("q1", "q1"),
    ("second_quarter", "q2"),
    ("q2", "q2"),
    ("third_quarter", "q3"),
    ("q3", "q3"),
    ("fourth_quarter", "q4"),
    ("q4", "q4"),
)
_SLUG_PERIODS = {
    "1h": "1h",
    "2h": "2h",
    "1q": "q1",
    "q1": "q1",
    "2q": "q2",
    "q2": "q2",
    "3q": "q3",
    "q3": "q3",
    "4q": "q4",
    "q4": "q4",
}


@dataclass(frozen=True)
class MarketClass:
    """What a market is about. `team` is the canonical full name the line applies to; `line` is signed as
    the question states it (spreads), the total (totals), or the player's threshold (props)."""

    market_type: str  # moneyline | spread | total | player_prop | futures | other
    period: str = "game"  # game | 1h | 2h | q1..q4
    team: str | None = None
    line: float | None = None
    player: str | None = None
    stat: str | None = None


def find_teams(text: str) -> list[Team]:
    """NBA teams named in free text, in order of appearance (nicknames, full names, cities)."""
    found: list[tuple[int, Team]] = []
    lowered = text.lower()
    from odds_models.teams import TEAMS

    for team in TEAMS:
        names = {team.name, team.nickname, *team.aliases}
        best: int | None = None
        for name in names:
            match = re.search(r"(?<![a-z0-9])" + re.escape(name.lower()) + r"(?![a-z0-9])", lowered)
            if match and (best is None or match.start() < best):
                best = match.start()
        if best is not None:
            found.append((best, team))
    found.sort(key=lambda item: item[0])
    return [team for _, team in found]


def _period(question: str, smt: str, slug: str) -> str:
    for key, period in _SMT_PERIODS:
        if smt.startswith(key):
            return period
    for part in slug.split("-"):
        if part in _SLUG_PERIODS:
            return _SLUG_PERIODS[part]
    for pattern, period in _PERIODS:
        if pattern.search(question):
            return period
    return "game"


def _stat_in(text: str) -> str | None:
    lowered = text.lower()
    for word, stat in _STAT_WORDS:
        if word in lowered:
            return stat
    return None


def _player_from(question: str, slug: str, stat: str | None) -> str | None:
    # "Joel Embiid: Rebounds O/U 7.5", "Joel Embiid Over 7.5 Rebounds", "Will Joel Embiid score 25+ points?"
    if ":" in question:
        head, tail = (part.strip() for part in question.split(":", 1))
        matchup = re.search(r"(?i)\bvs\.?(?=\s|$)|@", head) or len(find_teams(head)) >= 2
        if head and _stat_in(tail) and not find_teams(tail) and not matchup:
            return head
        if head and not find_teams(head) and not re.search(r"\d", head):
            return head
    match = re.match(r"(?i)^will\s+(.+?)\s+(score|record|have|get|make|grab|hit|dish)\b", question.strip())
    if match:
        return match.group(1).strip()
    match = re.match(r"(?i)^(.+?)\s+(over|under|o/u)\s+\d", question.strip())
    if match and not find_teams(match.group(1)):
        return match.group(1).strip()
    if stat and slug:
        # …-rebounds-joel-embiid-7pt5
        parts = slug.split("-")
        for i, part in enumerate(parts):
            if _PROP_STATS.get(part) == stat or part == stat:
                rest = [p for p in parts[i + 1 :] if not re.fullmatch(r"\d+(pt\d+)?", p)]
                if rest:
                    return " ".join(p.capitalize() for p in rest)
    return None


def _line_in(text: str) -> float | None:
    match = re.search(r"(?i)(?:o/u|over|under|total|line)\s*\(?\s*" + _NUM, text)
    if match:
        return float(match.group(1))
    match = re.search(r"\(\s*" + _NUM + r"\s*\)", text)
    if match:
        return float(match.group(1))
    match = re.search(_NUM + r"\s*\+", text)
    if match:
        return float(match.group(1))
    return None


def classify_market(
    question: str,
    *,
    sports_market_type: str | None = None,
    line: float | None = None,
    slug: str | None = None,
    outcomes: list[str] | None = None,
    group_item_title: str | None = None,
) -> MarketClass:
    """Classify a Polymarket market from its question (and Gamma's hints).

    `sportsMarketType` decides the type when present, but the sign of a spread always comes from the
    question ("Spread: Knicks (-4.5)" is Knicks -4.5, whatever `line` says). Older markets have only the
    question ("Will the Suns beat the Warriors by more than 5.5 points…" is Suns -5.5).
    """
    q = " ".join((question or "").split())
    smt = (sports_market_type or "").strip().lower()
    slug_text = (slug or "").lower()
    outcomes = outcomes or []
    period = _period(q, smt, slug_text)
    lowered = q.lower()

    # --- spreads --------------------------------------------------------------------------------------
    spread_q = re.search(r"(?i)spread\s*:?\s*(.+?)\s*\(\s*" + _NUM + r"\s*\)", q)
    beat_by = re.search(
        r"(?i)will (?:the )?(.+?) beat (?:the )?(.+?) by (?:more than|over|at least) "
        + _NUM
        + r"\s*(?:points|pts)?",
        q,
    )
    if spread_q or beat_by or smt.endswith("spreads") or smt == "spread" or "-spread-" in f"-{slug_text}-":
        team: Team | None = None
        signed: float | None = None
        if spread_q:
            team = resolve_team(spread_q.group(1)) or next(iter(find_teams(spread_q.group(1))), None)
            signed = float(spread_q.group(2))
        elif beat_by:
            team = resolve_team(beat_by.group(1)) or next(iter(find_teams(beat_by.group(1))), None)
            signed = -abs(float(beat_by.group(3)))
        else:
            named = find_teams(q)
            team = named[0] if named else None
            number = re.search(r"\(\s*" + _NUM + r"\s*\)|" + _NUM, q)
            if number:
                signed = float(number.group(1) or number.group(2))
            elif line is not None:
                signed = float(line)
            elif group_item_title:
                signed = _line_in(group_item_title.replace("Spread", "line"))
        if team is None and outcomes:
            team = resolve_team(outcomes[0])
        return MarketClass("spread", period, team.name if team else None, signed)

    # --- player props ---------------------------------------------------------------------------------
    smt_stat = _PROP_STATS.get(smt.removeprefix("player_"))
    text_stat = _stat_in(q)
    yes_no = [o.lower() for o in outcomes] in (["yes", "no"], [])
    looks_prop = bool(smt_stat) or (
        text_stat is not None
        and yes_no
        and not _FUTURES.search(q)
        and not re.search(r"(?i)\bbeat\b", q)
        and (":" in q or re.search(r"(?i)^will\s+\w+\s+\w+", q) is not None)
    )
    if looks_prop:
        stat = smt_stat or text_stat
        player = _player_from(q, slug_text, stat)
        if player is not None or smt_stat:
            threshold = _line_in(q)
            if threshold is None and line is not None:
                threshold = float(line)
            return MarketClass("player_prop", period, None, threshold, player, stat)

    # --- totals ---------------------------------------------------------------------------------------
    if (
        smt.endswith("totals")
        or smt == "total"
        or "o/u" in lowered
        or "-total-" in f"-{slug_text}-"
        or re.search(r"(?i)^(over|under)\s+\d", q)
        or re.search(r"(?i)total (points|score)", q)
    ):
        total = _line_in(q)
        if total is None and line is not None:
            total = abs(float(line))
        return MarketClass("total", period, None, abs(total) if total is not None else None)

    # --- futures and awards ---------------------------------------------------------------------------
    if smt in ("futures", "awards") or (_FUTURES.search(q) and not re.search(r"(?i)\bvs\.?\b|\bbeat\b", q)):
        named = find_teams(q)
        return MarketClass("futures", "game", named[0].name if len(named) == 1 else None)

    # --- moneylines -----------------------------------------------------------------------------------
    beat = re.search(r"(?i)will (?:the )?(.+?) (?:beat|defeat) (?:the )?(.+?)(?:\?|$| on | in )", q)
    if beat:
        team = resolve_team(beat.group(1)) or next(iter(find_teams(beat.group(1))), None)
        if team is not None:
            return MarketClass("moneyline", period, team.name)
    versus = re.search(r"(?i)(.+?)\s+(?:vs\.?|v\.?|@|at)\s+(.+?)(?:\?|$|:)", q)
    if smt == "moneyline" or (versus and len(find_teams(q)) >= 2) or re.search(r"(?i)^who will win", q):
        return MarketClass("moneyline", period, None)
    if len(outcomes) == 2 and all(resolve_team(o) for o in outcomes):
        return MarketClass("moneyline", period, None)
    return MarketClass("other", period)


# --------------------------------------------------------------------------------------------------------
# Gamma events and markets
# --------------------------------------------------------------------------------------------------------


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
    market_id = _require_id(payload, "id", "gamma market")
    what = f"gamma market {market_id}"
    question = payload.get("question")
    if question is not None and not isinstance(question, str):
        raise PayloadError(f"{what}: question is not a string")
    question = question or ""
    outcomes = parse_json_list(payload.get("outcomes"), name=f"{what} outcomes")
    token_ids = parse_json_list(payload.get("clobTokenIds"), name=f"{what} clobTokenIds", allow_int=True)
    raw_prices = parse_json_list(payload.get("outcomePrices"), name=f"{what} outcomePrices", allow_int=False)
    prices = [_num(p, name=f"{what} outcomePrices") for p in raw_prices]
    if token_ids and outcomes and len(token_ids) != len(outcomes):
        raise PayloadError(f"{what}: {len(outcomes)} outcomes but {len(token_ids)} token ids")
    for token in token_ids:
        if not token.isdigit():
            raise PayloadError(f"{what}: token id {token[:20]!r} is not a decimal string")
    smt = _str(payload.get("sportsMarketType"))
    line = _num(payload.get("line"), name=f"{what} line")
    slug = _str(payload.get("slug"))
    group_title = _str(payload.get("groupItemTitle"))
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
    closed = _bool(payload.get("closed"))
    return ParsedMarket(
        id=market_id,
        question=question,
        classification=classification,
        outcomes=outcomes,
        token_ids=token_ids,
        outcome_prices=prices,
        polymarket_event_id=event_id,
        condition_id=_str(payload.get("conditionId")) or None,
        slug=slug,
        sports_market_type=smt,
        game_start_time=parse_gamma_datetime(payload.get("gameStartTime"), name=f"{what} gameStartTime"),
        start_date=parse_gamma_datetime(payload.get("startDate"), name=f"{what} startDate"),
        end_date=parse_gamma_datetime(payload.get("endDate"), name=f"{what} endDate"),
        closed_time=parse_gamma_datetime(payload.get("closedTime"), name=f"{what} closedTime"),
        active=_bool(payload.get("active")),
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
    event_id = _require_id(payload, "id", "gamma event")
    what = f"gamma event {event_id}"
    slug = payload.get("slug")
    if not isinstance(slug, str) or not slug:
        raise PayloadError(f"{what}: missing 'slug'")
    title = payload.get("title") if isinstance(payload.get("title"), str) else ""
    ticker = _str(payload.get("ticker"))
    series_id = None
    series = payload.get("series")
    if isinstance(series, list) and series and isinstance(series[0], dict):
        series_id = _str(series[0].get("id"))
    series_id = series_id or _str(payload.get("seriesId"))
    markets_payload = payload.get("markets") or []
    if not isinstance(markets_payload, list):
        raise PayloadError(f"{what}: markets is not a list")
    markets = [parse_gamma_market(m, event_id=event_id) for m in markets_payload]
    away, home = _teams_from_title(title)
    parsed_ticker = parse_ticker(ticker or "") or parse_ticker(slug)
    if parsed_ticker is not None:
        away, home = parsed_ticker.away.name, parsed_ticker.home.name
    game_start = next((m.game_start_time for m in markets if m.game_start_time), None)
    event_date = _parse_date(payload.get("eventDate"), name=f"{what} eventDate")
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
        active=_bool(payload.get("active")),
        closed=_bool(payload.get("closed")),
        ended=_bool(payload.get("ended")),
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


# --------------------------------------------------------------------------------------------------------
# CLOB order books
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BookLevel:
    price: float
    size: float


@dataclass(frozen=True)
class OrderBook:
    """A book with levels best-first (bids high to low, asks low to high) and its metrics."""

    token_id: str
    condition_id: str | None
    book_time: datetime | None
    book_hash: str | None
    bids: tuple[BookLevel, ...]
    asks: tuple[BookLevel, ...]
    tick_size: float | None
    min_order_size: float | None
    last_trade_price: float | None
    best_bid: float | None
    best_ask: float | None
    mid: float | None
    spread: float | None
    bid_depth: float
    ask_depth: float
    imbalance: float | None
    weighted_mid: float | None

    def levels_json(self) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
        return (
            [{"price": lvl.price, "size": lvl.size} for lvl in self.bids],
            [{"price": lvl.price, "size": lvl.size} for lvl in self.asks],
        )


def _levels(raw: Any, *, name: str) -> list[BookLevel]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PayloadError(f"{name}: expected a list of levels")
    levels = []
    for item in raw:
        if not isinstance(item, dict):
            raise PayloadError(f"{name}: a level is not an object")
        price = _num(item.get("price"), name=f"{name} price")
        size = _num(item.get("size"), name=f"{name} size")
        if price is None or size is None:
            raise PayloadError(f"{name}: a level lacks price or size")
        if not 0.0 <= price <= 1.0:
            raise PayloadError(f"{name}: price {price} outside [0, 1]")
        if size < 0:
            raise PayloadError(f"{name}: negative size {size}")
        levels.append(BookLevel(price, size))
    return levels


def sort_levels(bids: list[BookLevel], asks: list[BookLevel]) -> tuple[list[BookLevel], list[BookLevel]]:
    """Best-first: bids by price descending, asks ascending (whatever order they came in)."""
    return sorted(bids, key=lambda lvl: -lvl.price), sorted(asks, key=lambda lvl: lvl.price)


def book_metrics(
    bids: list[BookLevel], asks: list[BookLevel], *, top_levels: int = 5
) -> dict[str, float | None]:
    """Metrics of a best-first book.

    - `bid_depth`/`ask_depth`: total size (shares) on each side;
    - `imbalance`: (bid size - ask size) / (bid size + ask size) over the best `top_levels` levels, in [-1, 1];
    - `weighted_mid`: the size-weighted mid of the top of book (micro-price),
      `(best_bid * ask_size + best_ask * bid_size) / (bid_size + ask_size)`.
    """
    best_bid = bids[0].price if bids else None
    best_ask = asks[0].price if asks else None
    mid = round((best_bid + best_ask) / 2, 10) if best_bid is not None and best_ask is not None else None
    spread = best_ask - best_bid if best_bid is not None and best_ask is not None else None
    top_bid = sum(lvl.size for lvl in bids[:top_levels])
    top_ask = sum(lvl.size for lvl in asks[:top_levels])
    imbalance = (top_bid - top_ask) / (top_bid + top_ask) if top_bid + top_ask > 0 else None
    weighted = None
    if best_bid is not None and best_ask is not None:
        bsize, asize = bids[0].size, asks[0].size
        weighted = (best_bid * asize + best_ask * bsize) / (bsize + asize) if bsize + asize > 0 else mid
    return {
        "best_bid": best_bid,
        "best_ask": best_ask,
        "mid": mid,
        "spread": round(spread, 10) if spread is not None else None,
        "bid_depth": float(sum(lvl.size for lvl in bids)),
        "ask_depth": float(sum(lvl.size for lvl in asks)),
        "imbalance": imbalance,
        "weighted_mid": weighted,
    }


def _ms_time(value: Any, *, name: str) -> datetime | None:
    if value in (None, ""):
        return None
    number = _num(value, name=name)
    assert number is not None
    seconds = number / 1000 if number > 1e11 else number  # ms (documented) or seconds (older captures)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadError(f"{name}: {value!r} is not a timestamp") from None


def parse_book(payload: Any, *, token_id: str | None = None) -> OrderBook:
    """A CLOB `/book` response (current or legacy shape; either side may be empty), sorted best-first."""
    if not isinstance(payload, dict):
        raise PayloadError(f"clob book: expected an object, got {type(payload).__name__}")
    asset = payload.get("asset_id")
    if asset is None:
        asset = token_id
    if isinstance(asset, int) and not isinstance(asset, bool):
        asset = str(asset)
    if not isinstance(asset, str) or not asset:
        raise PayloadError("clob book: missing 'asset_id'")
    if token_id is not None and asset != token_id:
        raise PayloadError(f"clob book: asked for token {token_id[:12]}…, got {asset[:12]}…")
    what = f"clob book {asset[:12]}…"
    bids, asks = sort_levels(
        _levels(payload.get("bids"), name=f"{what} bids"), _levels(payload.get("asks"), name=f"{what} asks")
    )
    metrics = book_metrics(bids, asks)
    book_hash = payload.get("hash")
    return OrderBook(
        token_id=asset,
        condition_id=_str(payload.get("market")),
        book_time=_ms_time(payload.get("timestamp"), name=f"{what} timestamp"),
        book_hash=book_hash if isinstance(book_hash, str) else None,
        bids=tuple(bids),
        asks=tuple(asks),
        tick_size=_num(payload.get("tick_size"), name=f"{what} tick_size"),
        min_order_size=_num(payload.get("min_order_size"), name=f"{what} min_order_size"),
        last_trade_price=_num(payload.get("last_trade_price"), name=f"{what} last_trade_price"),
        best_bid=metrics["best_bid"],
        best_ask=metrics["best_ask"],
        mid=metrics["mid"],
        spread=metrics["spread"],
        bid_depth=metrics["bid_depth"] or 0.0,
        ask_depth=metrics["ask_depth"] or 0.0,
        imbalance=metrics["imbalance"],
        weighted_mid=metrics["weighted_mid"],
    )


def parse_books(payload: Any) -> list[OrderBook]:
    """A `POST /books` response (a list of books) or one book."""
    if isinstance(payload, dict):
        return [parse_book(payload)]
    if not isinstance(payload, list):
        raise PayloadError("clob books: expected a list of books")
    return [parse_book(item) for item in payload]


# --------------------------------------------------------------------------------------------------------
# CLOB prices
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenQuote:
    """One token's top of book from the price endpoints: BUY is the best bid, SELL the best ask."""

    token_id: str
    best_bid: float | None
    best_ask: float | None
    mid: float | None
    spread: float | None


def _price(value: Any, *, name: str) -> float | None:
    number = _num(value, name=name)
    if number is not None and not 0.0 <= number <= 1.0:
        raise PayloadError(f"{name}: price {number} outside [0, 1]")
    return number


def parse_price_quotes(prices: Any, midpoints: Any = None) -> dict[str, TokenQuote]:
    """`POST /prices` (`{token: {"BUY": "0.52", "SELL": "0.53"}}`), optionally `POST /midpoints`
    (`{token: "0.525"}`), as quotes per token. `side=BUY` is the best bid and `SELL` the best ask."""
    if not isinstance(prices, dict):
        raise PayloadError("clob prices: expected an object keyed by token id")
    if midpoints is not None and not isinstance(midpoints, dict):
        raise PayloadError("clob midpoints: expected an object keyed by token id")
    quotes: dict[str, TokenQuote] = {}
    for token, sides in prices.items():
        if not isinstance(sides, dict):
            raise PayloadError(f"clob prices {str(token)[:12]}…: expected {{BUY, SELL}}")
        bid = _price(sides.get("BUY"), name="clob prices BUY")
        ask = _price(sides.get("SELL"), name="clob prices SELL")
        mid = _price((midpoints or {}).get(token), name="clob midpoints")
        if mid is None and bid is not None and ask is not None:
            mid = round((bid + ask) / 2, 10)
        spread = round(ask - bid, 10) if bid is not None and ask is not None else None
        quotes[str(token)] = TokenQuote(str(token), bid, ask, mid, spread)
    return quotes


# --------------------------------------------------------------------------------------------------------
# CLOB price history
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryPoint:
    t: datetime
    p: float


def parse_price_history(
    payload: Any, *, token_id: str | None = None
) -> tuple[list[HistoryPoint], list[Finding]]:
    """`/prices-history` `{"history": [{"t": secs, "p": float}, ...]}` as sorted, de-duplicated points.

    A broken envelope raises `PayloadError`; a single bad point (no t, a price outside [0, 1]) is dropped and
    reported as a `Finding`. A timestamp sent twice with the same price is merged silently; with two
    different prices the last one is kept and one `pm_history_duplicate` finding reports them. Empty
    history is valid.
    """
    if not isinstance(payload, dict) or "history" not in payload:
        raise PayloadError("clob prices-history: expected {'history': [...]}")
    history = payload["history"]
    if history is None:
        return [], []
    if not isinstance(history, list):
        raise PayloadError("clob prices-history: 'history' is not a list")
    points: dict[int, float] = {}
    duplicates: list[tuple[int, float, float]] = []
    findings: list[Finding] = []
    for item in history:
        if not isinstance(item, dict):
            raise PayloadError("clob prices-history: a point is not an object")
        t, p = item.get("t"), item.get("p")
        try:
            seconds = _num(t, name="prices-history t")
            price = _num(p, name="prices-history p")
        except PayloadError as exc:
            findings.append(Finding("warning", "pm_history_point", f"dropped point: {exc}", token_id))
            continue
        if seconds is None or price is None or not 0.0 <= price <= 1.0 or not 0 <= seconds < 253402300800:
            findings.append(
                Finding("warning", "pm_history_point", f"dropped point t={t!r:.30} p={p!r:.30}", token_id)
            )
            continue
        second = int(seconds)
        if second in points and points[second] != price:
            duplicates.append((second, points[second], price))
        points[second] = price
    if duplicates:
        t, first, last = duplicates[0]
        findings.append(Finding("warning", "pm_history_duplicate",
                                f"{len(duplicates)} timestamp(s) with two different prices (first t={t}: {first:g} "
                                f"then {last:g}); the last one is kept", token_id))  # fmt: skip
    ordered = [HistoryPoint(datetime.fromtimestamp(t, UTC), points[t]) for t in sorted(points)]
    return ordered, findings


# --------------------------------------------------------------------------------------------------------
# Backfill planning
# --------------------------------------------------------------------------------------------------------

HISTORY_WINDOW = timedelta(days=15)
FINE_HISTORY_RETENTION = timedelta(days=30)


def history_windows(
    start: datetime, end: datetime, *, max_span: timedelta = HISTORY_WINDOW
) -> list[tuple[datetime, datetime]]:
    """Contiguous windows of at most `max_span` covering [start, end]; each starts where the last ended.

    >>> len(history_windows(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, tzinfo=UTC)))
    2
    """
    if max_span <= timedelta(0):
        raise ValueError("max_span must be positive")
    windows: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        stop = min(cursor + max_span, end)
        windows.append((cursor, stop))
        cursor = stop
    return windows


HISTORY_SETTLE = timedelta(hours=1)  # after a market closes, its history is final once this has passed


def covered_by_answer(
    *,
    window_start: datetime,
    window_end: datetime,
    point_times: Sequence[datetime],
    market_end: datetime | None,
    now: datetime,
    settle: timedelta = HISTORY_SETTLE,
) -> tuple[datetime, datetime] | None:
    """The range one prices-history answer lets a token's watermark cover, or None.

    - a market that closed (`market_end`) at least `settle` ago: its history is final, so the whole
      window is covered, even when the answer is empty (the API confirms there is nothing there);
    - otherwise only up to the newest point stored: an empty answer covers nothing and a tail the API has
      not published yet (the newest minutes) stays to fetch, so a rerun asks for it again.

    >>> t0 = datetime(2026, 3, 1, tzinfo=UTC)
    >>> covered_by_answer(window_start=t0, window_end=t0 + timedelta(days=1), point_times=[],
    ...                   market_end=None, now=t0 + timedelta(days=1)) is None
    True
    """
    if market_end is not None and now >= market_end + settle:
        return window_start, window_end
    inside = [t for t in point_times if window_start < t <= window_end]
    if not inside:
        return None
    return window_start, max(inside)


def next_history_start(
    window_start: datetime, window_end: datetime, covered: tuple[datetime, datetime] | None
) -> datetime:
    """Where the next window of one backfill starts: at the end of what this answer covered (so the
    watermark's ranges stay contiguous), or at this window's end when the answer covered nothing new."""
    if covered is not None and window_start < covered[1] < window_end:
        return covered[1]
    return window_end


def backfill_range(
    *,
    now: datetime,
    lookback: timedelta,
    market_start: datetime | None,
    market_end: datetime | None,
    covered_from: datetime | None,
    covered_to: datetime | None,
) -> tuple[datetime, datetime] | None:
    """The part of a token's history still to fetch, or None when nothing is missing.

    The wanted range is [max(now - lookback, market start), min(now, market end)]; a watermark that already
    covers its start moves the start to the watermark's end (a rerun fetches only what is missing).
    """
    lower = now - lookback
    start = max(lower, market_start) if market_start else lower
    end = min(now, market_end) if market_end else now
    if covered_to is not None and covered_from is not None and covered_from <= start:
        start = max(start, covered_to)
    if start >= end:
        return None
    return start, end


def expires_within(
    *,
    now: datetime,
    horizon: timedelta,
    market_start: datetime | None,
    market_end: datetime | None,
    covered_to: datetime | None,
    retention: timedelta = FINE_HISTORY_RETENTION,
) -> datetime | None:
    """When a token's not-yet-fetched fine history starts expiring, if that is before `now + horizon`.

    The oldest missing point is at `covered_to` (or the market start); it expires `retention` after it.
    Fully fetched tokens (watermark at or past the market end) never expire for us.
    """
    end = min(now, market_end) if market_end else now
    oldest_missing = covered_to or market_start
    if oldest_missing is None or oldest_missing >= end:
        return None
    expiry = oldest_missing + retention
    return expiry if expiry <= now + horizon else None


BACKFILL_WARN_AFTER = timedelta(days=3)
BACKFILL_FAIL_AFTER = timedelta(days=5)


def backfill_staleness(last_success: datetime | None, now: datetime) -> tuple[str, str]:
    """('ok' | 'warn' | 'fail' | 'never', message) for the time since the last successful backfill.

    Fine-grained history expires after about 30 days and the backfill runs every 3 days: past 3 days a run
    was missed (warn); past 5 days data is at risk (fail loudly).
    """
    if last_success is None:
        return "never", "no successful Polymarket history backfill yet"
    age = now - last_success
    hours = age.total_seconds() / 3600
    text = f"last successful Polymarket backfill {hours / 24:.1f} days ago ({last_success.isoformat()})"
    if age > BACKFILL_FAIL_AFTER:
        return "fail", text + ": more than 5 days; fine-grained history (~30 days) is at risk"
    if age > BACKFILL_WARN_AFTER:
        return "warn", text + ": more than 3 days; the 3-day schedule missed a run"
    return "ok", text
