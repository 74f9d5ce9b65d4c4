"""The bet ledger's pure parts: reading a bet (command line or CSV), checking it against the game, paper bets
from published picks, settling at the close and after the game, and the report (no I/O).

Definitions (docs/BACKTESTING_GUIDE.md, "Tracking your bets"):
- **CLV** (closing-line value) is in fair probability points: the fair closing probability of the side taken
  at the bet's own line (`odds_analytics.fair.closing_value`; the close is the devigged consensus of the
  sharp books' last snapshot before tip-off, of every book when no sharp book quotes the market) minus the
  implied probability paid: 1 / decimal price; for Polymarket the fill price per share including the taker
  fee, `fill_price x (1 + fee_rate)`.
- **Expected return** (as published with a pick) is `p_close x d - 1`, a return on stake: a second figure,
  never called CLV.
- A bet is **settled** once it has both its close and its result, **void** when its game was cancelled, and
  **open** otherwise, with the reason: before tip-off, no close (the game started and no close was found) or
  awaiting the result.
- Intervals (95 %) need at least `MIN_N` bets; below that the report says "n too small". Every CLV figure
  carries its count, n/N bets.

    draft = draft_from_fields({"event": "...", "market": "h2h", "side": "home", "venue": "pinnacle",
                               "price": "1.91", "stake": "10"})
    row = resolve_bet(draft, game, now=now(), default_fee_rate=0.0)      # raises InvalidBet
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from odds_analytics.backtest.settlement import settle
from odds_analytics.closing_lines import eastern_date
from odds_analytics.fair import closing_value
from odds_analytics.prices import InvalidPriceError, american_to_decimal
from odds_models.errors import OddsPipelineError
from odds_models.teams import resolve_team

__all__ = [
    "CLOSE_DELAY",
    "CSV_COLUMNS",
    "CSV_REQUIRED",
    "MIN_N",
    "PAPER_PICK_COLUMNS",
    "BetDraft",
    "BetsRejected",
    "GameFacts",
    "GameRef",
    "InvalidBet",
    "TokenFacts",
    "bet_key",
    "bet_status",
    "cumulative_clv",
    "draft_from_fields",
    "drafts_from_csv",
    "duplicate_lines",
    "ledger_report",
    "paper_bet_rows",
    "parse_bets_csv",
    "parse_game_ref",
    "pick_event",
    "report_markdown",
    "resolve_bet",
    "settlement_updates",
    "summary_cells",
    "verdict",
]

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


# --------------------------------------------------------------------------------------------------------
# Paper bets
# --------------------------------------------------------------------------------------------------------


def paper_bet_rows(
    picks: Iterable[Mapping[str, Any]],
    *,
    default_stake: float,
    fee_rate: float,
    tokens: Mapping[tuple[str, str], str] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Ledger rows of published picks (`PAPER_PICK_COLUMNS`), and why any pick was left out.

    A Polymarket pick needs its token: `token_id` on the pick, or `tokens[(event_id, outcome)]`.
    """
    rows, skipped = [], []
    for pick in picks:
        venue = str(pick["best_venue"])
        price = float(pick["best_price_decimal"])
        placed_at = pick["decision_time"]
        if not (math.isfinite(price) and price > 1.0) or placed_at is None:
            skipped.append(f"{pick['event_id']} {pick['market']} {pick['outcome']}: no price or time")
            continue
        stake = float(pick.get("stake") or default_stake)
        point = pick.get("best_point")
        expected = pick.get("expected_return", pick.get("expected_clv"))
        row: dict[str, Any] = {
            "source": "paper",
            "placed_at": pd.Timestamp(placed_at).to_pydatetime(),
            "event_id": pick["event_id"],
            "market": pick["market"],
            "side": pick["side"],
            "outcome": pick["outcome"],
            "line": None if point is None or pd.isna(point) else float(point),
            "venue": venue,
            "token_id": None,
            "price_decimal": price,
            "fill_price": None,
            "fee_rate": None,
            "shares": None,
            "stake": stake,
            "model_id": pick.get("model_id"),
            "prediction_id": None,
            "expected_return": None if expected is None or pd.isna(expected) else float(expected),
            "note": None,
        }
        if venue == "polymarket":
            token = pick.get("token_id") or (tokens or {}).get((pick["event_id"], pick["outcome"]))
            if not token:
                skipped.append(f"{pick['event_id']} {pick['market']} {pick['outcome']}: no Polymarket token")
                continue
            fee = float(pick["fee_rate"]) if pick.get("fee_rate") is not None else fee_rate
            fill = (
                float(pick["fill_price"])
                if pick.get("fill_price") is not None
                else 1.0 / (price * (1.0 + fee))
            )
            # a pick filled on the book carries its shares (odds_analytics.venues); else stake x price
            shares = float(pick["shares"]) if pick.get("shares") else stake * price
            row.update(token_id=str(token), fill_price=fill, fee_rate=fee, shares=shares)
        row["bet_key"] = bet_key(row)
        rows.append(row)
    return rows, skipped


