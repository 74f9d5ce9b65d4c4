"""The classification table: real question texts (fixtures and Gamma listings) and our own, every type."""

from __future__ import annotations

import pytest

from odds_analytics.polymarket.classify import MarketClass, classify_market

# (question, sportsMarketType, line, slug, outcomes) -> expected
CASES: list[tuple[str, str | None, float | None, str | None, list[str] | None, MarketClass]] = [
    # moneylines
    (
        "Pistons vs. 76ers",
        "moneyline",
        None,
        "nba-det-phi-2025-11-09",
        ["Pistons", "76ers"],
        MarketClass("moneyline"),
    ),
    (
        "Who will win 76ers vs. Raptors on November 12?",
        None,
        None,
        None,
        ["76ers", "Raptors"],
        MarketClass("moneyline"),
    ),
    (
        "Will the Lakers beat the Celtics?",
        None,
        None,
        None,
        ["Yes", "No"],
        MarketClass("moneyline", team="Los Angeles Lakers"),
    ),
    (
        "Wizards vs. Clippers",
        None,
        None,
        "nba-was-lac-2025-11-09",
        ["Wizards", "Clippers"],
        MarketClass("moneyline"),
    ),
    (
        "1H Moneyline: Knicks vs. Celtics",
        "first_half_moneyline",
        None,
        "nba-nyk-bos-2025-11-10-1h-moneyline",
        ["Knicks", "Celtics"],
        MarketClass("moneyline", period="1h"),
    ),
    # spreads: the sign is the question's, whatever `line` says
    (
        "Spread: Knicks (-4.5)",
        "spreads",
        4.5,
        "nba-bos-nyk-2025-11-10-spread-home-4pt5",
        ["Knicks", "Celtics"],
        MarketClass("spread", team="New York Knicks", line=-4.5),
    ),
    (
        "Spread: Trail Blazers (+7.5)",
        "spreads",
        -7.5,
        None,
        ["Trail Blazers", "Kings"],
        MarketClass("spread", team="Portland Trail Blazers", line=7.5),
    ),
    (
        "1H Spread: 76ers (-2.5)",
        "first_half_spreads",
        2.5,
        "nba-det-phi-2025-11-09-1h-spread-home-2pt5",
        ["76ers", "Pistons"],
        MarketClass("spread", period="1h", team="Philadelphia 76ers", line=-2.5),
    ),
    (
        "Q1 Spread: Warriors (-1.5)",
        None,
        None,
        None,
        ["Warriors", "Suns"],
        MarketClass("spread", period="q1", team="Golden State Warriors", line=-1.5),
    ),
    (
        "Will the Suns beat the Warriors by more than 5.5 points in their November 3 matchup?",
        None,
        None,
        None,
        ["Yes", "No"],
        MarketClass("spread", team="Phoenix Suns", line=-5.5),
    ),
    (
        "NBA: Will the Mavericks beat the Grizzlies by more than 5.5 points in their December 4 matchup?",
        None,
        None,
        "nba-will-the-mavericks-beat-the-grizzlies-by-more-than-5pt5-points-in-their-december-4-matchup",
        ["Yes", "No"],
        MarketClass("spread", team="Dallas Mavericks", line=-5.5),
    ),
    # totals
    (
        "Trail Blazers vs. Kings: O/U 239.5",
        "totals",
        239.5,
        "nba-por-sac-2025-11-09-total-239pt5",
        ["Over", "Under"],
        MarketClass("total", line=239.5),
    ),
    (
        "Over 239.5",
        "totals",
        239.5,
        "nba-mem-okc-2025-03-27-total-239pt5",
        ["Over", "Under"],
        MarketClass("total", line=239.5),
    ),
    (
        "1H O/U 112.5",
        "first_half_totals",
        112.5,
        "nba-mem-okc-2025-03-27-1h-total-112pt5",
        ["Over", "Under"],
        MarketClass("total", period="1h", line=112.5),
    ),
    (
        "Celtics vs. Heat: 3rd Quarter O/U 55.5",
        None,
        None,
        None,
        ["Over", "Under"],
        MarketClass("total", period="q3", line=55.5),
    ),
    ("Kings vs. Hawks: Total Points O/U 232.5", None, None, None, None, MarketClass("total", line=232.5)),
    # player props
    (
        "Joel Embiid: Rebounds O/U 7.5",
        "rebounds",
        7.5,
        "nba-det-phi-2025-11-09-rebounds-joel-embiid-7pt5",
        ["Yes", "No"],
        MarketClass("player_prop", line=7.5, player="Joel Embiid", stat="rebounds"),
    ),
    (
        "Will LeBron James score 25+ points?",
        None,
        None,
        None,
        ["Yes", "No"],
        MarketClass("player_prop", line=25.0, player="LeBron James", stat="points"),
    ),
    (
        "Stephen Curry Over 4.5 Threes",
        "threes",
        4.5,
        None,
        ["Yes", "No"],
        MarketClass("player_prop", line=4.5, player="Stephen Curry", stat="threes"),
    ),
    (
        "Nikola Jokic: Assists O/U 9.5",
        "assists",
        None,
        None,
        ["Over", "Under"],
        MarketClass("player_prop", line=9.5, player="Nikola Jokic", stat="assists"),
    ),
    (
        "Sim Hawks Player 3: Points O/U 22.5",
        "points",
        22.5,
        None,
        ["Over", "Under"],
        MarketClass("player_prop", line=22.5, player="Sim Hawks Player 3", stat="points"),
    ),
    # futures and awards
    (
        "Will the Oklahoma City Thunder win the 2026 NBA Finals?",
        None,
        None,
        None,
        ["Yes", "No"],
        MarketClass("futures", team="Oklahoma City Thunder"),
    ),
    ("NBA MVP 2025-26: Shai Gilgeous-Alexander", None, None, None, ["Yes", "No"], MarketClass("futures")),
    (
        "Will the Knicks win the Eastern Conference?",
        None,
        None,
        None,
        ["Yes", "No"],
        MarketClass("futures", team="New York Knicks"),
    ),
    ("Rookie of the Year: Cooper Flagg", None, None, None, ["Yes", "No"], MarketClass("futures")),
    # other (the real default page: not NBA at all)
    (
        "Will Joe Biden get Coronavirus before the election?",
        None,
        None,
        None,
        ["Yes", "No"],
        MarketClass("other"),
    ),
    (
        "Bitcoin Up or Down - March 22, 3:50AM-3:55AM ET",
        None,
        None,
        "btc-updown-5m-1774165800",
        ["Up", "Down"],
        MarketClass("other"),
    ),
]


