"""The simulated slate's model: its books, constants, games and Polymarket markets (`SimGame`, `SimMarket`).

`replay/simulate.py` builds the slate from these and answers the three APIs' routes with it (see its
docstring for the model's calibration). Every value is a function of (seed, game, book, time).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from odds_models.teams import Team
from replay.common import NORMAL, stable_hex, stable_int, stable_normal, stable_unit
from replay.source import Book

__all__ = [
    "BOOKS",
    "BOOKS_BY_KEY",
    "SIM_NOTE",
    "SimGame",
    "SimMarket",
    "clamp",
    "event_slug",
    "iso_ms",
    "make_game",
    "make_markets",
    "make_token_id",
    "pm_time",
    "poisson",
    "pt_slug",
    "round_half",
]

BOOKS: tuple[Book, ...] = (
    Book("lowvig", "LowVig.ag", "us", 0.026, 0, 5, sharp=True),
    Book("betonlineag", "BetOnline.ag", "us", 0.030, 3, 5, sharp=True),
    Book("draftkings", "DraftKings", "us", 0.045, 25, 10),
    Book("fanduel", "FanDuel", "us", 0.044, 20, 10),
    Book("betmgm", "BetMGM", "us", 0.048, 60, 15),
    Book("williamhill_us", "Caesars", "us", 0.047, 45, 15),
    Book("betrivers", "BetRivers", "us", 0.050, 90, 20),
    Book("bovada", "Bovada", "us", 0.046, 40, 15),
    Book("mybookieag", "MyBookie.ag", "us", 0.055, 120, 30),
    Book("betus", "BetUS", "us", 0.054, 150, 30),
    Book("unibet_us", "Unibet", "us", 0.049, 90, 20),
    Book("wynnbet", "WynnBET", "us", 0.050, 100, 20),
    Book("superbook", "SuperBook", "us", 0.043, 60, 15),
    Book("espnbet", "ESPN BET", "us2", 0.046, 50, 15),
    Book("fliff", "Fliff", "us2", 0.052, 90, 20),
    Book("hardrockbet", "Hard Rock Bet", "us2", 0.047, 75, 20),
    Book("ballybet", "Bally Bet", "us2", 0.052, 120, 30),
    Book("betparx", "betPARX", "us2", 0.052, 120, 30),
    Book("windcreek", "Betfred PA", "us2", 0.053, 150, 30),
    Book("pinnacle", "Pinnacle", "eu", 0.025, 0, 5, sharp=True),
)
BOOKS_BY_KEY = {b.key: b for b in BOOKS}

MARGIN_SD = 12.0  # final margin around the expected margin (points)
TOTAL_SD = 18.0  # final total around the expected total (points)
HOME_EDGE = 2.3
SPREAD_JUMP_SD = 0.9
TOTAL_JUMP_SD = 1.3
JUMPS_PER_GAME = 2.5
PM_LAG = timedelta(minutes=8)
PM_TICK = 0.01
PM_CREATED_BEFORE = timedelta(hours=24)
PM_RESOLVES_AFTER = timedelta(minutes=90)
EVENTS_HORIZON = timedelta(days=10)
TIP_SLOTS: tuple[tuple[int, int, int], ...] = (  # (day offset from the US date, hour, minute) in UTC
    (0, 23, 0), (1, 0, 0), (1, 0, 0), (1, 0, 30), (1, 0, 30), (1, 1, 0), (1, 1, 0), (1, 2, 0), (1, 2, 30),
    (1, 3, 0),
)  # fmt: skip
SIM_NOTE = "SIMULATED by the odds-pipeline replay service (replay/simulate.py); not a real market."


def round_half(value: float) -> float:
    return round(value * 2) / 2


def pt_slug(value: float) -> str:
    """4.5 -> '4pt5', 239.0 -> '239' (Polymarket slug style)."""
    text = f"{abs(value):g}"
    return text.replace(".", "pt")


def pm_time(moment: datetime) -> str:
    """Gamma's `gameStartTime` style: `2025-11-10 00:30:00+00`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def make_token_id(*parts: object) -> str:
    """A 77-digit decimal token id (Polymarket's are 76-78 digits)."""
    value = stable_int("token", *parts) % (9 * 10**76) + 10**76
    return str(value)


@dataclass
class SimMarket:
    """A Polymarket binary market of a simulated game."""

    id: str
    condition_id: str
    slug: str
    question: str
    kind: str  # moneyline | spreads | totals | points | rebounds | assists
    outcomes: tuple[str, str]
    token_ids: tuple[str, str]
    line: float | None = None
    group_item_title: str = ""
    applies_to_home: bool = True  # spreads: the team the line applies to
    player: str | None = None
    prop_base: float = 0.5


