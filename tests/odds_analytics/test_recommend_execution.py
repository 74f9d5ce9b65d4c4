"""Recommendations at the executable price: Polymarket filled at the stake with its fee, spreads and totals on
the predicted line, fractional-Kelly stakes capped by the bankroll and the book. Numbers worked by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from odds_analytics.recommend import recommend
from odds_analytics.staking import StakePolicy, kelly
from odds_analytics.venues import BOOK_COLUMNS, polymarket_sides

HOME, AWAY = "Boston Celtics", "Miami Heat"
EVENTS = pd.DataFrame({"event_id": ["e"], "home_team": [HOME], "away_team": [AWAY]})
FREE = {"fees_enabled": False}
SPORTS = {"fees_enabled": True, "fee_rate": 0.03, "fee_exponent": 1.0}


def _pred(market: str, current: float, delta: float) -> pd.DataFrame:
    return pd.DataFrame({"event_id": ["e"], "market": [market], "home_team": [HOME], "away_team": [AWAY],
                         "current": [current], "predicted_delta": [delta]})  # fmt: skip


def _quotes(market: str, rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [("e", market, book, value, hp, ap) for book, value, hp, ap in rows],
        columns=["event_id", "market", "bookmaker", "value", "home_price", "away_price"],
    )


def _book(outcome: str, asks: list[tuple[float, float]], fees: dict, *, kind: str = "moneyline",
          team: str | None = None, line: float | None = None, token: str = "1") -> dict:  # fmt: skip
    row = dict.fromkeys(BOOK_COLUMNS)
    row.update(event_id="e", market_id="m" + kind, market_type=kind, team=team, line=line, token_id=token,
               outcome=outcome, asks=[{"price": p, "size": s} for p, s in asks], **fees)  # fmt: skip
    return row


def _sides(*books: dict) -> pd.DataFrame:
    return polymarket_sides(pd.DataFrame(list(books), columns=BOOK_COLUMNS), EVENTS)


def _home(recs: pd.DataFrame) -> pd.Series:
    return recs.set_index("side").loc["home"]


# ---------------------------------------------------------------------------------------------------------
# Kelly
# ---------------------------------------------------------------------------------------------------------


def test_kelly_and_the_cap() -> None:
    assert kelly(0.55, 2.0) == pytest.approx(0.1)  # (1.1 - 1) / 1
    assert kelly(0.45, 2.0) == 0.0  # no edge, no bet
    policy = StakePolicy(bankroll=1000.0, kelly_fraction=0.25, max_stake_fraction=0.02)
    assert policy.stake(0.55, 2.0) == 20.0  # 0.25 x 0.1 x 1000 = 25, capped at 2 % = 20
    assert policy.stake(0.52, 2.0) == pytest.approx(10.0)  # 0.25 x 0.04 x 1000
    with pytest.raises(ValueError, match="bankroll"):
        StakePolicy(bankroll=0.0)


# ---------------------------------------------------------------------------------------------------------
# The venue flips
# ---------------------------------------------------------------------------------------------------------


def test_the_fee_flips_the_pick_from_polymarket_to_a_sportsbook() -> None:
    # p_close home = 0.50 + 0.02 = 0.52. Free: 1 / 0.48 = 2.0833 beats draftkings' 2.06.
    # With 0.03 x (0.48 x 0.52)^1 = 0.007488 per share: 1 / 0.487488 = 2.0513 < 2.06.
    quotes = _quotes("h2h", [("draftkings", 0.5, 2.06, 1.80)])
    policy = StakePolicy(bankroll=1000.0)
    free = _home(recommend(_pred("h2h", 0.50, 0.02), quotes, polymarket_books=_sides(_book("Celtics", [(0.48, 1e4)], FREE)),
                           stake_policy=policy))  # fmt: skip
    fee = _home(recommend(_pred("h2h", 0.50, 0.02), quotes, polymarket_books=_sides(_book("Celtics", [(0.48, 1e4)], SPORTS)),
                          stake_policy=policy))  # fmt: skip
    assert free["best_venue"] == "polymarket"
    assert free["best_price_decimal"] == pytest.approx(1 / 0.48)
    assert free["fee"] == 0.0
    assert free["fee_terms"] == "free"
    assert fee["best_venue"] == "draftkings"
    assert fee["best_price_decimal"] == 2.06
    # draftkings' stake: 0.25 x (0.52 x 2.06 - 1) / 1.06 x 1000 = 0.25 x 0.067170 x 1000 = 16.79
    assert fee["stake"] == pytest.approx(16.79)
    assert fee["stake_limit"] == "kelly"
    assert fee["shares"] is None or pd.isna(fee["shares"])


def test_depth_flips_the_pick_above_a_stake() -> None:
    # Polymarket: 100 shares at 0.45, then 0.60. draftkings 2.10. p_close home 0.52.
    quotes = _quotes("h2h", [("draftkings", 0.5, 2.10, 1.75)])
    books = _sides(_book("Celtics", [(0.60, 5000.0), (0.45, 100.0)], FREE))  # stored worst-first
    small = _home(recommend(_pred("h2h", 0.50, 0.02), quotes, polymarket_books=books,
                            stake_policy=StakePolicy(bankroll=1000.0)))  # fmt: skip
    # every venue earns more than the 2 % cap = $20: $20 buys 44.44 shares at 0.45 (d 2.222 > 2.10)
    assert small["best_venue"] == "polymarket"
    assert small["stake"] == 20.0
    assert small["stake_limit"] == "cap"
    assert small["shares"] == pytest.approx(20.0 / 0.45)
    assert small["fill_price"] == pytest.approx(0.45)
    assert small["best_price_decimal"] == pytest.approx(1 / 0.45)
    assert small["price_top"] == pytest.approx(1 / 0.45)
    big = _home(recommend(_pred("h2h", 0.50, 0.02), quotes, polymarket_books=books,
                          stake_policy=StakePolicy(bankroll=100_000.0)))  # fmt: skip
    # cap $2000: Polymarket fills 100 x 0.45 = $45, then 1955 / 0.60 = 3258.3 shares: d = 3358.3 / 2000
    # = 1.679 < 2.10, so draftkings; its stake 0.25 x (0.52 x 2.1 - 1) / 1.1 x 1e5 = 2090.9 -> cap 2000
    assert big["best_venue"] == "draftkings"
    assert big["stake"] == 2000.0
    assert big["stake_limit"] == "cap"


def test_an_exhausted_book_is_not_priced_at_its_best_ask() -> None:
    quotes = _quotes("h2h", [("draftkings", 0.5, 2.10, 1.75)])
    thin = _sides(_book("Celtics", [(0.45, 100.0)], FREE))  # $45 of depth
    rec = _home(recommend(_pred("h2h", 0.50, 0.02), quotes, polymarket_books=thin,
                          stake_policy=StakePolicy(bankroll=100_000.0)))  # fmt: skip
    assert rec["best_venue"] == "draftkings"  # Polymarket cannot fill $2000
    # alone, the thin book is used for what it can fill, and says so
    alone = _home(recommend(_pred("h2h", 0.50, 0.02), _quotes("h2h", []), polymarket_books=thin,
                            stake_policy=StakePolicy(bankroll=100_000.0)))  # fmt: skip
    assert alone["best_venue"] == "polymarket"
    assert alone["stake"] == pytest.approx(45.0)
    assert alone["stake_limit"] == "depth"
    assert not alone["depth_ok"]
    assert alone["shares"] == pytest.approx(100.0)


def test_polymarket_stake_solves_kelly_at_its_own_fill() -> None:
    # full Kelly, no cap: 50 shares at 0.40 ($20, d 2.5, Kelly 20 % = $200), then 0.50. Beyond $20, with x
    # dollars at 0.50: d = (50 + 2x) / (20 + x), Kelly = (6 + 0.04x) / (30 + x); 1000 x Kelly = 20 + x gives
    # x^2 + 10x - 5400 = 0, x = 68.655, stake 88.655 -> 88.65 (cents, rounded down)
    books = _sides(_book("Celtics", [(0.40, 50.0), (0.50, 10_000.0)], FREE))
    policy = StakePolicy(bankroll=1000.0, kelly_fraction=1.0, max_stake_fraction=1.0)
    rec = _home(
        recommend(_pred("h2h", 0.50, 0.02), _quotes("h2h", []), polymarket_books=books, stake_policy=policy)
    )
    x = (-10 + math.sqrt(100 + 4 * 5400)) / 2
    assert rec["stake"] == pytest.approx(math.floor((20 + x) * 100) / 100)
    assert rec["stake_limit"] == "kelly"
    assert rec["shares"] == pytest.approx(50 + 2 * (rec["stake"] - 20))
    assert rec["best_price_decimal"] == pytest.approx(rec["shares"] / rec["stake"])
    assert rec["exp_return"] == pytest.approx(0.52 * rec["best_price_decimal"] - 1)  # at the price paid
    assert rec["expected_clv"] == pytest.approx(0.52 - 1 / rec["best_price_decimal"])  # probability points


def test_without_a_bankroll_venues_compare_at_the_top_with_the_fee() -> None:
    quotes = _quotes("h2h", [("draftkings", 0.5, 2.06, 1.80)])
    rec = _home(
        recommend(
            _pred("h2h", 0.50, 0.02), quotes, polymarket_books=_sides(_book("Celtics", [(0.48, 10.0)], {}))
        )
    )
    # no fee terms stated: the default 0.03 x (0.48 x 0.52) is assumed, flagged: 2.0513 < 2.06
    assert rec["best_venue"] == "draftkings"
    assert rec["stake"] == 0.0
    assert rec["stake_limit"] == "no edge"


def test_assumed_fee_terms_are_flagged_on_the_pick() -> None:
    rec = _home(recommend(_pred("h2h", 0.50, 0.05), _quotes("h2h", []),
                          polymarket_books=_sides(_book("Celtics", [(0.48, 1e4)], {})),
                          stake_policy=StakePolicy(bankroll=1000.0)))  # fmt: skip
    assert rec["best_venue"] == "polymarket"
    assert bool(rec["fee_assumed"])
    assert "(assumed)" in rec["fee_terms"]
    # 20 dollars at 0.487488 per share: 41.027 shares, fee 41.027 x 0.007488 = 0.3072
    assert rec["shares"] == pytest.approx(20 / 0.487488)
    assert rec["fee"] == pytest.approx(20 / 0.487488 * 0.007488)
    assert rec["fill_price"] * (1 + rec["fee_rate"]) == pytest.approx(1 / rec["best_price_decimal"])


# ---------------------------------------------------------------------------------------------------------
# Spreads and totals on Polymarket
# ---------------------------------------------------------------------------------------------------------


def test_polymarket_spread_is_a_venue_on_the_predicted_line_only() -> None:
    # "Spread: Heat (+5.5)": the Heat token covers +5.5, the Celtics token -5.5
    books = [
        _book("Heat", [(0.45, 1e4)], FREE, kind="spread", team=AWAY, line=5.5, token="h"),
        _book("Celtics", [(0.57, 1e4)], FREE, kind="spread", team=AWAY, line=5.5, token="c"),
    ]
    sides = _sides(*books)
    assert sorted(zip(sides["side"], sides["point"], strict=True)) == [("away", 5.5), ("home", -5.5)]
    quotes = _quotes("spreads", [("draftkings", -5.5, 1.91, 1.91)])
    on_line = recommend(_pred("spreads", -5.5, 1.0), quotes, polymarket_books=sides,
                        stake_policy=StakePolicy(bankroll=1000.0)).set_index("side")  # fmt: skip
    away = on_line.loc["away"]
    assert away["best_venue"] == "polymarket"  # 1 / 0.45 = 2.22 beats 1.91 on the same +5.5
    assert away["best_point"] == 5.5
    assert away["token_id"] == "h"
    off_line = recommend(_pred("spreads", -5.0, 1.0), quotes, polymarket_books=sides,
                         stake_policy=StakePolicy(bankroll=1000.0)).set_index("side")  # fmt: skip
    assert "polymarket" not in set(off_line["best_venue"])  # -5.5 is not the predicted -5.0


def test_polymarket_total_is_a_venue_on_the_predicted_total() -> None:
    sides = _sides(
        _book("Over", [(0.44, 1e4)], FREE, kind="total", line=221.5, token="o"),
        _book("Under", [(0.58, 1e4)], FREE, kind="total", line=221.5, token="u"),
    )
    quotes = _quotes("totals", [("fanduel", 221.5, 1.91, 1.91)])
    recs = recommend(_pred("totals", 221.5, 2.0), quotes, polymarket_books=sides,
                     stake_policy=StakePolicy(bankroll=1000.0)).set_index("side")  # fmt: skip
    assert recs.loc["over", "best_venue"] == "polymarket"
    assert recs.loc["over", "token_id"] == "o"
    assert recs.loc["under", "best_venue"] == "fanduel"  # 1 / 0.58 = 1.72 < 1.91
    assert recs.loc["over", "stake"] > 0
    assert recs.loc["under", "stake"] == 0.0
    moved = recommend(_pred("totals", 222.0, 2.0), quotes, polymarket_books=sides)
    assert "polymarket" not in set(moved["best_venue"])


def test_tokens_of_other_teams_or_markets_map_to_no_side() -> None:
    sides = _sides(
        _book("Lakers", [(0.5, 10.0)], FREE),  # not a team of this game
        _book("Yes", [(0.5, 10.0)], FREE, kind="total", line=200.5),  # not Over/Under
        _book("Heat", [(0.5, 10.0)], FREE, kind="spread", team=None, line=3.5),  # no line team
    )
    assert sides.empty
