"""Closing (and opening) lines and final scores from files other than our snapshots: pure parsing and matching.

Two formats (see ../shared/data/README.md):

- `kaggle` (`closing_lines/nba_closing_lines_2008_2024.csv`): `date` m/d/yy (US date of the game), `away`
  and `home` lower-case codes, `whos_favored` home|away, `spread` the favourite's spread as a magnitude,
  `total`, `moneyline_away/home` (American, often empty), `score_away/home`. Gives the close only.
- `sbr` (`sbr_open_close/sbr_nba_games_2007_2022.csv`): `date` ISO, city strings without spaces,
  `home_spread_open/close` (home view: negative = home favoured), `total_open/close`, `away_ml_close`,
  `home_ml_close`, scores. Gives the open (spread, total) and the close (spread, total, moneyline). Rows
  flagged `suspect=1` are skipped.

Team names are mapped with `odds_models.teams.resolve_team` to The Odds API's full names. Games are matched to
events by the US/Eastern date of tip-off and the teams (home/away as stated, or swapped for neutral sites).
A game with no event becomes a new event with the deterministic id `imp_<hash>` (so a re-import finds it)
and a nominal 19:00 US/Eastern tip-off.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from odds_analytics.prices import InvalidPriceError, american_to_decimal
from odds_models.errors import PayloadError
from odds_models.teams import resolve_team

__all__ = [
    "EASTERN",
    "FORMATS",
    "ClosingFormat",
    "EventKey",
    "ImportedGame",
    "LineRecord",
    "MatchResult",
    "ParseResult",
    "eastern_date",
    "imported_event_id",
    "match_games",
    "nominal_tip_off",
    "parse_closing_lines",
    "parse_kaggle",
    "parse_sbr",
]

ClosingFormat = Literal["kaggle", "sbr"]
FORMATS: tuple[str, ...] = ("kaggle", "sbr")
EASTERN = ZoneInfo("America/New_York")
# the columns a file must have to be read at all, per format
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {"kaggle": ("date", "away", "home"),
                                                "sbr": ("date", "away_team", "home_team")}  # fmt: skip
_INT4 = 2**31 - 1  # moneylines and scores are stored as PostgreSQL integer


@dataclass(frozen=True)
class LineRecord:
    """One side of one market: `outcome` is a team's full name, or Over / Under."""

    kind: str  # open | close
    market: str  # h2h | spreads | totals
    outcome: str
    point: float | None = None
    price_american: int | None = None
    price_decimal: float | None = None


@dataclass(frozen=True)
class ImportedGame:
    """One game of an imported file: US date, canonical teams, final score (if known) and its lines."""

    game_date: date
    home_team: str
    away_team: str
    home_score: int | None
    away_score: int | None
    lines: tuple[LineRecord, ...]
    row: int  # 1-based data row in the file, for messages


@dataclass
class ParseResult:
    games: list[ImportedGame] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # "row N: reason"
    skipped: int = 0  # rows deliberately left out (sbr suspect rows)


@dataclass(frozen=True)
class EventKey:
    """An existing event as the matcher needs it."""

    id: str
    home_team: str
    away_team: str
    commence_time: datetime


@dataclass
class MatchResult:
    matched: list[tuple[ImportedGame, EventKey]] = field(default_factory=list)
    to_create: list[tuple[ImportedGame, EventKey]] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)


def _float(text: str | None) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _int(text: str | None) -> int | None:
    value = _float(text)
    return None if value is None else round(value)


def _stored_int(row: dict[str, str], column: str, n: int) -> str | None:
    """The cell of an integer column; `PayloadError` when its number cannot be stored (beyond ±2^31)."""
    text = row.get(column)
    value = _float(text)
    if value is not None and abs(value) > _INT4:
        raise PayloadError(f"row {n}: {column} {str(text).strip()[:20]} is out of range (at most ±{_INT4})")
    return text


