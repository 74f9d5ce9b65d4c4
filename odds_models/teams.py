"""The 30 NBA teams and every name other sources use for them.

The Odds API uses full names ("Los Angeles Clippers"); Polymarket uses nicknames in titles and outcomes
("Clippers", "76ers") and 2-4 letter codes in slugs (`nba-was-lac-2025-11-09`, `gs` and `gsw` both seen);
the Kaggle closing-line file uses lower-case codes (`gs`, `no`, `utah`, `wsh`); SportsbookReview files use
city strings without spaces ("GoldenState", "LAClippers", "NewJersey" for the Nets before 2012).
`resolve_team()` maps any of them to the canonical full name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["TEAMS", "Team", "resolve_team", "team_by_name"]


@dataclass(frozen=True)
class Team:
    """One franchise. `name` is The Odds API's full name, the canonical key everywhere."""

    name: str
    nickname: str
    abbr: str  # common 3-letter abbreviation
    polymarket: tuple[str, ...]  # slug codes seen on Polymarket (first is the current one)
    kaggle: str  # code in closing_lines/nba_closing_lines_2008_2024.csv
    sbr: tuple[str, ...]  # SportsbookReview city strings (no spaces)
    aliases: tuple[str, ...] = field(default=())


TEAMS: tuple[Team, ...] = (
    Team("Atlanta Hawks", "Hawks", "ATL", ("atl",), "atl", ("Atlanta",)),
    Team("Boston Celtics", "Celtics", "BOS", ("bos",), "bos", ("Boston",)),
    Team("Brooklyn Nets", "Nets", "BKN", ("bkn", "brk", "bk"), "bkn", ("Brooklyn", "NewJersey"),
         ("New Jersey Nets",)),
    Team("Charlotte Hornets", "Hornets", "CHA", ("cha", "chh", "cho"), "cha", ("Charlotte",),
         ("Charlotte Bobcats",)),
    Team("Chicago Bulls", "Bulls", "CHI", ("chi",), "chi", ("Chicago",)),
    Team("Cleveland Cavaliers", "Cavaliers", "CLE", ("cle",), "cle", ("Cleveland",), ("Cavs",)),
    Team("Dallas Mavericks", "Mavericks", "DAL", ("dal",), "dal", ("Dallas",), ("Mavs",)),
    Team("Denver Nuggets", "Nuggets", "DEN", ("den",), "den", ("Denver",)),
    Team("Detroit Pistons", "Pistons", "DET", ("det",), "det", ("Detroit",)),
    Team("Golden State Warriors", "Warriors", "GSW", ("gsw", "gs"), "gs", ("GoldenState",)),
    Team("Houston Rockets", "Rockets", "HOU", ("hou",), "hou", ("Houston",)),
    Team("Indiana Pacers", "Pacers", "IND", ("ind",), "ind", ("Indiana",)),
    Team("Los Angeles Clippers", "Clippers", "LAC", ("lac",), "lac", ("LAClippers",), ("LA Clippers",)),
    Team("Los Angeles Lakers", "Lakers", "LAL", ("lal",), "lal", ("LALakers",), ("LA Lakers",)),
    Team("Memphis Grizzlies", "Grizzlies", "MEM", ("mem",), "mem", ("Memphis",)),
    Team("Miami Heat", "Heat", "MIA", ("mia",), "mia", ("Miami",)),
    Team("Milwaukee Bucks", "Bucks", "MIL", ("mil",), "mil", ("Milwaukee",)),
    Team("Minnesota Timberwolves", "Timberwolves", "MIN", ("min",), "min", ("Minnesota",), ("Wolves",)),
    Team("New Orleans Pelicans", "Pelicans", "NOP", ("nop", "no", "nor"), "no", ("NewOrleans",),
         ("New Orleans Hornets",)),
    Team("New York Knicks", "Knicks", "NYK", ("nyk", "ny"), "ny", ("NewYork",)),
    Team("Oklahoma City Thunder", "Thunder", "OKC", ("okc",), "okc", ("OklahomaCity", "Seattle"),
         ("Seattle SuperSonics",)),
    Team("Orlando Magic", "Magic", "ORL", ("orl",), "orl", ("Orlando",)),
    Team("Philadelphia 76ers", "76ers", "PHI", ("phi",), "phi", ("Philadelphia",), ("Sixers",)),
    Team("Phoenix Suns", "Suns", "PHX", ("phx", "pho"), "phx", ("Phoenix",)),
    Team("Portland Trail Blazers", "Trail Blazers", "POR", ("por",), "por", ("Portland",), ("Blazers",)),
    Team("Sacramento Kings", "Kings", "SAC", ("sac",), "sac", ("Sacramento",)),
    Team("San Antonio Spurs", "Spurs", "SAS", ("sas", "sa"), "sa", ("SanAntonio",)),
    Team("Toronto Raptors", "Raptors", "TOR", ("tor",), "tor", ("Toronto",)),
    Team("Utah Jazz", "Jazz", "UTA", ("uta", "utah", "utj"), "utah", ("Utah",)),
    Team("Washington Wizards", "Wizards", "WAS", ("was", "wsh", "wiz"), "wsh", ("Washington",)),
)  # fmt: skip


def _key(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _build_index() -> dict[str, Team]:
    index: dict[str, Team] = {}
    for team in TEAMS:
        names = {team.name, team.nickname, team.abbr, team.kaggle, *team.polymarket, *team.sbr, *team.aliases}
        for name in names:
            index[_key(name)] = team
    return index


_INDEX = _build_index()


def team_by_name(name: str) -> Team:
    """The team with this full name (The Odds API spelling); KeyError otherwise."""
    for team in TEAMS:
        if team.name == name:
            return team
    raise KeyError(name)


def resolve_team(text: str) -> Team | None:
    """Map any known spelling (full name, nickname, code, city string) to its team, or None."""
    return _INDEX.get(_key(text))
