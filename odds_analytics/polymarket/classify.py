"""Market classification: what a Gamma market is about (type, period, team, line, player, stat).

>>> classify_market("Spread: Knicks (-4.5)").line
-4.5
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from odds_models.teams import Team, resolve_team

__all__ = [
    "MarketClass",
    "classify_market",
    "find_teams",
]

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
