"""Link Polymarket games to sportsbook events. Pure: no I/O.

Polymarket NBA tickers and slugs are `nba-{away}-{home}-{yyyy}-{mm}-{dd}` (codes from `odds_models.teams`,
several per team: `gs`/`gsw`, `sa`/`sas`, `ny`/`nyk`…). The date is the US date of the game, so a 7:30 pm ET
tip is 00:30 UTC the next day. Candidates are sportsbook events with the same two teams whose
`commence_time` lies within ±24 h of noon UTC on the ticker date; when Gamma gives `gameStartTime`, events
within 2 h of it are preferred. Only a unique candidate is linked; two or more (a back-to-back series of
the same matchup) are reported as ambiguous, none as unmatched.

    >>> parse_ticker("nba-was-lac-2025-11-09").home.name
    'Los Angeles Clippers'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from odds_models.teams import TEAMS, Team

__all__ = [
    "GAME_START_TOLERANCE",
    "WINDOW",
    "Candidate",
    "LinkInput",
    "LinkReport",
    "LinkResult",
    "Ticker",
    "candidate_window",
    "compute_links",
    "match_event",
    "parse_ticker",
    "polymarket_code_index",
]

WINDOW = timedelta(hours=24)
GAME_START_TOLERANCE = timedelta(hours=2)

_TICKER = re.compile(r"^nba-([a-z0-9]{2,5})-([a-z0-9]{2,5})-(\d{4})-(\d{2})-(\d{2})(?:$|-)")


def polymarket_code_index() -> dict[str, Team]:
    """Every Polymarket slug code (all variants) to its team."""
    index: dict[str, Team] = {}
    for team in TEAMS:
        for code in (*team.polymarket, team.abbr.lower()):
            index.setdefault(code, team)
    return index


_CODES = polymarket_code_index()
# a ticker dated outside these years is not an NBA game on Polymarket; year 1 or 9999 would also overflow
# the ±days candidate window of every later link run
_TICKER_YEARS = range(2000, 2101)


@dataclass(frozen=True)
class Ticker:
    away: Team
    home: Team
    game_date: date  # US calendar date of the game

    @property
    def anchor(self) -> datetime:
        """Noon UTC on the ticker date: the centre of the ±24 h candidate window."""
        return datetime.combine(self.game_date, time(12, 0), tzinfo=UTC)


def parse_ticker(text: str) -> Ticker | None:
    """`nba-{away}-{home}-{yyyy}-{mm}-{dd}` (also with a market suffix, e.g. `-spread-home-4pt5`), or None."""
    match = _TICKER.match((text or "").strip().lower())
    if not match:
        return None
    away, home = _CODES.get(match.group(1)), _CODES.get(match.group(2))
    if away is None or home is None or away is home:
        return None
    try:
        game_date = date(int(match.group(3)), int(match.group(4)), int(match.group(5)))
    except ValueError:
        return None
    if game_date.year not in _TICKER_YEARS:
        return None
    return Ticker(away, home, game_date)


@dataclass(frozen=True)
class Candidate:
    """A sportsbook event (table `events`)."""

    event_id: str
    home_team: str
    away_team: str
    commence_time: datetime


@dataclass
class LinkResult:
    polymarket_event_id: str
    status: str  # linked | ambiguous | unmatched
    event_id: str | None = None
    note: str = ""
    candidate_ids: list[str] = field(default_factory=list)


def match_event(
    polymarket_event_id: str,
    ticker: Ticker | None,
    candidates: Iterable[Candidate],
    *,
    game_start_time: datetime | None = None,
) -> LinkResult:
    """Pick the sportsbook event for one Polymarket game (see the module docstring for the rule)."""
    if ticker is None:
        return LinkResult(polymarket_event_id, "unmatched", note="no nba-{away}-{home}-{date} ticker")
    teams = {ticker.away.name, ticker.home.name}
    lo, hi = ticker.anchor - WINDOW, ticker.anchor + WINDOW
    in_window = sorted(
        (c for c in candidates if {c.home_team, c.away_team} == teams and lo <= c.commence_time <= hi),
        key=lambda c: c.commence_time,
    )
    label = f"{ticker.away.nickname} @ {ticker.home.nickname} {ticker.game_date.isoformat()}"
    chosen = in_window
    if game_start_time is not None and in_window:
        near = [c for c in in_window if abs(c.commence_time - game_start_time) <= GAME_START_TOLERANCE]
        if near:
            chosen = near
    ids = [c.event_id for c in chosen]
    if not chosen:
        return LinkResult(polymarket_event_id, "unmatched", note=f"no sportsbook event for {label}")
    if len(chosen) > 1:
        return LinkResult(
            polymarket_event_id, "ambiguous", note=f"{len(chosen)} events for {label}", candidate_ids=ids
        )
    only = chosen[0]
    note = f"{label}"
    if (only.home_team, only.away_team) != (ticker.home.name, ticker.away.name):
        note += " (home/away swapped in the sportsbook listing)"
    return LinkResult(polymarket_event_id, "linked", only.event_id, note, ids)


@dataclass(frozen=True)
class LinkInput:
    """A stored Polymarket event to (re)link, with its current link."""

    polymarket_event_id: str
    slug: str
    ticker: str | None
    title: str
    game_start_time: datetime | None
    link_status: str
    event_id: str | None


@dataclass
class LinkReport:
    linked: list[LinkResult] = field(default_factory=list)
    ambiguous: list[LinkResult] = field(default_factory=list)
    unmatched: list[LinkResult] = field(default_factory=list)
    written: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "linked": len(self.linked),
            "ambiguous": len(self.ambiguous),
            "unmatched": len(self.unmatched),
            "written": self.written,
        }

    def changed(self, inputs: Sequence[LinkInput]) -> list[LinkResult]:
        """The results that differ from the stored links (discovery relinks every hour; write only these)."""
        before = {i.polymarket_event_id: (i.link_status, i.event_id) for i in inputs}
        return [
            r for r in (*self.linked, *self.ambiguous, *self.unmatched)
            if before.get(r.polymarket_event_id) != (r.status, r.event_id)
        ]  # fmt: skip


def compute_links(inputs: Sequence[LinkInput], candidates: Sequence[Candidate]) -> LinkReport:
    """Match every Polymarket event against the sportsbook candidates."""
    report = LinkReport()
    for item in inputs:
        ticker = parse_ticker(item.ticker or "") or parse_ticker(item.slug)
        result = match_event(
            item.polymarket_event_id, ticker, candidates, game_start_time=item.game_start_time
        )
        getattr(report, result.status).append(result)
    return report


def candidate_window(inputs: Sequence[LinkInput]) -> tuple[datetime, datetime] | None:
    """The commence-time range that holds every candidate of `inputs` (None: no event has a ticker date)."""
    dates = [t.game_date for i in inputs if (t := parse_ticker(i.ticker or "") or parse_ticker(i.slug))]
    if not dates:
        return None
    lo = datetime.combine(min(dates), datetime.min.time(), tzinfo=UTC) - timedelta(days=1)
    hi = datetime.combine(max(dates), datetime.min.time(), tzinfo=UTC) + timedelta(days=2)
    return lo, hi