@pytest.mark.parametrize(
    ("question", "smt", "line", "slug", "outcomes", "expected"), CASES, ids=[c[0][:40] for c in CASES]
)
def test_classification_table(question, smt, line, slug, outcomes, expected) -> None:
    got = classify_market(question, sports_market_type=smt, line=line, slug=slug, outcomes=outcomes)
    assert got == expected


def test_every_type_and_a_period_is_covered() -> None:
    types = {case[-1].market_type for case in CASES}
    assert types == {"moneyline", "spread", "total", "player_prop", "futures", "other"}
    assert {case[-1].period for case in CASES} >= {"game", "1h", "q1", "q3"}


def test_spread_sign_comes_from_the_question_not_the_line_field() -> None:
    plus = classify_market("Spread: Knicks (+4.5)", sports_market_type="spreads", line=-4.5)
    minus = classify_market("Spread: Knicks (-4.5)", sports_market_type="spreads", line=4.5)
    assert (plus.line, minus.line) == (4.5, -4.5)


def test_spread_without_number_in_question_falls_back_to_line_and_first_outcome() -> None:
    got = classify_market("Spread", sports_market_type="spreads", line=-3.5, outcomes=["Heat", "Bulls"])
    assert got == MarketClass("spread", team="Miami Heat", line=-3.5)
