"""A simulated NBA slate: seeded, deterministic, labelled simulated.

The model, calibrated to the facts in `../shared/data/README.md`:
- each game has a latent expected home margin and total. They open from team ratings and move by a few
  news jumps (more of them close to tip-off) between the odds release and the tip: the open->close move
  of the spread averages about 1.1 pt, about 80 % of games move, the fair probability about 3.5 pp;
- 20 books (13 in region `us`, 6 in `us2`, Pinnacle in `eu`); a game is listed by 10-20 of them. Sharp
  books (lowvig, betonlineag, pinnacle) follow the latent value at once; retail books follow it with a lag
  of 20-150 min and update every 10-30 min. Per-book vig 2.5-5.5 % (median about 4.3 %);
- odds are released 20-96 h before tip-off; games tip 23:00-03:00 UTC (evening, US Eastern); a started
  game's `commence_time` becomes the actual tip (5-12 min late), it is completed 2h10-2h45 later;
- scores: the final margin is drawn around the closing margin (sd 12), the total around the closing
  total (sd 18); scores move through the game;
- Polymarket: one event per game (slug `nba-{away}-{home}-{US date}`), created 48 h before tip, with a
  moneyline, a spread and a total market and two player props. Token prices follow the devigged
  consensus with a lag, their own noise and a 1-3 tick spread; books are returned in the CLOB's order
  (bids ascending, asks descending). Markets resolve about 90 min after the final whistle. Fee terms
  per game, as the recorded Gamma markets state them (`pm_fee_fields`): most games `feesEnabled: true`,
  `feeType: "sports_fees_v3"` with a `feeSchedule` (rate 0.03, exponent 1, taker only), some
  `feesEnabled: false` (as the 2021 NBA fixtures), some with the fee type but no schedule (the pipeline then
  assumes and flags its default terms).

Every value is a function of (seed, game, book, time): asking twice gives the same answer, and the whole
slate can be evaluated at any simulated time without state.
"""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from odds_models.teams import TEAMS
from replay.common import (
    NORMAL,
    floor_time,
    iso_z,
    stable_hex,
    stable_normal,
    stable_unit,
)
from replay.sim_slate import (
    BOOKS_BY_KEY,
    EVENTS_HORIZON,
    PM_CREATED_BEFORE,
    PM_LAG,
    PM_TICK,
    SIM_NOTE,
    SimGame,
    SimMarket,
    clamp,
    event_slug,
    iso_ms,
    make_game,
    pm_time,
    round_half,
)
from replay.source import Book, HistoricalSnapshot, Quote

__all__ = ["SimulatedSource"]


# Fee terms of the simulated markets, per game (every market of a game alike), seeded. The shapes are those of
# the recorded Gamma markets (../shared/fixtures): `feesEnabled: false` with `feeType: null` (the 2021 NBA
# events, the 2026 multi-market event) and `feesEnabled: true` with `feeType` and `feeSchedule: {exponent,
# rate, takerOnly, rebateRate}` (the recorded crypto market). Sports markets name `sports_fees_v3`
# (API_NOTES §2.4); their schedule is not in the recordings, so the documented sports rate is used: 0.03 with
# exponent 1 (docs/POLYMARKET.md "Execution price"), taker only, the recorded rebateRate 0.2.
PM_FEE_SHARES = (("free", 0.2), ("unstated", 0.1), ("sports", 0.7))
SPORTS_FEE_SCHEDULE = {"exponent": 1, "rate": 0.03, "takerOnly": True, "rebateRate": 0.2}


def pm_fee_kind(seed: int, game_id: str) -> str:
    """`free`, `unstated` (fees on, no schedule) or `sports` (the sports_fees_v3 schedule) for a game."""
    u = stable_unit("pm-fees", seed, game_id)
    for kind, share in PM_FEE_SHARES:
        if u < share:
            return kind
        u -= share
    return PM_FEE_SHARES[-1][0]


def pm_fee_fields(seed: int, game_id: str) -> dict[str, Any]:
    """The Gamma fee fields of a simulated game's markets."""
    kind = pm_fee_kind(seed, game_id)
    if kind == "free":
        return {"feesEnabled": False, "feeType": None}
    if kind == "unstated":
        return {"feesEnabled": True, "feeType": "sports_fees_v3"}
    return {"feesEnabled": True, "feeType": "sports_fees_v3", "feeSchedule": dict(SPORTS_FEE_SCHEDULE)}