@dataclass
class SimGame:
    """One simulated game and everything that depends on it."""

    index: int
    id: str
    home: Team
    away: Team
    us_date: date
    scheduled: datetime
    actual_start: datetime
    completed_at: datetime
    listed_at: datetime
    margin_open: float
    total_open: float
    margin_jumps: list[tuple[datetime, float]]
    total_jumps: list[tuple[datetime, float]]
    final_home: int
    final_away: int
    books: tuple[str, ...]
    book_bias: dict[str, tuple[float, float]]
    pm_event_id: str
    pm_created: datetime
    pm_closed_at: datetime
    pm_bias: float
    markets: list[SimMarket] = field(default_factory=list)

    # -- the latent state ------------------------------------------------------------------------------

    def margin_at(self, moment: datetime) -> float:
        return self.margin_open + sum(size for when, size in self.margin_jumps if when <= moment)

    def total_at(self, moment: datetime) -> float:
        return self.total_open + sum(size for when, size in self.total_jumps if when <= moment)

    @property
    def margin_close(self) -> float:
        return self.margin_at(self.actual_start)

    @property
    def total_close(self) -> float:
        return self.total_at(self.actual_start)

    def progress(self, moment: datetime) -> float:
        """0 before the tip, 1 once completed."""
        if moment < self.actual_start:
            return 0.0
        if moment >= self.completed_at:
            return 1.0
        return (moment - self.actual_start) / (self.completed_at - self.actual_start)

    def live_score(self, moment: datetime) -> tuple[int, int]:
        """(home, away) points at `moment` (final once completed)."""
        f = self.progress(moment)
        if f >= 1.0:
            return self.final_home, self.final_away
        wobble = math.sqrt(f * (1 - f))
        bucket = int((moment - self.actual_start).total_seconds() // 60)
        home = self.final_home * f + 5 * wobble * stable_normal("score-h", self.id, bucket)
        away = self.final_away * f + 5 * wobble * stable_normal("score-a", self.id, bucket)
        return max(0, round(home)), max(0, round(away))

    def expected(self, moment: datetime) -> tuple[float, float, float, float]:
        """(expected home margin, its sd, expected total, its sd) given what is known at `moment`."""
        f = self.progress(moment)
        if f <= 0.0:
            return self.margin_at(moment), MARGIN_SD, self.total_at(moment), TOTAL_SD
        home, away = self.live_score(moment)
        left = 1.0 - f
        margin = (home - away) + left * self.margin_close
        total = (home + away) + left * self.total_close
        return margin, MARGIN_SD * math.sqrt(left) + 0.3, total, TOTAL_SD * math.sqrt(left) + 0.5

    def fair_prob(self, market: SimMarket, moment: datetime) -> float:
        """The fair probability of the market's first outcome at `moment`."""
        margin, msd, total, tsd = self.expected(moment)
        if market.kind == "moneyline":  # outcomes [away, home]
            return 1.0 - NORMAL.cdf(margin / msd)
        if market.kind == "spreads":
            line = market.line or 0.0
            own = margin if market.applies_to_home else -margin
            return NORMAL.cdf((own + line) / msd)
        if market.kind == "totals":
            return NORMAL.cdf((total - (market.line or 0.0)) / tsd)
        # player props: a slow random walk around the opening price, settled by the progress of the game
        hours = int((moment - self.pm_created).total_seconds() // 3600)
        walk = 0.015 * sum(stable_normal("prop", market.id, h) for h in range(max(0, min(hours, 72)) + 1))
        base = clamp(market.prop_base + walk / 3, 0.05, 0.95)
        f = self.progress(moment)
        if f <= 0:
            return base
        settled = 1.0 if stable_unit("prop-result", market.id) < market.prop_base else 0.0
        return base + (settled - base) * f**2


def poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def event_slug(game: SimGame) -> str:
    """The Polymarket event slug of a game: `nba-{away}-{home}-{US date}`."""
    return f"nba-{game.away.polymarket[0]}-{game.home.polymarket[0]}-{game.us_date.isoformat()}"


def make_game(
    index: int,
    home: Team,
    away: Team,
    *,
    seed: int,
    pm_lead: timedelta,
    us_date: date,
    ratings: dict[str, float],
    rng: random.Random,
) -> SimGame:
    """One game of the slate: its tip, latent line moves, final score, books and Polymarket markets."""
    day_off, hour, minute = TIP_SLOTS[rng.randrange(len(TIP_SLOTS))]
    scheduled = datetime.combine(us_date + timedelta(days=day_off), time(hour, minute), tzinfo=UTC)
    actual_start = scheduled + timedelta(minutes=rng.randint(5, 12), seconds=rng.randint(0, 59))
    completed_at = actual_start + timedelta(minutes=rng.randint(130, 165))
    listed_at = scheduled - timedelta(hours=rng.uniform(20.0, 96.0))
    span = (scheduled - listed_at).total_seconds()
    margin_open = ratings[home.name] - ratings[away.name] + HOME_EDGE + rng.gauss(0.0, 1.5)
    total_open = rng.gauss(226.0, 7.0)

    def jumps(sd: float) -> list[tuple[datetime, float]]:
        count = poisson(rng, JUMPS_PER_GAME)
        # news arrives more often close to the tip: the fraction of the span left is u^2
        return sorted(
            (scheduled - timedelta(seconds=span * rng.random() ** 2), rng.gauss(0.0, sd))
            for _ in range(count)
        )

    margin_jumps, total_jumps = jumps(SPREAD_JUMP_SD), jumps(TOTAL_JUMP_SD)
    margin_close = margin_open + sum(s for _, s in margin_jumps)
    total_close = total_open + sum(s for _, s in total_jumps)
    final_margin = round(rng.gauss(margin_close, MARGIN_SD)) or rng.choice((-1, 1)) * rng.randint(1, 5)
    final_total = max(160, round(rng.gauss(total_close, TOTAL_SD)))
    if (final_total + final_margin) % 2:
        final_total += 1
    final_home = (final_total + final_margin) // 2
    final_away = final_total - final_home
    us_books = [b.key for b in BOOKS if b.region == "us"]
    dropped = set(rng.sample(us_books[2:], rng.randint(0, 3)))
    books = tuple(b.key for b in BOOKS if b.key not in dropped)
    bias = {
        b.key: (rng.gauss(0.0, 0.12 if b.sharp else 0.35), rng.gauss(0.0, 0.2 if b.sharp else 0.5))
        for b in BOOKS
    }
    game = SimGame(
        index=index,
        id=stable_hex(32, "event", seed, index, home.name, away.name, us_date),
        home=home,
        away=away,
        us_date=us_date,
        scheduled=scheduled,
        actual_start=actual_start,
        completed_at=completed_at,
        listed_at=listed_at,
        margin_open=margin_open,
        total_open=total_open,
        margin_jumps=margin_jumps,
        total_jumps=total_jumps,
        final_home=final_home,
        final_away=final_away,
        books=books,
        book_bias=bias,
        pm_event_id=str(400000 + seed % 1000 * 1000 + index),
        pm_created=scheduled - pm_lead,
        pm_closed_at=completed_at + PM_RESOLVES_AFTER,
        pm_bias=rng.gauss(0.0, 0.01),
    )
    game.markets = make_markets(game, rng, seed=seed)
    return game


def make_markets(game: SimGame, rng: random.Random, *, seed: int) -> list[SimMarket]:
    """The game's Polymarket markets: moneyline, spread, total and (one game in three) two player props."""
    slug = event_slug(game)
    away, home = game.away.nickname, game.home.nickname
    margin = game.margin_at(game.pm_created)
    total = game.total_at(game.pm_created)
    fav_home = margin >= 0
    line = -(math.floor(abs(margin)) + 0.5)
    fav, dog = (home, away) if fav_home else (away, home)
    total_line = math.floor(total) + 0.5
    base_id = 700000 + seed % 1000 * 10000 + game.index * 10

    def market(
        k: int, kind: str, mslug: str, question: str, outcomes: tuple[str, str], **kw: Any
    ) -> SimMarket:
        return SimMarket(
            id=str(base_id + k),
            condition_id="0x" + stable_hex(64, "condition", seed, game.index, k),
            slug=mslug,
            question=question,
            kind=kind,
            outcomes=outcomes,
            token_ids=(
                make_token_id(seed, game.index, k, 0),
                make_token_id(seed, game.index, k, 1),
            ),
            **kw,
        )

    markets = [
        market(0, "moneyline", slug, f"{away} vs. {home}", (away, home)),
        market(
            1, "spreads", f"{slug}-spread-{'home' if fav_home else 'away'}-{pt_slug(line)}",
            f"Spread: {fav} ({line:+.1f})", (fav, dog), line=line,
            group_item_title=f"Spread {line:+.1f}", applies_to_home=fav_home,
        ),
        market(
            2, "totals", f"{slug}-total-{pt_slug(total_line)}", f"{away} vs. {home}: O/U {total_line:g}",
            ("Over", "Under"), line=total_line, group_item_title=f"O/U {total_line:g}",
        ),
    ]  # fmt: skip
    props = (("points", game.home), ("rebounds", game.away)) if game.index % 3 == 0 else ()
    for k, (stat, team) in enumerate(props, start=3):
        number = rng.randint(1, 15)
        player = f"Sim {team.nickname} Player {number}"
        prop_line = (rng.uniform(18, 30) if stat == "points" else rng.uniform(5, 11)) // 1 + 0.5
        pslug = f"{slug}-{stat}-sim-{team.abbr.lower()}-player-{number}-{pt_slug(prop_line)}"
        markets.append(
            market(
                k, stat, pslug, f"{player}: {stat.capitalize()} O/U {prop_line:g}", ("Yes", "No"),
                line=prop_line, group_item_title=f"{player} {prop_line:g}+", player=player,
                prop_base=rng.uniform(0.35, 0.65),
            )
        )  # fmt: skip
    return markets