# --------------------------------------------------------------------------------------------------------
# Settlement
# --------------------------------------------------------------------------------------------------------


def settlement_updates(
    bets: pd.DataFrame, closing_fair: pd.DataFrame, *, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What to write on open bets: (closes, results).

    `bets`: ledger rows still missing a close or a result, with their game's commence_time, status,
    home_score, away_score. A close is taken `CLOSE_DELAY` after tip-off (not for a postponed or cancelled
    game); a result once the game is final (win/loss/push, profit = stake x (price - 1), -stake, 0) or
    cancelled (void, 0). A bet with no close stays open: it is counted, never dropped.
    """
    if bets.empty:
        return [], []
    started = (pd.to_datetime(bets["commence_time"], utc=True) <= pd.Timestamp(now) - CLOSE_DELAY) & ~bets[
        "status"
    ].isin(["postponed", "cancelled"])
    need_close = bets[bets["close_prob"].isna() & started]
    closes = []
    if len(need_close):
        valued = closing_value(need_close.rename(columns={"line": "point"}), closing_fair)
        valued = valued[np.isfinite(valued["clv_prob"].to_numpy(dtype=float))]
        closes = [
            {"id": int(row.id), "close_prob": float(row.close_prob), "clv_prob": float(row.clv_prob),
             "close_line": None if pd.isna(row.close_point) else float(row.close_point),
             "close_basis": None if row.close_basis is None or pd.isna(row.close_basis) else str(row.close_basis)}
            for row in valued.itertuples(index=False)
        ]  # fmt: skip
    open_result = bets[bets["result"].isna()]
    final = open_result[open_result["status"] == "final"]
    settled = settle(final.rename(columns={"line": "point"})) if len(final) else final.assign(result=[])
    results = [
        {"id": int(row.id), "result": str(row.result), "profit": float(row.profit)}
        for row in settled[settled["result"] != "void"].itertuples(index=False)
    ]
    results += [
        {"id": int(row.id), "result": "void", "profit": 0.0}
        for row in open_result[open_result["status"] == "cancelled"].itertuples(index=False)
    ]
    return closes, results


def bet_status(bets: pd.DataFrame, *, now: datetime) -> pd.DataFrame:
    """`status` (settled, open, void) and `open_reason` per bet: before tip-off, awaiting close (in the
    `CLOSE_DELAY` after tip-off), no close (none was found), awaiting result."""
    result = bets["result"]
    has_close = bets["clv_prob"].notna()
    decided = result.isin(["win", "loss", "push"])
    tip = pd.to_datetime(bets["commence_time"], utc=True)
    before = tip > pd.Timestamp(now)
    closing = tip > pd.Timestamp(now) - CLOSE_DELAY
    status = np.where(result.eq("void"), "void", np.where(decided & has_close, "settled", "open"))
    reason = np.select(
        [before, ~has_close & closing, ~has_close], ["before tip-off", "awaiting close", "no close"],
        default="awaiting result",
    )  # fmt: skip
    reason = pd.Series(reason, index=bets.index, dtype=object).where(status == "open", None)
    return bets.assign(status=status, open_reason=reason)


# --------------------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------------------


def _t_interval(values: np.ndarray, min_n: int) -> list[float] | None:
    if len(values) < min_n:
        return None
    half = float(stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values)))
    mean = float(values.mean())
    return [mean - half, mean + half]


def _roi_interval(profit: np.ndarray, stake: np.ndarray, min_n: int) -> list[float] | None:
    """ROI = sum(profit) / sum(stake), with the ratio estimator's standard error (delta method)."""
    n = len(profit)
    if n < min_n or stake.sum() <= 0:
        return None
    roi = profit.sum() / stake.sum()
    resid = profit - roi * stake
    se = math.sqrt(float((resid**2).sum()) / (n * (n - 1))) / float(stake.mean())
    half = float(stats.t.ppf(0.975, n - 1)) * se
    return [float(roi - half), float(roi + half)]


def _summary(bets: pd.DataFrame, min_n: int) -> dict[str, Any]:
    clv = bets["clv_prob"].dropna().to_numpy(dtype=float)
    decided = bets[bets["result"].isin(["win", "loss", "push"])]
    stake = decided["stake"].to_numpy(dtype=float)
    profit = decided["profit"].to_numpy(dtype=float)
    expected = bets["expected_return"].dropna().to_numpy(dtype=float)
    ci = _t_interval(clv, min_n)
    return {
        "bets": len(bets),
        "settled": int((bets["status"] == "settled").sum()),
        "open": int((bets["status"] == "open").sum()),
        "void": int((bets["status"] == "void").sum()),
        "no_close": int((bets["open_reason"] == "no close").sum()),
        "clv_n": len(clv),
        "clv_mean_pp": float(clv.mean() * 100) if len(clv) else None,
        "clv_ci_pp": [v * 100 for v in ci] if ci else None,
        "beat_close": int((clv > 0).sum()),
        "beat_close_share": float((clv > 0).mean()) if len(clv) else None,
        "results_n": len(decided),
        "wins": int((decided["result"] == "win").sum()),
        "losses": int((decided["result"] == "loss").sum()),
        "pushes": int((decided["result"] == "push").sum()),
        "turnover": float(stake.sum()),
        "profit": float(profit.sum()),
        "roi": float(profit.sum() / stake.sum()) if stake.sum() > 0 else None,
        "roi_ci": _roi_interval(profit, stake, min_n),
        "expected_return_n": len(expected),
        "expected_return_mean": float(expected.mean()) if len(expected) else None,
    }


BREAKDOWNS = ("source", "model", "market", "venue")


def ledger_report(bets: pd.DataFrame, *, now: datetime, min_n: int = MIN_N) -> dict[str, Any]:
    """The ledger's figures, overall and by source, model, market and venue (JSON-ready).

    `bets`: ledger rows with their game's commence_time and the model's name in `model` (None for manual).
    """
    frame = bet_status(bets, now=now) if len(bets) else bets.assign(status=[], open_reason=[])
    frame = frame.assign(model=frame["model"].fillna("none") if "model" in frame else "none")
    reasons = frame["open_reason"].dropna().value_counts()
    return {
        "as_of": now,
        "min_n": min_n,
        "overall": _summary(frame, min_n),
        "open_reasons": {str(k): int(v) for k, v in reasons.items()},
        "by": {
            key: [{key: str(value), **_summary(part, min_n)} for value, part in frame.groupby(key, sort=True)]
            for key in BREAKDOWNS
        },
    }


def _pp(value: float) -> str:
    return f"{value:+.2f}"


def summary_cells(s: Mapping[str, Any]) -> dict[str, str]:
    """A summary's figures as text: every CLV and ROI figure with its count, intervals or "n too small"."""
    n_all = s["bets"]
    clv = f"{_pp(s['clv_mean_pp'])} pp ({s['clv_n']}/{n_all})" if s["clv_n"] else f"- (0/{n_all})"
    clv_ci = f"{_pp(s['clv_ci_pp'][0])} to {_pp(s['clv_ci_pp'][1])} pp" if s["clv_ci_pp"] else "n too small"
    beat = f"{s['beat_close']}/{s['clv_n']} ({s['beat_close_share']:.0%})" if s["clv_n"] else "-"
    roi = f"{s['roi']:+.1%} ({s['results_n']}/{n_all})" if s["roi"] is not None else f"- (0/{n_all})"
    roi_ci = f"{s['roi_ci'][0]:+.1%} to {s['roi_ci'][1]:+.1%}" if s["roi_ci"] else "n too small"
    expected = (
        f"{s['expected_return_mean']:+.2%} ({s['expected_return_n']}/{n_all})"
        if s["expected_return_n"]
        else "-"
    )
    return {
        "bets": str(n_all),
        "settled / open / void": f"{s['settled']} / {s['open']} / {s['void']}",
        "CLV mean (n/N)": clv,
        "CLV 95 % interval": clv_ci,
        "beat the close": beat,
        "ROI (n/N)": roi,
        "ROI 95 % interval": roi_ci,
        "profit": f"{s['profit']:+.2f}",
        "expected return (published)": expected,
    }


def verdict(summary: Mapping[str, Any], min_n: int = MIN_N) -> str:
    """One sentence: did these bets beat the close, as far as their CLV interval can tell?"""
    n, ci = summary["clv_n"], summary["clv_ci_pp"]
    if ci is None:
        return f"Too few bets with a close ({n}) to tell whether they beat it: an interval needs {min_n}."
    if ci[0] > 0:
        return f"These bets beat the close: the 95 % interval of their CLV is above 0 ({n} bets)."
    if ci[1] < 0:
        return f"These bets lost to the close: the 95 % interval of their CLV is below 0 ({n} bets)."
    return (
        f"No evidence that these bets beat the close: the 95 % interval of their CLV includes 0 ({n} bets)."
    )


def report_markdown(report: Mapping[str, Any], *, title: str = "Bet ledger", heading: str = "#") -> list[str]:
    """The report as Markdown lines: the overall figures, then one table per breakdown."""
    overall = report["overall"]
    lines = [f"{heading} {title}", ""]
    if not overall["bets"]:
        return [*lines, "No bets in the ledger yet.", ""]
    reasons = ", ".join(f"{k} {v}" for k, v in report["open_reasons"].items())
    lines += [
        f"As of {pd.Timestamp(report['as_of']):%Y-%m-%d %H:%M} UTC: {overall['bets']} bets, {overall['settled']} "
        f"settled, {overall['open']} open"
        + (f" ({reasons})" if reasons else "")
        + f", {overall['void']} void. "
        f"CLV is the fair closing probability of the side at the bet's line minus the implied probability paid, "
        f"in probability points (pp); intervals are 95 % and need {report['min_n']} bets.",
        "",
    ]
    lines += [verdict(overall, report["min_n"]), ""]
    cells = summary_cells(overall)
    header = ["", *cells.keys()]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.append("| **all** | " + " | ".join(cells.values()) + " |")
    for key in BREAKDOWNS:
        for row in report["by"][key]:
            lines.append(f"| {key}: {row[key]} | " + " | ".join(summary_cells(row).values()) + " |")
    lines.append("")
    return lines


def cumulative_clv(bets: pd.DataFrame) -> pd.DataFrame:
    """Bets with a close in tip-off order: `clv_pp` and the running sum overall (`cumulative_pp`) and per
    source (`source_cumulative_pp`)."""
    have = bets[bets["clv_prob"].notna()].copy()
    if have.empty:
        return have.assign(clv_pp=[], cumulative_pp=[], source_cumulative_pp=[])
    have = have.sort_values(["commence_time", "placed_at", "id"], kind="stable").reset_index(drop=True)
    have["clv_pp"] = have["clv_prob"].astype(float) * 100
    have["cumulative_pp"] = have["clv_pp"].cumsum()
    have["source_cumulative_pp"] = have.groupby("source")["clv_pp"].cumsum()
    return have
