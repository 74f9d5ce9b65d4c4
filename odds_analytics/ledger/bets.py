"""Reading a bet (command line or CSV) and checking it against its game (pure; see `odds_analytics.ledger`)."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd

from odds_analytics.closing_lines import eastern_date
from odds_analytics.prices import InvalidPriceError, american_to_decimal
from odds_models.errors import OddsPipelineError
from odds_models.teams import resolve_team

MIN_N = 10  # bets needed before an interval is shown
CLOSE_DELAY = timedelta(
    minutes=15
)  # the close is read this long after tip-off (the last snapshot has landed)
CSV_REQUIRED = ("placed_at", "event", "market", "side", "venue")
CSV_COLUMNS = (*CSV_REQUIRED, "line", "price", "stake", "token", "fill_price", "shares", "fee_rate", "note")
# What `paper_bet_rows` reads from a published pick (a `recommend` row plus the publishing context).
PAPER_PICK_COLUMNS = {
    "event_id": "the game (events.id)",
    "market": "h2h, spreads or totals",
    "side": "home, away, over or under",
    "outcome": "team full name, or Over / Under",
    "best_venue": "bookmaker key, or polymarket",
    "best_point": "the side's own line (spreads, totals); None for h2h",
    "best_price_decimal": "the published decimal price (Polymarket: fee included)",
    "decision_time": "when the pick was published (aware UTC); the bet's placed_at",
    "stake": "optional: the published stake (default: the flat paper stake, 1 unit)",
    "model_id": "optional: the model that made the pick (models.id)",
    "expected_return": "optional: p_close x d - 1 as published (older rows call it expected_clv)",
    "token_id": "optional for Polymarket: the token bought (else looked up from the game's moneyline)",
    "fill_price": "optional for Polymarket: the fill price per share before the fee (else from the price)",
    "fee_rate": "optional for Polymarket: the taker fee rate (else the POLYMARKET_FEE_RATE setting)",
}
_PM_MARKETS = {"moneyline": "h2h", "spread": "spreads", "total": "totals"}
_SPREAD_LIMIT = 50.0
_TOTAL_RANGE = (100.0, 350.0)
_FUTURE_SLACK = timedelta(minutes=2)


class InvalidBet(OddsPipelineError):
    """A bet that cannot go into the ledger; `field` names the option or CSV column at fault."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class BetsRejected(OddsPipelineError):
    """Bets of one command or file that cannot go into the ledger, each `(line, InvalidBet)`; nothing was
    written."""

    def __init__(self, errors: Sequence[tuple[int, InvalidBet]]) -> None:
        self.errors = sorted(errors, key=lambda e: e[0])
        super().__init__("; ".join(f"line {line}: {exc}" for line, exc in self.errors))


# --------------------------------------------------------------------------------------------------------
# Reading a bet
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BetDraft:
    """A bet as entered, its values typed but not yet checked against the game."""

    event: str
    market: str | None = None
    side: str | None = None
    venue: str = ""
    placed_at: datetime | None = None
    line: float | None = None
    price: float | None = None  # decimal
    stake: float | None = None
    token: str | None = None
    fill_price: float | None = None
    shares: float | None = None
    fee_rate: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class GameRef:
    """A game named by its teams: `Away @ Home`, optionally with its US/Eastern date."""

    away_team: str
    home_team: str
    game_date: date | None = None


@dataclass(frozen=True)
class TokenFacts:
    """A Polymarket token of a game market linked to the event."""

    token_id: str
    market_type: str  # moneyline | spread | total
    outcome: str  # as Polymarket names it (a team nickname, Over, Under)
    team: str | None = None  # the team the market's line applies to (spreads)
    line: float | None = None  # signed for `team` (spreads), the total (totals)


@dataclass(frozen=True)
class GameFacts:
    """What the database knows of a game that a bet is checked against."""

    event_id: str
    home_team: str
    away_team: str
    commence_time: datetime
    status: str = "scheduled"
    books: frozenset[str] = frozenset()  # bookmakers with stored prices for the game
    tokens: tuple[TokenFacts, ...] = ()