def _rows(text: str, fmt: str) -> Iterator[tuple[int, dict[str, str]]]:
    """The data rows (numbered from 1); `PayloadError` for missing columns or a row the CSV reader refuses."""
    reader = csv.DictReader(io.StringIO(text))
    n = 0
    try:
        columns = [c for c in reader.fieldnames or [] if c]
        missing = [c for c in REQUIRED_COLUMNS[fmt] if c not in columns]
        if missing:
            found = ", ".join(c[:20] for c in columns[:6]) or "nothing"
            raise PayloadError(
                f"not a {fmt} file: no column {', '.join(missing)} (found {found}); check --format"
            )
        for n, row in enumerate(reader, start=1):
            yield n, row
    except csv.Error as exc:
        raise PayloadError(f"row {n + 1}: {exc}") from None


def _moneyline(kind: str, team: str, text: str | None) -> LineRecord | None:
    american = _float(text)
    if american is None:
        return None
    try:
        decimal = american_to_decimal(american)
    except InvalidPriceError:
        return None
    return LineRecord(kind, "h2h", team, None, round(american), decimal)


def _spread_pair(kind: str, home: str, away: str, home_point: float | None) -> list[LineRecord]:
    if home_point is None:
        return []
    return [
        LineRecord(kind, "spreads", home, float(home_point)),
        LineRecord(kind, "spreads", away, float(-home_point) + 0.0),
    ]


def _total_pair(kind: str, total: float | None) -> list[LineRecord]:
    if total is None or total <= 0:
        return []
    return [LineRecord(kind, "totals", "Over", total), LineRecord(kind, "totals", "Under", total)]


def _teams(home_text: str, away_text: str) -> tuple[str, str] | str:
    home, away = resolve_team(home_text or ""), resolve_team(away_text or "")
    if home is None or away is None:
        bad = home_text if home is None else away_text
        return f"unknown team {bad!r}"
    if home.name == away.name:
        return f"same team on both sides {home.name!r}"
    return home.name, away.name


def _kaggle_date(text: str) -> date:
    return datetime.strptime(text, "%m/%d/%y").date()  # noqa: DTZ007 - a date


def _game_keys(
    row: dict[str, str],
    n: int,
    result: ParseResult,
    *,
    parse_date: Callable[[str], date],
    home: str,
    away: str,
) -> tuple[date, str, str] | None:
    """The row's (date, home, away), or None with the reason in `result.unresolved` (bad date, unknown team)."""
    try:
        game_date = parse_date(row["date"].strip())
    except (KeyError, ValueError):
        result.unresolved.append(f"row {n}: bad date {row.get('date')!r}")
        return None
    teams = _teams(row.get(home, ""), row.get(away, ""))
    if isinstance(teams, str):
        result.unresolved.append(f"row {n}: {teams}")
        return None
    return game_date, *teams


def _add_game(
    result: ParseResult,
    row: dict[str, str],
    n: int,
    game: tuple[date, str, str],
    lines: list[LineRecord],
    *,
    moneylines: tuple[str, str],
    scores: tuple[str, str],
) -> None:
    """Append the row's game: its `lines` plus the closing moneylines (home, away columns) and scores."""
    game_date, home, away = game
    ml_home = _moneyline("close", home, _stored_int(row, moneylines[0], n))
    ml_away = _moneyline("close", away, _stored_int(row, moneylines[1], n))
    if ml_home and ml_away:  # one side alone cannot be devigged: keep both or neither
        lines += [ml_home, ml_away]
    result.games.append(
        ImportedGame(game_date, home, away, _int(_stored_int(row, scores[0], n)),
                     _int(_stored_int(row, scores[1], n)), tuple(lines), n)
    )  # fmt: skip


def parse_kaggle(text: str) -> ParseResult:
    """Parse the Kaggle closing-line CSV text (close only). `PayloadError` if it cannot be stored whole."""
    result = ParseResult()
    for n, row in _rows(text, "kaggle"):
        game = _game_keys(row, n, result, parse_date=_kaggle_date, home="home", away="away")
        if game is None:
            continue
        _, home, away = game
        lines: list[LineRecord] = []
        spread = _float(row.get("spread"))
        favoured = (row.get("whos_favored") or "").strip().lower()
        if spread is not None and favoured in ("home", "away"):
            home_point = -abs(spread) if favoured == "home" else abs(spread)
            lines += _spread_pair("close", home, away, home_point)
        lines += _total_pair("close", _float(row.get("total")))
        _add_game(result, row, n, game, lines, moneylines=("moneyline_home", "moneyline_away"),
                  scores=("score_home", "score_away"))  # fmt: skip
    return result


