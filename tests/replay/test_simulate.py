"""The simulated slate: deterministic, real teams, calibrated moves, sharp books leading retail."""

from __future__ import annotations

import json
import statistics
from datetime import date, timedelta

import pytest

from odds_models.teams import resolve_team
from replay.common import NORMAL
from replay.sim_slate import BOOKS_BY_KEY
from replay.simulate import SimulatedSource


@pytest.fixture(scope="module")
def season() -> SimulatedSource:
    return SimulatedSource(seed=11, start=date(2026, 1, 5), days=30)


def _home_point(quote: dict, home: str) -> float:
    spreads = next(m for m in quote["markets"] if m["key"] == "spreads")
    return next(o["point"] for o in spreads["outcomes"] if o["name"] == home)


def test_same_seed_same_answers_and_other_seed_differs() -> None:
    a, b, c = SimulatedSource(seed=5), SimulatedSource(seed=5), SimulatedSource(seed=6)
    moment = a.default_start() + timedelta(hours=7, minutes=13)
    assert a.odds(moment) == b.odds(moment)
    assert a.gamma_events(moment) == b.gamma_events(moment)
    assert [g.id for g in a.games] != [g.id for g in c.games]


def test_games_use_real_teams_and_unique_32_hex_ids(season: SimulatedSource) -> None:
    ids = [g.id for g in season.games]
    assert len(ids) == len(set(ids))
    for game in season.games:
        assert len(game.id) == 32
        int(game.id, 16)
        assert resolve_team(game.home.name) is game.home
        assert game.home != game.away
        assert game.final_home != game.final_away


def test_spread_moves_match_the_recorded_facts(season: SimulatedSource) -> None:
    # README facts: open->close |delta spread| 1.1 pt on average, 82.5 % of games move, |delta p| 3.56 pp
    lowvig = BOOKS_BY_KEY["lowvig"]
    moves, probs = [], []
    for game in season.games:
        opening = season._book_quote(game, lowvig, game.listed_at + timedelta(minutes=20))
        closing = season._book_quote(game, lowvig, game.actual_start - timedelta(minutes=1))
        moves.append(abs(_home_point(closing, game.home.name) - _home_point(opening, game.home.name)))
        probs.append(abs(NORMAL.cdf(game.margin_close / 12) - NORMAL.cdf(game.margin_open / 12)))
    assert 0.8 <= statistics.mean(moves) <= 1.5
    assert 0.65 <= sum(m > 0 for m in moves) / len(moves) <= 0.95
    assert 0.02 <= statistics.mean(probs) <= 0.05


def test_books_per_snapshot_and_overround(season: SimulatedSource) -> None:
    moment = season.default_start() + timedelta(hours=6)
    events = season.odds(moment)
    assert events
    overrounds = []
    for event in events:
        us_books = [b for b in event["bookmakers"] if season.region_of(b["key"]) == "us"]
        assert 10 <= len(us_books) <= 20
        assert len(event["bookmakers"]) <= 20
        for book in event["bookmakers"]:
            h2h = book["markets"][0]
            assert h2h["key"] == "h2h"
            assert [o["name"] for o in h2h["outcomes"]] == sorted(o["name"] for o in h2h["outcomes"])
            overrounds.append(sum(1 / o["price"] for o in h2h["outcomes"]) - 1)
            spreads = book["markets"][1]["outcomes"]
            assert spreads[0]["point"] == -spreads[1]["point"]
            totals = book["markets"][2]["outcomes"]
            assert [o["name"] for o in totals] == ["Over", "Under"]
            assert totals[0]["point"] == totals[1]["point"]
    assert 0.035 <= statistics.median(overrounds) <= 0.055


def test_sharp_books_lead_and_retail_books_lag(season: SimulatedSource) -> None:
    sharp, retail = BOOKS_BY_KEY["lowvig"], BOOKS_BY_KEY["betus"]
    sharp_err, retail_err = [], []
    for game in season.games:
        for when, size in game.margin_jumps:
            if abs(size) < 1.0 or when < game.listed_at + timedelta(hours=3):
                continue
            moment = when + timedelta(minutes=20)
            truth = -game.margin_at(moment)
            if game.id and "betus" in game.books:
                sharp_err.append(
                    abs(_home_point(season._book_quote(game, sharp, moment), game.home.name) - truth)
                )
                retail_err.append(
                    abs(_home_point(season._book_quote(game, retail, moment), game.home.name) - truth)
                )
    assert len(sharp_err) > 20
    assert statistics.mean(sharp_err) < statistics.mean(retail_err)


def test_scores_are_strings_null_before_tip_and_final_after(season: SimulatedSource) -> None:
    game = season.games[3]
    before = {r["id"]: r for r in season.scores(game.scheduled - timedelta(hours=1), None)}
    assert before[game.id]["scores"] is None
    assert before[game.id]["last_update"] is None
    live = {r["id"]: r for r in season.scores(game.actual_start + timedelta(hours=1), None)}[game.id]
    assert live["completed"] is False
    assert all(isinstance(s["score"], str) for s in live["scores"])
    assert live["commence_time"] != before[game.id]["commence_time"]  # the actual tip replaces the schedule
    done = {r["id"]: r for r in season.scores(game.completed_at + timedelta(hours=2), 1)}[game.id]
    assert done["completed"] is True
    assert {s["name"]: int(s["score"]) for s in done["scores"]} == {
        game.home.name: game.final_home,
        game.away.name: game.final_away,
    }
    assert game.id not in {r["id"] for r in season.scores(game.completed_at + timedelta(hours=2), None)}