class SimulatedSource:
    """A seeded NBA slate: games on `days` US dates from `start`, plus one day before and three after (so
    the first day has history and the last day's future listings exist)."""

    label = "simulated"

    def __init__(
        self,
        *,
        seed: int = 7,
        start: date | None = None,
        days: int = 1,
        pm_lead: timedelta = PM_CREATED_BEFORE,
    ) -> None:
        self.seed = seed
        self.pm_lead = pm_lead
        self.start = start or date(2026, 1, 12)
        self.days = max(1, days)
        self.games: list[SimGame] = []
        self._by_id: dict[str, SimGame] = {}
        self._tokens: dict[str, tuple[SimGame, SimMarket, int]] = {}
        self._build()

    # -- construction ----------------------------------------------------------------------------------

    def _build(self) -> None:
        rng = random.Random(f"slate|{self.seed}")
        ratings = {team.name: rng.gauss(0.0, 4.5) for team in TEAMS}
        first = self.start - timedelta(days=1)
        index = 0
        for offset in range(self.days + 4):
            us_date = first + timedelta(days=offset)
            teams = list(TEAMS)
            rng.shuffle(teams)
            for slot in range(rng.randint(5, 11)):
                home, away = teams[2 * slot], teams[2 * slot + 1]
                game = make_game(
                    index,
                    home,
                    away,
                    seed=self.seed,
                    pm_lead=self.pm_lead,
                    us_date=us_date,
                    ratings=ratings,
                    rng=rng,
                )
                self.games.append(game)
                index += 1
        self.games.sort(key=lambda g: (g.scheduled, g.index))
        for game in self.games:
            self._by_id[game.id] = game
            for market in game.markets:
                for i, token in enumerate(market.token_ids):
                    self._tokens[token] = (game, market, i)

    # -- lookups ----------------------------------------------------------------------------------------

    def default_start(self) -> datetime:
        """Noon UTC of the first simulated US date."""
        return datetime.combine(self.start, time(12, 0), tzinfo=UTC)

    def end_time(self) -> datetime:
        """When the last game of the simulated span has been completed and resolved."""
        last = self.start + timedelta(days=self.days - 1)
        span_games = [g for g in self.games if g.us_date <= last]
        return max(g.pm_closed_at for g in span_games)

    def game(self, event_id: str) -> SimGame | None:
        return self._by_id.get(event_id)

    def region_of(self, bookmaker: str) -> str | None:
        book = BOOKS_BY_KEY.get(bookmaker)
        return book.region if book else None

    # -- The Odds API -----------------------------------------------------------------------------------

    def _event_base(self, game: SimGame, now: datetime) -> dict[str, Any]:
        started = now >= game.actual_start
        return {
            "id": game.id,
            "sport_key": "basketball_nba",
            "sport_title": "NBA",
            "commence_time": iso_z(game.actual_start if started else game.scheduled),
            "home_team": game.home.name,
            "away_team": game.away.name,
        }

    def events(self, now: datetime) -> list[dict[str, Any]]:
        return [
            self._event_base(g, now)
            for g in self.games
            if g.scheduled - EVENTS_HORIZON <= now < g.completed_at
        ]

    def odds(self, now: datetime) -> list[dict[str, Any]]:
        out = []
        for game in self.games:
            if not game.listed_at <= now < game.completed_at:
                continue
            event = self._event_base(game, now)
            event["bookmakers"] = [
                quote for key in game.books if (quote := self._book_quote(game, BOOKS_BY_KEY[key], now))
            ]
            out.append(event)
        return out

    def _book_quote(self, game: SimGame, book: Book, now: datetime) -> dict[str, Any] | None:
        first = game.listed_at + timedelta(minutes=15 * stable_unit("delay", game.id, book.key))
        if now < first:
            return None
        step = timedelta(minutes=book.step_minutes)
        updated = floor_time(now, step, first)
        seen = max(first, updated - timedelta(minutes=book.lag_minutes))
        margin, msd, total, tsd = game.expected(seen)
        bias_m, bias_t = game.book_bias[book.key]
        # books disagree most when the line opens and converge toward the close
        hours_to_tip = max(0.0, (game.scheduled - updated).total_seconds() / 3600)
        shrink = 0.3 + 0.7 * min(1.0, hours_to_tip / 36)
        wobble = 0.1 * shrink * stable_normal("upd", game.id, book.key, updated.timestamp())
        x = margin + shrink * bias_m + wobble
        y = total + shrink * bias_t + wobble
        vig = book.vig * (1 + 0.1 * stable_normal("vig", game.id, book.key))
        home_point = -round_half(x)
        p_home_cover = NORMAL.cdf((x + home_point) / msd)
        p_home = NORMAL.cdf(x / msd)
        total_line = round_half(y)
        p_over = NORMAL.cdf((y - total_line) / tsd)
        stamp = iso_z(updated)
        home, away = game.home.name, game.away.name

        def price(p: float) -> float:
            implied = clamp(p, 0.005, 0.995) * (1 + vig)
            return round(max(1.01, 1 / min(implied, 0.99)), 2)

        h2h = sorted(
            [{"name": home, "price": price(p_home)}, {"name": away, "price": price(1 - p_home)}],
            key=lambda o: o["name"],
        )
        spreads = sorted(
            [
                {"name": home, "price": price(p_home_cover), "point": home_point},
                {"name": away, "price": price(1 - p_home_cover), "point": -home_point},
            ],
            key=lambda o: o["name"],
        )
        totals = [
            {"name": "Over", "price": price(p_over), "point": total_line},
            {"name": "Under", "price": price(1 - p_over), "point": total_line},
        ]
        return {
            "key": book.key,
            "title": book.title,
            "last_update": stamp,
            "markets": [
                {"key": "h2h", "last_update": stamp, "outcomes": h2h},
                {"key": "spreads", "last_update": stamp, "outcomes": spreads},
                {"key": "totals", "last_update": stamp, "outcomes": totals},
            ],
        }

    def scores(self, now: datetime, days_from: int | None) -> list[dict[str, Any]]:
        out = []
        for game in self.games:
            upcoming = now < game.actual_start and game.scheduled - timedelta(days=2) <= now
            live = game.actual_start <= now < game.completed_at
            done = game.completed_at <= now and days_from is not None
            if done and now - game.completed_at > timedelta(days=days_from or 0):
                continue
            if not (upcoming or live or done):
                continue
            row = self._event_base(game, now)
            row["completed"] = now >= game.completed_at
            if now < game.actual_start:
                row["scores"] = None
                row["last_update"] = None
            else:
                home, away = game.live_score(now)
                row["scores"] = [
                    {"name": game.home.name, "score": str(home)},
                    {"name": game.away.name, "score": str(away)},
                ]
                row["last_update"] = iso_z(min(now, game.completed_at))
            out.append(row)
        return out

    def historical_odds(self, date: datetime, now: datetime) -> HistoricalSnapshot | None:
        step = timedelta(minutes=5)
        snap = floor_time(min(date, now), step)
        following = snap + step
        return HistoricalSnapshot(snap, snap - step, following if following <= now else None, self.odds(snap))

    def historical_events(self, date: datetime, now: datetime) -> HistoricalSnapshot | None:
        step = timedelta(minutes=5)
        snap = floor_time(min(date, now), step)
        following = snap + step
        return HistoricalSnapshot(
            snap, snap - step, following if following <= now else None, self.events(snap)
        )

    # -- Polymarket -----------------------------------------------------------------------------------

    def pm_mid(self, game: SimGame, market: SimMarket, outcome: int, now: datetime) -> float:
        """The token's mid price at `now`: fair value with a lag, the venue's bias and noise, on the tick."""
        if now >= game.pm_closed_at:
            won = game.fair_prob(market, game.completed_at) >= 0.5
            return 1.0 if (won == (outcome == 0)) else 0.0
        p = game.fair_prob(market, now - PM_LAG if now - PM_LAG >= game.pm_created else now)
        bucket = int(now.timestamp() // 300)
        p = p + game.pm_bias + 0.006 * stable_normal("pm", market.id, bucket)
        p = clamp(round(p / PM_TICK) * PM_TICK, 0.01, 0.99)
        return round(p if outcome == 0 else 1.0 - p, 4)

    def quote(self, token_id: str, now: datetime) -> Quote | None:
        found = self._tokens.get(token_id)
        if found is None:
            return None
        game, market, outcome = found
        if now < game.pm_created or now >= game.pm_closed_at:
            return None
        mid0 = self.pm_mid(game, market, 0, now)
        ticks = 1 + int(3 * stable_unit("spread", market.id, int(now.timestamp() // 300)))
        bid0 = clamp(round(mid0 - PM_TICK * (ticks // 2 + (ticks % 2) * 0.5) + 1e-9, 2), 0.01, 0.98)
        bid0 = round(math.floor(bid0 / PM_TICK + 1e-6) * PM_TICK, 2)
        ask0 = round(min(0.99, bid0 + ticks * PM_TICK), 2)
        last0 = round(bid0 if stable_unit("side", market.id, now.timestamp() // 60) < 0.5 else ask0, 2)
        if outcome == 0:
            return Quote(bid0, ask0, round((bid0 + ask0) / 2, 4), last0)
        return Quote(
            round(1 - ask0, 2), round(1 - bid0, 2), round(1 - (bid0 + ask0) / 2, 4), round(1 - last0, 2)
        )

    def book(self, token_id: str, now: datetime) -> dict[str, Any] | None:
        quote = self.quote(token_id, now)
        if quote is None:
            return None
        game, market, _ = self._tokens[token_id]
        minute = int(now.timestamp() // 60)
        bids = []
        level = quote.bid
        for i in range(6):
            if level < 0.01:
                break
            size = 50 + 2000 * stable_unit("bsize", token_id, minute, i) * (1 + i)
            bids.append((round(level, 2), round(size, 2)))
            level -= PM_TICK
        asks = []
        level = quote.ask
        for i in range(6):
            if level > 0.99:
                break
            size = 50 + 2000 * stable_unit("asize", token_id, minute, i) * (1 + i)
            asks.append((round(level, 2), round(size, 2)))
            level += PM_TICK
        if bids and bids[-1][0] > 0.01:
            bids.append((0.01, 25000.0))
        if asks and asks[-1][0] < 0.99:
            asks.append((0.99, 25000.0))
        bids.sort()  # the CLOB returns bids ascending (best last)
        asks.sort(reverse=True)  # and asks descending (best last)
        body = {
            "market": market.condition_id,
            "asset_id": token_id,
            "timestamp": str(int(now.timestamp() * 1000)),
            "hash": stable_hex(40, "book", token_id, minute),
            "bids": [{"price": f"{p:g}", "size": f"{s:g}"} for p, s in bids],
            "asks": [{"price": f"{p:g}", "size": f"{s:g}"} for p, s in asks],
            "min_order_size": "5",
            "tick_size": "0.01",
            "neg_risk": False,
            "last_trade_price": f"{quote.last:g}",
        }
        del game
        return body

    def token_exists(self, token_id: str) -> bool:
        return token_id in self._tokens

    def market_closed(self, token_id: str, now: datetime) -> bool:
        found = self._tokens.get(token_id)
        return found is not None and now >= found[0].pm_closed_at

    def history(
        self, token_id: str, start: datetime, end: datetime, fidelity_minutes: int, now: datetime
    ) -> list[dict[str, Any]]:
        found = self._tokens.get(token_id)
        if found is None:
            return []
        game, market, outcome = found
        step = timedelta(minutes=max(1, fidelity_minutes))
        first = max(start, game.pm_created)
        last = min(end, now, game.pm_closed_at)
        moment = floor_time(first, step)
        if moment < first:
            moment += step
        points = []
        while moment <= last:
            points.append({"t": int(moment.timestamp()), "p": self.pm_mid(game, market, outcome, moment)})
            moment += step
        return points

    def _gamma_market(self, game: SimGame, market: SimMarket, now: datetime, nested: bool) -> dict[str, Any]:
        closed = now >= game.pm_closed_at
        q0 = self.quote(market.token_ids[0], now)
        if closed:
            prices = [f"{self.pm_mid(game, market, i, now):g}" for i in (0, 1)]
        elif q0 is not None:
            prices = [f"{q0.mid:g}", f"{round(1 - q0.mid, 4):g}"]
        else:
            prices = ["0.5", "0.5"]
        volume = round(20000 + 900000 * stable_unit("vol", market.id), 6)
        body: dict[str, Any] = {
            "id": market.id,
            "question": market.question,
            "conditionId": market.condition_id,
            "questionID": "0x" + stable_hex(64, "question", market.id),
            "slug": market.slug,
            "description": SIM_NOTE,
            "resolutionSource": "https://www.nba.com/",
            "outcomes": json.dumps(list(market.outcomes)),
            "outcomePrices": json.dumps(prices),
            "clobTokenIds": json.dumps(list(market.token_ids)),
            "umaResolutionStatuses": json.dumps(["resolved"] if closed else []),
            "volume": f"{volume:.6f}",
            "liquidity": f"{volume / 20:.4f}",
            "volumeNum": volume,
            "liquidityNum": round(volume / 20, 4),
            "active": True,
            "closed": closed,
            "archived": False,
            "restricted": True,
            "enableOrderBook": True,
            "acceptingOrders": not closed and now < game.completed_at,
            "negRisk": False,
            "orderPriceMinTickSize": PM_TICK,
            "orderMinSize": 5,
            "gameStartTime": pm_time(game.scheduled),
            "startDate": iso_ms(game.pm_created),
            "endDate": iso_z(game.scheduled + timedelta(hours=3)),
            "createdAt": iso_ms(game.pm_created),
            "updatedAt": iso_ms(min(now, game.pm_closed_at)),
            "sportsMarketType": market.kind,
            "line": market.line,
            "groupItemTitle": market.group_item_title or market.question,
            "gameId": "0x" + stable_hex(40, "gameid", game.index, self.seed),
            **pm_fee_fields(self.seed, game.id),
        }
        if q0 is not None and not closed:
            body.update(
                bestBid=q0.bid, bestAsk=q0.ask, lastTradePrice=q0.last, spread=round(q0.ask - q0.bid, 4)
            )
        if closed:
            body["closedTime"] = pm_time(game.pm_closed_at)
            body["umaResolutionStatus"] = "resolved"
        if nested:
            body["events"] = [self._gamma_event(game, now, with_markets=False)]
        return body

    def _gamma_event(self, game: SimGame, now: datetime, *, with_markets: bool) -> dict[str, Any]:
        closed = now >= game.pm_closed_at
        live = game.actual_start <= now < game.completed_at
        ended = now >= game.completed_at
        home, away = game.live_score(now) if now >= game.actual_start else (0, 0)
        slug = event_slug(game)
        body: dict[str, Any] = {
            "id": game.pm_event_id,
            "ticker": slug,
            "slug": slug,
            "title": f"{game.away.nickname} vs. {game.home.nickname}",
            "description": SIM_NOTE,
            "resolutionSource": "https://www.nba.com/",
            "startDate": iso_ms(game.pm_created),
            "creationDate": iso_ms(game.pm_created),
            "endDate": iso_z(game.scheduled + timedelta(hours=3)),
            "createdAt": iso_ms(game.pm_created),
            "updatedAt": iso_ms(min(now, game.pm_closed_at)),
            "active": True,
            "closed": closed,
            "archived": False,
            "new": False,
            "featured": False,
            "restricted": True,
            "enableOrderBook": True,
            "negRisk": False,
            "liquidity": round(50000 + 200000 * stable_unit("liq", game.id), 4),
            "volume": round(100000 + 2000000 * stable_unit("evol", game.id), 4),
            "openInterest": 0,
            "competitive": round(0.8 + 0.2 * stable_unit("comp", game.id), 4),
            "commentCount": 0,
            "series": [
                {"id": "10345", "ticker": "nba-2026", "slug": "nba-2026", "title": "NBA 2026",
                 "recurrence": "daily"}
            ],
            "tags": [
                {"id": "1", "label": "Sports", "slug": "sports"},
                {"id": "745", "label": "NBA", "slug": "nba"},
                {"id": "100639", "label": "Game Bets", "slug": "game-bets"},
            ],
            "seriesSlug": "nba-2026",
            "eventDate": game.us_date.isoformat(),
            "startTime": iso_z(game.scheduled),
            "gameId": 20000 + game.index,
            "score": f"{away}-{home}" if now >= game.actual_start else "",
            "period": "FT" if ended else ("Q" + str(1 + min(3, int(game.progress(now) * 4))) if live else ""),
            "elapsed": "",
            "live": live,
            "ended": ended,
        }  # fmt: skip
        if ended:
            body["finishedTimestamp"] = iso_ms(game.completed_at)
        if closed:
            body["closedTime"] = iso_ms(game.pm_closed_at)
        if with_markets:
            body["markets"] = [self._gamma_market(game, m, now, nested=False) for m in game.markets]
        return body

    def gamma_events(self, now: datetime) -> list[dict[str, Any]]:
        visible = [g for g in self.games if g.pm_created <= now]
        return [self._gamma_event(g, now, with_markets=True) for g in visible]

    def gamma_markets(self, now: datetime) -> list[dict[str, Any]]:
        return [
            self._gamma_market(g, m, now, nested=True)
            for g in self.games
            if g.pm_created <= now
            for m in g.markets
        ]