def _number(text: str | None, name: str, *, positive: bool = False) -> float | None:
    if text is None or not str(text).strip():
        return None
    try:
        value = float(str(text).strip())
    except ValueError:
        raise InvalidBet(f"{name} {text!r} is not a number", name) from None
    if not math.isfinite(value):
        raise InvalidBet(f"{name} {text!r} is not a finite number", name)
    if positive and value <= 0:
        raise InvalidBet(f"{name} must be above 0, not {text}", name)
    return value


def _price(text: str | None) -> float | None:
    """A decimal price (`1.91`), or American odds when signed (`-110`, `+150`)."""
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    if raw[0] in "+-":
        try:
            return american_to_decimal(float(raw))
        except (ValueError, InvalidPriceError):
            raise InvalidBet(f"price {raw!r} is not American odds (<= -100 or >= +100)", "price") from None
    value = _number(raw, "price")
    if value is None or value <= 1.0:
        raise InvalidBet(
            f"price {raw!r} is not a decimal price above 1 (American odds carry a sign)", "price"
        )
    return value


def _moment(text: str | None) -> datetime | None:
    if text is None or not str(text).strip():
        return None
    raw = str(text).strip()
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidBet(
            f"placed_at {raw!r} is not an ISO 8601 time (e.g. 2026-01-12T23:05:00Z)", "placed_at"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidBet(
            f"placed_at {raw!r} has no time zone: add Z (UTC) or an offset such as -05:00", "placed_at"
        )
    return moment


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def draft_from_fields(fields: Mapping[str, str | None]) -> BetDraft:
    """Type the fields of a bet (CLI options or a CSV row, all strings); raises InvalidBet naming the field."""
    event = _text(fields.get("event"))
    if event is None and not _text(fields.get("token")):
        raise InvalidBet("event is required (an event id, or 'Away Team @ Home Team [YYYY-MM-DD]')", "event")
    fee = _number(fields.get("fee_rate"), "fee_rate")
    if fee is not None and not 0 <= fee < 1:
        raise InvalidBet(f"fee_rate must be a fraction in [0, 1), not {fee}", "fee_rate")
    fill = _number(fields.get("fill_price"), "fill_price")
    if fill is not None and not 0 < fill < 1:
        raise InvalidBet(f"fill_price must be a probability in (0, 1), not {fill}", "fill_price")
    market = _text(fields.get("market"))
    return BetDraft(
        event=event or "",
        market=market.lower() if market else None,
        side=_text(fields.get("side")),
        venue=(_text(fields.get("venue")) or "").lower(),
        placed_at=_moment(fields.get("placed_at")),
        line=_number(fields.get("line"), "line"),
        price=_price(fields.get("price")),
        stake=_number(fields.get("stake"), "stake", positive=True),
        token=_text(fields.get("token")),
        fill_price=fill,
        shares=_number(fields.get("shares"), "shares", positive=True),
        fee_rate=fee,
        note=_text(fields.get("note")),
    )


_GAME_REF = re.compile(r"^(?P<away>.+?)\s*@\s*(?P<home>.+?)(?:\s+(?P<day>\d{4}-\d{2}-\d{2}))?$")


def parse_game_ref(text: str) -> GameRef | None:
    """`Away @ Home [YYYY-MM-DD]` with any known team spelling; None when `text` is not of that form (an id).

    >>> parse_game_ref("Heat @ Celtics 2026-01-12")
    GameRef(away_team='Miami Heat', home_team='Boston Celtics', game_date=datetime.date(2026, 1, 12))
    """
    match = _GAME_REF.match(text.strip())
    if match is None:
        return None
    teams = []
    for name in (match["away"], match["home"]):
        team = resolve_team(name)
        if team is None:
            raise InvalidBet(f"event {text!r}: {name.strip()!r} is not an NBA team", "event")
        teams.append(team.name)
    day = None
    if match["day"]:
        try:
            day = date.fromisoformat(match["day"])
        except ValueError:
            raise InvalidBet(f"event {text!r}: {match['day']!r} is not a date", "event") from None
    return GameRef(teams[0], teams[1], day)


def pick_event(ref: GameRef, candidates: Sequence[GameFacts], placed_at: datetime) -> GameFacts:
    """The game a `GameRef` means among the stored games of those teams: the one on its US/Eastern date, or
    without a date the first to tip off after the bet was placed."""
    games = [g for g in candidates if (g.away_team, g.home_team) == (ref.away_team, ref.home_team)]
    name = f"{ref.away_team} @ {ref.home_team}"
    if ref.game_date is not None:
        games = [g for g in games if eastern_date(g.commence_time) == ref.game_date]
        if not games:
            raise InvalidBet(f"event: no stored game {name} on {ref.game_date} (US/Eastern date)", "event")
        if len(games) > 1:
            raise InvalidBet(
                f"event: {len(games)} stored games {name} on {ref.game_date}; give the event id", "event"
            )
        return games[0]
    later = sorted((g for g in games if g.commence_time > placed_at), key=lambda g: g.commence_time)
    if not later:
        raise InvalidBet(
            f"event: no stored game {name} after {placed_at:%Y-%m-%d %H:%M} UTC; add its date", "event"
        )
    return later[0]


# --------------------------------------------------------------------------------------------------------
# Checking a bet against its game
# --------------------------------------------------------------------------------------------------------


def _side(text: str | None, market: str, game: GameFacts) -> tuple[str, str]:
    """(side, outcome) from home/away/over/under or a team name."""
    if text is None:
        raise InvalidBet("side is required: home, away, a team of the game, over or under", "side")
    word = text.strip().lower()
    if market == "totals":
        if word in ("over", "under"):
            return word, word.capitalize()
        raise InvalidBet(f"side {text!r}: a total is bet over or under", "side")
    if word in ("home", "away"):
        return word, game.home_team if word == "home" else game.away_team
    team = resolve_team(text)
    if team is not None and team.name in (game.home_team, game.away_team):
        return ("home" if team.name == game.home_team else "away"), team.name
    teams = f"{game.away_team} @ {game.home_team}"
    raise InvalidBet(f"side {text!r} is not home, away or a team of {teams}", "side")


def _check_line(market: str, line: float | None) -> float | None:
    if market == "h2h":
        if line is not None:
            raise InvalidBet("line: a moneyline (h2h) bet has no line", "line")
        return None
    if line is None:
        raise InvalidBet(f"line is required for {market} (the side's own point, e.g. -5.5 or 221.5)", "line")
    if market == "spreads" and abs(line) > _SPREAD_LIMIT:
        raise InvalidBet(f"line {line:g} is not an NBA spread (|line| <= {_SPREAD_LIMIT:g})", "line")
    if market == "totals" and not _TOTAL_RANGE[0] <= line <= _TOTAL_RANGE[1]:
        raise InvalidBet(
            f"line {line:g} is not an NBA total ({_TOTAL_RANGE[0]:g}-{_TOTAL_RANGE[1]:g})", "line"
        )
    return line


def _polymarket_side(token: TokenFacts, game: GameFacts) -> tuple[str, str, str, float | None]:
    """(market, side, outcome, line) of a Polymarket token of the game."""
    market = _PM_MARKETS.get(token.market_type)
    if market is None:
        raise InvalidBet(f"token {token.token_id}: a {token.market_type} market is not tracked", "token")
    if market == "totals":
        word = token.outcome.strip().lower()
        if word not in ("over", "under"):
            raise InvalidBet(
                f"token {token.token_id}: outcome {token.outcome!r} is not Over or Under", "token"
            )
        return market, word, word.capitalize(), token.line
    team = resolve_team(token.outcome)
    if team is None or team.name not in (game.home_team, game.away_team):
        raise InvalidBet(
            f"token {token.token_id}: outcome {token.outcome!r} is not a team of the game", "token"
        )
    side = "home" if team.name == game.home_team else "away"
    if market == "h2h":
        return market, side, team.name, None
    if token.line is None or token.team is None:
        raise InvalidBet(f"token {token.token_id}: the spread market has no line", "token")
    line = token.line if team.name == token.team else -token.line
    return market, side, team.name, line


def _polymarket_terms(draft: BetDraft, default_fee_rate: float) -> tuple[float, float, float, float]:
    """(price_decimal, stake, shares, fee_rate) of a Polymarket buy."""
    if draft.price is not None:
        raise InvalidBet("price: a Polymarket bet gives --fill-price (per share) instead", "price")
    if draft.fill_price is None:
        raise InvalidBet(
            "fill_price is required for Polymarket (the price per share, before the fee)", "fill_price"
        )
    fee = default_fee_rate if draft.fee_rate is None else draft.fee_rate
    cost = draft.fill_price * (1.0 + fee)  # per share, fee included
    if cost >= 1.0:
        raise InvalidBet(
            f"fill_price {draft.fill_price:g} with fee {fee:g} costs {cost:.4f} >= 1 per share", "fill_price"
        )
    if draft.shares is None and draft.stake is None:
        raise InvalidBet("shares or stake is required for Polymarket", "shares")
    shares = draft.shares if draft.shares is not None else float(draft.stake) / cost  # type: ignore[arg-type]
    stake = shares * cost
    if draft.stake is not None and draft.shares is not None and abs(stake - draft.stake) > 0.01 * draft.stake:
        raise InvalidBet(
            f"stake {draft.stake:g} is not shares x fill price x (1 + fee) = {stake:.2f}; give one of them",
            "stake",
        )
    return 1.0 / cost, stake, shares, fee


def resolve_bet(
    draft: BetDraft, game: GameFacts, *, now: datetime, default_fee_rate: float, source: str = "manual"
) -> dict[str, Any]:
    """The ledger row of a bet, checked against its game; raises InvalidBet naming the field at fault."""
    placed_at = draft.placed_at or now
    if placed_at > now + _FUTURE_SLACK:
        raise InvalidBet(f"placed_at {placed_at.isoformat()} is in the future", "placed_at")
    if placed_at >= game.commence_time:
        raise InvalidBet(
            f"placed_at {placed_at.isoformat()} is after tip-off ({game.commence_time.isoformat()}): in-play bets "
            "have no pre-game close (if it was placed earlier, give that time)",
            "placed_at",
        )
    token_id = fill_price = shares = fee_rate = None
    if draft.venue == "polymarket":
        if draft.token is None:
            raise InvalidBet("token is required for a Polymarket bet (the token id bought)", "token")
        token = next((t for t in game.tokens if t.token_id == draft.token), None)
        if token is None:
            raise InvalidBet(
                f"token {draft.token!r} is not a Polymarket game token linked to {game.event_id}", "token"
            )
        market, side, outcome, line = _polymarket_side(token, game)
        if draft.market is not None and draft.market != market:
            raise InvalidBet(f"market {draft.market!r}: token {token.token_id} is a {market} token", "market")
        if draft.side is not None and _side(draft.side, market, game)[0] != side:
            raise InvalidBet(f"side {draft.side!r}: token {token.token_id} is the {outcome} side", "side")
        if draft.line is not None and (line is None or abs(draft.line - line) > 1e-9):
            raise InvalidBet(f"line {draft.line:g}: token {token.token_id} is at {line}", "line")
        price, stake, shares, fee_rate = _polymarket_terms(draft, default_fee_rate)
        token_id, fill_price = token.token_id, draft.fill_price
    else:
        if not draft.venue:
            raise InvalidBet("venue is required: a bookmaker key (e.g. pinnacle) or polymarket", "venue")
        if draft.venue not in game.books:
            seen = ", ".join(sorted(game.books)) or "none"
            raise InvalidBet(
                f"venue {draft.venue!r} has no stored prices for this game (books: {seen}; or polymarket)",
                "venue",
            )
        for name, value in (
            ("token", draft.token),
            ("fill_price", draft.fill_price),
            ("shares", draft.shares),
        ):
            if value is not None:
                raise InvalidBet(f"{name} is for Polymarket bets only", name)
        if draft.market is None:
            raise InvalidBet("market is required: h2h, spreads or totals", "market")
        if draft.market not in ("h2h", "spreads", "totals"):
            raise InvalidBet(f"market {draft.market!r} is not h2h, spreads or totals", "market")
        market = draft.market
        side, outcome = _side(draft.side, market, game)
        line = _check_line(market, draft.line)
        if draft.price is None:
            raise InvalidBet("price is required (decimal, e.g. 1.91, or American, e.g. -110)", "price")
        if draft.stake is None:
            raise InvalidBet("stake is required", "stake")
        price, stake = draft.price, draft.stake
    row = {
        "source": source,
        "placed_at": placed_at,
        "event_id": game.event_id,
        "market": market,
        "side": side,
        "outcome": outcome,
        "line": line,
        "venue": draft.venue,
        "token_id": token_id,
        "price_decimal": float(price),
        "fill_price": fill_price,
        "fee_rate": fee_rate,
        "shares": shares,
        "stake": float(stake),
        "model_id": None,
        "prediction_id": None,
        "expected_return": None,
        "note": draft.note,
    }
    row["bet_key"] = bet_key(row)
    return row


def bet_key(row: Mapping[str, Any]) -> str:
    """What identifies a bet, hashed: a paper bet is one per side of a game's market (the first publication);
    a manual bet is its time, game, market, side, line, venue (and token), price and stake."""
    if row["source"] == "paper":
        parts = ["paper", row["event_id"], row["market"], row["outcome"]]
    else:
        line = row.get("line")
        placed = pd.Timestamp(row["placed_at"]).tz_convert("UTC").floor("s").isoformat()
        parts = [
            row["source"], row["event_id"], row["market"], row["side"],
            "" if line is None or pd.isna(line) else f"{float(line):g}", row["venue"], row.get("token_id") or "",
            placed, f"{float(row['price_decimal']):.6f}", f"{float(row['stake']):.6f}",
        ]  # fmt: skip
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


# --------------------------------------------------------------------------------------------------------
# CSV import
# --------------------------------------------------------------------------------------------------------


def parse_bets_csv(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[tuple[int, InvalidBet]]]:
    """The rows of a bets CSV (`CSV_COLUMNS`; a UTF-8 byte-order mark is ignored) as (line number, fields),
    and what is wrong with the file's shape, per line."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text))
    expected = ",".join(CSV_COLUMNS)
    try:
        header = next(reader)
    except StopIteration:
        return [], [(1, InvalidBet(f"the file is empty (expected the header {expected})"))]
    except csv.Error as exc:
        return [], [(1, InvalidBet(str(exc)))]
    names = [h.strip().lower() for h in header]
    unknown = [n for n in names if n not in CSV_COLUMNS]
    missing = [n for n in CSV_REQUIRED if n not in names]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if unknown or missing or repeated:
        what = "; ".join(
            part for part in (
                f"unknown column(s) {', '.join(map(repr, unknown))}" if unknown else "",
                f"missing column(s) {', '.join(missing)}" if missing else "",
                f"repeated column(s) {', '.join(repeated)}" if repeated else "",
            ) if part
        )  # fmt: skip
        return [], [(1, InvalidBet(f"{what} (the header is {expected}; see docs/CLI.md)"))]
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[tuple[int, InvalidBet]] = []
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append((reader.line_num, InvalidBet(str(exc))))
            break
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(names):
            errors.append((reader.line_num, InvalidBet(f"{len(values)} values for {len(names)} columns")))
            continue
        rows.append((reader.line_num, dict(zip(names, values, strict=True))))
    if not rows and not errors:
        errors.append((2, InvalidBet("no bets after the header")))
    return rows, errors


def drafts_from_csv(text: str) -> tuple[list[tuple[int, BetDraft]], list[tuple[int, InvalidBet]]]:
    """The bets of a CSV file typed (`draft_from_fields`), each with its line number, and the errors."""
    rows, errors = parse_bets_csv(text)
    drafts = []
    for line, fields in rows:
        try:
            drafts.append((line, draft_from_fields(fields)))
        except InvalidBet as exc:
            errors.append((line, exc))
    return drafts, errors


def duplicate_lines(rows: Sequence[tuple[int, Mapping[str, Any]]]) -> list[tuple[int, InvalidBet]]:
    """The rows of one file whose `bet_key` repeats an earlier row's."""
    first: dict[str, int] = {}
    errors = []
    for line, row in rows:
        if row["bet_key"] in first:
            errors.append((line, InvalidBet(f"the same bet as line {first[row['bet_key']]} (time, game, market, "
                                            "side, line, venue, price and stake all equal)")))  # fmt: skip
        else:
            first[row["bet_key"]] = line
    return errors