def test_polymarket_markets_follow_the_consensus(season: SimulatedSource) -> None:
    moment = season.default_start() + timedelta(hours=3)
    events = season.gamma_events(moment)
    assert events
    gaps = []
    for event in events:
        assert event["slug"].startswith("nba-")
        assert event["description"].startswith("SIMULATED")
        kinds = {m["sportsMarketType"] for m in event["markets"]}
        assert {"moneyline", "spreads", "totals"} <= kinds
        game = next(g for g in season.games if g.pm_event_id == event["id"])
        assert event["slug"] == f"nba-{game.away.polymarket[0]}-{game.home.polymarket[0]}-{game.us_date}"
        for market in event["markets"]:
            tokens = json.loads(market["clobTokenIds"])
            prices = json.loads(market["outcomePrices"])
            assert all(isinstance(t, str) and 76 <= len(t) <= 78 and t.isdigit() for t in tokens)
            assert all(isinstance(p, str) for p in prices)
            if market["sportsMarketType"] == "moneyline" and not market["closed"]:
                assert json.loads(market["outcomes"]) == [game.away.nickname, game.home.nickname]
                sim_market = game.markets[0]
                gaps.append(abs(float(prices[0]) - game.fair_prob(sim_market, moment)))
    assert gaps
    assert statistics.mean(gaps) < 0.04


def test_book_levels_in_clob_order_and_quotes_consistent(season: SimulatedSource) -> None:
    game = season.games[5]
    moment = game.scheduled - timedelta(hours=2)
    token0, token1 = game.markets[0].token_ids
    book = season.book(token0, moment)
    assert book is not None
    bids = [float(level["price"]) for level in book["bids"]]
    asks = [float(level["price"]) for level in book["asks"]]
    assert bids == sorted(bids)  # best bid last
    assert asks == sorted(asks, reverse=True)  # best ask last
    quote0, quote1 = season.quote(token0, moment), season.quote(token1, moment)
    assert quote0 is not None
    assert quote1 is not None
    assert max(bids) == quote0.bid
    assert min(asks) == quote0.ask
    assert quote1.bid == pytest.approx(1 - quote0.ask)
    assert season.book(token0, game.pm_closed_at + timedelta(minutes=1)) is None


def test_history_respects_the_clock(season: SimulatedSource) -> None:
    game = season.games[2]
    token = game.markets[0].token_ids[0]
    now = game.pm_created + timedelta(hours=5)
    points = season.history(token, game.pm_created - timedelta(days=1), now + timedelta(days=3), 10, now)
    assert len(points) == 31
    assert all(isinstance(p["t"], int) and isinstance(p["p"], float) for p in points)
    assert points[-1]["t"] <= int(now.timestamp())


def test_markets_state_fee_terms_as_the_recorded_gamma_markets_do(season: SimulatedSource) -> None:
    """Per game (all its markets alike), seeded: most `sports_fees_v3` with a schedule, some free, some with
    no schedule (priced with the flagged default); the pipeline's parser reads each as intended."""
    from odds_analytics.execution import fee_terms, parse_gamma_fees

    kinds: dict[str, str] = {}
    for day in range(0, 30, 3):
        moment = season.default_start() + timedelta(days=day, hours=3)
        for event in season.gamma_events(moment):
            terms = {fee_terms(parse_gamma_fees(m)) for m in event["markets"]}
            assert len(terms) == 1  # one game, one set of terms
            (t,) = terms
            for m in event["markets"]:
                assert m["feeType"] in (None, "sports_fees_v3")
                assert isinstance(m["feesEnabled"], bool)
            if not t.enabled:
                kinds[event["id"]] = "free"
                assert event["markets"][0]["feeType"] is None
            elif t.assumed:
                kinds[event["id"]] = "unstated"
                assert "feeSchedule" not in event["markets"][0]
            else:
                kinds[event["id"]] = "sports"
                assert (t.rate, t.exponent, t.taker_only, t.fee_type) == (0.03, 1.0, True, "sports_fees_v3")
    counts = {k: list(kinds.values()).count(k) for k in ("free", "unstated", "sports")}
    assert sum(counts.values()) >= 100
    assert counts["sports"] > counts["free"] > 0
    assert counts["unstated"] > 0
    # deterministic: another source with the same seed serves the same terms
    again = SimulatedSource(seed=11, start=date(2026, 1, 5), days=30)
    moment = season.default_start() + timedelta(hours=3)
    assert [m.get("feeSchedule") for e in again.gamma_events(moment) for m in e["markets"]] == [
        m.get("feeSchedule") for e in season.gamma_events(moment) for m in e["markets"]
    ]