def parse_sbr(text: str) -> ParseResult:
    """Parse the SportsbookReview open/close CSV text (open spread/total; close spread/total/moneyline).
    `PayloadError` if it cannot be stored whole."""
    result = ParseResult()
    for n, row in _rows(text, "sbr"):
        if (row.get("suspect") or "0").strip() == "1":
            result.skipped += 1
            continue
        game = _game_keys(row, n, result, parse_date=date.fromisoformat, home="home_team", away="away_team")
        if game is None:
            continue
        _, home, away = game
        lines = _spread_pair("open", home, away, _float(row.get("home_spread_open")))
        lines += _total_pair("open", _float(row.get("total_open")))
        lines += _spread_pair("close", home, away, _float(row.get("home_spread_close")))
        lines += _total_pair("close", _float(row.get("total_close")))
        _add_game(result, row, n, game, lines, moneylines=("home_ml_close", "away_ml_close"),
                  scores=("home_score", "away_score"))  # fmt: skip
    return result


def parse_closing_lines(path: Path | str, fmt: ClosingFormat | str) -> ParseResult:
    """Read and parse a closing-line file of format `kaggle` or `sbr`.

    `PayloadError` naming the file (and the row) when any of it cannot be read or stored: not UTF-8, the
    format's columns missing, a field the CSV reader refuses (over 128 KiB), a number beyond the database's
    integer range. Nothing of such a file is imported.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown closing-line format {fmt!r}; choose kaggle or sbr")
    try:
        blob = Path(path).read_bytes()
        text = blob.decode("utf-8-sig")
        return parse_kaggle(text) if fmt == "kaggle" else parse_sbr(text)
    except OSError as exc:
        raise PayloadError(f"{path}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except UnicodeDecodeError as exc:
        line = blob.count(b"\n", 0, exc.start) + 1
        raise PayloadError(f"{path}: not UTF-8 text (byte 0x{blob[exc.start]:02x} on line {line})") from None
    except PayloadError as exc:
        raise PayloadError(f"{path}: {exc}") from None


def eastern_date(moment: datetime) -> date:
    """The US/Eastern calendar date of an aware datetime (how US box scores date a game)."""
    return moment.astimezone(EASTERN).date()


def nominal_tip_off(game_date: date) -> datetime:
    """19:00 US/Eastern on the game's date, in UTC: the tip-off given to imported games without a time."""
    return datetime.combine(game_date, time(19, 0), tzinfo=EASTERN).astimezone(UTC)


def imported_event_id(source: str, game: ImportedGame) -> str:
    """Deterministic id of an event created by an import: `imp_` + 24 hex of a hash of date and teams.

    The source is not part of the hash, so the kaggle and sbr files create the same event for one game.
    """
    del source
    key = f"{game.game_date.isoformat()}|{game.home_team}|{game.away_team}"
    return "imp_" + hashlib.sha256(key.encode()).hexdigest()[:24]


def match_games(games: Sequence[ImportedGame], events: Iterable[EventKey], source: str) -> MatchResult:
    """Pair every game with the event of the same US/Eastern date and teams, or plan a new event.

    A game whose teams appear swapped (neutral site) matches too. Two events on the same date and teams
    (a data error) leave the game unmatched rather than guessing.
    """
    index: dict[tuple[date, str, str], list[EventKey]] = {}
    for ev in events:
        index.setdefault((eastern_date(ev.commence_time), ev.home_team, ev.away_team), []).append(ev)
    result = MatchResult()
    planned: dict[str, EventKey] = {}
    for game in games:
        found = index.get((game.game_date, game.home_team, game.away_team)) or index.get(
            (game.game_date, game.away_team, game.home_team)
        )
        if found and len(found) > 1:
            result.unmatched.append(
                f"row {game.row}: {len(found)} events for {game.away_team} @ {game.home_team}"
            )
            continue
        if found:
            result.matched.append((game, found[0]))
            continue
        event_id = imported_event_id(source, game)
        if event_id in planned:
            result.unmatched.append(f"row {game.row}: duplicate game {game.away_team} @ {game.home_team}")
            continue
        key = EventKey(event_id, game.home_team, game.away_team, nominal_tip_off(game.game_date))
        planned[event_id] = key
        result.to_create.append((game, key))
    return result
